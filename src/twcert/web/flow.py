"""The web login flow, once for every framework: challenge, login, first use, client errors, logout.

An adapter turns its framework's request into a :class:`WebRequest`, calls one method of
:class:`LoginFlow`, and turns the :class:`Answer` back into a response (JSON, a redirect, or one
of the pages ``login``, ``first_use``, ``error``). Everything else — the request checks, the
size limit, the JSON contract (:mod:`.contract`), the session keys, the first-use continuation
and challenge purging — happens here, so both adapters behave alike.

First use (manual step 3) needs no second signature: when the service answers
:class:`~twcert.errors.AccountRequired` the verified challenge and the card's answer are kept
server-side (:mod:`.pending`) under a random key held in the session, and the account form
completes that same login once.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from twcert.certificate import CAFamily
from twcert.challenge import Challenge
from twcert.errors import (
    AccountNotFound,
    AccountRequired,
    ChallengeUnknownError,
    LocalSignerUnavailableError,
    ResponseParseError,
    TwcertError,
    UserCancelledError,
)
from twcert.hipki import HipkiSignResponse
from twcert.login import LoginService, Principal

from . import contract
from .body import DEFAULT_MAX_BODY
from .errors import FirstUseExpiredError, PopupBlockedError
from .pending import PendingLogin, PendingStore, RecordingNonces, ReplayNonces
from .security import (
    HeadersLike,
    SessionLike,
    check_fetch_site,
    csrf_token,
    rotate,
    safe_next,
    session_id,
    verify_post,
)

__all__ = [
    "PENDING_KEY",
    "Answer",
    "FlowHooks",
    "LoginFlow",
    "Urls",
    "WebRequest",
    "WebSettings",
    "family_hint",
]

#: Session key of the pending first login's store key.
PENDING_KEY: Final = "_twcert_pending"
_MAX_ACCOUNT: Final = 64
_CLIENT_ERRORS: Final[Mapping[str, Callable[[str], TwcertError]]] = {
    "agent_unreachable": LocalSignerUnavailableError,
    "cancelled": UserCancelledError,
    "popup_blocked": PopupBlockedError,
}
_HINTS: Final[Mapping[str, CAFamily]] = {"citizen": CAFamily.MOICA, "agency": CAFamily.GCA}


@dataclass(frozen=True, slots=True)
class Urls:
    """The adapter's addresses of the flow's endpoints (and of the one login script)."""

    login: str
    challenge: str
    first_use: str
    client_error: str
    logout: str
    script: str


@dataclass(frozen=True, slots=True)
class WebSettings:
    """What both adapters configure the same way."""

    agent_url: str = "http://localhost:61161"
    login_redirect: str = "/"
    session_key: str = "twcert_principal"
    pending_ttl: dt.timedelta = dt.timedelta(minutes=10)
    max_body: int = DEFAULT_MAX_BODY
    #: Expired challenges are purged from the nonce store at most this often.
    purge_interval: dt.timedelta = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class WebRequest:
    """One request as the flow sees it; ``body`` reads and parses lazily, within the limit."""

    method: str
    #: Case-insensitive (Werkzeug's ``Headers``, Django's ``HttpHeaders``).
    headers: HeadersLike
    session: SessionLike
    #: The origin challenges are bound to (configured, else the request's scheme and host).
    origin: str
    wants_json: bool
    urls: Urls
    body: Callable[[], Mapping[str, Any]]
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the adapter sends: JSON, a 303 redirect, or a page (``login``/``first_use``/``error``)."""

    status: int = 200
    json: Mapping[str, Any] | None = None
    redirect: str | None = None
    page: Literal["login", "first_use", "error"] | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


class FlowHooks:
    """The adapter's part of a login: its user model and signals. Methods may raise ``TwcertError``."""

    def accept(self, principal: Principal) -> None:
        """Called before the session records the login (e.g. Flask-Login's or Django's user)."""

    def succeeded(self, principal: Principal) -> None:
        """After the session records the login."""

    def failed(self, error: TwcertError) -> None:
        """A refused login (including a locked card)."""

    def logged_out(self) -> None:
        """After the session forgot the login."""


def family_hint(value: object) -> CAFamily | None:
    """The card type the login page says was chosen (``"citizen"`` / ``"agency"``), if any."""
    return _HINTS.get(value) if isinstance(value, str) else None


def _account(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AccountNotFound("account is not text")
    text = value.strip()
    if len(text) > _MAX_ACCOUNT:
        raise AccountNotFound("account too long")
    return text or None


class LoginFlow:
    """The login endpoints' behaviour over one :class:`~twcert.LoginService`."""

    def __init__(
        self,
        service: LoginService,
        pending: PendingStore,
        settings: WebSettings | None = None,
    ) -> None:
        self.service = service
        self.pending = pending
        self.settings = settings or WebSettings()
        self._purge_lock = threading.Lock()
        self._last_purge: dt.datetime | None = None

    # -- answers ---------------------------------------------------------------------------------

    def error(self, request: WebRequest, error: TwcertError) -> Answer:
        """The catalogued error as JSON, or as the ``error`` page."""
        if request.wants_json:
            return Answer(error.http_status, json=contract.error_payload(error))
        return Answer(error.http_status, page="error", context=self._error_context(request, error))

    def _error_context(self, request: WebRequest, error: TwcertError) -> dict[str, Any]:
        return {"error": error, "login_url": request.urls.login}

    def _json_or_redirect(self, request: WebRequest, payload: Mapping[str, Any], target: str) -> Answer:
        return Answer(json=payload) if request.wants_json else Answer(303, redirect=target)

    def _refused(self, request: WebRequest, error: TwcertError, hooks: FlowHooks) -> Answer:
        hooks.failed(error)
        return self.error(request, error)

    # -- pages -----------------------------------------------------------------------------------

    def login_page(self, request: WebRequest) -> Answer:
        """The login page's data (``data-*`` attributes of the one login script)."""
        urls = request.urls
        config = {
            "agent_url": self.settings.agent_url.rstrip("/"),
            "challenge_url": urls.challenge,
            "login_url": urls.login,
            "client_error_url": urls.client_error,
            "csrf_token": csrf_token(request.session),
            "next": safe_next(request.query.get("next")) or "",
        }
        return Answer(page="login", context={"twcert": config, "script_url": urls.script})

    # -- step 1 ----------------------------------------------------------------------------------

    def challenge(self, request: WebRequest) -> Answer:
        """A challenge bound to this session and origin (POST from the page; a same-site GET)."""
        try:
            if request.method == "POST":
                self._verify(request)
            else:
                check_fetch_site(request.headers)
            self._purge()
            issued = self.service.issue_challenge(session_id(request.session), request.origin)
        except TwcertError as exc:
            return self.error(request, exc)
        payload = contract.challenge_payload(issued, self.service.signature_type, csrf_token(request.session))
        return Answer(json=payload)

    def _purge(self) -> None:
        """Expired challenges go, so anonymous challenge requests cannot pile up."""
        now = self.service.clock()
        with self._purge_lock:
            if self._last_purge is not None and now - self._last_purge < self.settings.purge_interval:
                return
            self._last_purge = now
        self.service.nonces.purge(now)

    # -- steps 2–4 -------------------------------------------------------------------------------

    def login(self, request: WebRequest, hooks: FlowHooks | None = None) -> Answer:
        """The card's answer to a challenge (HiPKI's sign response, unchanged)."""
        hooks = hooks or FlowHooks()
        try:
            self._verify(request)
            data = request.body()
            next_url = safe_next(data.get("next"))
            challenge_id = data.get("challenge_id")
            if not isinstance(challenge_id, str) or not challenge_id or len(challenge_id) > 128:
                raise ChallengeUnknownError("no challenge id in the request")
            response = data.get("response")
            if not isinstance(response, Mapping | str):
                raise ResponseParseError("no sign response in the request")
            account = _account(data.get("account"))
        except TwcertError as exc:
            return self.error(request, exc)
        hint = family_hint(data.get("card_type"))
        recorder = RecordingNonces(self.service.nonces)
        try:
            principal = self._complete(request, recorder, challenge_id, response, account, hint)
        except AccountRequired as exc:
            if recorder.consumed is None:  # raised only after the challenge was consumed
                return self._refused(request, ChallengeUnknownError("no consumed challenge"), hooks)
            return self._ask_account(request, exc, recorder.consumed, response, next_url)
        except TwcertError as exc:
            return self._refused(request, exc, hooks)
        return self._logged_in(request, principal, next_url, hooks)

    def _complete(
        self,
        request: WebRequest,
        nonces: RecordingNonces | ReplayNonces,
        challenge_id: str,
        response: Mapping[str, Any] | str,
        account: str | None,
        hint: CAFamily | None,
    ) -> Principal:
        """The one call into the login service (a per-request copy sees the nonce wrapper)."""
        service = copy.copy(self.service)
        service.nonces = nonces
        return service.complete(
            challenge_id,
            response,
            account,
            session_id=session_id(request.session),
            origin=request.origin,
            card_hint=hint,
        )

    def _ask_account(
        self,
        request: WebRequest,
        error: AccountRequired,
        challenge: Challenge,
        response: Mapping[str, Any] | str,
        next_url: str | None,
    ) -> Answer:
        now = self.service.clock()
        expires = now + self.settings.pending_ttl
        try:
            answer = json.loads(response) if isinstance(response, str) else dict(response)
        except ValueError:
            return self.error(request, ResponseParseError("sign response is not JSON"))
        # The pending entry's lifetime replaces the challenge's: the card answered in time.
        pending = PendingLogin(dataclasses.replace(challenge, expires_at=expires), answer, expires, next_url)
        key = secrets.token_urlsafe(24)
        self.pending.put(key, pending.to_bytes(), expires, now)
        request.session[PENDING_KEY] = key
        payload = contract.account_required_payload(error, request.urls.first_use)
        if request.wants_json:
            return Answer(error.http_status, json=payload)
        return Answer(303, redirect=request.urls.first_use)

    def first_use(self, request: WebRequest, hooks: FlowHooks | None = None) -> Answer:
        """GET: the account form. POST: the pending login completed with the account."""
        hooks = hooks or FlowHooks()
        try:
            if request.method == "POST":
                self._verify(request)
            if not isinstance(request.session.get(PENDING_KEY), str):
                raise FirstUseExpiredError("no pending first login in this session")
            if request.method != "POST":
                return self._first_use_form(request, None)
            account = _account(request.body().get("account"))
        except TwcertError as exc:
            return self.error(request, exc)
        if account is None:
            # Nothing spent: the pending entry stays for the next try.
            return self._first_use_form(request, AccountRequired("the first-use form was sent empty"))
        raw = self.pending.take(str(request.session.pop(PENDING_KEY)), self.service.clock())
        if raw is None:
            return self.error(request, FirstUseExpiredError("pending first login expired or already used"))
        pending = PendingLogin.from_bytes(raw)
        try:
            principal = self._complete(
                request,
                ReplayNonces(pending.challenge),
                pending.challenge.id,
                pending.response,
                account,
                None,
            )
        except TwcertError as exc:
            return self._refused(request, exc, hooks)
        return self._logged_in(request, principal, pending.next_url, hooks)

    def _first_use_form(self, request: WebRequest, error: TwcertError | None) -> Answer:
        if error is not None and request.wants_json:
            return self.error(request, error)
        context = {
            "error": error,
            "prompt": AccountRequired(),
            "csrf_token": csrf_token(request.session),
            "first_use_url": request.urls.first_use,
            "login_url": request.urls.login,
        }
        return Answer(error.http_status if error else 200, page="first_use", context=context)

    def _logged_in(
        self, request: WebRequest, principal: Principal, next_url: str | None, hooks: FlowHooks
    ) -> Answer:
        try:
            hooks.accept(principal)
        except TwcertError as exc:
            return self._refused(request, exc, hooks)
        rotate(request.session)
        request.session.pop(PENDING_KEY, None)
        request.session[self.settings.session_key] = principal.as_dict()
        hooks.succeeded(principal)
        target = next_url or self.settings.login_redirect
        return self._json_or_redirect(request, contract.logged_in_payload(principal, target), target)

    # -- what the page saw ----------------------------------------------------------------------

    def client_error(self, request: WebRequest) -> Answer:
        """The catalogued text for a failure the server never saw a signature of.

        Only explains: nothing is recorded, so a forged report cannot lock anyone's card.
        """
        try:
            self._verify(request)
            data = request.body()
            hint = family_hint(data.get("card_type"))
            kind = data.get("client_error")
            if isinstance(kind, str) and kind in _CLIENT_ERRORS:
                error = _CLIENT_ERRORS[kind](f"reported by the login page: {kind}")
            else:
                report = {k: data[k] for k in ("ret_code", "last_error") if k in data}
                found = HipkiSignResponse.parse(report).error(hint)
                if found is None:
                    raise ResponseParseError("the reported answer is not an error")
                error = found
        except TwcertError as exc:
            return self.error(request, exc)
        return self.error(request, error)

    def logout(self, request: WebRequest, hooks: FlowHooks | None = None) -> Answer:
        """End the card login (the adapter's ``logged_out`` hook ends its own)."""
        hooks = hooks or FlowHooks()
        try:
            self._verify(request)
            target = safe_next(request.body().get("next")) or request.urls.login
        except TwcertError as exc:
            return self.error(request, exc)
        self.forget(request.session)
        hooks.logged_out()
        return self._json_or_redirect(request, contract.logged_out_payload(target), target)

    def forget(self, session: SessionLike) -> None:
        """Drop the login and any pending first use from ``session``; new session id and token."""
        session.pop(self.settings.session_key, None)
        session.pop(PENDING_KEY, None)
        rotate(session)

    def _verify(self, request: WebRequest) -> None:
        # The body is read (within the limit) even when the token came in a header, so every
        # endpoint answers 413 for an oversized body rather than ignoring it.
        try:
            form = request.body()
        except ResponseParseError:
            form = {}  # an unreadable body carries no token: refused below unless the header has it
        verify_post(request.headers, form, request.session, request.origin)
