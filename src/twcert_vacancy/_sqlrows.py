"""Vacancies as driver-ready row tuples for the SQL repository, and back.

Kept apart from :mod:`.sqlstore` (and free of SQLAlchemy) because imports spend most of their time
here: a feed import turns every row into these tuples, in a worker process when it runs in parallel
(:mod:`.feedimport`). The values are what SQLAlchemy itself would send to the driver, so rows written
here read back through SQLAlchemy unchanged: on SQLite dates as ``YYYY-MM-DD`` text, datetimes as
``YYYY-MM-DD HH:MM:SS.ffffff`` naive UTC and booleans as 0/1; on other databases the Python values,
datetimes as naive UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

from .model import Gender, Headcount, PersonKind, RankClass, Vacancy, ValidityPeriod, aware
from .regions import HISTORIC_CODES, WORK_PLACES, WorkPlace

__all__ = [
    "FLAG_FIELDS",
    "PLACE_COLUMNS",
    "TEXT_FIELDS",
    "VACANCY_COLUMNS",
    "PreparedVacancy",
    "agency_of",
    "driver_datetime",
    "place_values",
    "prepare",
    "vacancy_from_mapping",
    "vacancy_from_values",
    "vacancy_values",
]

FLAG_FIELDS: Final = (
    "disability_eligible",
    "indigenous_eligible",
    "indigenous_area",
    "training",
    "transfer",
)
TEXT_FIELDS: Final = (
    "agency_code",
    "agency_name",
    "title",
    "agency_address",
    "filler_name",
    "filler_phone",
    "rank",
    "series",
    "qualifications",
    "duties",
    "work_address",
    "contact_method",
    "contact_email",
    "job_category",
    "related_url",
    "detail_url",
)
#: Column order of :func:`vacancy_values` (the ``vacancies`` table).
VACANCY_COLUMNS: Final = (
    "work_id",
    *TEXT_FIELDS,
    "person_kind",
    "gender",
    "headcount_raw",
    "headcount_regular",
    "headcount_reserve",
    "work_places",
    "rank_classes",
    *FLAG_FIELDS,
    "date_from",
    "date_to",
    "span_days",
    "withdrawn_at",
    "revision",
)
#: Column order of :func:`place_values` (the ``vacancy_places`` table).
PLACE_COLUMNS: Final = ("work_id", "dgpa_code", "person_kind", "date_from", "date_to", "withdrawn_at")

_AGENCY = VACANCY_COLUMNS.index("agency_code")
_KIND = VACANCY_COLUMNS.index("person_kind")
_DATE_FROM = VACANCY_COLUMNS.index("date_from")
_DATE_TO = VACANCY_COLUMNS.index("date_to")
_WITHDRAWN = VACANCY_COLUMNS.index("withdrawn_at")
_FLAGS = slice(VACANCY_COLUMNS.index(FLAG_FIELDS[0]), VACANCY_COLUMNS.index(FLAG_FIELDS[-1]) + 1)
_texts = operator.attrgetter(*TEXT_FIELDS)
_flags = operator.attrgetter(*FLAG_FIELDS)
_SQLITE_DATETIME: Final = "%Y-%m-%d %H:%M:%S.%f"
# Booleans as SQLAlchemy stores them on SQLite (True and 1 are one key, as are False and 0).
_SQLITE_FLAG: Final[Mapping[bool | None, int | None]] = {None: None, True: 1, False: 0}
# ``Gender.value`` goes through the enum's descriptor; a dict lookup does not.
_GENDER_VALUES: Final[Mapping[Gender, str]] = {gender: gender.value for gender in Gender}

#: A vacancy ready for INSERT: its ``vacancies`` row and its ``vacancy_places`` rows.
PreparedVacancy: TypeAlias = tuple[tuple[Any, ...], tuple[tuple[Any, ...], ...]]


def driver_datetime(value: dt.datetime | None, sqlite: bool) -> Any:
    """An aware datetime as stored: naive UTC (text on SQLite)."""
    if value is None:
        return None
    naive = aware(value).astimezone(dt.UTC).replace(tzinfo=None)
    return naive.strftime(_SQLITE_DATETIME) if sqlite else naive


# Feeds repeat the same few place lists and rank classes on thousands of rows.
@functools.lru_cache(maxsize=4096)
def _place_codes(places: tuple[WorkPlace, ...]) -> str:
    return "".join(f",{place.dgpa_code}" for place in places) + ","


@functools.lru_cache(maxsize=256)
def _class_codes(classes: tuple[RankClass, ...]) -> str:
    return "".join(f",{item.value}" for item in classes) + ","


def vacancy_values(vacancy: Vacancy, sqlite: bool, revision: int | None = None) -> tuple[Any, ...]:
    """The ``vacancies`` row of ``vacancy``, in :data:`VACANCY_COLUMNS` order (``revision`` in
    place of the vacancy's own, if given)."""
    # Every feed row passes here (in the import's reading worker): lookups, not branches.
    start, end = vacancy.period.start, vacancy.period.end
    if sqlite:
        flags: tuple[Any, ...] = tuple(map(_SQLITE_FLAG.__getitem__, _flags(vacancy)))
        date_from: Any = start.isoformat()
        date_to: Any = end.isoformat()
    else:
        flags = _flags(vacancy)
        date_from, date_to = start, end
    headcount = vacancy.headcount
    withdrawn = vacancy.withdrawn_at
    return (
        vacancy.work_id,
        *_texts(vacancy),
        vacancy.person_kind.value,
        _GENDER_VALUES[vacancy.gender],
        headcount.raw,
        headcount.regular,
        headcount.reserve,
        _place_codes(vacancy.work_places),
        _class_codes(vacancy.rank_classes),
        *flags,
        date_from,
        date_to,
        (end - start).days,
        None if withdrawn is None else driver_datetime(withdrawn, sqlite),
        vacancy.revision if revision is None else revision,
    )


def place_values(vacancy: Vacancy, values: tuple[Any, ...]) -> tuple[tuple[Any, ...], ...]:
    """The ``vacancy_places`` rows (one per work place), from the vacancy and its converted row."""
    work_id, kind = vacancy.work_id, values[_KIND]
    date_from, date_to, withdrawn = values[_DATE_FROM], values[_DATE_TO], values[_WITHDRAWN]
    places = vacancy.work_places
    return tuple([(work_id, place.dgpa_code, kind, date_from, date_to, withdrawn) for place in places])


def prepare(vacancy: Vacancy, sqlite: bool) -> PreparedVacancy:
    """Both tables' rows of ``vacancy`` as a new vacancy (stored as revision 1)."""
    values = vacancy_values(vacancy, sqlite, revision=1)
    return values, place_values(vacancy, values)


def agency_of(values: tuple[Any, ...]) -> str:
    return str(values[_AGENCY])


def vacancy_from_mapping(row: Mapping[Any, Any]) -> Vacancy:
    """A vacancy from a row with Python values (as SQLAlchemy returns them)."""
    codes = (int(code) for code in row["work_places"].split(",") if code)
    places = tuple(WORK_PLACES[HISTORIC_CODES.get(code, code)] for code in codes)
    return Vacancy(
        work_id=row["work_id"],
        agency_code=row["agency_code"],
        agency_name=row["agency_name"],
        title=row["title"],
        person_kind=PersonKind(row["person_kind"]),
        headcount=Headcount(row["headcount_regular"], row["headcount_reserve"], row["headcount_raw"]),
        work_places=places,
        period=ValidityPeriod(row["date_from"], row["date_to"]),
        gender=Gender(row["gender"]),
        rank_classes=tuple(RankClass(code) for code in row["rank_classes"].split(",") if code),
        withdrawn_at=row["withdrawn_at"],
        revision=row["revision"],
        **{name: row[name] for name in TEXT_FIELDS if name not in ("agency_code", "agency_name", "title")},
        **{name: row[name] for name in FLAG_FIELDS},
    )


def vacancy_from_values(values: tuple[Any, ...], sqlite: bool) -> Vacancy:
    """The inverse of :func:`vacancy_values`."""
    listed = list(values)
    if sqlite:
        listed[_DATE_FROM] = dt.date.fromisoformat(listed[_DATE_FROM])
        listed[_DATE_TO] = dt.date.fromisoformat(listed[_DATE_TO])
        listed[_FLAGS] = [None if flag is None else bool(flag) for flag in listed[_FLAGS]]
        if listed[_WITHDRAWN] is not None:
            listed[_WITHDRAWN] = dt.datetime.strptime(listed[_WITHDRAWN], _SQLITE_DATETIME)
    if listed[_WITHDRAWN] is not None:
        listed[_WITHDRAWN] = listed[_WITHDRAWN].replace(tzinfo=dt.UTC)
    return vacancy_from_mapping(dict(zip(VACANCY_COLUMNS, listed, strict=True)))
