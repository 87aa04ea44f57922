"""import_feed: one transaction, bad rows reported, and the same result with the feed read in a worker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from twcert_vacancy import (
    Actor,
    ImportReport,
    MemoryVacancyRepository,
    OnlineQuery,
    RocDate,
    SqlVacancyRepository,
    Vacancy,
    feedimport,
    import_feed,
    read_dgpa_xml,
)
from twcert_vacancy.errors import (
    FeedImportWorkerError,
    FeedMalformedError,
    FeedUnsafeError,
    VacancyNotOwnerError,
)
from twcert_vacancy.feedimport import PARALLEL_FROM_BYTES

from .conftest import AGENCY, OTHER_AGENCY
from .test_feed import BILLION_LAUGHS, QUIRKS, _good

AT = dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.UTC)
SYSTEM = Actor("feed-importer")


def _feed(rows: list[str], announce: str = "1140301") -> bytes:
    return (f"<ROOT><ANNOUNCE_DATE>{announce}</ANNOUNCE_DATE>" + "".join(rows) + "</ROOT>").encode()


# Good rows, a bad one (DATE_TO not a date) and a repeated work_id: what a real day's file can hold.
MIXED = _feed([_good(n) for n in range(1, 40)] + [_good(40, DATE_TO="1149999"), _good(1)])


def _contents(repository: Any) -> list[Vacancy]:
    return sorted(
        repository.online(OnlineQuery(dt.date(2025, 3, 5), per_page=100)).items, key=lambda v: v.work_id
    )


def _sql(url: str, schema: str | None = None) -> SqlVacancyRepository:
    return SqlVacancyRepository(url, schema=schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Two empty SQL repositories of one kind: one for each way of importing."""
    if request.param == "sqlite":
        pair = [_sql(f"sqlite:///{tmp_path / f'{name}.sqlite3'}") for name in ("one", "two")]
    else:
        url, schema = request.getfixturevalue("pg_schema")
        pair = [SqlVacancyRepository(url, schema=schema, prefix=prefix) for prefix in ("one_", "two_")]
    yield pair
    for repository in pair:
        repository.close()


@pytest.fixture(params=["fork", "spawn"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of starting the worker (fork is chosen only in single-threaded processes)."""
    monkeypatch.setattr(feedimport, "_start_method", lambda: request.param)
    return str(request.param)


def test_the_worker_is_forked_only_without_other_threads() -> None:
    assert feedimport._start_method() == ("fork" if threading.active_count() == 1 else "spawn")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert feedimport._start_method() == "spawn"
    finally:
        stop.set()
        other.join()


def test_parallel_and_single_process_imports_store_the_same(sql_pair: Any, start_method: str) -> None:
    single, parallel = sql_pair
    first = import_feed(single, MIXED, SYSTEM, at=AT, parallel=False)
    second = import_feed(parallel, MIXED, SYSTEM, at=AT, parallel=True)
    expected = read_dgpa_xml(MIXED)
    assert first == second
    assert first.report == ImportReport(added=39)
    assert first.rows == 41 and first.announce_date == RocDate(114, 3, 1)
    assert first.problems == expected.problems and [p.row for p in first.problems] == [40, 41]
    stored = _contents(parallel)
    assert stored == _contents(single)
    assert [dataclasses.replace(v, revision=0) for v in stored] == sorted(
        expected.vacancies, key=lambda v: v.work_id
    )
    assert {r.field for v in stored for r in parallel.history(v.work_id)} == {"*created"}


def test_every_quirk_survives_a_parallel_import(sql_pair: Any) -> None:
    repository = sql_pair[0]
    import_feed(repository, QUIRKS, SYSTEM, at=AT, parallel=True)
    for vacancy in read_dgpa_xml(QUIRKS).vacancies:
        assert dataclasses.replace(repository.get(vacancy.work_id), revision=0) == vacancy


def test_reimport_counts_unchanged_and_updated_rows(sql_pair: Any) -> None:
    repository = sql_pair[0]
    import_feed(repository, MIXED, SYSTEM, at=AT, parallel=True)
    again = import_feed(repository, MIXED, SYSTEM, at=AT, parallel=True)
    assert again.report == ImportReport(unchanged=39)
    changed = _feed([_good(n, TITLE="技士", IS_HANDICAP="Y") if n == 3 else _good(n) for n in range(1, 40)])
    later = import_feed(repository, changed, SYSTEM, at=AT + dt.timedelta(days=1), parallel=True)
    assert later.report == ImportReport(updated=1, unchanged=38)
    vacancy = repository.get("1140300003")
    assert (vacancy.title, vacancy.disability_eligible, vacancy.revision) == ("技士", True, 2)
    assert {r.field for r in repository.history("1140300003")} == {"*created", "title", "disability_eligible"}


def test_path_sources_and_the_size_rule(tmp_path: Path, sql_pair: Any) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(MIXED)
    assert import_feed(sql_pair[0], path, SYSTEM, at=AT, parallel=None).report.added == 39
    assert import_feed(sql_pair[1], str(path), SYSTEM, at=AT, parallel=True).report.added == 39
    assert len(MIXED) < PARALLEL_FROM_BYTES  # parallel=None chose the single process here


@pytest.mark.parametrize("parallel", [False, True])
def test_a_broken_file_imports_nothing(tmp_path: Path, parallel: bool, start_method: str) -> None:
    repository = _sql(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    truncated = MIXED[: len(MIXED) - 200]  # the last rows are cut off: the file is not well-formed
    with pytest.raises(FeedMalformedError) as info:
        import_feed(repository, truncated, SYSTEM, at=AT, parallel=parallel)
    assert info.value.code == "VACANCY_FEED_MALFORMED" and "not well-formed" in info.value.detail
    with pytest.raises(FeedUnsafeError):
        import_feed(repository, BILLION_LAUGHS, SYSTEM, at=AT, parallel=parallel)
    with pytest.raises(FeedMalformedError):
        import_feed(repository, tmp_path / "missing.xml", SYSTEM, at=AT, parallel=parallel)
    assert len(repository) == 0  # the rows before the damage were rolled back
    repository.close()


@pytest.mark.parametrize("parallel", [False, True])
def test_an_agency_imports_only_its_own_vacancies(tmp_path: Path, parallel: bool) -> None:
    repository = _sql(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    with pytest.raises(VacancyNotOwnerError):
        import_feed(repository, MIXED, Actor("officer", OTHER_AGENCY), at=AT, parallel=parallel)
    assert len(repository) == 0
    assert (
        import_feed(repository, MIXED, Actor("officer", AGENCY), at=AT, parallel=parallel).report.added == 39
    )
    repository.close()


def test_a_dead_worker_fails_the_import_and_nothing_is_kept(tmp_path: Path, start_method: str) -> None:
    repository = _sql(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    big = _feed([_good(n) for n in range(1, 60_000)])  # takes the worker seconds: it dies long before

    def kill_the_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [p for p in multiprocessing.active_children() if p.name == "twcert-vacancy-feed-reader"]
            if workers:
                workers[0].kill()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    try:
        with pytest.raises(FeedImportWorkerError) as info:
            import_feed(repository, big, SYSTEM, at=AT, parallel=True)
    finally:
        killer.join()
    assert info.value.code == "VACANCY_IMPORT_WORKER_FAILED" and "exit code -9" in info.value.detail
    assert len(repository) == 0
    repository.close()


def test_other_repositories_and_file_objects_import_in_this_process(tmp_path: Path) -> None:
    memory = MemoryVacancyRepository()
    done = import_feed(memory, MIXED, SYSTEM, at=AT, parallel=True)
    assert done.report.added == 39 and len(done.problems) == 2
    path = tmp_path / "feed.xml"
    path.write_bytes(MIXED)
    repository = _sql(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    with path.open("rb") as stream:
        assert import_feed(repository, stream, SYSTEM, at=AT, parallel=True).report.added == 39
    assert _contents(repository) == _contents(memory)
    repository.close()


def test_when_the_import_fails_first_the_worker_is_stopped(tmp_path: Path, start_method: str) -> None:
    repository = _sql(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    big = _feed([_good(n) for n in range(1, 60_000)])
    with pytest.raises(VacancyNotOwnerError):  # the first row already: the worker has most still to read
        import_feed(repository, big, Actor("officer", OTHER_AGENCY), at=AT, parallel=True)
    assert [p for p in multiprocessing.active_children() if p.name == "twcert-vacancy-feed-reader"] == []
    assert len(repository) == 0
    repository.close()


@pytest.mark.parametrize(("backend", "parallel"), [("memory", False), ("sqlite", False), ("sqlite", True)])
def test_progress_follows_the_file(tmp_path: Path, backend: str, parallel: bool) -> None:
    rows = 2500  # about 1 MB: many reads of the file, and three batches for a worker
    feed = _feed([_good(n) for n in range(1, rows + 1)])
    repository: Any = (
        MemoryVacancyRepository() if backend == "memory" else _sql(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    )
    seen: list[tuple[int, int]] = []
    done = import_feed(
        repository, feed, SYSTEM, at=AT, parallel=parallel, progress=lambda r, b: seen.append((r, b))
    )
    assert done.report.added == rows
    assert len(seen) >= 3  # it moves while the import runs, not only at the end
    assert seen == sorted(seen) and seen[0][1] < len(feed)  # forward only, from the start
    assert seen[-1] == (rows, len(feed))  # and ends on the whole file


def _table_rows(repository: SqlVacancyRepository) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of the three tables, in a stable order (the audit rows without their id)."""
    import sqlalchemy as sa

    tables = {"vacancies": repository.vacancies, "places": repository.places, "audit": repository.audit}
    found = {}
    with repository.engine.connect() as connection:
        for name, table in tables.items():
            columns = [c for c in table.c if c.name != "id"]
            found[name] = [tuple(row) for row in connection.execute(sa.select(*columns).order_by(*columns))]
    return found


def test_copy_and_row_by_row_imports_store_the_same(
    pg_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schema = pg_schema
    copied = SqlVacancyRepository(url, schema=schema, prefix="copy_")
    inserted = SqlVacancyRepository(url, schema=schema, prefix="insert_", copy=False)
    used: list[str] = []
    original = SqlVacancyRepository._copy

    def spy(self: SqlVacancyRepository, connection: Any, table: Any, *args: Any) -> None:
        used.append(f"{'copy' if self is copied else 'insert'}:{table.name}")
        original(self, connection, table, *args)

    monkeypatch.setattr(SqlVacancyRepository, "_copy", spy)
    # Long texts (TOASTed, compressed), every quirk of the format, bad and repeated rows.
    long_rows = [_good(500 + n, WORK_ITEM="辦理數位服務業務。" * 400) for n in range(60)]
    feeds = [QUIRKS, MIXED, _feed(long_rows)]
    try:
        for feed in feeds:
            assert import_feed(copied, feed, SYSTEM, at=AT) == import_feed(inserted, feed, SYSTEM, at=AT)
        # Again: the second import finds every row stored (unchanged), through either path.
        again = import_feed(copied, MIXED, SYSTEM, at=AT + dt.timedelta(hours=1))
        assert again == import_feed(inserted, MIXED, SYSTEM, at=AT + dt.timedelta(hours=1))
        assert again.report.unchanged == 39
        assert used and {u.split(":")[0] for u in used} == {"copy"}  # COPY wrote, for one of them only
        assert {u.split(":")[1] for u in used} == {
            "copy_vacancies",
            "copy_vacancy_places",
            "copy_vacancy_audit",
        }
        first, second = _table_rows(copied), _table_rows(inserted)
        assert len(first["vacancies"]) == 39 + 60 + len(read_dgpa_xml(QUIRKS).vacancies)
        assert first == second
        for vacancy in read_dgpa_xml(_feed(long_rows)).vacancies:
            assert dataclasses.replace(copied.get(vacancy.work_id), revision=0) == vacancy
        with copied.engine.connect() as connection:
            lz4 = connection.exec_driver_sql(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
            ).scalar()
            methods = connection.exec_driver_sql(
                f'SELECT DISTINCT pg_column_compression(duties) FROM "{schema}".copy_vacancies '
                "WHERE length(duties) > 2000"
            ).all()
        assert methods == [("lz4" if lz4 else "pglz",)]  # the import's long texts, compressed cheaply
    finally:
        copied.close()
        inserted.close()
