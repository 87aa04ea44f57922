"""The host project's URLs: the card login under /login/card/ and a page that needs a login."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from twcert.contrib.django.backends import get_principal


@login_required
def home(request: HttpRequest) -> JsonResponse:
    principal = get_principal(request)
    return JsonResponse({"username": request.user.get_username(), "principal": dict(principal or {})})


urlpatterns = [
    path("login/card/", include("twcert.contrib.django.urls")),
    path("home/", home, name="home"),
]
