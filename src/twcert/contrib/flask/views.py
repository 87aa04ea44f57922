"""The blueprint: Flask requests into :class:`~twcert.web.LoginFlow`, its answers back out.

Routes (under ``TWCERT_URL_PREFIX``): ``GET/POST /login``, ``GET/POST /challenge``,
``GET/POST /first-use``, ``POST /client-error``, ``POST /logout``, ``GET /assets/<file>``.
"""

from __future__ import annotations

import logging
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from twcert.errors import ConfigurationError, LoginRefusedError, PinLockedError, TwcertError
from twcert.login import Principal
from twcert.web import LOGIN_SCRIPT, STATIC_DIR
from twcert.web.body import lazy_body
from twcert.web.errors import UnexpectedError
from twcert.web.flow import Answer, FlowHooks, Urls, WebRequest

from .responses import error_response, json_response, no_store, wants_json
from .security import flask_session, site_origin
from .signals import twcert_auth_failed, twcert_authenticated, twcert_locked_out
from .state import TWCertState, get_state

__all__ = ["forget_cached_principal", "make_blueprint", "respond", "web_request"]

log = logging.getLogger("twcert.contrib.flask")
_PAGES = {"login": "twcert/login.html", "first_use": "twcert/first_use.html", "error": "twcert/error.html"}


def forget_cached_principal() -> None:
    """After a login or logout in this request, read the session again."""
    from flask import g

    g.pop("_twcert", None)


#: Each app's blueprint addresses by script root (they depend on nothing else of the request).
_URLS: weakref.WeakKeyDictionary[Flask, dict[str, Urls]] = weakref.WeakKeyDictionary()


def _urls() -> Urls:
    """The blueprint's addresses, built once per app and script root: six ``url_for`` calls
    cost ~0.15 ms, on every challenge and login request otherwise (issue 16's profile)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    known = _URLS.setdefault(app, {})
    urls = known.get(request.script_root)
    if urls is None:
        urls = Urls(
            login=url_for("twcert.login_page"),
            challenge=url_for("twcert.challenge"),
            first_use=url_for("twcert.first_use"),
            client_error=url_for("twcert.client_error"),
            logout=url_for("twcert.logout"),
            script=url_for("twcert.static", filename=LOGIN_SCRIPT),
        )
        known[request.script_root] = urls
    return urls


def web_request(state: TWCertState) -> WebRequest:
    """This Flask request as the flow sees it."""
    urls = _urls()
    # request.stream: Content-Length-bounded, or the dechunked input the server marked complete.
    body = lazy_body(request.stream, request.headers.get("Content-Length"), request.content_type,
                     state.settings.max_body)  # fmt: skip
    return WebRequest(
        method=request.method,
        headers=request.headers,
        session=flask_session(),
        origin=site_origin(state.settings.origin),
        wants_json=wants_json(),
        urls=urls,
        body=body,
        query=request.args,
    )


def respond(answer: Answer) -> BaseResponse:
    """The flow's answer as a Flask response."""
    if answer.json is not None:
        return json_response(answer.json, answer.status)
    if answer.redirect is not None:
        return no_store(redirect(answer.redirect, answer.status))
    assert answer.page is not None
    response = Response(
        render_template(_PAGES[answer.page], **answer.context), answer.status, mimetype="text/html"
    )
    # The PIN is typed on these pages: never inside another site's frame.
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return no_store(response)


class _Hooks(FlowHooks):
    """Flask-Login (when a user loader is set) and the blueprint's signals."""

    def __init__(self, state: TWCertState) -> None:
        self.state = state
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.user: Any = None

    def accept(self, principal: Principal) -> None:
        loader = self.state.user_loader
        if loader is None:
            return
        if getattr(self.app, "login_manager", None) is None:
            raise ConfigurationError("a twcert user loader is set but Flask-Login's LoginManager is missing")
        from flask_login import login_user  # type: ignore[import-untyped]

        user = loader(principal)
        if user is None:
            raise LoginRefusedError("the user loader knows no user for this principal")
        if not login_user(user, fresh=True):
            raise LoginRefusedError("Flask-Login refused the user (inactive)")
        self.user = user

    def succeeded(self, principal: Principal) -> None:
        forget_cached_principal()
        twcert_authenticated.send(self.app, principal=principal, user=self.user)

    def failed(self, error: TwcertError) -> None:
        if isinstance(error, PinLockedError):
            twcert_locked_out.send(self.app, error=error)
        twcert_auth_failed.send(self.app, error=error)

    def logged_out(self) -> None:
        if getattr(self.app, "login_manager", None) is not None:
            from flask_login import logout_user

            logout_user()
        forget_cached_principal()


def _view(step: Callable[[TWCertState, WebRequest], Answer]) -> Callable[[], BaseResponse]:
    def view() -> BaseResponse:
        state = get_state()
        return respond(step(state, web_request(state)))

    view.__name__ = step.__name__
    return view


def _unexpected(error: Exception) -> BaseResponse | HTTPException:
    if isinstance(error, HTTPException):
        return error
    if isinstance(error, TwcertError):  # e.g. no SECRET_KEY
        return error_response(error, login_url=url_for("twcert.login_page"))
    # Type and place only: messages of foreign exceptions may quote personal data.
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
    log.error("twcert view failed: %s at %s", type(error).__name__, where)
    return error_response(UnexpectedError(type(error).__name__), login_url=url_for("twcert.login_page"))


def make_blueprint() -> Blueprint:
    """A fresh blueprint for one app (registered by :meth:`TWCert.init_app`)."""
    bp = Blueprint("twcert", __name__, template_folder="templates", static_folder=str(STATIC_DIR),
                   static_url_path="/assets")  # fmt: skip

    def login_page(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.login_page(req)

    def login(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.login(req, _Hooks(state))

    def challenge(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.challenge(req)

    def first_use(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.first_use(req, _Hooks(state))

    def client_error(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.client_error(req)

    def logout(state: TWCertState, req: WebRequest) -> Answer:
        return state.flow.logout(req, _Hooks(state))

    bp.add_url_rule("/login", "login_page", _view(login_page), methods=["GET"])
    bp.add_url_rule("/login", "login", _view(login), methods=["POST"])
    bp.add_url_rule("/challenge", "challenge", _view(challenge), methods=["GET", "POST"])
    bp.add_url_rule("/first-use", "first_use", _view(first_use), methods=["GET", "POST"])
    bp.add_url_rule("/client-error", "client_error", _view(client_error), methods=["POST"])
    bp.add_url_rule("/logout", "logout", _view(logout), methods=["POST"])
    bp.register_error_handler(Exception, _unexpected)
    return bp
