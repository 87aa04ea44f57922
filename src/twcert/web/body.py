"""Request bodies of the login endpoints: bounded reads and the two accepted encodings.

The limit is enforced before anything is buffered: a declared ``Content-Length`` over it is
refused without reading a byte, and a body without one (chunked) is read at most one byte past
the limit. Either way the answer is :class:`~twcert.web.errors.RequestTooLargeError` (413).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl

from twcert.errors import ResponseParseError

from .errors import RequestTooLargeError

__all__ = ["DEFAULT_MAX_BODY", "Readable", "lazy_body", "parse_body", "read_body"]

#: What a login request needs: a HiPKI answer (certificate and signature, base64) is ~10 KiB.
DEFAULT_MAX_BODY: Final = 64 * 1024
_CHUNK: Final = 16 * 1024
_MAX_FIELDS: Final = 32


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_body(stream: Readable, content_length: str | int | None, limit: int = DEFAULT_MAX_BODY) -> bytes:
    """At most ``limit`` bytes of ``stream``; :class:`RequestTooLargeError` past it."""
    declared: int | None = None
    if content_length not in (None, ""):
        try:
            declared = int(content_length)
        except (TypeError, ValueError):
            raise ResponseParseError("Content-Length is not a number") from None
        if declared < 0:
            raise ResponseParseError("Content-Length is negative")
        if declared > limit:
            raise RequestTooLargeError(f"Content-Length {declared} over the limit {limit}")
    wanted = limit + 1 if declared is None else declared
    parts: list[bytes] = []
    got = 0
    while got < wanted:
        chunk = stream.read(min(_CHUNK, wanted - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if got > limit:
        raise RequestTooLargeError(f"body over the limit {limit}")
    return b"".join(parts)


def parse_body(data: bytes, content_type: str | None) -> dict[str, Any]:
    """A JSON object or an ``application/x-www-form-urlencoded`` form, as a dict."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("request body is not JSON") from None
        if not isinstance(value, dict):
            raise ResponseParseError("request body is not a JSON object")
        return value
    if not data:
        return {}
    if kind in ("application/x-www-form-urlencoded", ""):
        try:
            text = data.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise ResponseParseError("request body is not a form") from None
        return dict(pairs)
    raise ResponseParseError(f"unsupported request body type {kind[:40]!r}")


def lazy_body(
    stream: Readable,
    content_length: str | int | None,
    content_type: str | None,
    limit: int = DEFAULT_MAX_BODY,
) -> Callable[[], Mapping[str, Any]]:
    """``body()`` for :class:`~twcert.web.flow.WebRequest`: read and parsed once, on first use."""
    cached: list[Mapping[str, Any]] = []

    def body() -> Mapping[str, Any]:
        if not cached:
            cached.append(parse_body(read_body(stream, content_length, limit), content_type))
        return cached[0]

    return body
