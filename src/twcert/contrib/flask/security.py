"""CSRF and origin checks for the host app's own forms, over Flask's session (:mod:`twcert.web.security`)."""

from __future__ import annotations

from flask import request, session
from flask.sessions import NullSession, SessionMixin

from twcert.errors import ConfigurationError
from twcert.web import security
from twcert.web.security import CSRF_FIELD, CSRF_HEADER, safe_next

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "csrf_token",
    "flask_session",
    "safe_next",
    "site_origin",
    "verify_post",
]


def flask_session() -> SessionMixin:
    if isinstance(session, NullSession):
        raise ConfigurationError("the Flask session is unavailable: set SECRET_KEY")
    return session


def csrf_token() -> str:
    """This session's CSRF token; put it in forms (``csrf_token`` field) and script headers."""
    return security.csrf_token(flask_session())


def site_origin(configured: str | None) -> str:
    """The origin challenges are bound to: ``TWCERT_ORIGIN``, else this request's scheme and host."""
    return configured or request.host_url.rstrip("/")


def verify_post(configured_origin: str | None) -> None:
    """Refuse a form POST of the host app that this site's pages did not make."""
    security.verify_post(request.headers, request.form, flask_session(), site_origin(configured_origin))
