from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from twcert_vacancy import (
    Headcount,
    HolidayCalendar,
    PastStart,
    PeriodPolicy,
    PersonKind,
    VacancyRules,
    ValidityPeriod,
    earliest_end,
)
from twcert_vacancy.errors import VacancyInvalidError

from .conftest import make_vacancy
from .test_holidays import _file_days

TODAY = dt.date(2025, 3, 3)
RULES = VacancyRules()


def _codes(error: VacancyInvalidError) -> list[str]:
    return [p.code for p in error.problems]


def _problems(vacancy_changes: dict[str, object], rules: VacancyRules = RULES) -> VacancyInvalidError:
    with pytest.raises(VacancyInvalidError) as info:
        rules.check_registration(make_vacancy(**vacancy_changes), today=TODAY)
    return info.value


def test_a_complete_vacancy_passes_unchanged() -> None:
    checked = RULES.check_registration(make_vacancy(), today=TODAY)
    assert checked.vacancy == make_vacancy() and checked.warnings == ()


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("agency_code", "", "徵才機關代碼"),
        ("agency_name", " ", "徵才機關"),
        ("agency_address", "", "機關地址"),
        ("filler_name", "", "填寫人姓名"),
        ("filler_phone", "", "填寫人電話"),
        ("person_kind", PersonKind(""), "人員區分"),
        ("title", "", "職稱"),
        ("headcount", Headcount(None, None, ""), "名額"),  # as stored: parse("") itself refuses
        ("work_places", (), "工作地"),
    ],
)
def test_required_fields_are_named(field: str, value: object, label: str) -> None:
    error = _problems({field: value})
    assert _codes(error) == ["VACANCY_FIELD_REQUIRED"]
    problem = error.problems[0]
    assert problem.field == label and problem.message == f"「{label}」為必填欄位。"
    assert problem.params["field_en"] in problem.message_english
    assert label in error.message


def test_all_problems_are_reported_at_once() -> None:
    error = _problems({"title": "", "filler_phone": "12345", "headcount": Headcount(0, None, "0")})
    assert sorted(_codes(error)) == [
        "VACANCY_FIELD_REQUIRED",
        "VACANCY_HEADCOUNT_INVALID",
        "VACANCY_PHONE_INVALID",
    ]
    assert error.params["count"] == 3 and "職稱" in error.message and "名額" in error.message
    assert [p["field"] for p in error.as_dict()["problems"]] == [p.field for p in error.problems]


@pytest.mark.parametrize(
    "phone", ["0912345678", "02-2345-6789", "0800-000-123", "(02)23456789#123", "+886 2 2345 6789"]
)
def test_valid_taiwan_phone_numbers(phone: str) -> None:
    RULES.check_registration(make_vacancy(filler_phone=phone), today=TODAY)


@pytest.mark.parametrize("phone", ["12345", "02-2345", "abc", "0912", "+1 202 555 01"])
def test_invalid_phone_numbers(phone: str) -> None:
    error = _problems({"filler_phone": phone})
    assert _codes(error) == ["VACANCY_PHONE_INVALID"] and error.problems[0].field == "填寫人電話"


@pytest.mark.parametrize("text", ["數名", "若干名", "1-2", "正取1名，備取2名", "3名", "正1備2"])
def test_free_text_headcounts_stay_legal(text: str) -> None:
    RULES.check_registration(make_vacancy(headcount=Headcount.parse(text)), today=TODAY)


@pytest.mark.parametrize(
    ("headcount", "code"),
    [
        # Values as a repository reads them back, which the constructor does not check.
        (Headcount(0, None, "0"), "VACANCY_HEADCOUNT_INVALID"),
        (Headcount(None, None, "0名"), "VACANCY_HEADCOUNT_INVALID"),
        (Headcount(None, None, "-3"), "VACANCY_HEADCOUNT_INVALID"),
        (Headcount(None, None, "abc"), "VACANCY_HEADCOUNT_FORMAT"),
        (Headcount.parse("正取1名，備取3名"), "VACANCY_RESERVE_EXCEEDS_LIMIT"),  # 3 > 2 x 1
        (Headcount.parse("正1備5"), "VACANCY_RESERVE_EXCEEDS_LIMIT"),
        (Headcount.of(2, 5), "VACANCY_RESERVE_EXCEEDS_LIMIT"),
    ],
)
def test_headcount_rules(headcount: Headcount, code: str) -> None:
    assert _codes(_problems({"headcount": headcount})) == [code]


def test_reserves_up_to_twice_the_openings() -> None:
    RULES.check_registration(make_vacancy(headcount=Headcount.of(2, 4)), today=TODAY)


def test_field_formats() -> None:
    assert _codes(_problems({"agency_code": "a29000000g"})) == ["VACANCY_AGENCY_CODE_INVALID"]
    assert _codes(_problems({"title": "科員\x00"})) == ["VACANCY_FIELD_FORMAT"]
    assert _codes(_problems({"title": "科" * 121})) == ["VACANCY_FIELD_TOO_LONG"]
    assert _codes(_problems({"contact_email": "not-an-address"})) == ["VACANCY_EMAIL_INVALID"]
    assert _codes(_problems({"related_url": "javascript:alert(1)"})) == ["VACANCY_FIELD_FORMAT"]
    RULES.check_registration(make_vacancy(duties="第一行\n第二行\t縮排"), today=TODAY)


def test_end_in_the_past_is_refused() -> None:
    error = _problems({"period": ValidityPeriod(dt.date(2025, 2, 20), dt.date(2025, 3, 2))})
    assert _codes(error) == ["VACANCY_PERIOD_ENDED"]


def test_start_in_the_past_is_clamped_by_default_with_a_warning() -> None:
    past = make_vacancy(period=ValidityPeriod(dt.date(2025, 2, 27), dt.date(2025, 3, 14)))
    checked = RULES.check_registration(past, today=TODAY)
    assert checked.vacancy.period == ValidityPeriod(TODAY, dt.date(2025, 3, 14))
    assert [w.code for w in checked.warnings] == ["VACANCY_START_IN_PAST"]
    reject = VacancyRules(policy=PeriodPolicy(past_start=PastStart.REJECT))
    with pytest.raises(VacancyInvalidError) as info:
        reject.check_registration(past, today=TODAY)
    assert _codes(info.value) == ["VACANCY_START_IN_PAST"]
    allow = VacancyRules(policy=PeriodPolicy(past_start=PastStart.ALLOW))
    assert allow.check_registration(past, today=TODAY).vacancy == past


def test_scheduled_start_is_allowed() -> None:
    later = make_vacancy(period=ValidityPeriod(dt.date(2025, 4, 7), dt.date(2025, 4, 18)))
    assert RULES.check_registration(later, today=TODAY).vacancy == later


# Expected earliest ends, worked out by hand from the ROC 114 office calendar file:
@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2025-03-03", "2025-03-06"),  # Mon → Thu, a working day
        ("2025-03-05", "2025-03-10"),  # → Sat 3/8, a rest day → Mon 3/10
        ("2025-01-21", "2025-02-03"),  # → Fri 1/24 (day off in the file), then 春節 up to Sun 2/2
        ("2025-02-05", "2025-02-08"),  # → Sat 2/8, a make-up working Saturday: counts as working
        ("2025-02-06", "2025-02-10"),  # → Sun 2/9 → Mon 2/10
        ("2025-03-14", "2025-03-18"),  # → Mon 3/17, a day off in the file
        ("2025-04-28", "2025-05-05"),  # → Thu 5/1, Fri 5/2 off, weekend → Mon 5/5
        ("2025-05-27", "2025-06-02"),  # → Fri 5/30 補假, Sat 5/31 端午節, Sun → Mon 6/2
        ("2025-10-07", "2025-10-13"),  # → Fri 10/10 國慶日, weekend → Mon 10/13
    ],
)
def test_minimum_three_days_under_article_48(start: str, expected: str) -> None:
    begin, end = dt.date.fromisoformat(start), dt.date.fromisoformat(expected)
    assert earliest_end(begin, 3, HolidayCalendar.default()) == end
    rules = VacancyRules()
    ok = make_vacancy(period=ValidityPeriod(begin, end))
    rules.check_registration(ok, today=begin)
    short = make_vacancy(period=ValidityPeriod(begin, end - dt.timedelta(days=1)))
    with pytest.raises(VacancyInvalidError) as info:
        rules.check_registration(short, today=begin)
    problem = info.value.problems[0]
    assert problem.code == "VACANCY_PERIOD_TOO_SHORT" and problem.params["earliest_end"] == expected
    assert "行政程序法第48條" in problem.message and expected in problem.message


def test_article_48_on_every_day_of_the_file() -> None:
    days = _file_days()
    calendar = HolidayCalendar.default()
    for start in sorted(days):
        nominal = start + dt.timedelta(days=3)
        candidates = [d for d in sorted(days) if d >= nominal and not days[d]]
        if not candidates:
            break
        assert earliest_end(start, 3, calendar) == candidates[0], start


def test_minimum_is_a_policy_by_person_kind() -> None:
    short_contract = make_vacancy(
        person_kind=PersonKind("約僱人員"), period=ValidityPeriod(TODAY, TODAY + dt.timedelta(days=1))
    )
    RULES.check_registration(short_contract, today=TODAY)  # no minimum for 約僱人員 by default
    strict = VacancyRules(policy=PeriodPolicy(default_minimum_days=3))
    with pytest.raises(VacancyInvalidError):
        strict.check_registration(short_contract, today=TODAY)
    five = VacancyRules(policy=PeriodPolicy(minimum_days={"一般人員": 5}))
    with pytest.raises(VacancyInvalidError):
        five.check_registration(make_vacancy(period=ValidityPeriod(TODAY, dt.date(2025, 3, 7))), today=TODAY)


def test_optional_maximum() -> None:
    capped = VacancyRules(policy=PeriodPolicy(maximum_days=30))
    long = make_vacancy(period=ValidityPeriod(TODAY, TODAY + dt.timedelta(days=30)))  # 31 days online
    with pytest.raises(VacancyInvalidError) as info:
        capped.check_registration(long, today=TODAY)
    assert _codes(info.value) == ["VACANCY_PERIOD_TOO_LONG"]
    RULES.check_registration(long, today=TODAY)  # no cap by default (hospitals post for 900+ days)


def test_strict_calendar_refuses_to_guess() -> None:
    from twcert_vacancy.errors import CalendarCoverageError

    rules = VacancyRules(calendar=HolidayCalendar.default(strict=True))
    vacancy = make_vacancy(period=ValidityPeriod(dt.date(2026, 3, 2), dt.date(2026, 3, 20)))
    with pytest.raises(CalendarCoverageError):
        rules.check_registration(vacancy, today=dt.date(2026, 3, 2))


def test_update_rules() -> None:
    current = make_vacancy()
    check = RULES.checker(TODAY)
    assert check(current, dataclasses.replace(current, title="科長")).title == "科長"
    with pytest.raises(VacancyInvalidError) as info:
        check(current, dataclasses.replace(current, agency_code="A15000000H"))
    assert _codes(info.value) == ["VACANCY_FIELD_READ_ONLY"]
    shortened = dataclasses.replace(current, period=ValidityPeriod(TODAY, dt.date(2025, 3, 4)))
    with pytest.raises(VacancyInvalidError) as info:
        check(current, shortened)
    assert _codes(info.value) == ["VACANCY_PERIOD_TOO_SHORT"]
    extended = dataclasses.replace(current, period=ValidityPeriod(current.period.start, dt.date(2025, 4, 30)))
    assert check(current, extended) == extended
