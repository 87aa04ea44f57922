"""The write rules every backend applies (the backends' own contract is in test_repository.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from twcert_vacancy import Actor, Gender, Headcount, PersonKind, RankClass, ValidityPeriod, work_place
from twcert_vacancy.changes import (
    apply_changes,
    check_may_add,
    check_may_add_agency,
    check_owner,
    created_record,
    prepare_update,
    prepare_withdraw,
    withdrawn_record,
)
from twcert_vacancy.errors import (
    FieldReadOnlyError,
    HeadcountError,
    HeadcountFormatError,
    VacancyConflictError,
    VacancyFieldError,
    VacancyNotOwnerError,
    VacancyWithdrawnError,
)

from .conftest import AGENCY, OTHER_AGENCY, make_vacancy

AT = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
OWNER = Actor("officer-1", AGENCY)
STRANGER = Actor("officer-9", OTHER_AGENCY)
SYSTEM = Actor("feed-import")


def test_apply_changes_reads_the_forms_a_web_form_sends() -> None:
    changed = apply_changes(
        make_vacancy(),
        {
            "person_kind": " 約僱人員 ",
            "gender": "限女性",
            "headcount": "正取1名，備取2名",
            "work_places": ["臺北市", 23, "臺北市"],
            "rank_classes": "薦任,委任",
            "period": (dt.date(2025, 3, 4), dt.date(2025, 3, 20)),
            "training": True,
        },
    )
    assert changed.person_kind == PersonKind("約僱人員") and changed.gender is Gender.FEMALE
    assert changed.headcount == Headcount(1, 2, "正取1名，備取2名")
    assert changed.work_places == (work_place(10), work_place(23))
    assert changed.rank_classes == (RankClass.JUNIOR, RankClass.ELEMENTARY)
    assert changed.period == ValidityPeriod(dt.date(2025, 3, 4), dt.date(2025, 3, 20))
    assert apply_changes(make_vacancy(), {"headcount": 3}).headcount == Headcount.of(3)


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"salary": 1}, VacancyFieldError, "salary"),
        ({"work_id": "1"}, FieldReadOnlyError, "職缺編號"),
        ({"agency_code": OTHER_AGENCY}, FieldReadOnlyError, "徵才機關代碼"),
        ({"withdrawn_at": AT}, FieldReadOnlyError, "撤銷時間"),
        ({"title": 5}, VacancyFieldError, "職稱"),
        ({"training": "Y"}, VacancyFieldError, "考試錄取待訓"),
        ({"period": "2025-03-04"}, VacancyFieldError, "上網有效期間"),
        ({"headcount": "abc"}, HeadcountFormatError, "名額"),  # the model's rule, not only a form's
        ({"headcount": "-3"}, HeadcountError, "名額"),
        ({"headcount": 0}, HeadcountError, "名額"),
    ],
)
def test_apply_changes_refuses_naming_the_field(
    changes: dict[str, object], error: type[VacancyFieldError], field: str
) -> None:
    with pytest.raises(error) as info:
        apply_changes(make_vacancy(), changes)
    assert info.value.field == field


def test_who_may_add_and_change() -> None:
    vacancy = make_vacancy()
    check_may_add(vacancy, OWNER)
    check_may_add(vacancy, SYSTEM)  # the feed importer adds any agency's vacancies
    check_may_add_agency(AGENCY, vacancy.work_id, OWNER)
    with pytest.raises(VacancyNotOwnerError):
        check_may_add(vacancy, STRANGER)
    check_owner(vacancy, OWNER)
    for actor in (STRANGER, SYSTEM):  # the importer adds, but never changes an agency's vacancy
        with pytest.raises(VacancyNotOwnerError):
            check_owner(vacancy, actor)


def test_prepare_update_checks_owner_then_state_then_revision_then_the_callers_check() -> None:
    stored = dataclasses.replace(make_vacancy(), revision=3)
    withdrawn = dataclasses.replace(stored, withdrawn_at=AT)
    with pytest.raises(VacancyNotOwnerError):
        prepare_update(withdrawn, STRANGER, {"title": "科長"}, 1, None)
    with pytest.raises(VacancyWithdrawnError):
        prepare_update(withdrawn, OWNER, {"title": "科長"}, 1, None)
    with pytest.raises(VacancyConflictError):
        prepare_update(stored, OWNER, {"title": "科長"}, 2, None)
    seen: list[tuple[str, str]] = []

    def check(current: object, proposed: object) -> object:
        seen.append((current.title, proposed.title))  # type: ignore[attr-defined]
        return dataclasses.replace(proposed, title="專員")  # type: ignore[type-var]

    result = prepare_update(stored, OWNER, {"title": "科長"}, 3, check)  # type: ignore[arg-type]
    assert seen == [("科員", "科長")] and result.title == "專員"
    prepare_withdraw(stored, OWNER, None)
    with pytest.raises(VacancyWithdrawnError):
        prepare_withdraw(withdrawn, OWNER, None)
    with pytest.raises(VacancyConflictError):
        prepare_withdraw(stored, OWNER, 1)


def test_audit_records_of_an_add_and_a_withdrawal() -> None:
    vacancy = make_vacancy()
    created = created_record(vacancy, "officer-1", AT)
    assert (created.work_id, created.who, created.when, created.field, created.old, created.new) == (
        vacancy.work_id,
        "officer-1",
        AT,
        "*created",
        "",
        vacancy.work_id,
    )
    withdrawn = withdrawn_record(vacancy, "officer-1", AT)
    assert (withdrawn.field, withdrawn.new) == ("*withdrawn", "2025-03-03T09:00:00+00:00")
