"""Session binding and request checks for every state-changing login request.

Why a per-session token *and* origin checks: a session cookie may be ``SameSite=None``, so
SameSite cannot be relied on; the token (synchronizer pattern) works whatever the cookie
settings, and the ``Origin``/``Sec-Fetch-Site`` checks refuse a cross-site request even if a
token leaked. Both adapters keep the token and the session id in their own session.

The session id that challenges are bound to is a random value in the session, created on
first use and replaced after every login, so a challenge or a pending first login cannot be
carried into another browser.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any, Final, Protocol, TypeAlias
from urllib.parse import urlsplit

from .errors import RequestForgeryError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "HeadersLike",
    "SessionLike",
    "check_fetch_site",
    "csrf_token",
    "rotate",
    "safe_next",
    "session_id",
    "verify_post",
]

#: Header (scripts) and form field (HTML forms) that carry the CSRF token.
CSRF_HEADER: Final = "X-CSRFToken"
CSRF_FIELD: Final = "csrf_token"
SID_KEY: Final = "_twcert_sid"
CSRF_KEY: Final = "_twcert_csrf"
_SAME_SITE: Final = ("same-origin", "none")


class HeadersLike(Protocol):
    """Case-insensitive request headers (Werkzeug's ``Headers``, Django's ``HttpHeaders``)."""

    def get(self, key: str, /) -> str | None: ...


#: What both frameworks' sessions offer (Flask's ``session``, Django's ``request.session``).
SessionLike: TypeAlias = MutableMapping[str, Any]


def _value(session: SessionLike, key: str) -> str:
    value = session.get(key)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        session[key] = value
    return value


def session_id(session: SessionLike) -> str:
    """This browser session's id for challenge binding (created on first use)."""
    return _value(session, SID_KEY)


def csrf_token(session: SessionLike) -> str:
    """This session's CSRF token (created on first use); put it in forms and script headers."""
    return _value(session, CSRF_KEY)


def rotate(session: SessionLike) -> None:
    """New session id and CSRF token (after a login or logout: nothing from before carries over)."""
    session[SID_KEY] = secrets.token_urlsafe(32)
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def check_fetch_site(headers: HeadersLike) -> None:
    """Refuse a request the browser marks as made by another site."""
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in _SAME_SITE:
        raise RequestForgeryError(f"Sec-Fetch-Site: {str(fetch_site)[:20]}")


def verify_post(headers: HeadersLike, form: Mapping[str, Any], session: SessionLike, origin: str) -> None:
    """Refuse a state-changing request that this site's pages did not make."""
    check_fetch_site(headers)
    sent_origin = headers.get("Origin")
    if sent_origin is not None and sent_origin != origin:
        raise RequestForgeryError("Origin header names another site")
    sent = headers.get(CSRF_HEADER) or form.get(CSRF_FIELD) or ""
    expected = session.get(CSRF_KEY)
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not sent
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise RequestForgeryError("missing or wrong CSRF token")


def safe_next(value: object) -> str | None:
    """``value`` if it is a path on this site (no scheme, no host, no ``//``), else ``None``."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None
