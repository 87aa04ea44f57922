"""The vacancy registration form (manual step 5): form fields → a checked :class:`Vacancy`.

Everything that is wrong is reported at once, each problem with its catalogued text; the
rules themselves are :class:`twcert_vacancy.VacancyRules` (required fields, formats, phone,
headcount, the 行政程序法 §48 window).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final, Protocol

from twcert_vacancy import Gender, Headcount, PersonKind, Vacancy, ValidityPeriod, WorkPlace, work_place
from twcert_vacancy.errors import (
    FieldFormatError,
    FieldRequiredError,
    RocDateError,
    VacancyFieldError,
    VacancyInvalidError,
    WorkPlaceError,
)
from twcert_vacancy.model import FIELD_LABELS
from twcert_vacancy.rocdate import RocDate, parse_roc_or_iso
from twcert_vacancy.rules import Checked, VacancyRules

__all__ = ["FIELDS", "FormField", "FormValues", "field_id", "registration"]


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    required: bool
    hint: str = ""

    @property
    def label(self) -> str:
        return FIELD_LABELS[self.name][0]


#: The form's fields in display order: the manual's required ones first.
FIELDS: Final = (
    FormField("agency_name", True),
    FormField("agency_address", True),
    FormField("filler_name", True),
    FormField("filler_phone", True, "例如 02-2397-9000 或 0912-345-678"),
    FormField("person_kind", True),
    FormField("title", True),
    FormField("headcount", True, "例如 1 或「正取1名，備取1名」"),
    FormField("gender", True),
    FormField("work_places", True, "可複選"),
    FormField("period", True, "民國年/月/日，例如 115/12/01，或西元 2026-12-01"),
    FormField("series", False),
    FormField("qualifications", False),
    FormField("duties", False),
    FormField("contact_method", False),
    FormField("contact_email", False),
)
_ORDER: Final = {f.label: i for i, f in enumerate(FIELDS)}


class FormValues(Protocol):
    """What Flask's ``request.form`` (and Django's ``request.POST``) offer."""

    def get(self, key: str) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


def field_id(label: str) -> str:
    """The input id of the field a problem names by its label (for the error summary's links)."""
    for f in FIELDS:
        if f.label == label:
            return f"field-{f.name}"
    return "field-agency_name"


def _labels(name: str) -> dict[str, str]:
    zh, en = FIELD_LABELS[name]
    return {"field": zh, "field_en": en}


def _period(form: FormValues, problems: list[VacancyFieldError]) -> ValidityPeriod | None:
    start_text = (form.get("period_start") or "").strip()
    end_text = (form.get("period_end") or "").strip()
    if not start_text or not end_text:
        problems.append(FieldRequiredError("period start or end empty", **_labels("period")))
        return None
    try:
        return ValidityPeriod(parse_roc_or_iso(start_text), parse_roc_or_iso(end_text))
    except RocDateError:
        problems.append(FieldFormatError("not a date", **_labels("period")))
    except VacancyFieldError as exc:  # end before start
        problems.append(exc)
    return None


def _places(form: FormValues, problems: list[VacancyFieldError]) -> tuple[WorkPlace, ...]:
    places: list[WorkPlace] = []
    for value in form.getlist("work_places"):
        try:
            places.append(work_place(int(value)))
        except (ValueError, WorkPlaceError):
            problems.append(FieldFormatError("unknown work place", **_labels("work_places")))
    return tuple(dict.fromkeys(places))


def _gender(form: FormValues, problems: list[VacancyFieldError]) -> Gender:
    text = (form.get("gender") or "").strip()
    if not text:
        problems.append(FieldRequiredError("gender not chosen", **_labels("gender")))
        return Gender.ANY
    try:
        return Gender.parse(text)
    except VacancyFieldError as exc:
        problems.append(exc)
        return Gender.ANY


def _headcount(form: FormValues, problems: list[VacancyFieldError]) -> Headcount:
    """名額 as the model reads it: its refusal is reported on the field like any other rule's."""
    text = (form.get("headcount") or "").strip()
    try:
        return Headcount.parse(text)
    except VacancyFieldError as exc:
        problems.append(exc)
        return Headcount(None, None, text)  # a stand-in while the problems are shown; never stored


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _roc_dates(problem: VacancyFieldError) -> VacancyFieldError:
    """The same problem with its dates in the ROC calendar, as the form asks for them."""
    params = {
        key: RocDate.from_date(dt.date.fromisoformat(value)).slashed()
        if isinstance(value, str) and _ISO_DATE.fullmatch(value)
        else value
        for key, value in problem.params.items()
    }
    if params == problem.params:
        return problem
    return type(problem)(problem.detail, **params)


def _position(problem: VacancyFieldError) -> int:
    """Problems are listed in the order of the form's fields."""
    return _ORDER.get(problem.field, len(_ORDER))


def registration(
    form: FormValues,
    *,
    work_id: str,
    agency_code: str,
    agency_name: str,
    rules: VacancyRules,
    today: dt.date,
) -> Checked:
    """The vacancy the form describes, checked; :class:`VacancyInvalidError` lists every problem.

    ``agency_name`` is the logged-in agency's name from the agency-code file: a posted
    ``agency_name`` is ignored, so no agency can publish under another's name.
    """
    problems: list[VacancyFieldError] = []
    period = _period(form, problems)
    places = _places(form, problems)
    gender = _gender(form, problems)
    headcount = _headcount(form, problems)

    def text(name: str) -> str:
        return (form.get(name) or "").strip()

    vacancy = Vacancy(
        work_id=work_id,
        agency_code=agency_code,
        person_kind=PersonKind((form.get("person_kind") or "").strip()),
        headcount=headcount,
        work_places=places,
        # A stand-in only while other problems are reported; never stored.
        period=period or ValidityPeriod(today, today),
        gender=gender,
        agency_name=agency_name,
        agency_address=text("agency_address"),
        filler_name=text("filler_name"),
        filler_phone=text("filler_phone"),
        title=text("title"),
        series=text("series"),
        qualifications=text("qualifications"),
        duties=text("duties"),
        contact_method=text("contact_method"),
        contact_email=text("contact_email"),
    )
    if problems:
        named = {p.field for p in problems}
        problems += [p for p in rules.field_problems(vacancy) if p.field not in named]
        raise VacancyInvalidError([_roc_dates(p) for p in sorted(problems, key=_position)])
    try:
        return rules.check_registration(vacancy, today=today)
    except VacancyInvalidError as exc:
        raise VacancyInvalidError([_roc_dates(p) for p in sorted(exc.problems, key=_position)]) from None
