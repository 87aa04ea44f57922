"""Session binding and CSRF protection for the blueprint's POSTs.

Why a per-session token *and* origin checks: Flask's session cookie is ``SameSite=None`` unless
the app says otherwise, so SameSite cannot be relied on; the token (synchronizer pattern) works
whatever the cookie settings, and the ``Origin``/``Sec-Fetch-Site`` checks refuse a cross-site
POST even if a token leaked. No Flask-WTF needed.

The session id the challenges are bound to is a random value in the (signed) Flask session,
created on first use and replaced after every login, so a challenge or a pending first login
cannot be carried into another browser.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import request, session
from flask.sessions import NullSession, SessionMixin

from twcert.errors import ConfigurationError

from .errors import RequestForgeryError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "csrf_token",
    "rotate",
    "safe_next",
    "session_id",
    "site_origin",
    "verify_post",
]

#: Header (XHR) and form field (HTML forms) that carry the CSRF token.
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"
_SID_KEY = "_twcert_sid"
_CSRF_KEY = "_twcert_csrf"


def _session() -> SessionMixin:
    if isinstance(session, NullSession):
        raise ConfigurationError("the Flask session is unavailable: set SECRET_KEY")
    return session


def session_id() -> str:
    """This browser session's id (created on first use)."""
    store = _session()
    value = store.get(_SID_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        store[_SID_KEY] = value
    return value


def csrf_token() -> str:
    """This session's CSRF token (created on first use); put it in forms and XHR headers."""
    store = _session()
    value = store.get(_CSRF_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        store[_CSRF_KEY] = value
    return value


def rotate() -> None:
    """New session id and CSRF token (after a login, so nothing from before carries over)."""
    store = _session()
    store[_SID_KEY] = secrets.token_urlsafe(32)
    store[_CSRF_KEY] = secrets.token_urlsafe(32)


def site_origin(configured: str | None) -> str:
    """The origin challenges are bound to: ``TWCERT_ORIGIN``, else this request's scheme and host."""
    return configured or request.host_url.rstrip("/")


def verify_post(configured_origin: str | None) -> None:
    """Refuse a state-changing request that this site's pages did not make."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise RequestForgeryError(f"Sec-Fetch-Site: {fetch_site[:20]}")
    origin = request.headers.get("Origin")
    if origin is not None and origin != site_origin(configured_origin):
        raise RequestForgeryError("Origin header names another site")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = _session().get(_CSRF_KEY)
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(sent, expected):
        raise RequestForgeryError("missing or wrong CSRF token")


def safe_next(value: object) -> str | None:
    """``value`` if it is a path on this site (no scheme, no host, no ``//``), else ``None``."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x20 for ch in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None
