"""Set up a SQL database that several workers open at once: tables, and SQLite's WAL mode.

``MetaData.create_all`` asks which tables exist and then creates the missing ones. Two workers
that start at once both find a table missing, and the one that creates it second fails with
"already exists". Here the check and the creation run in one transaction that holds a lock:
a write lock on SQLite, a transaction-level advisory lock on PostgreSQL (both keep DDL
transactional). The workers take turns, and the later ones find every table in place.

Switching a new SQLite file to WAL needs the file to itself for a moment, and SQLite answers
"database is locked" at once instead of waiting on its busy timeout; :func:`enable_sqlite_wal`
waits and tries again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateSchema

__all__ = ["ADVISORY_LOCK_KEY", "create_tables", "enable_sqlite_wal"]

#: The PostgreSQL advisory lock held while tables are created: a fixed 64-bit key, so an
#: operator can see it in ``pg_locks`` (``objid`` and ``classid`` hold its halves).
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"twcert: create tables").digest()[:8], "big", signed=True)

_ATTEMPTS = 3


def create_tables(engine: Engine, metadata: MetaData, *, schema: str | None = None) -> None:
    """Create *metadata*'s missing tables, and on PostgreSQL the *schema* if given.

    Safe to call from many processes at once on SQLite and PostgreSQL. On other databases,
    whose DDL may not be transactional, a creation that loses the race is retried.

    :raises sqlalchemy.exc.SQLAlchemyError: the database refused (callers map it to their error).
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with engine.connect() as conn:
                _lock(conn)
                if schema is not None and engine.dialect.name == "postgresql":
                    conn.execute(CreateSchema(schema, if_not_exists=True))
                metadata.create_all(conn)
                conn.commit()
            return
        except SQLAlchemyError:
            if attempt == _ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


def _lock(conn: Connection) -> None:
    conn.begin()  # runs the engine's own "begin" listeners, if it has any
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        driver = conn.connection.dbapi_connection
        # pysqlite opens no transaction before DDL. Take the write lock before the first read,
        # so the existence check and the CREATEs see one state. An engine whose own listener
        # already began a transaction keeps it; the retry covers a deferred one.
        if driver is not None and not getattr(driver, "in_transaction", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def enable_sqlite_wal(dbapi_connection: Any, *, timeout: float = 30.0) -> bool:
    """Put a :mod:`sqlite3` connection's database in WAL mode; say whether it now is.

    An in-memory database stays in its own mode (``False``). While another connection's
    lock blocks the switch, waits up to *timeout* seconds, then raises.

    :raises sqlite3.OperationalError: still locked after *timeout*, or the file cannot be written.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        cursor = dbapi_connection.cursor()
        try:
            row = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return row is not None and str(row[0]).lower() == "wal"
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        finally:
            cursor.close()
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
