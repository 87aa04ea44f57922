"""The project's test set-up without pytest-django: Django and a test database, once, then
twcert's plugin for a fake PKI and cards (``twcert_django_settings`` trusts it per test)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import django
import pytest

pytest_plugins = ["twcert.testing.pytest_plugin"]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()


@pytest.fixture(scope="session", autouse=True)
def _database() -> Iterator[None]:
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()  # adds "testserver" to ALLOWED_HOSTS
    names = setup_databases(verbosity=0, interactive=False)  # SQLite: in memory
    yield
    teardown_databases(names, verbosity=0)
