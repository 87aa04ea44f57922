"""The SQL repository (SQLAlchemy Core): SQLite by default (a file), PostgreSQL via psycopg.

Tables: ``vacancies`` (one row a vacancy, every field a column), ``vacancy_places`` (one row per
vacancy and work place, carrying copies of the columns ``online()`` filters and sorts on, so the
county + kind query is answered from one covering index) and ``vacancy_audit`` (append-only).

Why the query is fast: the window test ``date_from <= d <= date_to`` cannot use one B-tree range
for both ends, so the lower bound ``date_from >= d - longest_span`` is added (the longest span is
read from an index on ``span_days``); the index ``(dgpa_code, person_kind, date_from, work_id,
date_to, withdrawn_at)`` then yields both the page (newest first, stopping after 15, no sort step)
and the count without touching the table.

Concurrency: a change reads the row (``FOR UPDATE`` on PostgreSQL; SQLite write transactions
start with ``BEGIN IMMEDIATE``) and updates it only ``WHERE revision = <read revision>``, in the
same transaction as its audit records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from twcert.stores.sqlsetup import create_tables, enable_sqlite_wal

from ._sqlrows import (
    FLAG_FIELDS as _FLAG_FIELDS,
)
from ._sqlrows import (
    PLACE_COLUMNS,
    VACANCY_COLUMNS,
    PreparedVacancy,
    agency_of,
    driver_datetime,
    prepare,
    vacancy_from_mapping,
    vacancy_from_values,
)
from ._sqlrows import (
    TEXT_FIELDS as _TEXT_FIELDS,
)
from .audit import changes_between, logger
from .changes import (
    UpdateCheck,
    check_may_add,
    check_may_add_agency,
    created_record,
    created_record_of,
    prepare_update,
    prepare_withdraw,
    withdrawn_record,
)
from .errors import (
    VacancyDatabaseMissingError,
    VacancyExistsError,
    VacancyExtraMissingError,
    VacancyNotFoundError,
    VacancyStorageError,
)
from .model import AuditRecord, Vacancy, VacancyActor, aware, taipei_date
from .repository import ImportReport, OnlineQuery, Page, VacancyRepository

__all__ = ["DEFAULT_SQLITE_MMAP_BYTES", "DEFAULT_URL", "SqlVacancyRepository"]

#: ``PRAGMA mmap_size`` of SQLite repositories unless told otherwise.
DEFAULT_SQLITE_MMAP_BYTES: Final = 256 << 20
#: Where the repository lives when no URL is given: a SQLite file in the working directory (the
#: library's default; the ``twcert vacancy`` commands always ask for ``--db``).
DEFAULT_URL: Final = "sqlite:///twcert-vacancy.sqlite3"

_BATCH = 2000
# Drivers an extra of the distribution installs.
_DRIVER_EXTRAS: Final = {"psycopg": "postgres", "psycopg_binary": "postgres"}
_COPY_FROM = 50  # rows: below this an INSERT is as quick and keeps SQLAlchemy's error handling
_RETRIES = 8
_AUDIT_COLUMNS: Final = ("work_id", "who", "at", "field", "old", "new")


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware datetimes stored as naive UTC, so SQLite and PostgreSQL compare them alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return aware(value).astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def _tables(metadata: sa.MetaData, prefix: str) -> tuple[sa.Table, sa.Table, sa.Table]:
    vacancies = sa.Table(
        f"{prefix}vacancies",
        metadata,
        sa.Column("work_id", sa.String(20), primary_key=True),
        *(sa.Column(name, sa.Text, nullable=False, default="") for name in _TEXT_FIELDS),
        sa.Column("person_kind", sa.String(60), nullable=False),
        sa.Column("gender", sa.String(4), nullable=False),
        sa.Column("headcount_raw", sa.Text, nullable=False),
        sa.Column("headcount_regular", sa.Integer),
        sa.Column("headcount_reserve", sa.Integer),
        sa.Column("work_places", sa.String(200), nullable=False),
        sa.Column("rank_classes", sa.String(40), nullable=False),
        *(sa.Column(name, sa.Boolean) for name in _FLAG_FIELDS),
        sa.Column("date_from", sa.Date, nullable=False),
        sa.Column("date_to", sa.Date, nullable=False),
        sa.Column("span_days", sa.Integer, nullable=False),
        sa.Column("withdrawn_at", UtcDateTime),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Index(f"ix_{prefix}vacancies_window", "date_from", "work_id", "date_to", "withdrawn_at"),
        sa.Index(
            f"ix_{prefix}vacancies_kind_window",
            "person_kind",
            "date_from",
            "work_id",
            "date_to",
            "withdrawn_at",
        ),
        sa.Index(f"ix_{prefix}vacancies_agency", "agency_code", "date_from"),
        sa.Index(f"ix_{prefix}vacancies_span", "span_days"),
    )
    places = sa.Table(
        f"{prefix}vacancy_places",
        metadata,
        sa.Column(
            "work_id",
            sa.String(20),
            sa.ForeignKey(vacancies.c.work_id, ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dgpa_code", sa.Integer, primary_key=True),
        sa.Column("person_kind", sa.String(60), nullable=False),
        sa.Column("date_from", sa.Date, nullable=False),
        sa.Column("date_to", sa.Date, nullable=False),
        sa.Column("withdrawn_at", UtcDateTime),
        # work_id right after date_from: the index then gives the full ORDER BY (no sort step),
        # and date_to/withdrawn_at are still in it for the filter and the count.
        sa.Index(
            f"ix_{prefix}places_county_kind",
            "dgpa_code",
            "person_kind",
            "date_from",
            "work_id",
            "date_to",
            "withdrawn_at",
        ),
        sa.Index(f"ix_{prefix}places_county", "dgpa_code", "date_from", "work_id", "date_to", "withdrawn_at"),
    )
    audit = sa.Table(
        f"{prefix}vacancy_audit",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("work_id", sa.String(20), nullable=False, index=True),
        sa.Column("who", sa.Text, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("old", sa.Text, nullable=False),
        sa.Column("new", sa.Text, nullable=False),
    )
    return vacancies, places, audit


def _sqlite_setup(engine: Engine, mmap_bytes: int) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred
        # and would let two writers read the same revision and then deadlock on upgrade).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA cache_size = -65536")  # 64 MiB: index pages stay cached during imports
        # New files only (a no-op once the file has tables): rows of 3 KB fill 8 KB pages better,
        # which measured a quarter less insert and checkpoint time than 4 KB pages on imports.
        cursor.execute("PRAGMA page_size = 8192")
        # Pages read through a memory map instead of copied into the cache: a bulk import spent
        # about a fifth less CPU (benchmarks/vacancy_import.py). 0 turns it off.
        cursor.execute(f"PRAGMA mmap_size = {int(mmap_bytes)}")
        cursor.close()
        with contextlib.suppress(sqlite3.Error):  # read-only media: stay in the default journal mode
            enable_sqlite_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("twcert_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SqlVacancyRepository:
    """:class:`~twcert_vacancy.repository.VacancyRepository` on SQLAlchemy Core.

    :param url: SQLAlchemy URL; default :data:`DEFAULT_URL` (a SQLite file). PostgreSQL:
        ``postgresql+psycopg://user@127.0.0.1/db``.
    :param schema: PostgreSQL schema to use (must exist); lets several apps or test runs share a database.
    :param prefix: table-name prefix, for the same reason where schemas are not available.
    :param create: create the tables if missing.
    :param sqlite_mmap_bytes: SQLite only: how much of the file to read through a memory map
        (``PRAGMA mmap_size``; default 256 MiB, 0 for none). Turn it off where storage can fail
        under a running process (network file systems): a failed read of a mapped page ends the
        process with SIGBUS instead of raising an error.
    :param copy: PostgreSQL with psycopg only: write bulk inserts (imports) with ``COPY``; False
        sends them as ``INSERT`` rows (for a connection pooler or proxy that refuses ``COPY``).
        Both store the same rows.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        schema: str | None = None,
        prefix: str = "",
        create: bool = True,
        engine: Engine | None = None,
        sqlite_mmap_bytes: int = DEFAULT_SQLITE_MMAP_BYTES,
        copy: bool = True,
    ) -> None:
        try:
            # hide_parameters: SQL errors would otherwise carry the row, personal fields included.
            self.engine = engine or sa.create_engine(url or DEFAULT_URL, hide_parameters=True, future=True)
        except (exc.ArgumentError, exc.NoSuchModuleError, ValueError) as error:
            raise VacancyStorageError(f"bad database URL: {type(error).__name__}") from error
        except ModuleNotFoundError as error:  # the URL's driver is not installed
            driver = (error.name or "?").partition(".")[0]
            if driver in _DRIVER_EXTRAS:
                raise VacancyExtraMissingError(
                    f"driver {driver} missing", module=driver, extra=_DRIVER_EXTRAS[driver]
                ) from error
            raise VacancyStorageError(f"the database driver {driver} is not installed") from error
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine, sqlite_mmap_bytes)
        self._writer = self.engine.execution_options(twcert_write=True)
        self._insert_sql: dict[tuple[str, tuple[str, ...]], str] = {}
        self._exists_sql: dict[int, str] = {}
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._copy_ok = (
            copy and self.engine.dialect.name == "postgresql" and self.engine.dialect.driver == "psycopg"
        )
        self._copy_types: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self._lz4: bool | None = None  # whether the PostgreSQL server can compress with LZ4
        self.metadata = sa.MetaData(schema=schema)
        self.vacancies, self.places, self.audit = _tables(self.metadata, prefix)
        v = self.vacancies
        # Built once: SQLAlchemy then reuses the compiled form for every batch of an import.
        self._by_ids = sa.select(v).where(v.c.work_id.in_(sa.bindparam("ids", expanding=True)))
        if create:
            with self._storage_errors():
                create_tables(self._writer, self.metadata)

    @classmethod
    def existing(
        cls, url: str, *, schema: str | None = None, prefix: str = "", **options: Any
    ) -> SqlVacancyRepository:
        """Open a repository that must already be there (for tools that only read it): a SQLite
        file is never created, nor are tables.

        :raises ~twcert_vacancy.errors.VacancyDatabaseMissingError: no such file, or no tables.
        """
        try:
            parsed = sa.engine.make_url(url)
        except exc.ArgumentError as error:
            raise VacancyStorageError(f"bad database URL: {type(error).__name__}") from error
        shown = parsed.render_as_string(hide_password=True)
        table = f"{prefix}vacancies"
        if parsed.get_backend_name() == "sqlite":
            # Looked at read-only first: opening it as a repository would turn any file into a
            # database in WAL mode, and an absent one into an empty file.
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:") or not os.path.isfile(database):
                raise VacancyDatabaseMissingError(f"no SQLite file {database!r}", database=shown)
            if not _sqlite_has_table(database, table):
                raise VacancyDatabaseMissingError(f"no table {table}", database=shown)
        repository = cls(url, schema=schema, prefix=prefix, create=False, **options)
        try:
            with repository._read() as connection:
                found = sa.inspect(connection).has_table(repository.vacancies.name, schema=schema)
        except BaseException:
            repository.close()
            raise
        if not found:
            repository.close()
            raise VacancyDatabaseMissingError(f"no table {repository.vacancies.name}", database=shown)
        return repository

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _storage_errors(self) -> Iterator[None]:
        try:
            yield
        except exc.IntegrityError:
            raise
        except exc.SQLAlchemyError as error:
            raise VacancyStorageError(
                f"{type(error).__name__}: {getattr(error, 'orig', None)!r}"[:300]
            ) from error

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._storage_errors(), self._writer.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._storage_errors(), self.engine.connect() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    def drop(self) -> None:
        """Drop this repository's tables (tests and benchmarks clean up with it)."""
        with self._storage_errors():
            self.metadata.drop_all(self._writer)

    # ------------------------------------------------------------------ rows

    def _row(self, vacancy: Vacancy) -> dict[str, Any]:
        row: dict[str, Any] = {name: getattr(vacancy, name) for name in _TEXT_FIELDS}
        row.update({name: getattr(vacancy, name) for name in _FLAG_FIELDS})
        row.update(
            work_id=vacancy.work_id,
            person_kind=vacancy.person_kind.value,
            gender=vacancy.gender.value,
            headcount_raw=vacancy.headcount.raw,
            headcount_regular=vacancy.headcount.regular,
            headcount_reserve=vacancy.headcount.reserve,
            work_places="".join(f",{p.dgpa_code}" for p in vacancy.work_places) + ",",
            rank_classes="".join(f",{r.value}" for r in vacancy.rank_classes) + ",",
            date_from=vacancy.period.start,
            date_to=vacancy.period.end,
            span_days=(vacancy.period.end - vacancy.period.start).days,
            withdrawn_at=vacancy.withdrawn_at,
            revision=vacancy.revision,
        )
        return row

    def _place_rows(self, vacancy: Vacancy) -> list[dict[str, Any]]:
        return [
            {
                "work_id": vacancy.work_id,
                "dgpa_code": place.dgpa_code,
                "person_kind": vacancy.person_kind.value,
                "date_from": vacancy.period.start,
                "date_to": vacancy.period.end,
                "withdrawn_at": vacancy.withdrawn_at,
            }
            for place in vacancy.work_places
        ]

    @staticmethod
    def _vacancy(row: sa.RowMapping) -> Vacancy:
        return vacancy_from_mapping(row)

    @staticmethod
    def _audit_row(record: AuditRecord) -> dict[str, Any]:
        return {
            "work_id": record.work_id,
            "who": record.who,
            "at": record.when,
            "field": record.field,
            "old": record.old,
            "new": record.new,
        }

    def _insert(
        self,
        connection: Connection,
        prepared: Sequence[PreparedVacancy],
        audit_rows: list[tuple[Any, ...]],
    ) -> None:
        """INSERT prepared rows with their audit rows (see :meth:`_audit_values`)."""
        self._insert_values(connection, self.vacancies, VACANCY_COLUMNS, [values for values, _ in prepared])
        self._insert_values(
            connection, self.places, PLACE_COLUMNS, [place for _, places in prepared for place in places]
        )
        self._insert_values(connection, self.audit, _AUDIT_COLUMNS, audit_rows)

    def _audit_values(self, record: AuditRecord) -> tuple[Any, ...]:
        return (
            record.work_id,
            record.who,
            driver_datetime(record.when, self._sqlite),
            record.field,
            record.old,
            record.new,
        )

    def _existing(self, connection: Connection, work_ids: list[str]) -> dict[str, Vacancy]:
        """The stored vacancies among ``work_ids``: one plain query for which exist (on a fresh
        import, none), the full rows only for those."""
        parameters: tuple[Any, ...]
        if self._copy_ok:
            # One array parameter: psycopg parses a 2,000-marker IN list anew for every batch
            # (about 17 µs a row of the import's client time).
            sql = self._exists_sql.get(0)
            if sql is None:
                table = connection.dialect.identifier_preparer.format_table(self.vacancies)
                sql = self._exists_sql[0] = f"SELECT work_id FROM {table} WHERE work_id = ANY(%s)"
            parameters = (work_ids,)
        else:
            sql = self._exists_sql.get(len(work_ids))
            if sql is None:
                preparer = connection.dialect.identifier_preparer
                marker = "?" if connection.dialect.paramstyle in ("qmark", "numeric") else "%s"
                sql = (
                    f"SELECT work_id FROM {preparer.format_table(self.vacancies)} "
                    f"WHERE work_id IN ({', '.join(marker for _ in work_ids)})"
                )
                self._exists_sql = {len(work_ids): sql}  # an import's batches share one size
            parameters = tuple(work_ids)
        found = [row[0] for row in connection.exec_driver_sql(sql, parameters)]
        if not found:
            return {}
        rows = connection.execute(self._by_ids, {"ids": found}).mappings().all()
        return {row["work_id"]: self._vacancy(row) for row in rows}

    def _insert_values(
        self,
        connection: Connection,
        table: sa.Table,
        columns: tuple[str, ...],
        values: list[tuple[Any, ...]],
    ) -> None:
        """``executemany`` (or COPY) straight to the driver with driver-ready tuples: per-row
        parameter processing in SQLAlchemy was most of an import's time."""
        if not values:
            return
        if self._copy_ok and len(values) >= _COPY_FROM:
            self._copy(connection, table, columns, values)
            return
        key = (table.name, columns)
        sql = self._insert_sql.get(key)
        if sql is None:
            preparer = connection.dialect.identifier_preparer
            marker = "?" if connection.dialect.paramstyle in ("qmark", "numeric") else "%s"
            names = ", ".join(preparer.quote(c) for c in columns)
            markers = ", ".join(marker for _ in columns)
            sql = f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({markers})"
            self._insert_sql[key] = sql
        connection.exec_driver_sql(sql, values)

    def _copy(
        self, connection: Connection, table: sa.Table, columns: tuple[str, ...], values: list[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL's binary COPY, in the same transaction: the server parses no text and the
        client escapes none (a third of the client's time per row with text COPY)."""
        preparer = connection.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        target = preparer.format_table(table)
        driver: Any = connection.connection.driver_connection
        import psycopg  # present: the dialect's driver

        try:
            with driver.cursor() as cursor:
                key = (table.name, columns)
                types = self._copy_types.get(key)
                if types is None:
                    # The columns' own type OIDs, once: binary COPY needs each value's exact type.
                    cursor.execute(f"SELECT {names} FROM {target} LIMIT 0")
                    types = self._copy_types[key] = [column.type_code for column in cursor.description]
                with cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(types)
                    for row in values:
                        copy.write_row(row)
        except psycopg.IntegrityError as error:  # COPY bypasses SQLAlchemy's exception wrapping
            raise VacancyExistsError(
                "a vacancy of this import was stored concurrently", work_id="?"
            ) from error
        except psycopg.Error as error:
            raise VacancyStorageError(f"COPY failed: {type(error).__name__}") from error

    def _replace(
        self, connection: Connection, current: Vacancy, new: Vacancy, records: Sequence[AuditRecord]
    ) -> bool:
        """Store ``new`` over ``current`` if nobody changed the row since it was read."""
        v = self.vacancies
        result = connection.execute(
            v.update()
            .where(v.c.work_id == current.work_id, v.c.revision == current.revision)
            .values(self._row(new))
        )
        if result.rowcount != 1:
            return False
        if any(
            getattr(current, name) != getattr(new, name) for name in ("work_places", "person_kind", "period")
        ) or (current.withdrawn_at != new.withdrawn_at):
            connection.execute(self.places.delete().where(self.places.c.work_id == new.work_id))
            connection.execute(self.places.insert(), self._place_rows(new))
        if records:
            connection.execute(self.audit.insert(), [self._audit_row(r) for r in records])
        return True

    def _locked(self, connection: Connection, work_id: str) -> Vacancy:
        row = (
            connection.execute(
                sa.select(self.vacancies).where(self.vacancies.c.work_id == work_id).with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None:
            raise VacancyNotFoundError(work_id=work_id)
        return self._vacancy(row)

    # ------------------------------------------------------------------ writes

    def add(self, vacancy: Vacancy, actor: VacancyActor, *, at: dt.datetime) -> Vacancy:
        check_may_add(vacancy, actor)
        stored = dataclasses.replace(vacancy, revision=1)
        try:
            with self._write() as connection:
                self._insert(
                    connection,
                    [prepare(stored, self._sqlite)],
                    [self._audit_values(created_record(stored, actor.principal_id, aware(at)))],
                )
        except exc.IntegrityError as error:
            raise VacancyExistsError(work_id=vacancy.work_id) from error
        logger.info("vacancy %s added by %s", vacancy.work_id, actor.principal_id)
        return stored

    def import_many(
        self, vacancies: Iterable[Vacancy], actor: VacancyActor, *, at: dt.datetime
    ) -> ImportReport:
        """One transaction for the whole snapshot, written in batches."""
        sqlite = self._sqlite
        return self.import_prepared((prepare(vacancy, sqlite) for vacancy in vacancies), actor, at=at)

    def import_prepared(
        self, rows: Iterable[PreparedVacancy], actor: VacancyActor, *, at: dt.datetime
    ) -> ImportReport:
        """:meth:`import_many` for rows already turned into driver values (by
        ``twcert_vacancy._sqlrows.prepare`` with this database's ``sqlite`` flag), which lets
        :func:`~twcert_vacancy.feedimport.import_feed` prepare them in another process."""
        when = aware(at)
        added = updated = unchanged = 0
        batch: list[PreparedVacancy] = []
        with self._write() as connection:
            if self._copy_ok:
                self._bulk_settings(connection)
            for row in rows:
                check_may_add_agency(agency_of(row[0]), str(row[0][0]), actor)
                batch.append(row)
                if len(batch) >= _BATCH:
                    counts = self._import_batch(connection, batch, actor.principal_id, when)
                    added, updated, unchanged = added + counts[0], updated + counts[1], unchanged + counts[2]
                    batch = []
            if batch:
                counts = self._import_batch(connection, batch, actor.principal_id, when)
                added, updated, unchanged = added + counts[0], updated + counts[1], unchanged + counts[2]
        logger.info(
            "import by %s: %d added, %d updated, %d unchanged", actor.principal_id, added, updated, unchanged
        )
        return ImportReport(added, updated, unchanged)

    def _bulk_settings(self, connection: Connection) -> None:
        """For this transaction only: compress long texts with LZ4 where the server has it.

        A 3 KB feed row is TOASTed; PostgreSQL's default compression (pglz) cost the server more
        than all else in an import. Values stay readable whatever the setting (each records how
        it was compressed)."""
        if self._lz4 is None:
            found = connection.exec_driver_sql(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
            ).scalar()
            self._lz4 = bool(found)
        if self._lz4:
            connection.exec_driver_sql("SET LOCAL default_toast_compression = lz4")

    def _import_batch(
        self, connection: Connection, batch: list[PreparedVacancy], who: str, when: dt.datetime
    ) -> tuple[int, int, int]:
        unique = list({values[0]: (values, places) for values, places in batch}.values())
        existing = self._existing(connection, [values[0] for values, _ in unique])
        new = [row for row in unique if row[0][0] not in existing]
        if new:
            stored_when = driver_datetime(when, self._sqlite)
            records = (created_record_of(row[0][0], who, when) for row in new)
            self._insert(
                connection, new, [(r.work_id, r.who, stored_when, r.field, r.old, r.new) for r in records]
            )
        updated = unchanged = 0
        for values, _places in unique:
            current = existing.get(values[0])
            if current is None:
                continue
            incoming = vacancy_from_values(values, self._sqlite)
            target = dataclasses.replace(
                incoming, withdrawn_at=current.withdrawn_at, revision=current.revision + 1
            )
            if target == current:
                unchanged += 1
                continue
            self._replace(connection, current, target, changes_between(current, target, who=who, when=when))
            updated += 1
        return len(new), updated, unchanged

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
        for _attempt in range(_RETRIES):
            with self._write() as connection:
                current = self._locked(connection, work_id)
                proposed = prepare_update(current, actor, changes, expected_revision, check)
                records = changes_between(current, proposed, who=actor.principal_id, when=when)
                if not records:
                    return current
                stored = dataclasses.replace(proposed, revision=current.revision + 1)
                if self._replace(connection, current, stored, records):
                    logger.info(
                        "vacancy %s updated by %s: %s",
                        work_id,
                        actor.principal_id,
                        ",".join(r.field for r in records),
                    )
                    return stored
        raise VacancyStorageError(f"vacancy {work_id} kept changing under {_RETRIES} attempts")

    def withdraw(
        self, work_id: str, actor: VacancyActor, *, at: dt.datetime, expected_revision: int | None = None
    ) -> Vacancy:
        when = aware(at)
        for _attempt in range(_RETRIES):
            with self._write() as connection:
                current = self._locked(connection, work_id)
                prepare_withdraw(current, actor, expected_revision)
                stored = dataclasses.replace(current, withdrawn_at=when, revision=current.revision + 1)
                if self._replace(
                    connection, current, stored, [withdrawn_record(stored, actor.principal_id, when)]
                ):
                    logger.info("vacancy %s withdrawn by %s", work_id, actor.principal_id)
                    return stored
        raise VacancyStorageError(f"vacancy {work_id} kept changing under {_RETRIES} attempts")

    # ------------------------------------------------------------------ reads

    def get(self, work_id: str) -> Vacancy:
        with self._read() as connection:
            row = (
                connection.execute(sa.select(self.vacancies).where(self.vacancies.c.work_id == work_id))
                .mappings()
                .first()
            )
        if row is None:
            raise VacancyNotFoundError(work_id=work_id)
        return self._vacancy(row)

    def history(self, work_id: str) -> list[AuditRecord]:
        self.get(work_id)
        a = self.audit
        with self._read() as connection:
            rows = (
                connection.execute(sa.select(a).where(a.c.work_id == work_id).order_by(a.c.id))
                .mappings()
                .all()
            )
        return [AuditRecord(r["work_id"], r["who"], r["at"], r["field"], r["old"], r["new"]) for r in rows]

    def for_agency(self, agency_code: str, at: dt.datetime | dt.date) -> list[Vacancy]:
        day = taipei_date(at)
        v = self.vacancies
        with self._read() as connection:
            rows = (
                connection.execute(
                    sa.select(v)
                    .where(v.c.agency_code == agency_code, v.c.date_from <= day, v.c.date_to >= day)
                    .order_by(v.c.date_from.desc(), v.c.work_id.desc())
                )
                .mappings()
                .all()
            )
        return [self._vacancy(row) for row in rows]

    def online(self, query: OnlineQuery) -> Page:
        with self._read() as connection:
            longest = connection.execute(sa.select(sa.func.max(self.vacancies.c.span_days))).scalar()
            if longest is None:
                return Page((), 0, query.page, query.per_page)
            ids_query, count_query = self.online_statements(query, int(longest))
            total = int(connection.execute(count_query).scalar_one())
            ids = [row[0] for row in connection.execute(ids_query)] if total > query.offset else []
            rows = (
                connection.execute(sa.select(self.vacancies).where(self.vacancies.c.work_id.in_(ids)))
                .mappings()
                .all()
                if ids
                else []
            )
        by_id = {row["work_id"]: self._vacancy(row) for row in rows}
        return Page(tuple(by_id[i] for i in ids if i in by_id), total, query.page, query.per_page)

    def online_statements(
        self, query: OnlineQuery, longest_span: int
    ) -> tuple[sa.Select[Any], sa.Select[Any]]:
        """The page-of-ids and count statements for ``query`` (exposed for EXPLAIN in tests)."""
        v = self.vacancies
        # The places table carries the filtered columns, so the county query stays inside its index.
        source: Any = self.places if query.county is not None else v
        c = source.c
        lowest_start = query.day - dt.timedelta(days=longest_span)
        conditions: list[Any] = [
            c.date_from <= query.day,
            c.date_from >= lowest_start,
            c.date_to >= query.day,
        ]
        withdrawn_before = query.withdrawn_before
        conditions.append(
            c.withdrawn_at.is_(None)
            if withdrawn_before is None
            else sa.or_(c.withdrawn_at.is_(None), c.withdrawn_at > withdrawn_before)
        )
        if query.county is not None:
            conditions.append(c.dgpa_code == query.county.dgpa_code)
        if query.person_kind is not None:
            conditions.append(c.person_kind == query.person_kind.value)
        needs_vacancy = query.agency_code is not None or query.keyword is not None or bool(query.rank_classes)
        if needs_vacancy and source is not v:
            conditions.append(v.c.work_id == c.work_id)
        if query.agency_code is not None:
            conditions.append(v.c.agency_code == query.agency_code)
        if query.keyword is not None:
            conditions.append(
                sa.or_(
                    v.c.title.icontains(query.keyword, autoescape=True),
                    v.c.agency_name.icontains(query.keyword, autoescape=True),
                )
            )
        if query.rank_classes:
            conditions.append(
                sa.or_(*(v.c.rank_classes.contains(f",{t.value},") for t in query.rank_classes))
            )
        column = c.date_from if query.sort.startswith("date_from") else c.date_to
        order = (
            (column.desc(), c.work_id.desc())
            if query.sort.endswith("_desc")
            else (column.asc(), c.work_id.asc())
        )
        ids = (
            sa.select(c.work_id)
            .where(*conditions)
            .order_by(*order)
            .limit(query.per_page)
            .offset(query.offset)
        )
        count = sa.select(sa.func.count()).select_from(source).where(*conditions)
        return ids, count

    def __len__(self) -> int:
        with self._read() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(self.vacancies)).scalar_one()
            )


def _sqlite_has_table(path: str, table: str) -> bool:
    """Whether the SQLite file has ``table``, read without changing the file (not a database: no)."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return found is not None


def _conforms(repository: SqlVacancyRepository) -> VacancyRepository:
    return repository  # mypy proves the SQL backend satisfies the protocol
