"""SQL stores beyond the shared contract: how they hold their driver connections."""

from __future__ import annotations

import datetime as dt
import threading
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
