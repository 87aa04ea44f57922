"""Fetching CRLs and OCSP responses over HTTP: bounded, timed, plain HTTP(S) only.

The :class:`Fetcher` protocol lets a host app route through its own HTTP stack (a proxy, a
``requests.Session``); :class:`UrllibFetcher` is the dependency-free default.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

__all__ = ["FetchError", "Fetcher", "HttpResponse", "UrllibFetcher"]

_DEFAULT_MAX: Final = 128 * 1024 * 1024  # MOICA's complete CRL is ~20 MB; leave room to grow


class FetchError(Exception):
    """A network fetch failed (connection, timeout, HTTP status, size). Internal: the
    revocation checker turns it into "no answer from this source"."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Fetcher(Protocol):
    def get(
        self, url: str, *, timeout: float, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """GET ``url``; a 304 answer is returned (empty body), other non-2xx raise FetchError."""
        ...

    def post(
        self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int
    ) -> HttpResponse: ...


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        # CDPs may list ldap:// too; file:// or others must never be followed from a certificate.
        raise FetchError(f"unsupported URL scheme {scheme!r}")


class UrllibFetcher:
    """Standard-library HTTP client with a size cap, no redirects to other schemes."""

    def __init__(self, *, user_agent: str = "twcert") -> None:
        self.user_agent = user_agent

    def _open(self, request: urllib.request.Request, timeout: float, max_bytes: int) -> HttpResponse:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > max_bytes:
                    raise FetchError(f"response of {length} bytes exceeds {max_bytes}")
                body = response.read(max_bytes + 1)
                if len(body) > max_bytes:
                    raise FetchError(f"response exceeds {max_bytes} bytes")
                return HttpResponse(response.status, body, dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return HttpResponse(304, b"", dict(exc.headers.items()))
            raise FetchError(f"HTTP {exc.code} from {request.full_url}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None

    def get(
        self,
        url: str,
        *,
        timeout: float,
        max_bytes: int = _DEFAULT_MAX,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        _check_url(url)
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent, **(headers or {})})
        return self._open(request, timeout, max_bytes)

    def post(
        self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int = 1024 * 1024
    ) -> HttpResponse:
        _check_url(url)
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"User-Agent": self.user_agent, "Content-Type": content_type},
        )
        return self._open(request, timeout, max_bytes)
