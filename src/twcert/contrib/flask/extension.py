"""The Flask extension object, its per-app state, and the helpers views use.

Follows Flask's extension guidelines: ``TWCert(app=None)`` + :meth:`TWCert.init_app`, state in
``app.extensions["twcert"]`` (never ``self.app``, so one object serves any number of apps and
application factories), ``TWCERT_*`` keys read in ``init_app``, per-request data on
``g._twcert``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, current_app, g, redirect, request, session, url_for
from markupsafe import Markup, escape
from werkzeug.local import LocalProxy

from twcert.errors import ConfigurationError
from twcert.login import LoginService

from .errors import LoginRequiredError
from .pending import PendingStore, pending_store_for
from .principal import SessionPrincipal
from .responses import error_response, wants_json
from .security import CSRF_FIELD, csrf_token
from .settings import Settings

__all__ = [
    "EXTENSION_KEY",
    "TWCert",
    "TWCertState",
    "csrf_field",
    "current_principal",
    "forget_cached_principal",
    "get_principal",
    "get_state",
    "login_required",
    "logout",
]

log = logging.getLogger("twcert.contrib.flask")

EXTENSION_KEY = "twcert"

P = ParamSpec("P")
R = TypeVar("R")
UserLoader = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class TWCertState:
    """What one app's ``app.extensions["twcert"]`` holds."""

    extension: TWCert
    settings: Settings
    service: LoginService
    pending: PendingStore

    @property
    def user_loader(self) -> UserLoader | None:
        """``TWCERT_USER_LOADER`` if configured, else the one registered with the decorator."""
        return self.settings.user_loader or self.extension._user_loader


def _resolve_service(source: object, app: Flask) -> LoginService:
    if source is None:
        raise ConfigurationError(
            "no login service: pass TWCert(login_service=...) or set TWCERT_LOGIN_SERVICE"
        )
    if isinstance(source, LoginService):
        return source
    if callable(source):
        made = source(app)
        if isinstance(made, LoginService):
            return made
        raise ConfigurationError(f"the login service factory returned {type(made).__name__}")
    raise ConfigurationError(f"not a LoginService or a factory: {type(source).__name__}")


class TWCert:
    """Card login for a Flask app.

    :param app: the app, or ``None`` to call :meth:`init_app` later (application factories).
    :param login_service: a :class:`~twcert.LoginService`, or a callable ``(app) -> LoginService``
        called by :meth:`init_app`; without it ``TWCERT_LOGIN_SERVICE`` is used.
    """

    def __init__(self, app: Flask | None = None, *, login_service: object = None) -> None:
        #: Used for apps whose ``init_app`` names no service of its own.
        self.login_service = login_service
        self._user_loader: UserLoader | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, login_service: object = None) -> None:
        """Read the ``TWCERT_*`` keys, register the blueprint and the template helpers."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("TWCert is already initialised on this app")
        settings = Settings.from_config(app.config)
        source = login_service or self.login_service or settings.login_service
        service = _resolve_service(source, app)
        pending = pending_store_for(settings.pending_store, service.nonces)
        app.extensions[EXTENSION_KEY] = TWCertState(self, settings, service, pending)
        from .views import make_blueprint

        app.register_blueprint(make_blueprint(), url_prefix=settings.url_prefix or None)
        app.add_template_global(csrf_token, "twcert_csrf_token")
        app.add_template_global(csrf_field, "twcert_csrf_field")
        app.add_template_global(get_principal, "twcert_principal")

    def user_loader(self, callback: UserLoader) -> UserLoader:
        """Register ``callback(principal) -> user`` for Flask-Login (``None`` refuses the login).

        After a card login the adapter calls it and then ``login_user(user, fresh=True)`` on the
        app's ``LoginManager``. ``TWCERT_USER_LOADER`` overrides it for one app.
        """
        self._user_loader = callback
        return callback


def get_state(app: Flask | None = None) -> TWCertState:
    """This app's twcert state; a clear error if :meth:`TWCert.init_app` was never called."""
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            "twcert is not initialised on this app: did you forget TWCert(app) or twcert.init_app(app)?"
        )
    return cast(TWCertState, state)


@dataclass(slots=True)
class _RequestData:
    principal: SessionPrincipal | None
    loaded: bool = False


def _request_data() -> _RequestData:
    data = g.get("_twcert")
    if data is None:
        data = _RequestData(None)
        g._twcert = data
    return cast(_RequestData, data)


def get_principal() -> SessionPrincipal | None:
    """Who is logged in with a card in this session, or ``None``."""
    data = _request_data()
    if not data.loaded:
        stored = session.get(get_state().settings.session_key)
        data.principal = SessionPrincipal.from_dict(stored) if isinstance(stored, Mapping) else None
        data.loaded = True
    return data.principal


def forget_cached_principal() -> None:
    """After a login or logout in this request, read the session again."""
    g.pop("_twcert", None)


#: The logged-in principal (or ``None``): ``if current_principal: ...``.
current_principal: SessionPrincipal | None = LocalProxy(get_principal)  # type: ignore[assignment]


def csrf_field() -> Markup:
    """A hidden ``<input>`` carrying the CSRF token, for HTML forms that POST."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">')


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Views that need a card login: JSON 401 for scripts, else the login page with ``next``."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if get_principal() is None:
            if wants_json():
                return cast(R, error_response(LoginRequiredError()))
            target = request.full_path if request.query_string else request.path
            return cast(R, redirect(url_for("twcert.login_page", next=target)))
        return view(*args, **kwargs)

    return wrapper


def logout() -> None:
    """End the card login (and Flask-Login's, if the app uses it)."""
    state = get_state()
    session.pop(state.settings.session_key, None)
    if getattr(current_app, "login_manager", None) is not None:
        from flask_login import logout_user  # type: ignore[import-untyped]

        logout_user()
    forget_cached_principal()
