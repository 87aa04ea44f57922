"""The write rules every repository backend applies: who may add or change a vacancy, how a change
is applied to the stored revision, and the audit records an add or a withdrawal writes.

Backends call these inside their atomic step (a lock, a transaction), so the memory and SQL
repositories refuse and record exactly alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from .audit import CREATED, WITHDRAWN
from .errors import (
    FieldReadOnlyError,
    VacancyConflictError,
    VacancyFieldError,
    VacancyNotOwnerError,
    VacancyWithdrawnError,
)
from .model import (
    FIELD_LABELS,
    AuditRecord,
    Gender,
    Headcount,
    PersonKind,
    RankClass,
    Vacancy,
    VacancyActor,
    ValidityPeriod,
)
from .regions import parse_work_places, work_place

__all__ = [
    "UpdateCheck",
    "apply_changes",
    "check_may_add",
    "check_may_add_agency",
    "check_owner",
    "created_record",
    "created_record_of",
    "prepare_update",
    "prepare_withdraw",
    "withdrawn_record",
]

#: Called with (stored, proposed) inside the write; returns the vacancy to store or raises.
UpdateCheck = Callable[[Vacancy, Vacancy], Vacancy]


# --------------------------------------------------------------------------- who may write


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


# --------------------------------------------------------------------------- applying a change

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


def _check_writable(current: Vacancy, actor: VacancyActor, expected_revision: int | None) -> None:
    check_owner(current, actor)
    if current.withdrawn_at is not None:
        raise VacancyWithdrawnError(work_id=current.work_id)
    if expected_revision is not None and expected_revision != current.revision:
        raise VacancyConflictError(f"expected revision {expected_revision}, stored {current.revision}")


def prepare_update(
    current: Vacancy,
    actor: VacancyActor,
    changes: Mapping[str, object],
    expected_revision: int | None,
    check: UpdateCheck | None,
) -> Vacancy:
    """The vacancy ``current`` becomes, or the refusal: owner, not withdrawn, the revision the
    caller read, valid changes, then the caller's ``check``."""
    _check_writable(current, actor, expected_revision)
    proposed = apply_changes(current, changes)
    return check(current, proposed) if check is not None else proposed


def prepare_withdraw(current: Vacancy, actor: VacancyActor, expected_revision: int | None) -> None:
    """Refuse a withdrawal by anyone but the owner, of a withdrawn vacancy or of a stale read."""
    _check_writable(current, actor, expected_revision)


# --------------------------------------------------------------------------- audit records


def created_record(vacancy: Vacancy, who: str, when: dt.datetime) -> AuditRecord:
    return created_record_of(vacancy.work_id, who, when)


def created_record_of(work_id: str, who: str, when: dt.datetime) -> AuditRecord:
    return AuditRecord(work_id, who, when, CREATED, "", work_id)


def withdrawn_record(vacancy: Vacancy, who: str, when: dt.datetime) -> AuditRecord:
    return AuditRecord(vacancy.work_id, who, when, WITHDRAWN, "", when.isoformat())
