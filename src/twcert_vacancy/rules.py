"""Registration rules: required fields, formats, headcount, phone, and the publication window.

The minimum window follows 公務人員陞遷法施行細則 §3 (外補 vacancies are published for three days
or more) counted under 行政程序法 §48: the first day is not counted, and a last day that is a
rest day or holiday moves to the next working day (a make-up working Saturday is a working day).
Which person kinds it applies to, and how many days, is a :class:`PeriodPolicy`, not a constant:
no day-minimum was found for 約僱/聘用/工友 and the other kinds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import phonenumbers

from .errors import (
    AgencyCodeError,
    EmailAddressError,
    FieldFormatError,
    FieldReadOnlyError,
    FieldRequiredError,
    FieldTooLongError,
    HeadcountError,
    HeadcountFormatError,
    PeriodEndedError,
    PeriodOrderError,
    PeriodTooLongError,
    PeriodTooShortError,
    PhoneNumberError,
    ReserveLimitError,
    StartInPastError,
    VacancyFieldError,
    VacancyInvalidError,
)
from .holidays import HolidayCalendar
from .model import FIELD_LABELS, Headcount, PersonKind, Vacancy, ValidityPeriod

__all__ = [
    "MAX_LENGTHS",
    "READ_ONLY_FIELDS",
    "REQUIRED_FIELDS",
    "Checked",
    "PastStart",
    "PeriodPolicy",
    "VacancyRules",
    "earliest_end",
]

#: The registration form's required fields (docs/reference/dgpa.md, the registration form).
REQUIRED_FIELDS: Final = (
    "agency_code",
    "agency_name",
    "agency_address",
    "filler_name",
    "filler_phone",
    "person_kind",
    "title",
    "headcount",
    "gender",
    "work_places",
    "period",
)

#: Fields fixed at registration: a different agency or id is a different vacancy.
READ_ONLY_FIELDS: Final = ("work_id", "agency_code")

#: Upper bounds with headroom over the longest values seen in the feed (docs/reference/dgpa.md).
MAX_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "work_id": 20,
        "agency_name": 100,
        "title": 120,
        "agency_address": 200,
        "filler_name": 50,
        "filler_phone": 40,
        "rank": 120,
        "series": 120,
        "qualifications": 5000,
        "duties": 5000,
        "work_address": 200,
        "contact_method": 5000,
        "contact_email": 254,
        "job_category": 60,
        "related_url": 2000,
        "detail_url": 2000,
        "headcount": 100,
        "person_kind": 30,
    }
)

_MULTILINE = frozenset({"qualifications", "duties", "contact_method"})
_URL_FIELDS = ("related_url", "detail_url")
_AGENCY_CODE = re.compile(r"[0-9A-Z]{10}", re.ASCII)
_WORK_ID = re.compile(r"[0-9A-Za-z_\-]{1,20}", re.ASCII)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class PastStart(StrEnum):
    """What registration does with a start date before today (undocumented; configurable)."""

    CLAMP = "clamp"  # publish from today, with a warning
    REJECT = "reject"
    ALLOW = "allow"


def _default_minimums() -> Mapping[str, int]:
    return MappingProxyType({PersonKind.GENERAL.value: 3})


@dataclass(frozen=True, slots=True)
class PeriodPolicy:
    """The publication-window policy.

    :param minimum_days: days counted under 行政程序法 §48, by 人員區分 value (default: 一般人員 3,
        the 外補 rule of 公務人員陞遷法施行細則 §3).
    :param default_minimum_days: for person kinds not in ``minimum_days`` (default: none).
    :param maximum_days: optional cap on the days online, both ends counted.
    :param past_start: clamp, reject or allow a start date before today.
    """

    minimum_days: Mapping[str, int] = field(default_factory=_default_minimums)
    default_minimum_days: int | None = None
    maximum_days: int | None = None
    past_start: PastStart = PastStart.CLAMP

    def minimum_for(self, kind: PersonKind) -> int | None:
        return self.minimum_days.get(kind.value, self.default_minimum_days)


def earliest_end(start: dt.date, days: int, calendar: HolidayCalendar) -> dt.date:
    """The first end date that satisfies a minimum of ``days`` counted under 行政程序法 §48.

    The start day is not counted, so the period's last day is ``start + days``; when that is a day
    off it moves to the next working day.
    """
    return calendar.next_working_day(start + dt.timedelta(days=days))


@dataclass(frozen=True, slots=True)
class Checked:
    """A vacancy that passed the rules (possibly adjusted) and the warnings raised on the way."""

    vacancy: Vacancy
    warnings: tuple[VacancyFieldError, ...] = ()


def _label(name: str) -> dict[str, str]:
    zh, en = FIELD_LABELS[name]
    return {"field": zh, "field_en": en}


def _text_of(vacancy: Vacancy, name: str) -> str:
    value = getattr(vacancy, name)
    if isinstance(value, PersonKind):
        return value.value
    if isinstance(value, Headcount):
        return value.raw
    return value if isinstance(value, str) else ""


def _has_control_characters(text: str, multiline: bool) -> bool:
    allowed = "\n\r\t" if multiline else ""
    return any(unicodedata.category(ch) in ("Cc", "Cs", "Cn") and ch not in allowed for ch in text)


class VacancyRules:
    """Validates vacancies at registration and on every change.

    ``today`` is always passed in (the Taipei date of the request): the rules never read a clock.
    """

    __slots__ = ("calendar", "policy")

    def __init__(self, calendar: HolidayCalendar | None = None, policy: PeriodPolicy | None = None) -> None:
        self.calendar = calendar if calendar is not None else HolidayCalendar.default()
        self.policy = policy if policy is not None else PeriodPolicy()

    # ------------------------------------------------------------------ entry points

    def check_registration(self, vacancy: Vacancy, *, today: dt.date) -> Checked:
        """Every rule of the registration form; raises :class:`VacancyInvalidError` listing each failure."""
        problems = self.field_problems(vacancy)
        warnings: list[VacancyFieldError] = []
        period = vacancy.period
        labels = _label("period")
        if period.end < today:
            problems.append(
                PeriodEndedError(
                    f"ends {period.end}", **labels, end=period.end.isoformat(), today=today.isoformat()
                )
            )
        elif period.start < today:
            past = StartInPastError(
                f"starts {period.start}, today is {today}",
                **labels,
                start=period.start.isoformat(),
                today=today.isoformat(),
            )
            if self.policy.past_start is PastStart.REJECT:
                problems.append(past)
            elif self.policy.past_start is PastStart.CLAMP:
                warnings.append(past)
                period = ValidityPeriod(today, period.end)
        problems.extend(self.period_problems(vacancy.person_kind, period))
        if problems:
            raise VacancyInvalidError(problems)
        if period != vacancy.period:
            vacancy = dataclasses.replace(vacancy, period=period)
        return Checked(vacancy, tuple(warnings))

    def check_update(self, current: Vacancy, proposed: Vacancy, *, today: dt.date) -> Vacancy:
        """The rules for a change to a registered vacancy (pass as the repository's ``check``)."""
        problems = self.field_problems(proposed)
        for name in READ_ONLY_FIELDS:
            if getattr(current, name) != getattr(proposed, name):
                problems.append(FieldReadOnlyError(f"{name} changed", **_label(name)))
        if proposed.period != current.period:
            labels = _label("period")
            end = proposed.period.end
            if end < today:
                problems.append(
                    PeriodEndedError(f"ends {end}", **labels, end=end.isoformat(), today=today.isoformat())
                )
            problems.extend(self.period_problems(proposed.person_kind, proposed.period))
        if problems:
            raise VacancyInvalidError(problems)
        return proposed

    def checker(self, today: dt.date) -> Callable[[Vacancy, Vacancy], Vacancy]:
        """:meth:`check_update` bound to ``today``, in the repository's ``check`` shape."""

        def check(current: Vacancy, proposed: Vacancy) -> Vacancy:
            return self.check_update(current, proposed, today=today)

        return check

    # ------------------------------------------------------------------ single rules

    def earliest_end(self, kind: PersonKind, start: dt.date) -> dt.date | None:
        minimum = self.policy.minimum_for(kind)
        return None if minimum is None else earliest_end(start, minimum, self.calendar)

    def period_problems(self, kind: PersonKind, period: ValidityPeriod) -> list[VacancyFieldError]:
        problems: list[VacancyFieldError] = []
        labels = _label("period")
        minimum = self.policy.minimum_for(kind)
        if minimum is not None:
            first_end = earliest_end(period.start, minimum, self.calendar)
            if period.end < first_end:
                problems.append(
                    PeriodTooShortError(
                        f"{period.start}~{period.end}, earliest end {first_end}",
                        **labels,
                        minimum_days=minimum,
                        earliest_end=first_end.isoformat(),
                    )
                )
        maximum = self.policy.maximum_days
        if maximum is not None and period.days > maximum:
            problems.append(PeriodTooLongError(f"{period.days} days", **labels, maximum_days=maximum))
        return problems

    def field_problems(self, vacancy: Vacancy) -> list[VacancyFieldError]:
        """Format rules of every field (required, length, characters, codes, phone, headcount)."""
        problems: list[VacancyFieldError] = []
        for name in REQUIRED_FIELDS:
            value = getattr(vacancy, name)
            empty = (
                not _text_of(vacancy, name).strip()
                if name not in ("work_places", "period", "gender")
                else not value
            )
            if empty:
                problems.append(FieldRequiredError(f"{name} is empty", **_label(name)))
        for name, limit in MAX_LENGTHS.items():
            text = _text_of(vacancy, name)
            if len(text) > limit:
                problems.append(
                    FieldTooLongError(f"{name}: {len(text)} > {limit}", **_label(name), max_length=limit)
                )
            elif _has_control_characters(text, name in _MULTILINE):
                problems.append(FieldFormatError(f"{name} has control characters", **_label(name)))
        if not _WORK_ID.fullmatch(vacancy.work_id):
            problems.append(
                FieldFormatError("work_id is not 1-20 letters, digits, _ or -", **_label("work_id"))
            )
        if vacancy.agency_code and not _AGENCY_CODE.fullmatch(vacancy.agency_code):
            problems.append(
                AgencyCodeError("agency code is not 10 upper-case letters or digits", **_label("agency_code"))
            )
        if vacancy.filler_phone.strip() and not _valid_phone(vacancy.filler_phone):
            problems.append(PhoneNumberError("not a valid TW number", **_label("filler_phone")))
        email = vacancy.contact_email.strip()
        if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
            problems.append(EmailAddressError("not an e-mail address", **_label("contact_email")))
        for name in _URL_FIELDS:
            url = getattr(vacancy, name).strip()
            if url and not url.lower().startswith(("http://", "https://")):
                problems.append(FieldFormatError(f"{name} is not an http(s) URL", **_label(name)))
        problems.extend(_headcount_problems(vacancy.headcount))
        if vacancy.period.end < vacancy.period.start:  # only reachable through object.__setattr__ tricks
            problems.append(PeriodOrderError("end before start", **_label("period")))
        return problems


def _headcount_problems(headcount: Headcount) -> list[VacancyFieldError]:
    labels = _label("headcount")
    # The model's reading of the text, for values not made by Headcount.parse (an empty text is
    # already reported as a required field).
    problem = Headcount.problem_of(headcount.raw)
    if problem == "format":
        return [HeadcountFormatError(f"not a headcount: {headcount.raw[:20]!r}", **labels)]
    if problem == "zero":
        return [HeadcountError(f"no opening in {headcount.raw[:20]!r}", **labels)]
    if headcount.regular is not None and headcount.regular < 1:
        return [HeadcountError(f"regular={headcount.regular}", **labels)]
    if headcount.reserve is not None and headcount.reserve < 0:
        return [HeadcountError(f"reserve={headcount.reserve}", **labels)]
    if (
        headcount.regular is not None
        and headcount.reserve is not None
        and headcount.reserve > 2 * headcount.regular
    ):
        return [
            ReserveLimitError(
                f"reserve {headcount.reserve} > 2 x {headcount.regular}",
                **labels,
                reserve=headcount.reserve,
                regular=headcount.regular,
            )
        ]
    return []


def _valid_phone(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, "TW")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))
