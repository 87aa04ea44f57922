"""Start Django for the tests (the test process and the race tests' worker processes alike)."""

from __future__ import annotations

import os
import tempfile
import uuid

SETTINGS = "tests.twcert.contrib.django.settings"


def configure() -> None:
    """Name the test databases (inherited by spawned workers) and set Django up, once."""
    if "TWCERT_DJANGO_TEST_DIR" not in os.environ:
        os.environ["TWCERT_DJANGO_TEST_DIR"] = tempfile.mkdtemp(prefix="twcert-django-")
    # Other engineers share the PostgreSQL server: a database of our own, dropped at the end.
    os.environ.setdefault("TWCERT_DJANGO_PG_DB", f"twcert_django_{uuid.uuid4().hex[:12]}")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
