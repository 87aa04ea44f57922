"""URLs: ``path("login/card/", include("twcert.contrib.django.urls"))``; names in the ``twcert`` namespace.

* ``twcert:page`` — GET, the login page;
* ``twcert:challenge`` — POST, a new challenge (JSON);
* ``twcert:login`` — POST, complete the login with the HiPKI sign response;
* ``twcert:first-use`` — GET the page asking for the account; POST the login with the account.
"""

from __future__ import annotations

from django.urls import path  # type: ignore[import-untyped, unused-ignore]

from . import views

__all__ = ["app_name", "urlpatterns"]

app_name = "twcert"

urlpatterns = [
    path("", views.login_page, name="page"),
    path("challenge/", views.challenge, name="challenge"),
    path("login/", views.login, name="login"),
    path("first-use/", views.first_use, name="first-use"),
]
