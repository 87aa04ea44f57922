"""SQL stores beyond the shared contract: how they hold their driver connections."""

from __future__ import annotations

import datetime as dt
import gc
import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from twcert.binding import Binding
from twcert.challenge import issue_challenge
from twcert.errors import BackendUnavailableError
from twcert.personnel import Person
from twcert.stores.sql import SqlStores

from .races import race

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStores]:
    if request.param == "sqlite":
        made = SqlStores(f"sqlite:///{tmp_path / 'stores.db'}")
        yield made
        made.dispose()
        return
    schema = f"twcert_sql_{uuid.uuid4().hex[:10]}"
    made = SqlStores(request.getfixturevalue("postgres_url"), schema=schema)
    yield made
    with made.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    made.dispose()


def _checkouts(stores: SqlStores) -> list[str]:
    """The names of the threads that check a connection out of the pool, from now on."""
    seen: list[str] = []

    @event.listens_for(stores.engine, "checkout")
    def _checkout(*_args: Any) -> None:
        seen.append(threading.current_thread().name)

    return seen


def _in_thread(name: str, work: Any) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=run, name=name)
    worker.start()
    worker.join()
    assert not errors, errors


def _a_login_s_statements(stores: SqlStores, card: str) -> None:
    challenge = issue_challenge("session", "https://jobs.example.gov.tw", NOW)
    stores.nonces.put(challenge)
    assert stores.nonces.consume(challenge.id, NOW).state == "ok"
    assert stores.pin_counters.get(card) == 0
    assert stores.bindings.get("MOICA:serial:0000") is not None
    assert stores.personnel.get("wang.xm") is not None


def test_the_stores_of_one_sqlstores_share_a_connection_per_thread(stores: SqlStores) -> None:
    stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
    stores.bindings.bind(Binding("MOICA:serial:0000", "wang.xm", NOW, "ab" * 32))
    seen = _checkouts(stores)
    # Every store's statements of a login run on one connection: on SQLite the reads after the
    # nonce write then keep the connection's page cache.
    _in_thread("worker-1", lambda: [_a_login_s_statements(stores, "card-1") for _ in range(2)])
    assert seen == ["worker-1"]
    _in_thread("worker-2", lambda: _a_login_s_statements(stores, "card-2"))  # a connection of its own
    assert seen == ["worker-1", "worker-2"]


def test_after_a_database_error_every_store_reconnects(stores: SqlStores) -> None:
    stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
    with stores.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {stores.bindings.table.fullname}"))
    seen = _checkouts(stores)

    def work() -> None:
        assert stores.pin_counters.get("card") == 0
        with pytest.raises(BackendUnavailableError):
            stores.bindings.get("MOICA:serial:0000")
        # The failed store dropped the shared connection; the others open a new one and work.
        assert stores.personnel.get("wang.xm") is not None
        assert stores.pin_counters.get("card") == 0

    _in_thread("worker", work)
    assert seen == ["worker", "worker"]


def _autocommit(driver: Any) -> bool:
    if isinstance(driver, sqlite3.Connection):
        return driver.isolation_level is None
    return bool(driver.autocommit)


def _backend(dbapi_connection: Any) -> Any:
    """The PostgreSQL server process behind a connection; on SQLite the connection itself."""
    info = getattr(dbapi_connection, "info", None)
    return info.backend_pid if info is not None else id(dbapi_connection)


def test_on_postgresql_the_stores_read_in_autocommit_and_lend_it_back_transactional(
    stores: SqlStores,
) -> None:
    postgres = stores.engine.dialect.name == "postgresql"
    stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
    hot_backend: list[Any] = []

    def work() -> None:
        assert stores.personnel.get("wang.xm") is not None
        hot, autocommit = stores.personnel._connections.get()
        # PostgreSQL: one round trip per single-statement read instead of BEGIN/SELECT/COMMIT.
        # SQLite keeps the driver's transactional mode.
        assert autocommit is postgres and _autocommit(hot.dbapi_connection) is postgres
        hot_backend.append(_backend(hot.dbapi_connection))
        # Meanwhile what the pool lends other code (upsert, purge, the host's) opens transactions.
        with stores.engine.connect() as conn:
            assert not _autocommit(conn.connection.dbapi_connection)

    _in_thread("worker", work)
    gc.collect()
    # The thread ended: its connection went back to the pool, in transactional mode again, and
    # is lent out again rather than a new one opened per thread.
    with stores.engine.connect() as conn:
        assert not _autocommit(conn.connection.dbapi_connection)
    backends = set()
    for n in range(20):

        def read() -> None:
            assert stores.pin_counters.get("card") == 0
            backends.add(_backend(stores.pin_counters._connections.get()[0].dbapi_connection))

        _in_thread(f"short-lived-{n}", read)
    assert len(backends) <= 2, backends


def test_in_memory_sqlite_shares_its_one_connection(tmp_path: Path) -> None:
    # The pool of an in-memory database gives every use in a thread the same connection (the
    # database itself): the stores must neither take it away nor change its mode.
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    for made in (
        SqlStores("sqlite://"),
        SqlStores(
            create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        ),
    ):
        made.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
        assert made.personnel.get("wang.xm") is not None
        made.personnel.upsert([Person("lin.ym", "B223456789", "林雅美", True, "A09000000E")])
        assert made.personnel.get("lin.ym") is not None
        assert made.agencies.count() == 0
        made.dispose()


def test_several_statements_still_run_in_one_transaction(stores: SqlStores) -> None:
    from sqlalchemy import literal_column, select, table

    from twcert.stores.sql import _Prepared

    store = stores.bindings
    failing = _Prepared(stores.engine, select(literal_column("1")).select_from(table("no_such_table")))
    values = {
        "identity": "MOICA:serial:0001",
        "account": "wang.xm",
        "bound_at": 0,
        "certificate_sha256": "ab" * 32,
    }
    with pytest.raises(BackendUnavailableError):
        store._run([(store._bind, values), (failing, {})])
    assert store.get("MOICA:serial:0001") is None  # the insert before the failure rolled back
    stored = store.bind(Binding("MOICA:serial:0001", "wang.xm", NOW, "ab" * 32))
    assert stored.account == "wang.xm"


def test_a_forked_worker_neither_shares_nor_closes_the_parent_s_connections(stores: SqlStores) -> None:
    # gunicorn --preload forks workers after the app (and its stores) were set up.
    import gc
    import json

    def backend(dbapi_connection: Any) -> int | None:
        """The PostgreSQL server process behind a connection (None on SQLite)."""
        return dbapi_connection.info.backend_pid if postgres else None

    postgres = stores.engine.dialect.name == "postgresql"
    stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", True, "A09000000E")])
    stores.bindings.bind(Binding("MOICA:serial:0000", "wang.xm", NOW, "ab" * 32))
    _a_login_s_statements(stores, "card-parent")
    parent_hot, _ = stores.nonces._connections.get()
    with stores.engine.connect() as conn:  # one connection idles in the pool when forking
        pooled = backend(conn.connection.dbapi_connection)
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and its exit status
        code = 1
        try:
            _a_login_s_statements(stores, "card-child")
            child_hot, _ = stores.nonces._connections.get()
            with stores.engine.connect() as conn:
                used = [backend(child_hot.dbapi_connection), backend(conn.connection.dbapi_connection)]
            os.write(writing, json.dumps(used).encode())
            # A worker shutting down: its pool and everything unreferenced is closed.
            stores.dispose()
            gc.collect()
            code = 0 if child_hot is not parent_hot else 2
        finally:
            os._exit(code)
    os.close(writing)
    status = _wait_for(pid, seconds=120)
    assert os.waitstatus_to_exitcode(status) == 0
    with os.fdopen(reading) as pipe:
        child_backends = json.loads(pipe.read())
    if postgres:  # the child talked to the server over connections of its own
        assert not {backend(parent_hot.dbapi_connection), pooled} & set(child_backends)
    # Nor did it close the parent's: both still answer here (a closed pooled connection would
    # be replaced by the pre-ping, with a new server process).
    assert stores.nonces._connections.get()[0] is parent_hot
    _a_login_s_statements(stores, "card-parent")
    with stores.engine.connect() as conn:
        assert backend(conn.connection.dbapi_connection) == pooled


def _wait_for(pid: int, seconds: float) -> int:
    """The child's wait status; kill it and fail if it hangs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the forked child did not finish in {seconds} s")


# ------------------------------------------------------------------ workers starting together


def _start_stores(url: str, schema: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SqlStores(url, schema=schema or None).dispose()
        results.put("ok")
    except BaseException as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}"[:300])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_starting_together_on_a_fresh_database_all_find_their_tables(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Eight workers of a freshly deployed app open the stores on an empty database at once:
    # each must come up, none may fail on the others' CREATE TABLE.
    if backend == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'fresh.db'}", ""
    else:
        url, schema = request.getfixturevalue("postgres_url"), f"twcert_fresh_{uuid.uuid4().hex[:10]}"
    try:
        outcomes = race(_start_stores, (url, schema))
    finally:
        if schema:
            made = SqlStores(url, schema=schema)
            with made.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            made.dispose()
    assert outcomes == ["ok"] * 8
