"""Views: the login page, the challenge, the login and the first-use step.

The login page contract (what ``twcert/login.html`` does, and what a custom page must do):

1. ``POST challenge/`` (CSRF token in ``X-CSRFToken``) → ``{"challenge_id", "tbs", "tbs_encoding",
   "hash_algorithm", "signature_type", "expires_at"}``. The challenge is bound to the session
   (created if needed) and the site's origin.
2. The page asks HiPKI (``/popupForm`` or ``/sign``) to sign ``tbs`` with the PIN the user typed;
   the PIN never reaches this server.
3. ``POST login/`` with JSON ``{"challenge_id", "response": <HiPKI's answer, unchanged>, "next"}``
   → ``200 {"ok": true, "redirect", "principal"}``, or the error (below).
4. Error ``ACCOUNT_REQUIRED`` (first use of a citizen card, ``"first_use": true``): the page asks
   for the account or national ID, gets a new challenge, signs again and posts to
   ``first-use/`` with ``"account"`` added.

Errors are ``{"ok": false, "error": {"code", "message_zh", "message_en", "action_zh",
"action_en", "action_url"}}`` with the error's HTTP status (401 wrong PIN, 403 locked card or
refused login, …); ``tries_left`` is added for a wrong PIN. A form POST (not JSON) gets the same
as HTML (``twcert/error.html``) or a redirect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
from django.contrib.auth import authenticate  # type: ignore[import-untyped, unused-ignore]
from django.contrib.auth import login as auth_login
from django.db import transaction  # type: ignore[import-untyped, unused-ignore]
from django.http import (  # type: ignore[import-untyped, unused-ignore]
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render, resolve_url  # type: ignore[import-untyped, unused-ignore]
from django.urls import NoReverseMatch, reverse  # type: ignore[import-untyped, unused-ignore]
from django.utils.http import url_has_allowed_host_and_scheme  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.cache import never_cache  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.debug import (  # type: ignore[import-untyped, unused-ignore]
    sensitive_post_parameters,
    sensitive_variables,
)
from django.views.decorators.http import require_GET, require_http_methods, require_POST  # type: ignore[import-untyped, unused-ignore]

from ...errors import (
    AccountRequired,
    ChallengeError,
    ConfigurationError,
    LocalSignerUnavailableError,
    PinIncorrectError,
    ResponseParseError,
    TwcertError,
)
from ._decorators import decorate
from .backends import login_error
from .conf import SESSION_CHALLENGE_KEY, get_service, get_settings, request_origin

__all__ = ["challenge", "first_use", "login", "login_page", "render_error"]

_JSON = "application/json"


def _wants_json(request: HttpRequest) -> bool:
    return bool(request.content_type == _JSON or _JSON in request.headers.get("Accept", ""))


def _url(request: HttpRequest, name: str) -> str | None:
    """One of our URLs, in the namespace of the view being served (an instance namespace the
    host chose), else in ``twcert``; ``None`` if the host has not included our URLs."""
    match = getattr(request, "resolver_match", None)
    current = match.namespace if match is not None else ""
    for namespace in dict.fromkeys(n for n in (current, "twcert") if n):
        try:
            return str(reverse(f"{namespace}:{name}"))
        except NoReverseMatch:
            continue
    return None


def _json(payload: Mapping[str, Any], status: int = 200) -> HttpResponse:
    # Keep the Chinese readable in the body (and in any log of it).
    return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})


def render_error(request: HttpRequest, error: TwcertError) -> HttpResponse:
    """The catalogued error as JSON or as ``twcert/error.html``, with its HTTP status."""
    first_use = isinstance(error, AccountRequired)
    tries_left = error.params.get("tries_left") if isinstance(error, PinIncorrectError) else None
    if _wants_json(request):
        payload: dict[str, Any] = {"ok": False, "error": error.as_dict()}
        if first_use:
            payload.update(first_use=True, first_use_url=_url(request, "first-use"))
        if tries_left is not None:
            payload["tries_left"] = tries_left
        return _json(payload, error.http_status)
    context = {
        "error": error.as_dict(),
        "first_use": first_use,
        "first_use_url": _url(request, "first-use"),
        "login_url": _url(request, "page"),
        "tries_left": tries_left,
    }
    return render(request, "twcert/error.html", context, status=error.http_status)


def _redirect_target(request: HttpRequest, candidate: Any) -> str:
    if isinstance(candidate, str) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    configured = get_settings().login_redirect_url or settings.LOGIN_REDIRECT_URL
    return str(resolve_url(configured))


@decorate(sensitive_variables("body", "data"))
def _read(request: HttpRequest) -> dict[str, Any]:
    """The posted token fields, from a JSON body or a form."""
    if request.content_type == _JSON:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("request body is not JSON") from None
        if not isinstance(data, dict):
            raise ResponseParseError("request body is not a JSON object")
        return data
    body = request.POST
    return {key: body.get(key) for key in ("challenge_id", "response", "account", "next")}


@decorate(sensitive_variables("data"))
def _complete(request: HttpRequest, *, require_account: bool) -> HttpResponse:
    try:
        data = _read(request)
        if require_account and not str(data.get("account") or "").strip():
            raise AccountRequired("first-use step posted without an account")
    except TwcertError as exc:
        return render_error(request, exc)
    user = authenticate(request, twcert_token=data)
    if user is None:
        error = login_error(request) or ConfigurationError(
            "no backend handled twcert_token: add TwcertBackend to AUTHENTICATION_BACKENDS"
        )
        return render_error(request, error)
    auth_login(request, user)
    target = _redirect_target(request, data.get("next") or request.GET.get("next"))
    if not _wants_json(request):
        return HttpResponseRedirect(target)
    principal = getattr(request, "twcert_principal", None)
    shown = None
    if principal is not None:
        # No holder name or national ID: the page needs only who logged in and how.
        shown = {
            "kind": principal.kind,
            "principal_id": principal.principal_id,
            "account": principal.account,
            "agency_code": principal.agency_code,
            "agency_name": principal.agency_name,
            "first_use": principal.first_use,
        }
    return _json({"ok": True, "redirect": target, "principal": shown})


# The login state (nonces, PIN counts, bindings) must commit whatever the host's
# ATOMIC_REQUESTS says: a consumed challenge or a counted wrong PIN is never rolled back.


@decorate(transaction.non_atomic_requests, never_cache, require_POST, csrf_protect)
def challenge(request: HttpRequest) -> HttpResponse:
    """Issue a challenge bound to this session (created if needed) and origin."""
    session = request.session
    if session.session_key is None:
        session.save()
    session_key = session.session_key
    try:
        if not session_key:
            raise ConfigurationError("the session engine gave the session no key")
        issued = get_service().issue_challenge(session_key, request_origin(request))
    except TwcertError as exc:
        return render_error(request, exc)
    session[SESSION_CHALLENGE_KEY] = issued.id
    signature_type = get_settings().signature_type
    return _json(
        {
            "challenge_id": issued.id,
            "tbs": issued.tbs_text,
            "tbs_encoding": "NONE",
            "hash_algorithm": "SHA256",
            "signature_type": "PKCS7" if signature_type == "any" else signature_type,
            "expires_at": issued.expires_at.isoformat(),
        }
    )


@decorate(
    transaction.non_atomic_requests,
    never_cache,
    sensitive_post_parameters("response", "account"),
    require_POST,
    csrf_protect,
)
def login(request: HttpRequest) -> HttpResponse:
    """Complete a login with the HiPKI sign response (and, at first use, an account)."""
    return _complete(request, require_account=False)


@decorate(
    transaction.non_atomic_requests,
    never_cache,
    sensitive_post_parameters("response", "account"),
    require_http_methods(["GET", "POST"]),
    csrf_protect,
    ensure_csrf_cookie,
)
def first_use(request: HttpRequest) -> HttpResponse:
    """GET: the login page asking for the account too. POST: a login that names the account."""
    if request.method == "GET":
        return _page(request, first_use=True)
    return _complete(request, require_account=True)


@decorate(never_cache, require_GET, ensure_csrf_cookie)
def login_page(request: HttpRequest) -> HttpResponse:
    """The card login page (``twcert/login.html``)."""
    return _page(request, first_use=False)


def _page(request: HttpRequest, *, first_use: bool) -> HttpResponse:
    conf = get_settings()
    next_url = request.GET.get("next", "")
    config = {
        "challenge_url": _url(request, "challenge"),
        "login_url": _url(request, "login"),
        "first_use_url": _url(request, "first-use"),
        "hipki_url": conf.hipki_url.rstrip("/"),
        "signature_type": "PKCS7" if conf.signature_type == "any" else conf.signature_type,
        "next": next_url if _redirect_target(request, next_url) == next_url else "",
        "first_use": first_use,
        # Catalogued texts for failures the page detects itself: no HiPKI, or an answer that is
        # not ours (an expired CSRF cookie's 403, a proxy's error page): reload and log in again.
        "messages": {
            "signer_unavailable": LocalSignerUnavailableError().as_dict(),
            "unexpected": ChallengeError().as_dict(),
        },
    }
    return render(request, "twcert/login.html", {"twcert_config": config, "first_use": first_use})
