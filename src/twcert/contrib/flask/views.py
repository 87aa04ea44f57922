"""The blueprint: login page, challenge, login, first-use, client-side errors, logout.

``{prefix}/login`` GET is a ready-made login page (template ``twcert/login.html``, which a host
app may override); every other route speaks JSON to scripts and renders pages for plain form
posts. Every POST passes :func:`~.security.verify_post`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import secrets
import traceback
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from twcert.challenge import Challenge
from twcert.errors import (
    AccountNotFound,
    AccountRequired,
    ChallengeUnknownError,
    ConfigurationError,
    LocalSignerUnavailableError,
    LoginRefusedError,
    PinLockedError,
    ResponseParseError,
    TwcertError,
    UserCancelledError,
)
from twcert.hipki import HipkiSignResponse
from twcert.login import LoginService, Principal

from .errors import FirstUseExpiredError, PopupBlockedError, UnexpectedError
from .extension import TWCertState, forget_cached_principal, get_state, logout
from .pending import PendingLogin, RecordingNonces, ReplayNonces
from .responses import error_payload, error_response, json_response, no_store, wants_json
from .security import csrf_token, rotate, safe_next, session_id, site_origin, verify_post
from .signals import twcert_auth_failed, twcert_authenticated, twcert_locked_out

__all__ = ["PENDING_KEY", "make_blueprint"]

log = logging.getLogger("twcert.contrib.flask")

#: Session key of the pending first login's store key.
PENDING_KEY = "_twcert_pending"
_MAX_ACCOUNT = 64
_CLIENT_ERRORS: dict[str, Callable[[str], TwcertError]] = {
    "agent_unreachable": LocalSignerUnavailableError,
    "cancelled": UserCancelledError,
    "popup_blocked": PopupBlockedError,
}

P = ParamSpec("P")


def _login_url() -> str:
    return url_for("twcert.login_page")


def _catalogued(view: Callable[P, BaseResponse]) -> Callable[P, BaseResponse]:
    """A catalogued error becomes its JSON or page answer."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> BaseResponse:
        try:
            return view(*args, **kwargs)
        except TwcertError as exc:
            return error_response(exc, login_url=_login_url())

    return wrapper


def _payload() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ResponseParseError("request body is not a JSON object")
        return data
    return request.form.to_dict()


def _account(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AccountNotFound("account is not text")
    text = value.strip()
    if len(text) > _MAX_ACCOUNT:
        raise AccountNotFound("account too long")
    return text or None


def _service(state: TWCertState, nonces: RecordingNonces | ReplayNonces) -> LoginService:
    # A per-request copy sees the nonce wrapper; the shared service is never mutated.
    service = copy.copy(state.service)
    service.nonces = nonces
    return service


# ------------------------------------------------------------------------------ outcomes


def _refused(error: TwcertError) -> BaseResponse:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if isinstance(error, PinLockedError):
        twcert_locked_out.send(app, error=error)
    twcert_auth_failed.send(app, error=error)
    return error_response(error, login_url=_login_url())


def _app_user(state: TWCertState, principal: Principal) -> Any:
    loader = state.user_loader
    if loader is None:
        return None
    if getattr(current_app, "login_manager", None) is None:
        raise ConfigurationError("a twcert user loader is set but Flask-Login's LoginManager is missing")
    from flask_login import login_user  # type: ignore[import-untyped]

    user = loader(principal)
    if user is None:
        raise LoginRefusedError("the user loader knows no user for this principal")
    if not login_user(user, fresh=True):
        raise LoginRefusedError("Flask-Login refused the user (inactive)")
    return user


def _logged_in(state: TWCertState, principal: Principal, next_url: str | None) -> BaseResponse:
    try:
        user = _app_user(state, principal)
    except TwcertError as exc:
        return _refused(exc)
    rotate()
    session.pop(PENDING_KEY, None)
    session[state.settings.session_key] = principal.as_dict()
    forget_cached_principal()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    twcert_authenticated.send(app, principal=principal, user=user)
    target = next_url or state.settings.login_redirect
    if wants_json():
        return json_response({"status": "ok", "principal": principal.as_dict(), "redirect": target})
    return no_store(redirect(target, 303))


def _ask_account(
    state: TWCertState,
    error: AccountRequired,
    challenge: Challenge | None,
    response: Mapping[str, Any] | str,
    next_url: str | None,
) -> BaseResponse:
    if challenge is None:  # AccountRequired is only raised after the challenge was consumed
        raise ChallengeUnknownError("no consumed challenge to continue from")
    now = state.service.clock()
    expires = now + state.settings.pending_ttl
    answer = json.loads(response) if isinstance(response, str) else dict(response)
    # The pending entry's lifetime replaces the challenge's: the card answered in time.
    pending = PendingLogin(dataclasses.replace(challenge, expires_at=expires), answer, expires, next_url)
    key = secrets.token_urlsafe(24)
    state.pending.put(key, pending.to_bytes(), expires, now)
    session[PENDING_KEY] = key
    first_use = url_for("twcert.first_use")
    if wants_json():
        body = {**error_payload(error), "status": "account_required", "first_use_url": first_use}
        return json_response(body, error.http_status)
    return no_store(redirect(first_use, 303))


# ------------------------------------------------------------------------------ views


def login_page() -> BaseResponse:
    state = get_state()
    page = render_template(
        "twcert/login.html",
        agent_url=state.settings.agent_url,
        next_url=safe_next(request.args.get("next")) or "",
        csrf=csrf_token(),
    )
    response = Response(page, mimetype="text/html")
    # The PIN is typed here: never inside another site's frame.
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return no_store(response)


@_catalogued
def challenge() -> BaseResponse:
    state = get_state()
    if request.method == "POST":
        verify_post(state.settings.origin)
    elif request.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        verify_post(state.settings.origin)  # a cross-site GET is refused the same way
    issued = state.service.issue_challenge(session_id(), site_origin(state.settings.origin))
    kind = state.service.signature_type
    return json_response(
        {
            "status": "ok",
            "challenge_id": issued.id,
            "tbs": issued.tbs_text,
            "expires_at": issued.expires_at.isoformat(),
            "signature_type": kind if kind in ("PKCS7", "PKCS1") else "PKCS7",
            "hash_algorithm": "SHA256",
            "csrf_token": csrf_token(),
        }
    )


@_catalogued
def login() -> BaseResponse:
    state = get_state()
    verify_post(state.settings.origin)
    data = _payload()
    next_url = safe_next(data.get("next"))
    challenge_id = data.get("challenge_id")
    if not isinstance(challenge_id, str) or not challenge_id:
        raise ChallengeUnknownError("no challenge id in the request")
    response = data.get("response")
    if not isinstance(response, Mapping | str):
        raise ResponseParseError("no sign response in the request")
    account = _account(data.get("account"))
    recorder = RecordingNonces(state.service.nonces)
    try:
        principal = _service(state, recorder).complete(
            challenge_id,
            response,
            account,
            session_id=session_id(),
            origin=site_origin(state.settings.origin),
        )
    except AccountRequired as exc:
        return _ask_account(state, exc, recorder.consumed, response, next_url)
    except TwcertError as exc:
        return _refused(exc)
    return _logged_in(state, principal, next_url)


@_catalogued
def first_use() -> BaseResponse:
    state = get_state()
    if request.method == "POST":
        verify_post(state.settings.origin)
    if not isinstance(session.get(PENDING_KEY), str):
        raise FirstUseExpiredError("no pending first login in this session")
    if request.method == "GET":
        return _first_use_form(None)
    account = _account(_payload().get("account"))
    if account is None:
        # Nothing spent: the pending entry stays for the next try.
        return _first_use_form(AccountRequired("the first-use form was sent empty"))
    key = session.pop(PENDING_KEY)
    raw = state.pending.take(key, state.service.clock())
    if raw is None:
        raise FirstUseExpiredError("pending first login expired or already used")
    pending = PendingLogin.from_bytes(raw)
    try:
        principal = _service(state, ReplayNonces(pending.challenge)).complete(
            pending.challenge.id,
            pending.response,
            account,
            session_id=session_id(),
            origin=site_origin(state.settings.origin),
        )
    except TwcertError as exc:
        return _refused(exc)
    return _logged_in(state, principal, pending.next_url)


def _first_use_form(error: TwcertError | None) -> BaseResponse:
    if error is not None and wants_json():
        return error_response(error)
    page = render_template(
        "twcert/first_use.html",
        error=error,
        prompt=AccountRequired(),
        csrf=csrf_token(),
        login_url=_login_url(),
    )
    return no_store(Response(page, status=error.http_status if error else 200, mimetype="text/html"))


@_catalogued
def client_error() -> BaseResponse:
    """The catalogued text for what went wrong before the server saw a signature."""
    verify_post(get_state().settings.origin)
    data = _payload()
    kind = data.get("client_error")
    if isinstance(kind, str) and kind in _CLIENT_ERRORS:
        return error_response(_CLIENT_ERRORS[kind](f"reported by the login page: {kind}"))
    error = HipkiSignResponse.parse(data).error()
    if error is None:
        raise ResponseParseError("the reported answer is not an error")
    return error_response(error)


@_catalogued
def logout_view() -> BaseResponse:
    verify_post(get_state().settings.origin)
    logout()
    target = safe_next(_payload().get("next")) or _login_url()
    if wants_json():
        return json_response({"status": "ok", "redirect": target})
    return no_store(redirect(target, 303))


def _unexpected(error: Exception) -> BaseResponse | HTTPException:
    if isinstance(error, HTTPException):
        return error
    # Type and place only: messages of foreign exceptions may quote personal data.
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
    log.error("twcert view failed: %s at %s", type(error).__name__, where)
    return error_response(UnexpectedError(type(error).__name__), login_url=_login_url())


def make_blueprint() -> Blueprint:
    """A fresh blueprint for one app (registered by :meth:`TWCert.init_app`)."""
    bp = Blueprint(
        "twcert", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
    )
    bp.add_url_rule("/login", "login_page", login_page, methods=["GET"])
    bp.add_url_rule("/login", "login", login, methods=["POST"])
    bp.add_url_rule("/challenge", "challenge", challenge, methods=["GET", "POST"])
    bp.add_url_rule("/first-use", "first_use", first_use, methods=["GET", "POST"])
    bp.add_url_rule("/client-error", "client_error", client_error, methods=["POST"])
    bp.add_url_rule("/logout", "logout", logout_view, methods=["POST"])
    bp.register_error_handler(Exception, _unexpected)
    return bp
