"""``twcert vacancy``: import the DGPA feed into a database, list online vacancies, export them.

Registered by :mod:`twcert.cli`. Bad input prints one line on stderr and exits 2; the tool never
shows a traceback for anything a user can type. Every command names its database with ``--db``
(none is made up), and the commands that only read it refuse one that does not exist. This
module imports without SQLAlchemy: a command that needs it says which extra to install. Long
steps draw a progress bar on standard error when it is a terminal (not with ``--quiet``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twcert.errors import TwcertError
from twcert.progress import ProgressBar, progress

from .errors import FeedImportWorkerError, VacancyError, VacancyExtraMissingError, VacancyStorageError
from .feed import write_dgpa_xml
from .feedimport import PARALLEL_FROM_BYTES, import_feed
from .model import TAIPEI, Actor, Vacancy, taipei_date
from .publish import atom_feed, job_postings_jsonld
from .repository import MAX_PER_PAGE, SORTS, OnlineQuery
from .rocdate import RocDate, parse_roc_or_iso

if TYPE_CHECKING:
    from .sqlstore import SqlVacancyRepository

__all__ = ["register"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

_IMPORTER = Actor(principal_id="twcert-vacancy-import")
_FORMATS = ("dgpa-xml", "jsonld", "atom")


def _day(text: str) -> dt.date:
    try:
        return parse_roc_or_iso(text)
    except VacancyError as exc:
        raise argparse.ArgumentTypeError(f"not a date (2025-03-01, 1140301 or 114/03/01): {text!r}") from exc


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def _say(error: TwcertError) -> None:
    detail = " ".join(error.detail.split())[:200]
    suffix = f" ({detail})" if detail else ""
    print(f"twcert vacancy: {error.code}: {error.message_english}{suffix}", file=sys.stderr)


def _exit_code(error: TwcertError) -> int:
    failed = VacancyStorageError | FeedImportWorkerError | VacancyExtraMissingError
    return EXIT_FAILURE if isinstance(error, failed) else EXIT_BAD_INPUT


def _repository(args: argparse.Namespace, *, existing: bool = False) -> SqlVacancyRepository:
    """The database of ``--db``; with ``existing``, one that is already there (reading commands)."""
    # SQLAlchemy is imported here; without it this raises VacancyExtraMissingError naming the extra.
    from . import SqlVacancyRepository

    if existing:
        return SqlVacancyRepository.existing(args.db, schema=args.schema)
    return SqlVacancyRepository(args.db, schema=args.schema)


def _now() -> dt.datetime:
    # The CLI is the edge where the wall clock is read; everything below takes it as an argument.
    return dt.datetime.now(TAIPEI)


def _cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"twcert vacancy: cannot read {args.file}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        repository = _repository(args)
        try:
            with progress(
                f"importing {path.name}", total=path.stat().st_size, in_bytes=True, quiet=args.quiet
            ) as bar:

                def advance(rows: int, read: int) -> None:
                    bar.reach(read)
                    bar.note(f"{rows:,} rows")

                done = import_feed(
                    repository, path, _IMPORTER, at=_now(), parallel=args.parallel, progress=advance
                )
        finally:
            repository.close()
    except TwcertError as exc:
        _say(exc)
        return _exit_code(exc)
    for problem in done.problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    announce = done.announce_date.slashed() if done.announce_date else "-"
    report = done.report
    print(
        f"{args.file}: {done.rows} rows (announced {announce}): {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {len(done.problems)} not loaded"
    )
    return EXIT_BAD_INPUT if done.problems else EXIT_OK


def _query(args: argparse.Namespace, day: dt.date, **paging: Any) -> OnlineQuery:
    return OnlineQuery.parse(
        day,
        county=args.county,
        person_kind=args.kind,
        agency_code=args.agency,
        keyword=args.keyword,
        rank_classes=args.type,
        **paging,
    )


def _summary(vacancy: Vacancy) -> dict[str, Any]:
    return {
        "work_id": vacancy.work_id,
        "date_from": RocDate.from_date(vacancy.period.start).slashed(),
        "date_to": RocDate.from_date(vacancy.period.end).slashed(),
        "agency_code": vacancy.agency_code,
        "agency_name": vacancy.agency_name,
        "title": vacancy.title,
        "person_kind": vacancy.person_kind.value,
        "headcount": vacancy.headcount.raw,
        "work_places": [place.name for place in vacancy.work_places],
    }


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _print_table(records: list[dict[str, Any]]) -> None:
    columns = (
        ("WORK_ID", "work_id"),
        ("FROM", "date_from"),
        ("TO", "date_to"),
        ("AGENCY", "agency_name"),
        ("TITLE", "title"),
        ("KIND", "person_kind"),
        ("PLACES", "work_places"),
    )
    rows = [[header for header, _ in columns]]
    for record in records:
        rows.append(
            ["、".join(record[k]) if isinstance(record[k], list) else str(record[k])[:30] for _, k in columns]
        )
    widths = [max(_width(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())


def _cmd_online(args: argparse.Namespace) -> int:
    day = args.at or taipei_date(_now())
    try:
        query = _query(args, day, sort=args.sort, page=args.page, per_page=args.per_page)
        repository = _repository(args, existing=True)
        try:
            page = repository.online(query)
        finally:
            repository.close()
    except TwcertError as exc:
        _say(exc)
        return _exit_code(exc)
    records = [_summary(v) for v in page.items]
    if args.json:
        json.dump(
            {"at": day.isoformat(), "total": page.total, "page": page.page, "items": records},
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return EXIT_OK
    if records:
        _print_table(records)
    print(f"{page.total} online on {RocDate.from_date(day).slashed()} (page {page.page} of {page.pages})")
    return EXIT_OK


def _all_online(repository: SqlVacancyRepository, query: OnlineQuery, bar: ProgressBar) -> list[Vacancy]:
    found: list[Vacancy] = []
    while True:
        result = repository.online(query)
        if query.page == 1:
            bar.total(result.total)
        found.extend(result.items)
        bar.advance(len(result.items))
        if query.page >= result.pages:
            return found
        query = dataclasses.replace(query, page=query.page + 1)


def _cmd_export(args: argparse.Namespace) -> int:
    day = args.at or taipei_date(_now())
    try:
        query = _query(args, day, per_page=MAX_PER_PAGE)
        repository = _repository(args, existing=True)
        try:
            with progress("reading vacancies", unit=" vacancies", quiet=args.quiet) as bar:
                vacancies = _all_online(repository, query, bar)
        finally:
            repository.close()
    except TwcertError as exc:
        _say(exc)
        return _exit_code(exc)
    if args.format == "dgpa-xml":
        data = write_dgpa_xml(vacancies, RocDate.from_date(day), include_contact=args.include_contact)
    elif args.format == "jsonld":
        data = (job_postings_jsonld(vacancies, include_contact=args.include_contact) + "\n").encode("utf-8")
    else:
        at = dt.datetime.combine(day, dt.time(), tzinfo=TAIPEI)
        data = atom_feed(vacancies, at=at, include_contact=args.include_contact)
    if args.out and args.out != "-":
        try:
            Path(args.out).write_bytes(data)
        except OSError as exc:
            print(f"twcert vacancy: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"{len(vacancies)} vacancies written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _add_db(parser: argparse.ArgumentParser, *, creates: bool = False) -> None:
    made = "created if missing" if creates else "must exist"
    parser.add_argument(
        "--db",
        required=True,
        metavar="URL",
        help=f"SQLAlchemy database URL ({made}), e.g. sqlite:///vacancies.sqlite3 or "
        "postgresql+psycopg://user@host/db",
    )
    parser.add_argument("--schema", help="PostgreSQL schema holding the tables")


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (none is drawn unless stderr is a terminal)",
    )


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at", type=_day, help="the day (2025-03-01, 1140301 or 114/03/01; default: today in Taipei)"
    )
    parser.add_argument("--county", help="work place: 臺北市/台北市, DGPA code (10) or ISO code (TW-TPE)")
    parser.add_argument("--kind", help="人員區分, e.g. 一般人員")
    parser.add_argument("--agency", help="agency code (機關代碼)")
    parser.add_argument("--keyword", help="text in the title or agency name")
    parser.add_argument("--type", help="官等: 簡任, 薦任, 委任 or 其他 (comma-separated: any of them)")


def register(subparsers: Any) -> None:
    """Add ``vacancy import|online|export`` to the ``twcert`` command."""
    vacancy: argparse.ArgumentParser = subparsers.add_parser(
        "vacancy", help="事求人 vacancies: import the DGPA feed, list online vacancies, export them"
    )
    actions = vacancy.add_subparsers(dest="vacancy_action", metavar="ACTION")

    importer = actions.add_parser("import", help="load a DGPA open-data XML file into the database")
    importer.add_argument("file", help="the feed file (WANTF00003.aspx?GETJOB=Y download)")
    importer.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the feed in a second process while this one writes (default: for files of "
        f"{PARALLEL_FROM_BYTES >> 20} MB and more)",
    )
    _add_db(importer, creates=True)
    _add_quiet(importer)
    importer.set_defaults(handler=_cmd_import)

    online = actions.add_parser("online", help="vacancies online on a day")
    _add_filters(online)
    online.add_argument("--sort", choices=SORTS, default="date_from_desc")
    online.add_argument("--page", type=_positive, default=1)
    online.add_argument("--per-page", type=_positive, default=15)
    online.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_db(online)
    online.set_defaults(handler=_cmd_online)

    export = actions.add_parser("export", help="write the vacancies online on a day as a feed")
    export.add_argument("--format", choices=_FORMATS, required=True)
    export.add_argument("--out", help="output file (default: standard output)")
    export.add_argument(
        "--include-contact",
        action="store_true",
        help="also export 聯絡方式 and 聯絡E-Mail (personal data; off by default)",
    )
    _add_filters(export)
    _add_db(export)
    _add_quiet(export)
    export.set_defaults(handler=_cmd_export)

    def _usage(_args: argparse.Namespace) -> int:
        vacancy.print_help(sys.stderr)
        return EXIT_BAD_INPUT

    vacancy.set_defaults(handler=_usage)
