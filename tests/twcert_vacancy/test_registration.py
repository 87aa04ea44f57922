from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from twcert_vacancy import Actor, OnlineQuery, VacancyStatus, ValidityPeriod, register_vacancy
from twcert_vacancy.errors import VacancyInvalidError, VacancyNotOwnerError

from .conftest import make_vacancy

# 2025-03-03 01:00 in Taipei is still 2025-03-02 in UTC: the rules must use the Taipei date.
AT = dt.datetime(2025, 3, 2, 17, 0, tzinfo=dt.UTC)


def test_register_publishes_during_the_window(repository: Any, owner: Actor) -> None:
    checked = register_vacancy(repository, make_vacancy(), owner, at=AT)
    assert checked.warnings == () and checked.vacancy.revision == 1
    assert repository.get("1140300001").status(AT) is VacancyStatus.PUBLISHED
    assert [v.work_id for v in repository.online(OnlineQuery(AT)).items] == ["1140300001"]
    assert [v.work_id for v in repository.for_agency(owner.agency_code, AT)] == ["1140300001"]


def test_register_clamps_a_past_start_and_says_so(repository: Any, owner: Actor) -> None:
    late = make_vacancy(period=ValidityPeriod(dt.date(2025, 2, 28), dt.date(2025, 3, 14)))
    checked = register_vacancy(repository, late, owner, at=AT)
    assert [w.code for w in checked.warnings] == ["VACANCY_START_IN_PAST"]
    assert repository.get("1140300001").period.start == dt.date(2025, 3, 3)


def test_register_refuses_invalid_and_foreign_vacancies(
    repository: Any, owner: Actor, stranger: Actor
) -> None:
    with pytest.raises(VacancyInvalidError):
        register_vacancy(repository, make_vacancy(title="", filler_phone="1"), owner, at=AT)
    with pytest.raises(VacancyNotOwnerError):
        register_vacancy(repository, make_vacancy(), stranger, at=AT)
    assert repository.online(OnlineQuery(AT)).total == 0
