"""Django for the adapter's tests: settings, test databases (SQLite file, PostgreSQL), clean rows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("TWCERT_REQUIRE_SERVICES") != "1":
    pytest.importorskip("django")  # under scripts/test a missing Django is an error, not a skip

from tests.twcert.contrib.django.setup import configure

configure()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

from twcert.contrib.django import models  # noqa: E402
from twcert.testing.fixtures import AGENCIES, PEOPLE  # noqa: E402

from . import settings as test_settings  # noqa: E402

#: The agency whose certificate exists but whose code is not in the agency-code table.
UNLISTED_AGENCY = "ZZ9990000X"


@pytest.fixture(scope="session", autouse=True)
def django_environment() -> Iterator[None]:
    setup_test_environment()
    call_command("migrate", database="default", verbosity=0, interactive=False)
    yield
    teardown_test_environment()
    connections.close_all()
    shutil.rmtree(Path(settings.DATABASES["default"]["NAME"]).parent, ignore_errors=True)


def clear_tables(alias: str) -> None:
    """Empty the twcert tables, users and sessions, then load the fixture personnel and agencies."""
    with transaction.atomic(using=alias):
        _refill(alias)


def _refill(alias: str) -> None:
    for model in (models.Challenge, models.PinFailure, models.Binding, models.Person, models.Agency):
        model.objects.using(alias).all().delete()
    get_user_model().objects.using(alias).all().delete()
    Session.objects.using(alias).all().delete()
    for p in PEOPLE:
        models.Person(
            account=p.account,
            national_id=p.national_id,
            name=p.name,
            in_service=p.in_service,
            agency_code=p.agency_code,
        ).save(using=alias)
    for a in AGENCIES:
        if a.code != UNLISTED_AGENCY:
            models.Agency(code=a.code, name=a.name, address=a.address).save(using=alias)


@pytest.fixture(autouse=True)
def clean_state(django_environment: None) -> Iterator[None]:
    """Each test starts from the fixture instant with fresh rows. The service is kept between
    tests (its state is in those rows); ``override_settings`` rebuilds it on entry and exit."""
    test_settings.NOW[0] = test_settings.FIXTURE_NOW
    clear_tables("default")
    yield
    test_settings.NOW[0] = test_settings.FIXTURE_NOW


@pytest.fixture(scope="session")
def pg_alias(postgres_url: str) -> Iterator[str]:
    """The ``postgres`` alias on a database of its own, migrated; dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = settings.DATABASES["postgres"]["NAME"]
    admin_url = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        call_command("migrate", database="postgres", verbosity=0, interactive=False)
        yield "postgres"
    finally:
        connections["postgres"].close()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_clean(pg_alias: str) -> str:
    clear_tables(pg_alias)
    return pg_alias


ORGLIST_HEADER = (
    "機關代碼,機關名稱,機關英文名稱,郵遞區號,機關地址,機關電話,主管機關代碼,主管機關名稱,傳真,"
    "機關生效日期,機關裁撤日期,機關層級,裁撤註記,新機關代碼,新機關名稱"
)
ORGLIST_ROWS = (
    "A09000000E,行政院人事行政總處,Directorate-General of Personnel Administration,100,"
    "臺北市中正區濟南路1段2-2號,02-23979298,A00000000A,行政院,02-23975565,20120206,,2,,,",
    "376610000A,臺南市政府,Tainan City Government,708,臺南市安平區永華路2段6號,06-2991111,,,,20101225,,1,,,",
    "BAD,沒有正確代碼之列,,,,,,,,,,,,,",
)


@pytest.fixture
def orglist_file(tmp_path: Path) -> Path:
    """A DGPA orglist.csv as published: Big5, CRLF, with one malformed row (line 4)."""
    path = tmp_path / "orglist.csv"
    path.write_bytes(("\r\n".join([ORGLIST_HEADER, *ORGLIST_ROWS]) + "\r\n").encode("cp950"))
    return path
