"""Fetching CRLs and OCSP responses over HTTP: bounded, timed, plain HTTP(S) only.

The :class:`Fetcher` protocol lets a host app route through its own HTTP stack (a proxy, a
``requests.Session``); :class:`UrllibFetcher` is the dependency-free default.

``timeout`` is an overall deadline for the whole exchange — connection, redirects, headers and
body — not a limit per socket read: a server trickling a byte a second cannot hold a fetch (or
the per-URL lock other logins may wait on) past it. A watchdog shuts the sockets down at the
deadline, which wakes a read blocked in the standard library's header parsing too.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

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


class _Deadline:
    """One exchange's deadline: connections register here; at the deadline a timer shuts
    their sockets down, so any blocked read returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0 or self.expired:
            raise FetchError(f"deadline of {self.seconds:g} s exceeded")
        return left

    def track(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.expired:
                _shut(connection)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _deadline_connection(base: type[http.client.HTTPConnection], deadline: _Deadline) -> Any:
    """A connection class of ``base`` registered with ``deadline``, whose connect (and so each
    socket operation's timeout) never outlasts it."""

    class Connection(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            self.timeout = deadline.remaining()
            deadline.track(self)
            super().connect()

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_deadline_connection(http.client.HTTPConnection, self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = _deadline_connection(http.client.HTTPSConnection, self._deadline)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https only (the standard library also follows ftp)."""

    max_redirections = 5

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class UrllibFetcher:
    """Standard-library HTTP client with an overall deadline, a size cap, and redirects to
    http and https only. Proxies come from the environment as for :mod:`urllib.request`."""

    def __init__(self, *, user_agent: str = "twcert") -> None:
        self.user_agent = user_agent

    def _open(self, request: urllib.request.Request, timeout: float, max_bytes: int) -> HttpResponse:
        with _Deadline(timeout) as deadline:
            opener = urllib.request.build_opener(
                _HTTPHandler(deadline), _HTTPSHandler(deadline), _RedirectHandler()
            )
            try:
                with opener.open(request, timeout=deadline.remaining()) as response:
                    length = response.headers.get("Content-Length")
                    if length is not None and length.isdigit() and int(length) > max_bytes:
                        raise FetchError(f"response of {length} bytes exceeds {max_bytes}")
                    body = _read_body(response, max_bytes, deadline)
                    return HttpResponse(response.status, body, dict(response.headers.items()))
            except urllib.error.HTTPError as exc:
                if exc.code == 304:
                    return HttpResponse(304, b"", dict(exc.headers.items()))
                raise FetchError(f"HTTP {exc.code} from {request.full_url}") from None
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
                if deadline.expired:
                    raise FetchError(f"{request.full_url}: deadline of {timeout:g} s exceeded") from None
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


def _read_body(response: Any, max_bytes: int, deadline: _Deadline) -> bytes:
    """Read at most ``max_bytes`` (more is an error), checking the deadline between reads."""
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.remaining()
        chunk = response.read1(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"response exceeds {max_bytes} bytes")
        chunks.append(chunk)
    if deadline.expired:  # the watchdog's shutdown reads as end of data: not a complete body
        raise FetchError(f"deadline of {deadline.seconds:g} s exceeded")
    return b"".join(chunks)
