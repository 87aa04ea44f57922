"""The Jinja environment of the Django variant: the demo's pages, unchanged, with Django behind
the helpers they call (``url_for``, ``twcert_principal``, ``twcert_csrf_field`` …)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import urlencode

from django.middleware.csrf import get_token  # type: ignore[import-untyped, unused-ignore]
from django.urls import reverse  # type: ignore[import-untyped, unused-ignore]
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from twcert_vacancy import WorkPlace

from ..contrib.django.conf import SESSION_PRINCIPAL_KEY
from ..web.security import csrf_token
from .site import Viewer, roc

__all__ = ["ROUTES", "environment", "url_for"]

#: The Flask endpoints the templates name → Django URL name and its path parameters.
ROUTES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "demo.home": ("home", ()),
    "demo.apps": ("apps", ()),
    "demo.apps_d": ("apps_d", ()),
    "demo.board": ("board", ()),
    "demo.register": ("register", ()),
    "demo.mine": ("mine", ()),
    "demo.jobs": ("jobs", ()),
    "demo.job": ("job", ("work_id",)),
    "demo.cards": ("cards", ()),
    "demo.unlock": ("unlock", ("card_serial",)),
    "demo.insert": ("insert", ("card_serial",)),
    "demo.static": ("demo_static", ("filename",)),
    "twcert.login_page": ("twcert:page", ()),
    "twcert.logout": ("twcert:logout", ()),
}


def url_for(endpoint: str, **values: Any) -> str:
    name, params = ROUTES[endpoint]
    path = str(reverse(name, kwargs={key: values.pop(key) for key in params}))
    query = {key: value for key, value in values.items() if value is not None}
    return f"{path}?{urlencode(query)}" if query else path


@pass_context
def _principal(context: Context) -> Viewer | None:
    request = context.get("request")
    return Viewer.from_dict(request.session.get(SESSION_PRINCIPAL_KEY)) if request is not None else None


@pass_context
def _csrf_field(context: Context) -> Markup:
    """Both tokens: Django's (the demo's own forms) and twcert's (its logout endpoint)."""
    request = context["request"]
    django_token = escape(get_token(request))
    twcert_token = escape(csrf_token(request.session))
    return Markup(
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{django_token}">'
        f'<input type="hidden" name="csrf_token" value="{twcert_token}">'
    )


def _site() -> Any:
    from .django_views import site

    return site()


def _places(places: Iterable[WorkPlace]) -> str:
    return "、".join(place.name for place in places)


def environment(**options: Any) -> Environment:
    """Called by Django's Jinja2 backend (``OPTIONS["environment"]``)."""
    env = Environment(**options)
    env.globals.update(
        url_for=url_for,
        twcert_principal=_principal,
        twcert_csrf_field=_csrf_field,
        roc=roc,
        today=lambda: _site().today(),
        utcnow=lambda: _site().now(),
        holder=lambda kind, principal_id: _site().holder(kind, principal_id),
        twcert_asset=lambda name: str(reverse("twcert:asset", kwargs={"name": name})),
        framework=lambda: "django",
    )
    env.filters["places"] = _places
    return env
