"""Where vacancies live: the repository protocol, its query shape, and the in-memory backend.

Every backend passes the same contract suite (``tests/twcert_vacancy/test_repository.py``):
``online(query)`` returns exactly the vacancies whose window contains the Taipei date of
``query.at`` and that were not withdrawn by then; only the owning agency may change or withdraw a
vacancy; every change appends audit records in the same atomic step; concurrent writers never
lose an update (each change is applied to the latest stored revision, and ``expected_revision``
refuses a change based on a stale read). The write rules themselves are in :mod:`.changes`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from .audit import changes_between, logger
from .changes import (
    UpdateCheck,
    check_may_add,
    created_record,
    prepare_update,
    prepare_withdraw,
    withdrawn_record,
)
from .errors import VacancyExistsError, VacancyNotFoundError, VacancyQueryError
from .model import AuditRecord, PersonKind, RankClass, Vacancy, VacancyActor, aware, taipei_date
from .regions import WorkPlace, work_place

__all__ = [
    "MAX_KEYWORD",
    "MAX_PER_PAGE",
    "SORTS",
    "ImportReport",
    "MemoryVacancyRepository",
    "OnlineQuery",
    "Page",
    "UpdateCheck",
    "VacancyRepository",
]

#: Orders ``online()`` accepts; ties are broken by ``work_id`` in the same direction.
SORTS: Final = ("date_from_desc", "date_from_asc", "date_to_asc", "date_to_desc")
MAX_PER_PAGE: Final = 500
#: Longest keyword accepted (characters, after trimming).
MAX_KEYWORD: Final = 100

#: The text forms :meth:`OnlineQuery.parse` accepts for a work place, a person kind and 官等.
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
    """What :meth:`VacancyRepository.online` is asked: the day (or instant), the filters, the order
    and the page. Every filter left ``None`` (or empty) matches every vacancy.

    Built from typed values (``OnlineQuery(day, county=work_place(10))``) or, by
    :meth:`parse`, from the text a search form or the command line gives. It is checked when made:
    an out-of-range page or an unknown sort raises :class:`~twcert_vacancy.errors.VacancyQueryError`
    naming the parameter. Equal queries are equal and hashable (a cache key).

    :param at: a date, or an instant: then a vacancy withdrawn after it still counts as online.
    :param county: vacancies with this among their work places.
    :param person_kind: 人員區分.
    :param agency_code: the recruiting agency's code.
    :param keyword: text in the title or the agency name (case-insensitive; at most
        :data:`MAX_KEYWORD` characters, trimmed; empty means none).
    :param rank_classes: 官等: vacancies with any of these.
    :param sort: one of :data:`SORTS`.
    :param page: 1-based page number.
    :param per_page: 1..:data:`MAX_PER_PAGE`.
    """

    at: dt.datetime | dt.date
    _: dataclasses.KW_ONLY
    county: WorkPlace | None = None
    person_kind: PersonKind | None = None
    agency_code: str | None = None
    keyword: str | None = None
    rank_classes: tuple[RankClass, ...] = ()
    sort: str = "date_from_desc"
    page: int = 1
    per_page: int = 15
    #: The Taipei date of :attr:`at` (derived).
    day: dt.date = field(init=False, repr=False, compare=False)
    #: Vacancies withdrawn at or before this instant are not online; ``None`` (a plain day):
    #: any withdrawal counts (derived).
    withdrawn_before: dt.datetime | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        at = self.at
        if not isinstance(at, dt.date):
            raise VacancyQueryError(
                f"at must be a date or datetime, not {type(at).__name__}", **_reason("at")
            )
        _expect("county", self.county, WorkPlace)
        _expect("person_kind", self.person_kind, PersonKind)
        _expect("agency_code", self.agency_code, str)
        _expect("keyword", self.keyword, str)
        if not isinstance(self.rank_classes, tuple) or not all(
            isinstance(item, RankClass) for item in self.rank_classes
        ):
            raise VacancyQueryError("rank_classes must be a tuple of RankClass", **_reason("rank_classes"))
        if self.sort not in SORTS:
            raise VacancyQueryError(f"sort must be one of {', '.join(SORTS)}", **_reason("sort"))
        if not _whole(self.page) or self.page < 1:
            raise VacancyQueryError("page must be an integer >= 1", **_reason("page"))
        if not _whole(self.per_page) or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise VacancyQueryError(f"per_page must be 1..{MAX_PER_PAGE}", **_reason("per_page"))
        keyword = self.keyword.strip() if self.keyword else ""
        if len(keyword) > MAX_KEYWORD:
            raise VacancyQueryError("keyword too long", **_reason("keyword"))
        # Normalised once here, so backends and equality see one form of each filter.
        setter = object.__setattr__
        setter(self, "keyword", keyword or None)
        setter(self, "agency_code", self.agency_code.strip() or None if self.agency_code else None)
        if self.person_kind is not None and not self.person_kind.value:
            setter(self, "person_kind", None)
        setter(self, "rank_classes", tuple(dict.fromkeys(self.rank_classes)))
        setter(self, "day", taipei_date(at))
        setter(self, "withdrawn_before", aware(at) if isinstance(at, dt.datetime) else None)

    @classmethod
    def parse(
        cls,
        at: dt.datetime | dt.date,
        *,
        county: CountyFilter | None = None,
        person_kind: KindFilter | None = None,
        agency_code: str | None = None,
        keyword: str | None = None,
        rank_classes: TypeFilter | None = None,
        sort: str = "date_from_desc",
        page: int = 1,
        per_page: int = 15,
    ) -> OnlineQuery:
        """A query from text forms: ``county`` as a name (臺北市/台北市), DGPA code or ISO code;
        ``person_kind`` as its text; ``rank_classes`` as ``薦任,委任`` or any iterable of names.

        :raises ~twcert_vacancy.errors.WorkPlaceError: an unknown work place.
        :raises ~twcert_vacancy.errors.RankClassError: an unknown 官等.
        """
        kind = PersonKind(person_kind.strip()) if isinstance(person_kind, str) else person_kind
        return cls(
            at,
            county=None if county is None else work_place(county),
            person_kind=kind,
            agency_code=agency_code,
            keyword=keyword,
            rank_classes=_rank_classes(rank_classes),
            sort=sort,
            page=page,
            per_page=per_page,
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

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
        return not self.rank_classes or any(t in vacancy.rank_classes for t in self.rank_classes)

    def sort_key(self) -> tuple[Callable[[Vacancy], tuple[dt.date, str]], bool]:
        column = "start" if self.sort.startswith("date_from") else "end"
        return (lambda v: (getattr(v.period, column), v.work_id)), self.sort.endswith("_desc")


def _reason(name: str) -> dict[str, str]:
    return {"reason": f"bad {name}", "reason_zh": f"{name} 參數不正確"}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect(name: str, value: object, kind: type) -> None:
    if value is not None and not isinstance(value, kind):
        raise VacancyQueryError(
            f"{name} must be a {kind.__name__} or None, not {type(value).__name__}"
            + (" (OnlineQuery.parse reads text forms)" if isinstance(value, str | int) else ""),
            **_reason(name),
        )


def _rank_classes(value: TypeFilter | None) -> tuple[RankClass, ...]:
    if value is None:
        return ()
    if isinstance(value, RankClass):
        return (value,)
    if isinstance(value, str):
        return RankClass.parse_set(value)
    classes: list[RankClass] = []
    for item in value:
        if isinstance(item, RankClass):
            classes.append(item)
        elif isinstance(item, str):
            classes.extend(RankClass.parse_set(item))
        else:
            raise VacancyQueryError(f"not a rank class: {type(item).__name__}", **_reason("rank_classes"))
    return tuple(dict.fromkeys(classes))


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

    def online(self, query: OnlineQuery) -> Page:
        """The page of vacancies ``query`` asks for, and how many match in all."""
        ...

    def for_agency(self, agency_code: str, at: dt.datetime | dt.date) -> list[Vacancy]:
        """The agency's vacancies whose window contains ``at`` (withdrawn ones included), newest first."""
        ...

    def history(self, work_id: str) -> list[AuditRecord]: ...


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

    def online(self, query: OnlineQuery) -> Page:
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


def _conforms(repository: MemoryVacancyRepository) -> VacancyRepository:
    return repository  # mypy proves the memory backend satisfies the protocol
