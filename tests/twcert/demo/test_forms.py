"""The registration form of the manual's step 5: every problem reported at once, with its text."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from werkzeug.datastructures import MultiDict

from twcert.demo.forms import FIELDS, field_id, registration
from twcert_vacancy import Gender, VacancyRules
from twcert_vacancy.errors import VacancyInvalidError

TODAY = dt.date(2026, 11, 26)  # a Thursday
REQUIRED = (
    "徵才機關",
    "機關地址",
    "填寫人姓名",
    "填寫人電話",
    "人員區分",
    "職稱",
    "名額",
    "性別",
    "工作地",
    "上網有效期間",
)


def _form(**values: str | list[str]) -> MultiDict[str, str]:
    base: dict[str, str | list[str]] = {
        "agency_name": "行政院人事行政總處",
        "agency_address": "臺北市中正區濟南路1段2-2號",
        "filler_name": "張承辦",
        "filler_phone": "02-2397-9000",
        "person_kind": "一般人員",
        "title": "科員",
        "headcount": "正取1名，備取1名",
        "gender": "不拘",
        "work_places": ["10", "23"],
        "period_start": "115/11/26",
        "period_end": "2026-12-10",
    }
    base.update(values)
    form: MultiDict[str, str] = MultiDict()
    for key, value in base.items():
        for item in value if isinstance(value, list) else [value]:
            form.add(key, item)
    return form


def _check(form: MultiDict[str, str]) -> object:
    return registration(
        form,
        work_id="1151100001",
        agency_code="A09000000E",
        agency_name="行政院人事行政總處",
        rules=VacancyRules(),
        today=TODAY,
    )


def _problems(form: MultiDict[str, str]) -> list[tuple[str, str]]:
    with pytest.raises(VacancyInvalidError) as info:
        _check(form)
    return [(p.field, p.code) for p in info.value.problems]


def test_the_manuals_required_fields_are_the_forms() -> None:
    assert [f.label for f in FIELDS if f.required] == list(REQUIRED)


def test_a_complete_form_gives_the_vacancy() -> None:
    checked = _check(_form())
    vacancy = checked.vacancy  # type: ignore[attr-defined]
    assert vacancy.agency_code == "A09000000E" and vacancy.title == "科員"
    assert (vacancy.period.start, vacancy.period.end) == (TODAY, dt.date(2026, 12, 10))
    assert [p.name for p in vacancy.work_places] == ["臺北市", "新北市"]
    assert vacancy.headcount.regular == 1 and vacancy.headcount.reserve == 1
    assert vacancy.gender is Gender.ANY and checked.warnings == ()  # type: ignore[attr-defined]


def test_an_empty_form_names_every_required_field_in_form_order() -> None:
    empty = MultiDict([("agency_name", ""), ("period_start", ""), ("period_end", "")])
    problems = _problems(empty)
    # 徵才機關 is never empty: it is the logged-in agency's name, not a form value.
    assert [field for field, _ in problems] == [f for f in REQUIRED if f != "徵才機關"]
    assert {code for _, code in problems} == {"VACANCY_FIELD_REQUIRED"}


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"period_start": "11/26"}, "上網有效期間", "VACANCY_FIELD_FORMAT"),
        ({"period_end": "115/11/20"}, "上網有效期間", "VACANCY_PERIOD_ORDER"),
        # 一般人員: at least 3 days counted under §48 (start day not counted): 11/29 is a Sunday.
        ({"period_end": "115/11/28"}, "上網有效期間", "VACANCY_PERIOD_TOO_SHORT"),
        ({"period_start": "115/11/01", "period_end": "115/11/20"}, "上網有效期間", "VACANCY_PERIOD_ENDED"),
        ({"work_places": ["10", "999"]}, "工作地", "VACANCY_FIELD_FORMAT"),
        ({"work_places": ["taipei"]}, "工作地", "VACANCY_FIELD_FORMAT"),
        ({"gender": "其他"}, "性別", "VACANCY_GENDER_INVALID"),
        ({"filler_phone": "12345"}, "填寫人電話", "VACANCY_PHONE_INVALID"),
        ({"headcount": "0"}, "名額", "VACANCY_HEADCOUNT_INVALID"),
        ({"headcount": "-3"}, "名額", "VACANCY_HEADCOUNT_INVALID"),
        ({"headcount": "abc"}, "名額", "VACANCY_HEADCOUNT_FORMAT"),
        ({"headcount": "正取1名，備取3名"}, "名額", "VACANCY_RESERVE_EXCEEDS_LIMIT"),
        ({"contact_email": "not-an-address"}, "聯絡E-Mail", "VACANCY_EMAIL_INVALID"),
        ({"title": "科" * 121}, "職稱", "VACANCY_FIELD_TOO_LONG"),
    ],
)
def test_each_rule_is_reported_on_its_field(
    values: dict[str, str | list[str]], field: str, code: str
) -> None:
    assert (field, code) in _problems(_form(**values))


@pytest.mark.parametrize("text", ["abc", "-3"])
def test_a_headcount_the_model_refuses_is_never_published(text: str) -> None:
    problems = _problems(_form(headcount=text))
    assert [field for field, _ in problems] == ["名額"]  # reported once, on its field


@pytest.mark.parametrize(
    ("text", "regular", "reserve"), [("正1備2", 1, 2), ("數名", None, None), ("2名", 2, None)]
)
def test_the_feeds_headcount_forms_are_accepted(text: str, regular: int | None, reserve: int | None) -> None:
    vacancy = _check(_form(headcount=text)).vacancy  # type: ignore[attr-defined]
    assert (vacancy.headcount.regular, vacancy.headcount.reserve, vacancy.headcount.raw) == (
        regular,
        reserve,
        text,
    )


def test_problems_of_parsing_and_of_the_rules_come_together() -> None:
    problems = _problems(_form(period_start="soon", title="", filler_phone="12"))
    assert problems == [
        ("填寫人電話", "VACANCY_PHONE_INVALID"),
        ("職稱", "VACANCY_FIELD_REQUIRED"),
        ("上網有效期間", "VACANCY_FIELD_FORMAT"),
    ]


def test_a_start_in_the_past_is_moved_to_today_with_a_warning() -> None:
    checked = _check(_form(period_start="115/11/20", period_end="115/12/10"))
    assert checked.vacancy.period.start == TODAY  # type: ignore[attr-defined]
    assert [w.code for w in checked.warnings] == ["VACANCY_START_IN_PAST"]  # type: ignore[attr-defined]


def test_problem_links_point_at_the_inputs() -> None:
    assert field_id("職稱") == "field-title" and field_id("上網有效期間") == "field-period"


def test_the_agency_name_is_the_logged_in_agencys_never_the_posted_one() -> None:
    checked = _check(_form(agency_name="臺北市政府"))
    assert checked.vacancy.agency_name == "行政院人事行政總處"  # type: ignore[attr-defined]


@pytest.mark.parametrize("headcount", ["abc", "-3", "0", "1.5"])
def test_a_headcount_that_is_not_one_is_named_on_its_field(headcount: str) -> None:
    problems = _problems(_form(headcount=headcount))
    assert problems and all(field == "名額" for field, _ in problems), problems
    assert {code for _, code in problems} <= {"VACANCY_HEADCOUNT_INVALID", "VACANCY_HEADCOUNT_FORMAT"}


def test_dates_in_problems_are_roc_dates_like_the_form() -> None:
    with pytest.raises(VacancyInvalidError) as info:
        _check(_form(period_end="115/11/28"))  # shorter than a general post's minimum
    texts = [p.message for p in info.value.problems]
    assert texts and any(re.search(r"1\d\d/\d\d/\d\d", t) for t in texts), texts
    assert not any(re.search(r"\d{4}-\d\d-\d\d", t) for t in texts), texts
