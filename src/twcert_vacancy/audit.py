"""Audit records: which fields a change touched, old → new, with personal values masked."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from enum import Enum

from twcert.idnumber import mask_name, mask_serial

from .model import PERSONAL_FIELDS, AuditRecord, Headcount, PersonKind, Vacancy, ValidityPeriod
from .regions import WorkPlace

__all__ = ["CREATED", "WITHDRAWN", "audit_value", "changes_between", "logger"]

#: The ``field`` of the record written when a vacancy is added.
CREATED = "*created"
#: The ``field`` of the record written when a vacancy is withdrawn.
WITHDRAWN = "*withdrawn"

#: The package's logger: field names and ids only, never personal values.
logger = logging.getLogger("twcert_vacancy")

_SKIPPED = frozenset({"revision"})


def audit_value(name: str, value: object) -> str:
    """The text an audit record stores for a field value (masked for personal fields)."""
    text = _text(value)
    if name not in PERSONAL_FIELDS or not text:
        return text
    if name == "filler_name":
        return mask_name(text) or ""
    if name == "filler_phone":
        return mask_serial(text, keep_head=2, keep_tail=2) or ""
    if name == "contact_email":
        local, _, domain = text.partition("@")
        return (mask_serial(local, keep_head=1, keep_tail=0) or "") + ("@" + domain if domain else "")
    return f"<{len(text)} characters>"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, ValidityPeriod):
        return f"{value.start.isoformat()}~{value.end.isoformat()}"
    if isinstance(value, Headcount):
        reserve = "" if value.reserve is None else f" (+{value.reserve})"
        return value.raw + reserve
    if isinstance(value, PersonKind):
        return value.value
    if isinstance(value, tuple):
        return ",".join(item.label() if isinstance(item, WorkPlace) else _text(item) for item in value)
    return str(value)


def changes_between(old: Vacancy, new: Vacancy, *, who: str, when: dt.datetime) -> list[AuditRecord]:
    """One record per field whose value differs."""
    records = []
    for item in dataclasses.fields(Vacancy):
        if item.name in _SKIPPED:
            continue
        before, after = getattr(old, item.name), getattr(new, item.name)
        if before != after:
            records.append(
                AuditRecord(
                    work_id=new.work_id,
                    who=who,
                    when=when,
                    field=item.name,
                    old=audit_value(item.name, before),
                    new=audit_value(item.name, after),
                )
            )
    return records
