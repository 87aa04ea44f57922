"""Importing the DGPA open-data XML: rows per second and peak memory.

    python benchmarks/vacancy_import.py [--rows 100000] [--text-scale 20] [--snapshot] [--postgres URL | --no-postgres] [--only-postgres]

Writes a feed file of generated vacancies (``--text-scale 20`` gives about 3.2 KB a row; the real
feed runs at 2.4 KB (2016) to 3 KB (2026) a row), then runs each phase in a fresh interpreter and
reports wall and CPU rows/s and the child's peak RSS:

- ``baseline``: ``xml.etree.ElementTree.iterparse`` turning each ``<ROW>`` into a dict (no model);
- ``read``: :class:`twcert_vacancy.DgpaFeedReader` (what ``read_dgpa_xml`` does, without keeping rows);
- ``import …``: :func:`twcert_vacancy.feedimport.import_feed` into SQLite / PostgreSQL, in one
  process (``--no-parallel``) and with the feed read in a worker process (what ``twcert vacancy
  import`` does for files of 32 MB and more). Wall time includes the worker's start and the
  commit; for the parallel runs each process's CPU per row is printed too (the writer is this
  process, the reading worker its child).
- ``write into PostgreSQL …``: the writing side alone: the feed's rows, read and prepared before
  the clock starts, through ``SqlVacancyRepository.import_prepared`` with ``COPY`` (the default)
  and with ``copy=False`` (the row-by-row ``INSERT`` path), in one transaction, commit included.

``--only-postgres`` runs only the PostgreSQL phases (and no baseline).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vacancy_data import generate

from twcert_vacancy import Actor, DgpaFeedReader, RocDate, SqlVacancyRepository, Vacancy, write_dgpa_xml
from twcert_vacancy._sqlrows import prepare
from twcert_vacancy.feedimport import import_feed

BATCH = 1000
ANNOUNCED = RocDate(115, 1, 1)


def write_feed(path: Path, rows: int, text_scale: int, snapshot: bool = False) -> None:
    """Stream a feed file to disk in batches (the whole file is never built in memory)."""
    with path.open("wb") as out:
        out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<ROOT><ANNOUNCE_DATE>1150101</ANNOUNCE_DATE>')
        batch: list[Vacancy] = []
        day = ANNOUNCED.to_date() if snapshot else None
        for vacancy in generate(rows, text_scale=text_scale, snapshot=day):
            batch.append(vacancy)
            if len(batch) == BATCH:
                out.write(_rows(batch))
                batch = []
        if batch:
            out.write(_rows(batch))
        out.write(b"\n</ROOT>\n")


def _rows(batch: list[Vacancy]) -> bytes:
    document = write_dgpa_xml(batch, RocDate(115, 1, 1), include_contact=True)
    return document[document.index(b"<ROW>") - 1 : document.rindex(b"</ROW>") + len(b"</ROW>")]


def _phase(name: str, path: Path, db: str | None, schema: str | None) -> dict[str, float]:
    prepared = []
    if name.startswith("write-"):  # the writing side alone: rows read and prepared beforehand
        prepared = [prepare(item, False) for item in DgpaFeedReader(path) if isinstance(item, Vacancy)]
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    rows = 0
    if name.startswith("write-"):
        options = {"copy": False} if name.endswith("-insert") else {}
        repository = SqlVacancyRepository(db, schema=schema, **options)
        rows = repository.import_prepared(
            iter(prepared), Actor("benchmark"), at=dt.datetime.now(dt.UTC)
        ).added
        repository.close()
    elif name == "baseline":
        for _event, element in ET.iterparse(path):
            if element.tag == "ROW":
                _fields = {child.tag: child.text for child in element}
                element.clear()
                rows += 1
    elif name == "read":
        for item in DgpaFeedReader(path):
            rows += isinstance(item, Vacancy)
    else:
        repository = SqlVacancyRepository(db, schema=schema)
        parallel = name.endswith("-parallel")
        done = import_feed(
            repository, path, Actor("benchmark"), at=dt.datetime.now(dt.UTC), parallel=parallel
        )
        rows = done.report.added
        repository.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the reading worker, if any
    return {
        "rows": rows,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "worker_cpu": children.ru_utime + children.ru_stime,
        "start_rss_kb": start_rss,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _run_child(name: str, path: Path, db: str | None = None, schema: str | None = None) -> dict[str, float]:
    command = [sys.executable, __file__, "--phase", name, "--file", str(path)]
    if db:
        command += ["--db", db]
    if schema:
        command += ["--schema", schema]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def _report(label: str, result: dict[str, float], size: int) -> None:
    rows = result["rows"]
    print(
        f"  {label:<34} {rows / result['wall']:>9,.0f} rows/s wall  {rows / result['cpu']:>9,.0f} rows/s CPU  "
        f"{size / result['wall'] / 1e6:6.1f} MB/s  peak RSS {result['peak_rss_kb'] / 1024:6.1f} MiB "
        f"(interpreter + imports {result['start_rss_kb'] / 1024:.1f} MiB)"
    )
    if result.get("worker_cpu"):
        # Per row: what each process spent, against the wall time; the slower one bounds it.
        print(
            f"  {'':<34} per row: writer {result['cpu'] / rows * 1e6:.1f} µs CPU, reading worker "
            f"{result['worker_cpu'] / rows * 1e6:.1f} µs CPU, wall {result['wall'] / rows * 1e6:.1f} µs"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--text-scale", type=int, default=20)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="every row online on the announce date, as in a real feed file",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-postgres", action="store_true", help="run the PostgreSQL phases only")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, Path(args.file), args.db, args.schema)))
        return 0

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.xml"
        start = time.perf_counter()
        write_feed(path, args.rows, args.text_scale, args.snapshot)
        size = path.stat().st_size
        print(
            f"feed file{' (snapshot: all online on the announce date)' if args.snapshot else ''}: {args.rows:,} rows, {size / 1e6:,.0f} MB ({size / args.rows:,.0f} bytes a row), "
            f"written in {time.perf_counter() - start:.1f} s"
        )
        for _repeat in range(0 if args.only_postgres else 2):
            _report("baseline: ET.iterparse to dicts", _run_child("baseline", path), size)
            _report("read: DgpaFeedReader", _run_child("read", path), size)
        for mode in () if args.only_postgres else ("", "-parallel"):
            sqlite_url = f"sqlite:///{Path(folder) / f'import{mode}.sqlite3'}"
            label = "import into SQLite" + (", parallel read" if mode else "")
            _report(label, _run_child(f"import-sqlite{mode}", path, sqlite_url), size)
        if not args.no_postgres:
            import sqlalchemy as sa

            engine = sa.create_engine(args.postgres)
            phases = {
                "import-postgresql": "import into PostgreSQL",
                "import-postgresql-parallel": "import into PostgreSQL, parallel read",
                "write-postgresql": "write into PostgreSQL, COPY",
                "write-postgresql-insert": "write into PostgreSQL, INSERT",
            }
            for phase, label in phases.items():
                schema = f"bench_{uuid.uuid4().hex[:10]}"
                with engine.begin() as connection:
                    connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                try:
                    _report(label, _run_child(phase, path, args.postgres, schema), size)
                except subprocess.CalledProcessError as error:  # e.g. an older twcert_vacancy
                    print(f"  {label:<34} failed: {error.stderr.strip().splitlines()[-1]}")
                finally:
                    with engine.begin() as connection:
                        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
