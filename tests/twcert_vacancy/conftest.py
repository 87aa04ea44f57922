"""Fixtures for the vacancy tests: a valid vacancy factory and one repository per backend."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from twcert_vacancy import (
    Actor,
    Gender,
    Headcount,
    MemoryVacancyRepository,
    PersonKind,
    SqlVacancyRepository,
    Vacancy,
    ValidityPeriod,
    work_place,
)

# A verbatim copy of the real DGPA calendar, committed with the tests (fixtures/dgpa/README.md).
CALENDAR_114 = Path(__file__).resolve().parents[2] / "fixtures" / "dgpa" / "dgpa-office-calendar-114-big5.csv"
TAIPEI = dt.timezone(dt.timedelta(hours=8))
AGENCY = "A29000000G"
OTHER_AGENCY = "A15000000H"

VacancyFactory = Callable[..., Vacancy]


def make_vacancy(**overrides: Any) -> Vacancy:
    """A vacancy that passes every registration rule on 2025-03-03 (a Monday)."""
    values: dict[str, Any] = {
        "work_id": "1140300001",
        "agency_code": AGENCY,
        "agency_name": "數位發展部",
        "title": "科員",
        "person_kind": PersonKind("一般人員"),
        "headcount": Headcount.of(1),
        "work_places": (work_place("臺北市"),),
        "period": ValidityPeriod(dt.date(2025, 3, 3), dt.date(2025, 3, 14)),
        "gender": Gender.ANY,
        "agency_address": "臺北市中正區延平南路143號",
        "filler_name": "王小明",
        "filler_phone": "02-2345-6789",
        "series": "綜合行政",
        "rank": "委任第5職等或薦任第6職等至第7職等",
        "contact_email": "hr@example.gov.tw",
        "contact_method": "聯絡人：王小明 02-2345-6789",
    }
    values.update(overrides)
    return Vacancy(**values)


@pytest.fixture
def vacancy_factory() -> VacancyFactory:
    return make_vacancy


@pytest.fixture
def owner() -> Actor:
    return Actor(principal_id="officer-1", agency_code=AGENCY)


@pytest.fixture
def stranger() -> Actor:
    return Actor(principal_id="officer-9", agency_code=OTHER_AGENCY)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A schema of our own in the shared ``test`` database, dropped afterwards."""
    schema = f"tv_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_url, schema
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vacancies.sqlite3'}"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryVacancyRepository()
        return
    if request.param == "sqlite":
        repo = SqlVacancyRepository(f"sqlite:///{tmp_path / 'vacancies.sqlite3'}")
    else:
        url, schema = request.getfixturevalue("pg_schema")
        repo = SqlVacancyRepository(url, schema=schema)
    try:
        yield repo
    finally:
        repo.close()
