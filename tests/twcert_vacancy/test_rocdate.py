from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert.errors import ParseError
from twcert_vacancy import RocDate
from twcert_vacancy.errors import RocDateError
from twcert_vacancy.rocdate import parse_roc_or_iso


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1140131", dt.date(2025, 1, 31)),  # 114 + 1911 = 2025
        ("114/01/31", dt.date(2025, 1, 31)),
        ("1050515", dt.date(2016, 5, 15)),  # the 2016 feed's ANNOUNCE_DATE
        ("112/08/25", dt.date(2023, 8, 25)),  # the detail page's form
        ("990101", dt.date(2010, 1, 1)),  # a two-digit year: all but the last four digits
        ("99/1/1", dt.date(2010, 1, 1)),
        ("10101", dt.date(1912, 1, 1)),  # ROC 1
        ("１１４/０３/０１", dt.date(2025, 3, 1)),  # full-width digits
        ("115年8月26日", dt.date(2026, 8, 26)),
        (" 1140301 ", dt.date(2025, 3, 1)),
        (b"1140301", dt.date(2025, 3, 1)),
    ],
)
def test_parse(text: str | bytes, expected: dt.date) -> None:
    assert RocDate.parse(text).to_date() == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "114",
        "11413",
        "1140230",
        "1141301",
        "000101",
        "114/02/29",
        "2025-01-01x",
        "1l40101",
        "１一4/1/1",
        "٠١٢٠١٠١",
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(RocDateError):
        RocDate.parse(text)


def test_format_both_forms() -> None:
    day = RocDate.from_date(dt.date(2025, 3, 1))
    assert (day.compact(), day.slashed(), str(day)) == ("1140301", "114/03/01", "114/03/01")
    early = RocDate.from_date(dt.date(2010, 12, 31))
    assert (early.compact(), early.slashed()) == ("991231", "99/12/31")


def test_before_roc_calendar() -> None:
    with pytest.raises(RocDateError):
        RocDate.from_date(dt.date(1911, 12, 31))


def test_error_is_a_parse_error_with_bilingual_text() -> None:
    with pytest.raises(ParseError) as info:
        RocDate.parse("nonsense")
    assert info.value.code == "VACANCY_ROC_DATE_INVALID"
    assert "民國" in info.value.message and "ROC" in info.value.message_english


def test_person_typed_dates() -> None:
    assert parse_roc_or_iso("2025-03-01") == dt.date(2025, 3, 1)
    assert parse_roc_or_iso("114/03/01") == dt.date(2025, 3, 1)
    with pytest.raises(RocDateError):
        parse_roc_or_iso("2025-02-30")


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2910, 12, 31)))
def test_round_trip_both_forms(day: dt.date) -> None:
    roc = RocDate.from_date(day)
    assert roc.year == day.year - 1911
    assert RocDate.parse(roc.compact()).to_date() == day
    assert RocDate.parse(roc.slashed()).to_date() == day


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_the_library_error(data: bytes) -> None:
    try:
        RocDate.parse(data)
    except RocDateError:
        pass


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.text(max_size=40))
def test_arbitrary_text_raises_only_the_library_error(text: str) -> None:
    try:
        RocDate.parse(text)
    except RocDateError:
        pass
