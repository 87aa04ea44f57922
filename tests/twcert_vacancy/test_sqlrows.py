"""Driver rows of the SQL repository: the tuple a vacancy is written as reads back as the same vacancy."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from twcert_vacancy import Headcount, RankClass, SqlVacancyRepository, work_place
from twcert_vacancy._sqlrows import (
    PLACE_COLUMNS,
    VACANCY_COLUMNS,
    prepare,
    vacancy_from_values,
    vacancy_values,
)

from .conftest import make_vacancy

WITHDRAWN = dt.datetime(2025, 3, 5, 17, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
VARIANTS = [
    make_vacancy(),
    make_vacancy(
        work_id="1140300002",
        headcount=Headcount(None, None, "數名"),
        work_places=(work_place(30), work_place(31), work_place(99)),
        rank_classes=(RankClass.SENIOR, RankClass.JUNIOR),
        disability_eligible=True,
        indigenous_eligible=False,
        training=None,
        withdrawn_at=WITHDRAWN,
        revision=7,
    ),
]


@pytest.mark.parametrize("sqlite", [True, False])
@pytest.mark.parametrize("vacancy", VARIANTS, ids=["plain", "every-kind-of-value"])
def test_values_read_back_as_the_same_vacancy(vacancy: object, sqlite: bool) -> None:
    assert isinstance(vacancy, type(VARIANTS[0]))
    values = vacancy_values(vacancy, sqlite)
    assert len(values) == len(VACANCY_COLUMNS)
    back = vacancy_from_values(values, sqlite)
    expected = vacancy
    if vacancy.withdrawn_at is not None:  # stored in UTC: the same instant, shown in UTC
        assert back.withdrawn_at == vacancy.withdrawn_at and back.withdrawn_at.tzinfo == dt.UTC
        expected = dataclasses.replace(vacancy, withdrawn_at=back.withdrawn_at)
    assert back == expected


def test_sqlite_values_are_what_sqlalchemy_stores() -> None:
    row = dict(zip(VACANCY_COLUMNS, vacancy_values(VARIANTS[1], sqlite=True), strict=True))
    assert (row["date_from"], row["date_to"], row["span_days"]) == ("2025-03-03", "2025-03-14", 11)
    assert row["withdrawn_at"] == "2025-03-05 09:30:15.123456"  # naive UTC text, as SQLAlchemy writes it
    assert (row["disability_eligible"], row["indigenous_eligible"], row["training"]) == (1, 0, None)
    assert (row["work_places"], row["rank_classes"]) == (",30,31,99,", ",簡任,薦任,")
    native = dict(zip(VACANCY_COLUMNS, vacancy_values(VARIANTS[1], sqlite=False), strict=True))
    assert native["date_from"] == dt.date(2025, 3, 3) and native["disability_eligible"] is True
    assert native["withdrawn_at"] == dt.datetime(2025, 3, 5, 9, 30, 15, 123456)


def test_one_place_row_per_work_place() -> None:
    _values, places = prepare(VARIANTS[1], sqlite=True)
    assert [dict(zip(PLACE_COLUMNS, p, strict=True))["dgpa_code"] for p in places] == [30, 31, 99]
    assert {p[0] for p in places} == {"1140300002"} and {p[2:] for p in places} == {
        ("一般人員", "2025-03-03", "2025-03-14", "2025-03-05 09:30:15.123456")
    }


@pytest.mark.parametrize("vacancy", VARIANTS, ids=["plain", "every-kind-of-value"])
def test_sqlite_values_equal_what_sqlalchemy_writes(tmp_path: Path, vacancy: object) -> None:
    assert isinstance(vacancy, type(VARIANTS[0]))
    repository = SqlVacancyRepository(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    columns = ", ".join(VACANCY_COLUMNS)
    with repository.engine.begin() as connection:
        connection.execute(repository.vacancies.insert().values(repository._row(vacancy)))
        stored = connection.exec_driver_sql(f"SELECT {columns} FROM vacancies").one()
    assert tuple(stored) == vacancy_values(vacancy, sqlite=True)
    repository.close()
