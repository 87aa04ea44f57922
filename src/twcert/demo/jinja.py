"""The Jinja environment of the Django variant: the demo's pages, unchanged, with Django behind
the helpers they call (``url_for``, ``twcert_principal``, ``twcert_csrf_field`` …)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import urlencode

from django.middleware.csrf import get_token  # type: ignore[import-untyped, unused-ignore]
from django.urls import reverse  # type: ignore[import-untyped, unused-ignore]
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from twcert_vacancy import WorkPlace, taipei_date

from ..contrib.django.conf import SESSION_PRINCIPAL_KEY
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
    "twcert.static": ("twcert_static", ("filename",)),
    "twcert.login_page": ("twcert:page", ()),
    "twcert.logout": ("logout", ()),
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
    token = get_token(context["request"])
    return Markup(f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">')


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
        today=lambda: taipei_date(dt.datetime.now(dt.UTC)),
        utcnow=lambda: dt.datetime.now(dt.UTC),
        framework=lambda: "django",
    )
    env.filters["places"] = _places
    return env
