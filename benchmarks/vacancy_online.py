"""online() on 1M generated vacancies: county + kind filter, a page of 15, SQLite and PostgreSQL.

    python benchmarks/vacancy_online.py [--rows 1000000] [--queries 300] [--postgres URL | --no-postgres]

Prints, per backend: load time, then the median / p95 / max of online() (count + page), next to
the same-run baselines: the same filter as plain SQL on the vacancies table (no places index,
county matched in the denormalised column) and a Python scan over the vacancies in memory.
PostgreSQL runs in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vacancy_data import generate, sample_queries

from twcert_vacancy import Actor, OnlineQuery, SqlVacancyRepository, Vacancy

IMPORTER = Actor(principal_id="benchmark")
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _timed(function: Callable[[], object], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def _summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"  {name:<44} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms   max {ms[-1]:8.2f} ms"


def _plain_sql(repository: SqlVacancyRepository) -> Callable[[dt.date, int, str], tuple[int, list[str]]]:
    """The same question asked of the vacancies table alone (no places table, no span bound)."""
    v = repository.vacancies

    def run(day: dt.date, county: int, kind: str) -> tuple[int, list[str]]:
        where = (
            v.c.date_from <= day,
            v.c.date_to >= day,
            v.c.person_kind == kind,
            v.c.work_places.contains(f",{county},"),
            v.c.withdrawn_at.is_(None),
        )
        with repository.engine.connect() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(v).where(*where)).scalar_one()
            ids = connection.execute(
                sa.select(v.c.work_id)
                .where(*where)
                .order_by(v.c.date_from.desc(), v.c.work_id.desc())
                .limit(15)
            ).all()
        return int(total), [row[0] for row in ids]

    return run


def _python_scan(vacancies: list[Vacancy]) -> Callable[[dt.date, int, str], tuple[int, list[str]]]:
    def run(day: dt.date, county: int, kind: str) -> tuple[int, list[str]]:
        found = [
            v
            for v in vacancies
            if v.period.start <= day <= v.period.end
            and v.person_kind.value == kind
            and any(p.dgpa_code == county for p in v.work_places)
        ]
        found.sort(key=lambda v: (v.period.start, v.work_id), reverse=True)
        return len(found), [v.work_id for v in found[:15]]

    return run


def bench(
    name: str, repository: SqlVacancyRepository, rows: int, queries: int, vacancies: list[Vacancy]
) -> None:
    print(f"\n{name}: {repository.engine.url.render_as_string(hide_password=True)}")
    start = time.perf_counter()
    report = repository.import_many(vacancies, IMPORTER, at=AT)
    load = time.perf_counter() - start
    print(
        f"  loaded {report.added:,} vacancies in {load:.1f} s ({report.added / load:,.0f} rows/s, import_many)"
    )
    # Statistics (and on PostgreSQL the visibility map for index-only scans), as autovacuum would
    # leave a table that has been loaded and left alone for a while.
    if repository.engine.dialect.name == "postgresql":
        preparer = repository.engine.dialect.identifier_preparer
        tables = ", ".join(preparer.format_table(t) for t in (repository.vacancies, repository.places))
        with repository.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM ANALYZE {tables}")
    else:
        with repository.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    sample = sample_queries(queries)
    # Warm the caches the way a running server has them warm.
    for day, county, kind in sample[:20]:
        repository.online(OnlineQuery.parse(day, county=county, person_kind=kind))
    timings, totals = [], []
    plain = _plain_sql(repository)
    for day, county, kind in sample:
        start = time.perf_counter()
        page = repository.online(OnlineQuery.parse(day, county=county, person_kind=kind))
        timings.append(time.perf_counter() - start)
        totals.append(page.total)
        expected_total, expected_ids = plain(day, county, kind)
        assert (page.total, [v.work_id for v in page.items]) == (expected_total, expected_ids), (
            day,
            county,
            kind,
        )
    print(
        f"  {queries} queries: matches per query median {statistics.median(totals):.0f}, max {max(totals)};"
        " every page checked against the plain SQL answer"
    )
    print(_summary("online(OnlineQuery.parse(at, county=, person_kind=))", timings))
    baseline = []
    for day, county, kind in sample[:50]:
        start = time.perf_counter()
        plain(day, county, kind)
        baseline.append(time.perf_counter() - start)
    print(_summary("baseline: plain SQL on vacancies (50 queries)", baseline))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    vacancies = list(generate(args.rows))
    online_now = sum(v.period.contains(dt.date(2025, 6, 1)) for v in vacancies)
    print(
        f"generated {len(vacancies):,} vacancies in {time.perf_counter() - start:.1f} s ({online_now:,} online on 2025-06-01)"
    )

    scan = _python_scan(vacancies)
    python_times = []
    for day, county, kind in sample_queries(10):
        begin = time.perf_counter()
        scan(day, county, kind)
        python_times.append(time.perf_counter() - begin)
    print(_summary(f"baseline: Python scan of {len(vacancies):,} objects (10 queries)", python_times))

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            repository = SqlVacancyRepository(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
            try:
                bench("SQLite", repository, args.rows, args.queries, vacancies)
                size = (Path(folder) / "bench.sqlite3").stat().st_size
                print(f"  database file {size / 1e6:,.0f} MB")
            finally:
                repository.close()
    if not args.no_postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(args.postgres)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            repository = SqlVacancyRepository(args.postgres, schema=schema)
            try:
                bench("PostgreSQL", repository, args.rows, args.queries, vacancies)
            finally:
                repository.close()
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
