"""Setting up a database that several workers open at once (the races are in test_sql.py)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, text

from twcert.stores.sqlsetup import ADVISORY_LOCK_KEY, create_tables, enable_sqlite_wal


def _metadata(schema: str | None = None) -> MetaData:
    metadata = MetaData()
    Table("setup_a", metadata, Column("id", Integer, primary_key=True), schema=schema)
    Table("setup_b", metadata, Column("id", Integer, primary_key=True), schema=schema)
    return metadata


def test_wal_is_switched_on_for_a_file_and_not_for_memory(tmp_path: Path) -> None:
    on_file = sqlite3.connect(tmp_path / "wal.db")
    assert enable_sqlite_wal(on_file) is True
    assert on_file.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert enable_sqlite_wal(sqlite3.connect(":memory:")) is False


def test_wal_switch_waits_for_a_lock_then_gives_up_at_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    # timeout=0: SQLite's own busy handler does not wait, so only our retry can.
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_sqlite_wal(waiter, timeout=0.2)
    releaser = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    releaser.start()
    try:
        assert enable_sqlite_wal(waiter, timeout=10) is True
    finally:
        releaser.join()


def test_wal_switch_raises_other_errors_at_once(tmp_path: Path) -> None:
    path = tmp_path / "readonly.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        enable_sqlite_wal(readonly, timeout=30)
    assert "locked" not in str(raised.value)


def test_create_tables_on_sqlite_creates_only_what_is_missing(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tables.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE setup_a (id INTEGER PRIMARY KEY, kept TEXT)"))
        conn.execute(text("INSERT INTO setup_a VALUES (1, 'row')"))
    create_tables(engine, _metadata())
    create_tables(engine, _metadata())  # a second start finds everything in place
    assert sorted(inspect(engine).get_table_names()) == ["setup_a", "setup_b"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kept FROM setup_a")).scalar_one() == "row"
    engine.dispose()


def test_create_tables_on_postgresql_creates_the_schema_too(postgres_url: str) -> None:
    schema = f"twcert_setup_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url)
    try:
        create_tables(engine, _metadata(schema), schema=schema)
        create_tables(engine, _metadata(schema), schema=schema)
        assert sorted(inspect(engine).get_table_names(schema=schema)) == ["setup_a", "setup_b"]
        with engine.connect() as conn:  # the advisory lock ended with the creating transaction
            free = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            assert free.scalar_one() is True
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
