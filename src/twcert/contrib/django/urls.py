"""URLs: ``path("auth/", include("twcert.contrib.django.urls"))``; names in the ``twcert`` namespace.

The same endpoints as the Flask blueprint (``docs/web-json.md``):

* ``twcert:page`` / ``twcert:login`` — ``login``: GET the page, POST the card's answer;
* ``twcert:challenge`` — ``challenge``: a new challenge (JSON);
* ``twcert:first-use`` — ``first-use``: GET the account form, POST the account;
* ``twcert:client-error`` — ``client-error``: the text for what the page saw;
* ``twcert:logout`` — ``logout``;
* ``twcert:asset`` — ``assets/<name>``: the login script.
"""

from __future__ import annotations

from django.urls import path  # type: ignore[import-untyped, unused-ignore]
from django.views.generic import RedirectView  # type: ignore[import-untyped, unused-ignore]

from . import views

__all__ = ["app_name", "urlpatterns"]

app_name = "twcert"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="twcert:page", query_string=True)),
    path("login", views.login, name="page"),
    path("login", views.login, name="login"),
    path("challenge", views.challenge, name="challenge"),
    path("first-use", views.first_use, name="first-use"),
    path("client-error", views.client_error, name="client-error"),
    path("logout", views.logout, name="logout"),
    path("assets/<str:name>", views.asset, name="asset"),
]
