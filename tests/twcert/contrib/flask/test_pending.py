"""Pending first logins: single use under races, expiry, every backend, automatic choice."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twcert.challenge import issue_challenge
from twcert.stores.memory import MemoryNonceStore
from twcert.stores.sql import SqlStores
from twcert.web.pending import (
    MemoryPendingStore,
    PendingLogin,
    PendingStore,
    RedisPendingStore,
    ReplayNonces,
    SqlPendingStore,
    pending_store_for,
)

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PendingStore]:
    if request.param == "memory":
        yield MemoryPendingStore()
    elif request.param == "sqlite":
        yield SqlPendingStore(f"sqlite:///{tmp_path / 'pending.db'}")
    elif request.param == "postgres":
        table = f"twcert_pending_{uuid.uuid4().hex[:8]}"
        sql = SqlPendingStore(request.getfixturevalue("postgres_url"), table=table)
        yield sql
        sql.table.drop(sql.engine)
        sql.engine.dispose()
    else:
        yield RedisPendingStore(
            request.getfixturevalue("redis_url"), prefix=f"twcert-test:{uuid.uuid4().hex}:"
        )


def test_put_then_take_once(store: PendingStore) -> None:
    store.put("key-1", b"\x00payload", NOW + dt.timedelta(minutes=10), NOW)
    assert store.take("other", NOW) is None
    assert store.take("key-1", NOW) == b"\x00payload"
    assert store.take("key-1", NOW) is None


def test_expired_entries_are_not_returned(store: PendingStore) -> None:
    # Wall-clock times: Redis expires keys by its own clock, from the TTL it was given.
    now = dt.datetime.now(dt.UTC)
    store.put("key-2", b"x", now + dt.timedelta(milliseconds=300), now)
    store.put("key-3", b"y", now + dt.timedelta(minutes=5), now)
    time.sleep(0.5)
    later = dt.datetime.now(dt.UTC)
    assert store.take("key-2", later) is None
    assert store.take("key-3", later) == b"y"


def test_exactly_one_of_many_racing_takers_wins(store: PendingStore) -> None:
    store.put("raced", b"once", NOW + dt.timedelta(minutes=10), NOW)
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        results.append(store.take("raced", NOW))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results, key=lambda r: r is None) == [b"once"] + [None] * 7


def test_keys_are_stored_hashed(tmp_path: Path) -> None:
    store = SqlPendingStore(f"sqlite:///{tmp_path / 'p.db'}")
    store.put("secret-session-key", b"x", NOW + dt.timedelta(minutes=1), NOW)
    with store.engine.connect() as conn:
        keys = [row[0] for row in conn.execute(store.table.select())]
    assert len(keys) == 1 and "secret-session-key" not in keys[0] and len(keys[0]) == 64


def test_put_purges_expired_rows(tmp_path: Path) -> None:
    store = SqlPendingStore(f"sqlite:///{tmp_path / 'p.db'}")
    store.put("old", b"x", NOW + dt.timedelta(seconds=1), NOW)
    store.put("new", b"y", NOW + dt.timedelta(hours=1), NOW + dt.timedelta(minutes=5))
    with store.engine.connect() as conn:
        assert len(list(conn.execute(store.table.select()))) == 1


def test_pending_login_round_trips() -> None:
    challenge = issue_challenge("session", "https://jobs.example.gov.tw", NOW)
    pending = PendingLogin(
        challenge, {"ret_code": 0, "signature": "MIIB"}, NOW + dt.timedelta(minutes=10), "/x"
    )
    assert PendingLogin.from_bytes(pending.to_bytes()) == pending


def test_replay_hands_the_challenge_back_once() -> None:
    challenge = issue_challenge("session", "https://jobs.example.gov.tw", NOW)
    nonces = ReplayNonces(challenge)
    assert nonces.consume("other", NOW).state == "unknown"
    assert nonces.consume(challenge.id, NOW).state == "ok"
    assert nonces.consume(challenge.id, NOW).state == "used"
    with pytest.raises(RuntimeError):
        nonces.put(challenge)


def test_the_store_follows_the_nonce_store(tmp_path: Path, redis_url: str) -> None:
    from twcert.stores.redis import RedisNonceStore

    assert isinstance(pending_store_for(None, MemoryNonceStore()), MemoryPendingStore)
    stores = SqlStores(f"sqlite:///{tmp_path / 'db.sqlite'}")
    sql = pending_store_for(None, stores.nonces)
    assert isinstance(sql, SqlPendingStore) and sql.engine is stores.engine
    redis_nonces = RedisNonceStore(redis_url)
    redis_store = pending_store_for(None, redis_nonces)
    assert isinstance(redis_store, RedisPendingStore) and redis_store.client is redis_nonces.client
    assert isinstance(pending_store_for("memory", stores.nonces), MemoryPendingStore)
    assert isinstance(pending_store_for(f"{redis_url}", MemoryNonceStore()), RedisPendingStore)
    mine = MemoryPendingStore()
    assert pending_store_for(mine, stores.nonces) is mine
