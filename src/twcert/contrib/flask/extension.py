"""The Flask extension object and the helpers host views use.

Follows Flask's extension guidelines: ``TWCert(app=None)`` + :meth:`TWCert.init_app`, state in
``app.extensions["twcert"]`` (never ``self.app``, so one object serves any number of apps and
application factories), ``TWCERT_*`` keys read in ``init_app``, per-request data on
``g._twcert``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from flask import Flask, current_app, g, redirect, request, session, url_for
from markupsafe import Markup, escape
from werkzeug.local import LocalProxy

from twcert.errors import ConfigurationError
from twcert.login import LoginService
from twcert.web.errors import LoginRequiredError
from twcert.web.flow import LoginFlow, WebSettings
from twcert.web.pending import pending_store_for

from .principal import SessionPrincipal
from .responses import error_response, wants_json
from .security import CSRF_FIELD, csrf_token, flask_session
from .settings import Settings
from .state import EXTENSION_KEY, TWCertState, UserLoader, get_state
from .views import forget_cached_principal, make_blueprint

__all__ = [
    "TWCert",
    "csrf_field",
    "current_principal",
    "get_principal",
    "login_required",
    "logout",
]

P = ParamSpec("P")
R = TypeVar("R")


def _resolve_service(source: object, app: Flask) -> LoginService:
    if source is None:
        raise ConfigurationError(
            "no login service: pass TWCert(login_service=...) or set TWCERT_LOGIN_SERVICE"
        )
    if isinstance(source, LoginService):
        return source
    if not callable(source):
        raise ConfigurationError(f"not a LoginService or a factory: {type(source).__name__}")
    made = source(app)
    if isinstance(made, LoginService):
        return made
    raise ConfigurationError(f"the login service factory returned {type(made).__name__}")


class TWCert:
    """Card login for a Flask app.

    :param app: the app, or ``None`` to call :meth:`init_app` later (application factories).
    :param login_service: a :class:`~twcert.LoginService`, or a callable ``(app) -> LoginService``
        called by :meth:`init_app`; without it ``TWCERT_LOGIN_SERVICE`` is used.
    """

    def __init__(self, app: Flask | None = None, *, login_service: object = None) -> None:
        self.login_service = login_service
        self._user_loader: UserLoader | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, login_service: object = None) -> None:
        """Read the ``TWCERT_*`` keys, register the blueprint and the template helpers."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("TWCert is already initialised on this app")
        settings = Settings.from_config(app.config)
        service = _resolve_service(login_service or self.login_service or settings.login_service, app)
        web = WebSettings(
            agent_url=settings.agent_url,
            login_redirect=settings.login_redirect,
            session_key=settings.session_key,
            pending_ttl=settings.pending_ttl,
            max_body=settings.max_body,
        )
        flow = LoginFlow(service, pending_store_for(settings.pending_store, service.nonces), web)
        app.extensions[EXTENSION_KEY] = TWCertState(self, settings, flow)
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


def get_principal() -> SessionPrincipal | None:
    """Who is logged in with a card in this session, or ``None``."""
    if "_twcert" not in g:
        stored = session.get(get_state().settings.session_key)
        g._twcert = SessionPrincipal.from_dict(stored) if isinstance(stored, Mapping) else None
    return cast(SessionPrincipal | None, g._twcert)


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
    get_state().flow.forget(flask_session())
    if getattr(current_app, "login_manager", None) is not None:
        from flask_login import logout_user  # type: ignore[import-untyped]

        logout_user()
    forget_cached_principal()
