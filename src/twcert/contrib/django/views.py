"""Views: Django requests into :class:`~twcert.web.LoginFlow`, its answers back out.

The endpoints, JSON and pages are the Flask adapter's (``docs/web-json.md``): ``login`` (GET the
page, POST the card's answer), ``challenge``, ``first-use``, ``client-error``, ``logout`` and
``assets/<file>`` (the one login script). They check their own CSRF token, ``Origin`` and
``Sec-Fetch-Site`` (:mod:`twcert.web.security`), so Django's CSRF middleware is not consulted and
never reads a body past the size limit.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, get_backends  # type: ignore[import-untyped, unused-ignore]
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.db import transaction  # type: ignore[import-untyped, unused-ignore]
from django.http import FileResponse, Http404, HttpRequest, HttpResponse  # type: ignore[import-untyped, unused-ignore]
from django.shortcuts import render  # type: ignore[import-untyped, unused-ignore]
from django.urls import NoReverseMatch, reverse  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.debug import sensitive_post_parameters  # type: ignore[import-untyped, unused-ignore]
from django.views.decorators.http import require_http_methods  # type: ignore[import-untyped, unused-ignore]

from ...errors import ConfigurationError, LoginRefusedError, PinLockedError, TwcertError
from ...login import Principal
from ...web import LOGIN_SCRIPT, STATIC_DIR
from ...web.body import lazy_body
from ...web.contract import CONTENT_TYPE
from ...web.flow import Answer, FlowHooks, Urls, WebRequest
from ._decorators import decorate
from .conf import get_settings
from .service import get_flow, request_origin
from .signals import card_locked, last_audit_event, login_failed, login_succeeded, reset_last_audit_event

__all__ = ["asset", "challenge", "client_error", "first_use", "login", "logout", "render_error", "respond"]

_PAGES = {"login": "twcert/login.html", "first_use": "twcert/first_use.html", "error": "twcert/error.html"}
_PRINCIPAL_ATTRIBUTE = "twcert_principal"
_ERROR_ATTRIBUTE = "twcert_error"
_ASSETS = {LOGIN_SCRIPT: "text/javascript", "twcert.css": "text/css"}


def _url(request: HttpRequest, view: str, **kwargs: str) -> str:
    """One of our URLs, in the namespace of the view being served, else in ``twcert``."""
    match = getattr(request, "resolver_match", None)
    current = match.namespace if match is not None else ""
    for namespace in dict.fromkeys(n for n in (current, "twcert") if n):
        try:
            return str(reverse(f"{namespace}:{view}", kwargs=kwargs or None))
        except NoReverseMatch:
            continue
    raise ConfigurationError(f"twcert URL {view!r} not found: include twcert.contrib.django.urls")


def _wants_json(request: HttpRequest) -> bool:
    return bool(
        request.content_type == CONTENT_TYPE
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or CONTENT_TYPE in request.headers.get("Accept", "")
    )


def web_request(request: HttpRequest) -> WebRequest:
    """This Django request as the flow sees it."""
    urls = Urls(
        login=_url(request, "page"),
        challenge=_url(request, "challenge"),
        first_use=_url(request, "first-use"),
        client_error=_url(request, "client-error"),
        logout=_url(request, "logout"),
        script=_url(request, "asset", name=LOGIN_SCRIPT),
    )
    # HttpRequest.read: the WSGI input bounded by CONTENT_LENGTH. A chunked body has no length:
    # read the server's dechunked input (when it says so), still only up to the limit.
    length = request.META.get("CONTENT_LENGTH") or None
    stream: Any = request
    if length is None and request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]
    body = lazy_body(stream, length, request.content_type, get_settings().max_body)
    return WebRequest(
        method=request.method or "GET",
        headers=request.headers,
        session=request.session,
        origin=request_origin(request),
        wants_json=_wants_json(request),
        urls=urls,
        body=body,
        query=request.GET,
    )


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def respond(request: HttpRequest, answer: Answer) -> HttpResponse:
    """The flow's answer as a Django response."""
    if answer.json is not None:
        body = json.dumps(answer.json, ensure_ascii=False).encode("utf-8")
        response = HttpResponse(body, content_type=CONTENT_TYPE, status=answer.status)
        response["Content-Length"] = str(len(body))  # not chunked: a client may stop reading at once
        return _no_store(response)
    if answer.redirect is not None:
        response = HttpResponse(status=answer.status)
        response["Location"] = answer.redirect
        return _no_store(response)
    assert answer.page is not None
    response = render(request, _PAGES[answer.page], dict(answer.context), status=answer.status)
    # The PIN is typed on these pages: never inside another site's frame.
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return _no_store(response)


def render_error(request: HttpRequest, error: TwcertError) -> HttpResponse:
    """The catalogued error as JSON or as ``twcert/error.html``, with its HTTP status."""
    return respond(request, get_flow().error(web_request(request), error))


class _Hooks(FlowHooks):
    """The Django user (through :class:`~.backends.TwcertBackend`'s hooks) and the signals."""

    def __init__(self, request: HttpRequest) -> None:
        from .backends import TwcertBackend

        self.request = request
        found = [b for b in get_backends() if isinstance(b, TwcertBackend)]
        self.backend = found[0] if found else None
        self.user: Any = None
        reset_last_audit_event()

    def accept(self, principal: Principal) -> None:
        if self.backend is None:
            raise ConfigurationError("add TwcertBackend to AUTHENTICATION_BACKENDS")
        user = self.backend.get_or_create_user(self.request, principal)
        if user is None or not self.backend.user_can_authenticate(user):
            raise LoginRefusedError("no active Django user for this principal")
        setattr(self.request, _PRINCIPAL_ATTRIBUTE, principal)  # for signals.store_principal
        path = f"{type(self.backend).__module__}.{type(self.backend).__qualname__}"
        auth_login(self.request, user, backend=path)
        self.user = user

    def succeeded(self, principal: Principal) -> None:
        sender = type(self.backend)
        login_succeeded.send(sender=sender, request=self.request, user=self.user, principal=principal)

    def failed(self, error: TwcertError) -> None:
        setattr(self.request, _ERROR_ATTRIBUTE, error)  # for backends.login_error
        event = last_audit_event()
        sender = type(self.backend)
        login_failed.send(sender=sender, request=self.request, error=error, event=event)
        if isinstance(error, PinLockedError):
            card_locked.send(sender=sender, request=self.request, error=error, event=event)

    def logged_out(self) -> None:
        if self.request.session.get(BACKEND_SESSION_KEY) is not None:
            auth_logout(self.request)


# The login state (nonces, PIN counts, bindings) must commit whatever the host's
# ATOMIC_REQUESTS says: a consumed challenge or a counted wrong PIN is never rolled back.
_COMMON = (transaction.non_atomic_requests, csrf_exempt)


@decorate(*_COMMON, sensitive_post_parameters("response", "account"), require_http_methods(["GET", "POST"]))
def login(request: HttpRequest) -> HttpResponse:
    """GET: the login page. POST: the card's answer to a challenge."""
    flow, req = get_flow(), web_request(request)
    if request.method == "GET":
        return respond(request, flow.login_page(req))
    return respond(request, flow.login(req, _Hooks(request)))


@decorate(*_COMMON, require_http_methods(["GET", "POST"]))
def challenge(request: HttpRequest) -> HttpResponse:
    """A challenge bound to this session and origin."""
    return respond(request, get_flow().challenge(web_request(request)))


@decorate(*_COMMON, sensitive_post_parameters("account"), require_http_methods(["GET", "POST"]))
def first_use(request: HttpRequest) -> HttpResponse:
    """GET: the account form. POST: the pending first login completed with the account."""
    return respond(request, get_flow().first_use(web_request(request), _Hooks(request)))


@decorate(*_COMMON, require_http_methods(["POST"]))
def client_error(request: HttpRequest) -> HttpResponse:
    """The catalogued text for a failure the login page saw before any signature."""
    return respond(request, get_flow().client_error(web_request(request)))


@decorate(*_COMMON, require_http_methods(["POST"]))
def logout(request: HttpRequest) -> HttpResponse:
    """End the card login and Django's."""
    return respond(request, get_flow().logout(web_request(request), _Hooks(request)))


@decorate(require_http_methods(["GET"]))
def asset(request: HttpRequest, name: str) -> FileResponse:
    """The login script and stylesheet (shared with the Flask adapter; no staticfiles needed)."""
    if name not in _ASSETS:
        raise Http404(name)
    return FileResponse((STATIC_DIR / name).open("rb"), content_type=_ASSETS[name])
