"""Where vacancies live: the repository protocol, its query shape, and the in-memory backend.

Every backend passes the same contract suite (``tests/twcert_vacancy/test_repository.py``):
``online(at)`` returns exactly the vacancies whose window contains the Taipei date of ``at`` and
that were not withdrawn by then; only the owning agency may change or withdraw a vacancy; every
change appends audit records in the same atomic step; concurrent writers never lose an update
(each change is applied to the latest stored revision, and ``expected_revision`` refuses a change
based on a stale read).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .audit import CREATED, WITHDRAWN, changes_between, logger
from .errors import (
    FieldReadOnlyError,
    VacancyConflictError,
    VacancyExistsError,
    VacancyFieldError,
    VacancyNotFoundError,
    VacancyNotOwnerError,
    VacancyQueryError,
    VacancyWithdrawnError,
)
from .model import (
    FIELD_LABELS,
    TAIPEI,
    AuditRecord,
    Gender,
    Headcount,
    PersonKind,
    RankClass,
    Vacancy,
    VacancyActor,
    ValidityPeriod,
    taipei_date,
)
from .regions import WorkPlace, parse_work_places, work_place

__all__ = [
    "MAX_PER_PAGE",
    "SORTS",
    "ImportReport",
    "MemoryVacancyRepository",
    "OnlineQuery",
    "Page",
    "UpdateCheck",
    "VacancyRepository",
    "apply_changes",
    "check_owner",
]

#: Orders ``online()`` accepts; ties are broken by ``work_id`` in the same direction.
SORTS: Final = ("date_from_desc", "date_from_asc", "date_to_asc", "date_to_desc")
MAX_PER_PAGE: Final = 500
_MAX_KEYWORD = 100

#: Called with (stored, proposed) inside the write; returns the vacancy to store or raises.
UpdateCheck = Callable[[Vacancy, Vacancy], Vacancy]

CountyFilter = WorkPlace | int | str
KindFilter = PersonKind | str
TypeFilter = RankClass | str | Iterable[RankClass | str]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and the total number of matches."""

    items: tuple[Vacancy, ...]
    total: int
    page: int = 1
    per_page: int = 15

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class OnlineQuery:
    """The normalised arguments of :meth:`VacancyRepository.online` (shared by every backend)."""

    at: dt.datetime | dt.date
    day: dt.date
    county: WorkPlace | None
    person_kind: PersonKind | None
    agency_code: str | None
    keyword: str | None
    types: tuple[RankClass, ...]
    sort: str
    page: int
    per_page: int

    @classmethod
    def build(
        cls,
        at: dt.datetime | dt.date,
        *,
        county: CountyFilter | None = None,
        person_kind: KindFilter | None = None,
        agency_code: str | None = None,
        keyword: str | None = None,
        type_: TypeFilter | None = None,
        sort: str = "date_from_desc",
        page: int = 1,
        per_page: int = 15,
    ) -> OnlineQuery:
        if not isinstance(at, dt.date):
            raise VacancyQueryError(
                f"at must be a date or datetime, not {type(at).__name__}", **_reason("at")
            )
        if sort not in SORTS:
            raise VacancyQueryError(f"sort must be one of {', '.join(SORTS)}", **_reason("sort"))
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise VacancyQueryError("page must be an integer >= 1", **_reason("page"))
        if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise VacancyQueryError(f"per_page must be 1..{MAX_PER_PAGE}", **_reason("per_page"))
        kind = PersonKind(person_kind.strip()) if isinstance(person_kind, str) else person_kind
        words = keyword.strip() if keyword else ""
        if len(words) > _MAX_KEYWORD:
            raise VacancyQueryError("keyword too long", **_reason("keyword"))
        return cls(
            at=at,
            day=taipei_date(at),
            county=None if county is None else work_place(county),
            person_kind=kind if kind and kind.value else None,
            agency_code=agency_code.strip() or None if agency_code else None,
            keyword=words or None,
            types=_types(type_),
            sort=sort,
            page=page,
            per_page=per_page,
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def withdrawn_before(self) -> dt.datetime | None:
        """Vacancies withdrawn at or before this instant are not online (``None``: any withdrawal counts)."""
        if isinstance(self.at, dt.datetime):
            return self.at if self.at.tzinfo else self.at.replace(tzinfo=TAIPEI)
        return None

    def matches(self, vacancy: Vacancy) -> bool:
        """The query as a predicate: the reference semantics every backend must agree with."""
        if not vacancy.period.contains(self.day):
            return False
        if vacancy.withdrawn_at is not None and (
            self.withdrawn_before is None or vacancy.withdrawn_at <= self.withdrawn_before
        ):
            return False
        if self.county is not None and self.county not in vacancy.work_places:
            return False
        if self.person_kind is not None and vacancy.person_kind != self.person_kind:
            return False
        if self.agency_code is not None and vacancy.agency_code != self.agency_code:
            return False
        if self.keyword is not None:
            needle = self.keyword.lower()
            if needle not in vacancy.title.lower() and needle not in vacancy.agency_name.lower():
                return False
        return not self.types or any(t in vacancy.rank_classes for t in self.types)

    def sort_key(self) -> tuple[Callable[[Vacancy], tuple[dt.date, str]], bool]:
        column = "start" if self.sort.startswith("date_from") else "end"
        return (lambda v: (getattr(v.period, column), v.work_id)), self.sort.endswith("_desc")


def _reason(name: str) -> dict[str, str]:
    return {"reason": f"bad {name}", "reason_zh": f"{name} 參數不正確"}


def _types(value: TypeFilter | None) -> tuple[RankClass, ...]:
    if value is None:
        return ()
    if isinstance(value, RankClass):
        return (value,)
    if isinstance(value, str):
        return RankClass.parse_set(value)
    return tuple(dict.fromkeys(item if isinstance(item, RankClass) else RankClass(item) for item in value))


class VacancyRepository(Protocol):
    """Storage of vacancies with ownership, audit and concurrency rules (see the module doc)."""

    def add(self, vacancy: Vacancy, actor: VacancyActor, *, at: dt.datetime) -> Vacancy:
        """Store a new vacancy (revision 1); refuses an existing ``work_id``."""
        ...

    def import_many(
        self, vacancies: Iterable[Vacancy], actor: VacancyActor, *, at: dt.datetime
    ) -> ImportReport:
        """Insert new vacancies and bring changed ones up to date (a feed snapshot)."""
        ...

    def get(self, work_id: str) -> Vacancy: ...

    def update(
        self,
        work_id: str,
        actor: VacancyActor,
        changes: Mapping[str, object],
        *,
        at: dt.datetime,
        expected_revision: int | None = None,
        check: UpdateCheck | None = None,
    ) -> Vacancy:
        """Apply ``changes`` to the stored vacancy atomically; only its agency may do so."""
        ...

    def withdraw(
        self, work_id: str, actor: VacancyActor, *, at: dt.datetime, expected_revision: int | None = None
    ) -> Vacancy: ...

    def online(
        self,
        at: dt.datetime | dt.date,
        *,
        county: CountyFilter | None = None,
        person_kind: KindFilter | None = None,
        agency_code: str | None = None,
        keyword: str | None = None,
        type_: TypeFilter | None = None,
        sort: str = "date_from_desc",
        page: int = 1,
        per_page: int = 15,
    ) -> Page: ...

    def for_agency(self, agency_code: str, at: dt.datetime | dt.date) -> list[Vacancy]:
        """The agency's vacancies whose window contains ``at`` (withdrawn ones included), newest first."""
        ...

    def history(self, work_id: str) -> list[AuditRecord]: ...


# --------------------------------------------------------------------------- shared write rules


def check_owner(vacancy: Vacancy, actor: VacancyActor) -> None:
    """Only the owning agency may change or withdraw; system actors (no agency) may not either."""
    if actor.agency_code is None or actor.agency_code != vacancy.agency_code:
        raise VacancyNotOwnerError(
            f"actor of agency {actor.agency_code!r} may not change a vacancy of {vacancy.agency_code}",
            work_id=vacancy.work_id,
        )


def check_may_add(vacancy: Vacancy, actor: VacancyActor) -> None:
    check_may_add_agency(vacancy.agency_code, vacancy.work_id, actor)


def check_may_add_agency(agency_code: str, work_id: str, actor: VacancyActor) -> None:
    """Only system actors (no agency) add any agency's vacancies; an agency adds its own."""
    if actor.agency_code is not None and actor.agency_code != agency_code:
        raise VacancyNotOwnerError(
            f"actor of agency {actor.agency_code} may not add a vacancy of {agency_code}",
            work_id=work_id,
        )


_NOT_CHANGEABLE: Final = frozenset({"work_id", "agency_code", "withdrawn_at", "revision"})
_FIELD_NAMES: Final = frozenset(f.name for f in dataclasses.fields(Vacancy))


def _coerce(name: str, value: object) -> object:
    # Accept the plain forms a web form produces, and the value types themselves.
    if name == "person_kind" and isinstance(value, str):
        return PersonKind(value.strip())
    if name == "gender" and isinstance(value, str) and not isinstance(value, Gender):
        return Gender.parse(value)
    if name == "headcount" and isinstance(value, str):
        return Headcount.parse(value)
    if name == "headcount" and isinstance(value, int) and not isinstance(value, bool):
        return Headcount.of(value)
    if name == "work_places":
        if isinstance(value, str):
            return parse_work_places(value)
        if isinstance(value, Iterable):
            return tuple(dict.fromkeys(work_place(item) for item in value))
    if name == "rank_classes" and isinstance(value, str):
        return RankClass.parse_set(value)
    if name == "period" and isinstance(value, tuple) and len(value) == 2:
        return ValidityPeriod(value[0], value[1])
    return value


_EXPECTED_TYPES: Final[Mapping[str, type | tuple[type, ...]]] = {
    "person_kind": PersonKind,
    "gender": Gender,
    "headcount": Headcount,
    "work_places": tuple,
    "rank_classes": tuple,
    "period": ValidityPeriod,
    "disability_eligible": (bool, type(None)),
    "indigenous_eligible": (bool, type(None)),
    "indigenous_area": (bool, type(None)),
    "training": (bool, type(None)),
    "transfer": (bool, type(None)),
}


def apply_changes(vacancy: Vacancy, changes: Mapping[str, object]) -> Vacancy:
    """``vacancy`` with ``changes`` (field name → new value) applied, values coerced and type-checked."""
    values: dict[str, Any] = {}
    for name, raw in changes.items():
        if name not in _FIELD_NAMES:
            raise VacancyFieldError(f"no field {name!r}", field=name, field_en=name)
        zh, en = FIELD_LABELS.get(name, (name, name))
        if name in _NOT_CHANGEABLE:
            raise FieldReadOnlyError(f"{name} cannot be changed", field=zh, field_en=en)
        value = _coerce(name, raw)
        expected = _EXPECTED_TYPES.get(name, str)
        if not isinstance(value, expected):
            raise VacancyFieldError(f"{name}: unexpected {type(value).__name__}", field=zh, field_en=en)
        values[name] = value
    return dataclasses.replace(vacancy, **values)


def created_record(vacancy: Vacancy, who: str, when: dt.datetime) -> AuditRecord:
    return created_record_of(vacancy.work_id, who, when)


def created_record_of(work_id: str, who: str, when: dt.datetime) -> AuditRecord:
    return AuditRecord(work_id, who, when, CREATED, "", work_id)


def withdrawn_record(vacancy: Vacancy, who: str, when: dt.datetime) -> AuditRecord:
    return AuditRecord(vacancy.work_id, who, when, WITHDRAWN, "", when.isoformat())


def aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=TAIPEI)


# --------------------------------------------------------------------------- memory backend


class MemoryVacancyRepository:
    """A thread-safe in-process repository (tests, demos, small tools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vacancies: dict[str, Vacancy] = {}
        self._audit: list[AuditRecord] = []

    def add(self, vacancy: Vacancy, actor: VacancyActor, *, at: dt.datetime) -> Vacancy:
        check_may_add(vacancy, actor)
        when = aware(at)
        stored = dataclasses.replace(vacancy, revision=1)
        with self._lock:
            if vacancy.work_id in self._vacancies:
                raise VacancyExistsError(work_id=vacancy.work_id)
            self._vacancies[vacancy.work_id] = stored
            self._audit.append(created_record(stored, actor.principal_id, when))
        logger.info("vacancy %s added by %s", vacancy.work_id, actor.principal_id)
        return stored

    def import_many(
        self, vacancies: Iterable[Vacancy], actor: VacancyActor, *, at: dt.datetime
    ) -> ImportReport:
        when = aware(at)
        added = updated = unchanged = 0
        for vacancy in vacancies:
            check_may_add(vacancy, actor)
            with self._lock:
                current = self._vacancies.get(vacancy.work_id)
                if current is None:
                    self._vacancies[vacancy.work_id] = dataclasses.replace(vacancy, revision=1)
                    self._audit.append(created_record(vacancy, actor.principal_id, when))
                    added += 1
                elif current == dataclasses.replace(vacancy, withdrawn_at=current.withdrawn_at):
                    unchanged += 1
                else:
                    new = dataclasses.replace(
                        vacancy, withdrawn_at=current.withdrawn_at, revision=current.revision + 1
                    )
                    self._audit.extend(changes_between(current, new, who=actor.principal_id, when=when))
                    self._vacancies[vacancy.work_id] = new
                    updated += 1
        logger.info(
            "import by %s: %d added, %d updated, %d unchanged", actor.principal_id, added, updated, unchanged
        )
        return ImportReport(added, updated, unchanged)

    def get(self, work_id: str) -> Vacancy:
        with self._lock:
            found = self._vacancies.get(work_id)
        if found is None:
            raise VacancyNotFoundError(work_id=work_id)
        return found

    def update(
        self,
        work_id: str,
        actor: VacancyActor,
        changes: Mapping[str, object],
        *,
        at: dt.datetime,
        expected_revision: int | None = None,
        check: UpdateCheck | None = None,
    ) -> Vacancy:
        when = aware(at)
        with self._lock:
            current = self._vacancies.get(work_id)
            if current is None:
                raise VacancyNotFoundError(work_id=work_id)
            proposed = prepare_update(current, actor, changes, expected_revision, check)
            records = changes_between(current, proposed, who=actor.principal_id, when=when)
            if not records:
                return current
            stored = dataclasses.replace(proposed, revision=current.revision + 1)
            self._vacancies[work_id] = stored
            self._audit.extend(records)
        logger.info(
            "vacancy %s updated by %s: %s", work_id, actor.principal_id, ",".join(r.field for r in records)
        )
        return stored

    def withdraw(
        self, work_id: str, actor: VacancyActor, *, at: dt.datetime, expected_revision: int | None = None
    ) -> Vacancy:
        when = aware(at)
        with self._lock:
            current = self._vacancies.get(work_id)
            if current is None:
                raise VacancyNotFoundError(work_id=work_id)
            prepare_withdraw(current, actor, expected_revision)
            stored = dataclasses.replace(current, withdrawn_at=when, revision=current.revision + 1)
            self._vacancies[work_id] = stored
            self._audit.append(withdrawn_record(stored, actor.principal_id, when))
        logger.info("vacancy %s withdrawn by %s", work_id, actor.principal_id)
        return stored

    def online(
        self,
        at: dt.datetime | dt.date,
        *,
        county: CountyFilter | None = None,
        person_kind: KindFilter | None = None,
        agency_code: str | None = None,
        keyword: str | None = None,
        type_: TypeFilter | None = None,
        sort: str = "date_from_desc",
        page: int = 1,
        per_page: int = 15,
    ) -> Page:
        query = OnlineQuery.build(
            at,
            county=county,
            person_kind=person_kind,
            agency_code=agency_code,
            keyword=keyword,
            type_=type_,
            sort=sort,
            page=page,
            per_page=per_page,
        )
        with self._lock:
            found = [v for v in self._vacancies.values() if query.matches(v)]
        key, descending = query.sort_key()
        found.sort(key=key, reverse=descending)
        items = tuple(found[query.offset : query.offset + query.per_page])
        return Page(items, len(found), query.page, query.per_page)

    def for_agency(self, agency_code: str, at: dt.datetime | dt.date) -> list[Vacancy]:
        day = taipei_date(at)
        with self._lock:
            found = [
                v for v in self._vacancies.values() if v.agency_code == agency_code and v.period.contains(day)
            ]
        found.sort(key=lambda v: (v.period.start, v.work_id), reverse=True)
        return found

    def history(self, work_id: str) -> list[AuditRecord]:
        with self._lock:
            if work_id not in self._vacancies:
                raise VacancyNotFoundError(work_id=work_id)
            return [r for r in self._audit if r.work_id == work_id]

    def __len__(self) -> int:
        return len(self._vacancies)


def prepare_update(
    current: Vacancy,
    actor: VacancyActor,
    changes: Mapping[str, object],
    expected_revision: int | None,
    check: UpdateCheck | None,
) -> Vacancy:
    check_owner(current, actor)
    if current.withdrawn_at is not None:
        raise VacancyWithdrawnError(work_id=current.work_id)
    if expected_revision is not None and expected_revision != current.revision:
        raise VacancyConflictError(f"expected revision {expected_revision}, stored {current.revision}")
    proposed = apply_changes(current, changes)
    return check(current, proposed) if check is not None else proposed


def prepare_withdraw(current: Vacancy, actor: VacancyActor, expected_revision: int | None) -> None:
    check_owner(current, actor)
    if current.withdrawn_at is not None:
        raise VacancyWithdrawnError(work_id=current.work_id)
    if expected_revision is not None and expected_revision != current.revision:
        raise VacancyConflictError(f"expected revision {expected_revision}, stored {current.revision}")


def _conforms(repository: MemoryVacancyRepository) -> VacancyRepository:
    return repository  # mypy proves the memory backend satisfies the protocol
