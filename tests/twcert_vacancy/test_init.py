"""The package imports without its optional dependencies; only what needs them asks for them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import twcert_vacancy
from twcert_vacancy import errors, sqlstore

# Imports with SQLAlchemy refused by the import system, as on a machine where it is not
# installed, then uses the model, the rules, the feed and the memory repository.
WITHOUT_SQLALCHEMY = """
import datetime as dt, importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "sqlalchemy":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
import twcert_vacancy
from twcert_vacancy import (
    Actor, Headcount, MemoryVacancyRepository, OnlineQuery, PersonKind, RocDate, Vacancy,
    ValidityPeriod, VacancyRules, import_feed, read_dgpa_xml, work_place, write_dgpa_xml,
)
import twcert_vacancy.cli, twcert_vacancy.feedimport, twcert_vacancy.publish

day = dt.date(2025, 3, 3)
vacancy = Vacancy(
    work_id="1140300001", agency_code="A29000000G", agency_name="數位發展部", title="科員",
    person_kind=PersonKind.GENERAL, headcount=Headcount.parse("正取1名，備取1名"),
    work_places=(work_place("臺北市"),), period=ValidityPeriod(day, dt.date(2025, 3, 14)),
    agency_address="臺北市中正區延平南路143號", filler_name="王小明", filler_phone="02-2345-6789",
)
VacancyRules().check_registration(vacancy, today=day)
feed = write_dgpa_xml([vacancy], day)
assert [v.title for v in read_dgpa_xml(feed).vacancies] == ["科員"]
repository = MemoryVacancyRepository()
done = import_feed(repository, feed, Actor("import"), at=dt.datetime(2025, 3, 3, tzinfo=dt.UTC))
assert done.report.added == 1 and repository.online(OnlineQuery(day)).total == 1
assert "sqlalchemy" not in sys.modules
try:
    from twcert_vacancy import SqlVacancyRepository
except ImportError as exc:
    print(type(exc).__name__, exc.code, exc.message_english)
"""


def test_the_model_rules_and_feed_work_without_sqlalchemy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SQLALCHEMY], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "VacancyExtraMissingError VACANCY_EXTRA_MISSING The vacancy database needs SQLAlchemy; "
        "install it with: pip install 'twcert[vacancy]'."
    )


def test_the_sql_repository_is_exported_on_first_use() -> None:
    assert "SqlVacancyRepository" in dir(twcert_vacancy)
    assert twcert_vacancy.SqlVacancyRepository is sqlstore.SqlVacancyRepository
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        twcert_vacancy.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_the_missing_extra_error_is_an_import_error_and_catalogued() -> None:
    error = errors.VacancyExtraMissingError("x", module="SQLAlchemy", extra="vacancy")
    assert isinstance(error, ImportError) and isinstance(error, errors.VacancyError)
    assert "pip install 'twcert[vacancy]'" in error.message and "SQLAlchemy" in error.message
