from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert_vacancy import Gender, Headcount, PersonKind, RankClass, VacancyStatus, ValidityPeriod
from twcert_vacancy.errors import (
    FieldRequiredError,
    GenderError,
    HeadcountError,
    HeadcountFormatError,
    HeadcountTextError,
    PeriodOrderError,
    RankClassError,
    VacancyFieldError,
)
from twcert_vacancy.model import KNOWN_PERSON_KINDS, taipei_date

from .conftest import make_vacancy

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "regular", "reserve"),
    [
        ("1", 1, None),
        ("1名", 1, None),
        ("3 名", 3, None),
        ("數名", None, None),  # legal: no number stated
        ("若干名", None, None),
        ("1-2", None, None),
        ("正取1名，備取1名", 1, 1),
        ("正取2名、候補4名", 2, 4),
        ("正取１名,備取２名", 1, 2),
        ("一名", 1, None),
        ("十二名", 12, None),
        ("二十名", 20, None),
        ("正1備5", 1, 5),  # the feed's short form
        ("正取若干名，備取2名", None, 2),
        ("若干", None, None),
        ("1~3名", None, None),
        ("1名（身心障礙者）", 1, None),
    ],
)
def test_headcount_reads_the_feed_texts_and_keeps_them(
    text: str, regular: int | None, reserve: int | None
) -> None:
    headcount = Headcount.parse(text)
    assert (headcount.regular, headcount.reserve, headcount.raw) == (regular, reserve, text)


def test_headcount_with_the_newer_reserve_column() -> None:
    assert Headcount.parse("2", reserve=3) == Headcount(2, 3, "2")
    assert Headcount.of(2, 1) == Headcount(2, 1, "2")


def test_headcount_bytes() -> None:
    assert Headcount.parse("1名".encode()).regular == 1
    with pytest.raises(HeadcountTextError):
        Headcount.parse(b"\xff\xfe")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("abc", HeadcountFormatError),
        ("詳見簡章", HeadcountFormatError),
        ("1名abc", HeadcountFormatError),
        ("2-1", HeadcountFormatError),
        ("二二名", HeadcountFormatError),
        ("正取1名正取2名", HeadcountFormatError),
        ("1234567", HeadcountFormatError),
        ("-3", HeadcountError),
        ("0", HeadcountError),
        ("0名", HeadcountError),
        ("正取0名，備取1名", HeadcountError),
        ("備取2名", HeadcountError),  # reserves but no opening
        ("0-2", HeadcountError),
        ("", FieldRequiredError),
        ("  ", FieldRequiredError),
    ],
)
def test_headcount_refuses_anything_else_naming_the_field(text: str, error: type[VacancyFieldError]) -> None:
    with pytest.raises(error) as info:
        Headcount.parse(text)
    assert type(info.value) is error
    assert info.value.field == "名額" and "「名額」" in info.value.message
    assert "headcount" in info.value.message_english


def test_headcount_of_a_number() -> None:
    assert Headcount.of(3, 0) == Headcount(3, 0, "3")
    for regular, reserve in ((0, None), (-3, None), (1, -1), (True, None)):
        with pytest.raises(HeadcountError):
            Headcount.of(regular, reserve)
    with pytest.raises(HeadcountError):
        Headcount.parse("2", reserve=-1)


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.one_of(st.binary(max_size=60), st.text(max_size=60)))
def test_headcount_never_raises_anything_else(value: bytes | str) -> None:
    refused: VacancyFieldError | None = None
    try:
        headcount = Headcount.parse(value)
    except HeadcountTextError:
        assert isinstance(value, bytes)
        return
    except (HeadcountError, HeadcountFormatError, FieldRequiredError) as exc:
        refused = exc
    if refused is not None:
        assert refused.field == "名額"  # catalogued, naming the field
        return
    if isinstance(value, str):
        assert headcount.raw == value  # the text is kept verbatim
    assert headcount.regular is None or headcount.regular >= 1


def test_person_kind_known_and_pass_through() -> None:
    assert PersonKind("一般人員") == PersonKind.GENERAL and PersonKind.GENERAL.is_known
    assert len(KNOWN_PERSON_KINDS) == 17 and "會計人員（非主辦）" in KNOWN_PERSON_KINDS
    odd = PersonKind("約聘研究助理")
    assert not odd.is_known and str(odd) == "約聘研究助理"


@pytest.mark.parametrize(
    ("text", "gender"),
    [
        ("男", Gender.MALE),
        ("女", Gender.FEMALE),
        ("不拘", Gender.ANY),
        ("", Gender.ANY),
        ("限女性", Gender.FEMALE),
    ],
)
def test_gender(text: str, gender: Gender) -> None:
    assert Gender.parse(text) is gender


def test_gender_default_and_bad_value() -> None:
    assert make_vacancy().gender is Gender.ANY
    with pytest.raises(GenderError) as info:
        Gender.parse("一般人員")
    assert info.value.message == "「性別」僅得為男、女或不拘。"


def test_rank_classes() -> None:
    assert RankClass.parse_set("薦任,委任") == (RankClass.JUNIOR, RankClass.ELEMENTARY)
    assert RankClass.parse_set("") == ()
    with pytest.raises(RankClassError):
        RankClass.parse_set("薦任,特任")


def test_period_order_and_length() -> None:
    period = ValidityPeriod(dt.date(2025, 3, 3), dt.date(2025, 3, 14))
    assert (
        period.days == 12
        and period.contains(dt.date(2025, 3, 14))
        and not period.contains(dt.date(2025, 3, 15))
    )
    with pytest.raises(PeriodOrderError) as info:
        ValidityPeriod(dt.date(2025, 3, 3), dt.date(2025, 3, 2))
    assert "上網有效期間" in info.value.message


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (dt.datetime(2025, 3, 2, 15, 59, tzinfo=UTC), VacancyStatus.SCHEDULED),  # 23:59 on 3/2 in Taipei
        (dt.datetime(2025, 3, 2, 16, 0, tzinfo=UTC), VacancyStatus.PUBLISHED),  # 00:00 on 3/3 in Taipei
        (dt.datetime(2025, 3, 14, 15, 59, 59, tzinfo=UTC), VacancyStatus.PUBLISHED),
        (dt.datetime(2025, 3, 14, 16, 0, tzinfo=UTC), VacancyStatus.EXPIRED),
        (dt.date(2025, 3, 14), VacancyStatus.PUBLISHED),
        (dt.datetime(2025, 3, 3, 0, 30), VacancyStatus.PUBLISHED),  # naive: Taipei wall-clock
    ],
)
def test_status_is_derived_in_taipei(at: dt.datetime | dt.date, status: VacancyStatus) -> None:
    assert make_vacancy().status(at) is status


def test_withdrawn_status() -> None:
    withdrawn_at = dt.datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
    vacancy = make_vacancy(withdrawn_at=withdrawn_at)
    assert vacancy.status(dt.datetime(2025, 3, 5, 1, 0, tzinfo=UTC)) is VacancyStatus.PUBLISHED
    assert vacancy.status(withdrawn_at) is VacancyStatus.WITHDRAWN
    assert vacancy.status(dt.date(2025, 3, 4)) is VacancyStatus.WITHDRAWN


def test_taipei_date() -> None:
    assert taipei_date(dt.datetime(2024, 12, 31, 16, 0, tzinfo=UTC)) == dt.date(2025, 1, 1)


def test_personal_data_stays_out_of_repr() -> None:
    vacancy = make_vacancy()
    text = repr(vacancy)
    for secret in ("王小明", "2345-6789", "hr@example.gov.tw"):
        assert secret not in text
    assert "科員" in text
    public = vacancy.without_personal_data()
    assert (public.filler_name, public.filler_phone, public.contact_email, public.contact_method) == (
        "",
        "",
        "",
        "",
    )
    assert dataclasses.replace(public, filler_name="王小明") != vacancy


def test_revision_is_not_part_of_equality() -> None:
    assert make_vacancy(revision=4) == make_vacancy(revision=1)
