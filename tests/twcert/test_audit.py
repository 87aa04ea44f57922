"""Audit events: the logged dict, and no work for a logger that would drop the event."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from twcert.audit import AuditEvent, LoggingAuditSink

WHEN = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _event(outcome: str = "success") -> AuditEvent:
    return AuditEvent(
        "login", WHEN, outcome, family="MOICA", account="wang.xm", card_serial="TP*****89", reason=None
    )


def test_as_dict_lists_the_set_fields_with_the_time_as_text() -> None:
    assert _event().as_dict() == {
        "event": "login",
        "occurred_at": "2026-06-01T09:00:00+00:00",
        "outcome": "success",
        "family": "MOICA",
        "account": "wang.xm",
        "card_serial": "TP*****89",
    }


def test_as_dict_has_every_field_when_all_are_set() -> None:
    values = {name: f"v-{name}" for name in AuditEvent.__dataclass_fields__ if name != "occurred_at"}
    event = AuditEvent(**{**values, "occurred_at": WHEN})
    assert event.as_dict() == {**values, "occurred_at": WHEN.isoformat()}


class _Counting(AuditEvent):
    __slots__ = ()
    built = [0]

    def as_dict(self) -> dict[str, object]:
        self.built[0] += 1
        return super().as_dict()


@pytest.mark.parametrize(("outcome", "level"), [("success", logging.INFO), ("failure", logging.WARNING)])
def test_a_logger_that_drops_the_level_gets_nothing_built(
    outcome: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("twcert.test_audit")
    sink = LoggingAuditSink(logger)
    event = _Counting("login", WHEN, outcome)
    _Counting.built[0] = 0
    with caplog.at_level(level + 10, logger="twcert.test_audit"):
        sink.emit(event)
    assert caplog.records == []
    assert _Counting.built[0] == 0
    with caplog.at_level(level, logger="twcert.test_audit"):
        sink.emit(event)
    assert [r.levelno for r in caplog.records] == [level]
    assert caplog.records[0].twcert_event == {  # type: ignore[attr-defined]
        "event": "login",
        "occurred_at": WHEN.isoformat(),
        "outcome": outcome,
    }
    assert _Counting.built[0] == 1
