"""The host project's URLs: the card login under /login/card/, a page that needs a login, and a
host view of its own that authenticates with the backend (docs/django.md, section 6)."""

from __future__ import annotations

import json

from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from twcert.contrib.django.backends import get_principal, login_error
from twcert.contrib.django.views import render_error


@login_required
def home(request: HttpRequest) -> JsonResponse:
    principal = get_principal(request)
    return JsonResponse({"username": request.user.get_username(), "principal": dict(principal or {})})


def card_login(request: HttpRequest) -> HttpResponse:
    """A host's own login view (CSRF-protected by the middleware)."""
    user = authenticate(request, twcert_token=json.loads(request.body))
    if user is None:
        error = login_error(request)
        assert error is not None
        return render_error(request, error)
    login(request, user)
    return JsonResponse({"username": user.get_username()})


accounts = ([path("card/", card_login, name="card")], "accounts")

urlpatterns = [
    path("login/card/", include("twcert.contrib.django.urls")),
    path("home/", home, name="home"),
    path("accounts/", include(accounts)),
]
