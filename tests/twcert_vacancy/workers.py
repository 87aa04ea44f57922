"""Worker processes for the concurrency tests (importable by spawned interpreters)."""

from __future__ import annotations

import datetime as dt

from twcert_vacancy import Actor, Headcount, SqlVacancyRepository
from twcert_vacancy.errors import VacancyConflictError

AT = dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.UTC)


def increment_headcount(url: str, schema: str | None, work_id: str, agency: str, times: int, who: str) -> int:
    """Read-modify-write ``times`` increments, retrying on a stale revision; returns the conflicts met."""
    repository = SqlVacancyRepository(url, schema=schema, create=False)
    actor = Actor(principal_id=who, agency_code=agency)
    conflicts = 0
    try:
        for _ in range(times):
            while True:
                current = repository.get(work_id)
                regular = current.headcount.regular or 0
                try:
                    repository.update(
                        work_id,
                        actor,
                        {"headcount": Headcount.of(regular + 1)},
                        at=AT,
                        expected_revision=current.revision,
                    )
                    break
                except VacancyConflictError:
                    conflicts += 1
    finally:
        repository.close()
    return conflicts


def open_repository(url: str, schema: str | None, barrier: object, results: object) -> None:
    """Open (and so create) the repository as soon as every worker is ready; report the outcome."""
    barrier.wait()  # type: ignore[attr-defined]
    try:
        SqlVacancyRepository(url, schema=schema).close()
        results.put("ok")  # type: ignore[attr-defined]
    except BaseException as error:  # reported to the test, which names it
        results.put(f"{type(error).__name__}: {error}"[:300])  # type: ignore[attr-defined]
