"""The demo served with Django and :mod:`twcert.contrib.django` (``twcert demo --django``).

Django is configured in code for this process: the adapter's app, its authentication backend and
its views under ``/auth/``; ``TWCERT`` names the demo's CA files with their SHA-256 pins, its CRL
files, and the demo's SQL stores as objects, so both variants share one world. The demo's own
pages are the Flask variant's Jinja templates, rendered by Django's Jinja2 backend.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any, Final

from ..agency import AgencyResolver
from ..testing.fixtures import AGENCIES
from .site import DemoSite
from .state import ISSUING_CAS, ROOT_CAS

__all__ = ["create_app", "django_settings", "twcert_settings"]

_HERE: Final = Path(__file__).parent


def twcert_settings(site: DemoSite) -> dict[str, Any]:
    """``settings.TWCERT`` for the demo's world."""
    state = site.state
    pki_dir = state.directory / "pki"
    ca_files = []
    for label in (*ROOT_CAS, *ISSUING_CAS):
        ca = state.pki.cas[label]
        entry: dict[str, Any] = {
            "path": str(pki_dir / "ca" / f"{label}.pem"),
            "pins": [hashlib.sha256(ca.der).hexdigest()],
            "family": ca.family.value,
        }
        if ca.generation:
            entry["generation"] = ca.generation
        ca_files.append(entry)
    crl = pki_dir / "crl"
    return {
        "TRUST_BUNDLED": False,  # the demo's cards chain to its own fake GRCA only
        "CA_FILES": ca_files,
        "CA_CRL_FILES": [str(crl / label / "complete.crl") for label in ROOT_CAS],
        "CRL_FILES": [
            {"path": str(crl / label / "complete.crl"), "url": state.pki.cas[label].complete_crl_url}
            for label in ISSUING_CAS
        ],
        "REVOCATION_FETCH": False,  # preloaded; HARD_FAIL stays on
        "NONCE_STORE": state.stores.nonces,
        "PIN_STORE": state.stores.pin_counters,
        "BINDING_STORE": state.stores.bindings,
        "PERSONNEL": state.stores.personnel,
        "AGENCIES": AgencyResolver(state.stores.agencies, oid_map={a.oid: a.code for a in AGENCIES}),
        "HIPKI_URL": site.agent_url,
        "LOGIN_REDIRECT_URL": "/apps",
    }


def django_settings(site: DemoSite, *, secret_key: str | None = None) -> dict[str, Any]:
    """Every Django setting of the demo process."""
    return {
        "DEBUG": False,
        "SECRET_KEY": secret_key or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "twcert.contrib.django",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "twcert.demo.django_views",
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(site.state.directory / "django.sqlite3"),
            }
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "SESSION_COOKIE_HTTPONLY": True,
        "AUTHENTICATION_BACKENDS": ["twcert.contrib.django.backends.TwcertBackend"],
        "LOGIN_URL": "twcert:page",
        "LOGIN_REDIRECT_URL": "/apps",
        "CSRF_FAILURE_VIEW": "twcert.demo.django_views.csrf_failure",
        # SecurityMiddleware's default COOP "same-origin" cuts the HiPKI popup off from the
        # login page (window.opener becomes null): the popup must keep its opener.
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin-allow-popups",
        "USE_TZ": True,
        "TIME_ZONE": "Asia/Taipei",
        "LANGUAGE_CODE": "zh-hant",
        "TEMPLATES": [
            {
                # The demo's pages: the same Jinja templates as the Flask variant.
                "BACKEND": "django.template.backends.jinja2.Jinja2",
                "DIRS": [str(_HERE / "templates")],
                "APP_DIRS": False,
                "OPTIONS": {"environment": "twcert.demo.jinja.environment"},
            },
            {
                # The adapter's pages, inside the demo's layout (django_templates/twcert/base.html).
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(_HERE / "django_templates")],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "twcert.demo.django_views.demo_context",
                    ]
                },
            },
        ],
        "LOGGING_CONFIG": None,  # the demo's CLI configured logging already
        "TWCERT": twcert_settings(site),
    }


def create_app(site: DemoSite) -> Any:
    """Configure Django for this process, create its tables, and return the WSGI app."""
    import django  # type: ignore[import-untyped, unused-ignore]
    from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
    from django.core.management import call_command  # type: ignore[import-untyped, unused-ignore]
    from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped, unused-ignore]

    if settings.configured:
        raise RuntimeError("Django is already configured in this process")
    settings.configure(**django_settings(site))
    django.setup()
    from . import django_views  # needs the app registry ready

    django_views.bind(site)
    call_command("migrate", interactive=False, verbosity=0)
    return get_wsgi_application()
