"""One contract for every backend: memory, SQLite, PostgreSQL and (nonces, PIN counters) Redis.

The race tests use real processes: N processes consume one challenge (exactly one wins), N
processes report PIN failures at once (the count is exact), N processes bind one identity
(one binding).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twcert.binding import Binding, MemoryBindingStore
from twcert.challenge import issue_challenge
from twcert.errors import ChallengeExpiredError, ChallengeReplayedError, ChallengeUnknownError
from twcert.personnel import MemoryPersonnelDirectory, Person
from twcert.stores.memory import MemoryNonceStore, MemoryPinCounterStore
from twcert.stores.sql import SqlStores

from .races import race as _race

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------------ backend factories (picklable specs)


def _make(spec: tuple[str, str, str], kind: str) -> Any:
    backend, url, extra = spec
    if backend == "memory":
        return {
            "nonces": MemoryNonceStore,
            "pin": MemoryPinCounterStore,
            "bindings": MemoryBindingStore,
            "personnel": MemoryPersonnelDirectory,
        }[kind]()
    if backend == "sql":
        stores = SqlStores(url, schema=extra or None)
        return {
            "nonces": stores.nonces,
            "pin": stores.pin_counters,
            "bindings": stores.bindings,
            "personnel": stores.personnel,
            "agencies": stores.agencies,
        }[kind]
    from twcert.stores.redis import RedisNonceStore, RedisPinCounterStore

    return {"nonces": RedisNonceStore, "pin": RedisPinCounterStore}[kind](url, prefix=extra)


@pytest.fixture(scope="session")
def pg_schema(postgres_url: str) -> Iterator[str]:
    from sqlalchemy import text

    schema = f"twcert_test_{uuid.uuid4().hex[:10]}"
    stores = SqlStores(postgres_url, schema=schema)
    yield schema
    with stores.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    stores.dispose()


def _spec(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    if name == "memory":
        return ("memory", "", "")
    if name == "sqlite":
        return ("sql", f"sqlite:///{tmp_path / 'stores.db'}", "")
    if name == "postgres":
        return ("sql", request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema"))
    return ("redis", request.getfixturevalue("redis_url"), f"twcert-test:{uuid.uuid4().hex}:")


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """Every backend of nonces and PIN counters."""
    return _spec(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def shared_spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """Backends shared between processes (the memory store is per process by design)."""
    return _spec(request.param, request, tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def sql_spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """Backends of bindings and personnel (Redis holds only nonces and counters)."""
    return _spec(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def shared_sql_spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    return _spec(request.param, request, tmp_path)


# ------------------------------------------------------------------ nonces


def test_nonce_single_use_and_states(spec: tuple[str, str, str]) -> None:
    store = _make(spec, "nonces")
    challenge = issue_challenge("session-1", "https://jobs.example.gov.tw", NOW)
    store.put(challenge)
    result = store.consume(challenge.id, NOW)
    assert result.state == "ok"
    got = result.unwrap(NOW)
    assert got == challenge and got.tbs == challenge.tbs
    with pytest.raises(ChallengeReplayedError):
        store.consume(challenge.id, NOW).unwrap(NOW)
    with pytest.raises(ChallengeUnknownError):
        store.consume("never-issued", NOW).unwrap(NOW)
    late = issue_challenge("session-1", "https://jobs.example.gov.tw", NOW - dt.timedelta(minutes=10))
    store.put(late)
    with pytest.raises(ChallengeExpiredError):
        store.consume(late.id, NOW).unwrap(NOW)


def _race_consume(spec: tuple[str, str, str], challenge_id: str, barrier: Any, results: Any) -> None:
    store = _make(spec, "nonces")
    barrier.wait()
    results.put(store.consume(challenge_id, NOW).state)


def test_nonce_race_has_exactly_one_winner(shared_spec: tuple[str, str, str]) -> None:
    spec = shared_spec
    store = _make(spec, "nonces")
    challenge = issue_challenge("s", "https://x.gov.tw", NOW)
    store.put(challenge)
    states = _race(_race_consume, (spec, challenge.id))
    assert sorted(states) == ["ok"] + ["used"] * 7


def test_a_consumed_challenge_with_a_long_ttl_stays_refused(spec: tuple[str, str, str]) -> None:
    """A 20-minute challenge: its "used" mark must outlive it (Redis kept it 15 minutes)."""
    store = _make(spec, "nonces")
    ttl = dt.timedelta(minutes=20)
    challenge = issue_challenge("s", "https://x.gov.tw", NOW, ttl)
    store.put(challenge)
    assert store.consume(challenge.id, NOW).state == "ok"
    later = NOW + dt.timedelta(minutes=16)
    store.purge(later)
    assert store.consume(challenge.id, later).state == "used"
    if spec[0] == "redis":
        key, mark = store._keys(challenge.id)
        lives, marked = store.client.pttl(key), store.client.pttl(mark)
        assert lives > ttl // dt.timedelta(milliseconds=1)  # TTL + skew
        assert marked >= lives  # never gone while the challenge can be read
    # Past expiry plus the skew the challenge is gone, not reusable.
    gone = challenge.expires_at + dt.timedelta(minutes=6)
    store.purge(gone)
    assert store.consume(challenge.id, gone).state in ("unknown", "used")


def test_memory_nonce_store_is_capped_and_purges_as_it_goes() -> None:
    from twcert.errors import ChallengeStoreFullError

    store = MemoryNonceStore(max_challenges=3)
    for _ in range(3):
        store.put(issue_challenge("s", "https://x.gov.tw", NOW))
    with pytest.raises(ChallengeStoreFullError) as info:
        store.put(issue_challenge("s", "https://x.gov.tw", NOW))
    assert info.value.code == "CHALLENGE_STORE_FULL" and info.value.message_en
    # Once those expired (plus the skew), a new challenge makes room by purging them.
    later = NOW + dt.timedelta(minutes=11)
    store.put(issue_challenge("s", "https://x.gov.tw", later))
    assert len(store) == 1


def test_nonce_stores_purge_expired_challenges_as_they_put(sql_spec: tuple[str, str, str]) -> None:
    store = _make(sql_spec, "nonces")
    store.purge_every = 2
    old = issue_challenge("s", "https://x.gov.tw", NOW - dt.timedelta(hours=1))
    store.put(old)
    store.put(issue_challenge("s", "https://x.gov.tw", NOW))  # the second put purges
    assert store.consume(old.id, NOW).state == "unknown"


# ------------------------------------------------------------------ PIN counters


def test_pin_counter_semantics(spec: tuple[str, str, str]) -> None:
    store = _make(spec, "pin")
    card = f"TP{secrets.randbelow(10**14):014d}"
    assert store.get(card) == 0
    assert store.increment(card) == 1
    assert store.increment(card) == 2
    store.set(card, 3)
    assert store.get(card) == 3
    store.reset(card)
    assert store.get(card) == 0


def test_pin_counter_raise_to_only_moves_up(spec: tuple[str, str, str]) -> None:
    store = _make(spec, "pin")
    card = f"TP{secrets.randbelow(10**14):014d}"
    assert store.raise_to(card, 2) == 2
    assert store.raise_to(card, 1) == 2 and store.get(card) == 2
    assert store.raise_to(card, 3) == 3 and store.get(card) == 3


def _race_fail(spec: tuple[str, str, str], card: str, barrier: Any, results: Any) -> None:
    store = _make(spec, "pin")
    barrier.wait()
    for _ in range(5):
        store.increment(card)
    results.put(1)


def test_pin_counter_race_loses_nothing(shared_spec: tuple[str, str, str]) -> None:
    spec = shared_spec
    card = f"TP{secrets.randbelow(10**14):014d}"
    _race(_race_fail, (spec, card))
    assert _make(spec, "pin").get(card) == 40


# ------------------------------------------------------------------ bindings and personnel (SQL + memory)


def test_binding_is_first_writer_wins(sql_spec: tuple[str, str, str]) -> None:
    store = _make(sql_spec, "bindings")
    identity = f"MOICA:serial:{secrets.randbelow(10**16):016d}"
    first = store.bind(Binding(identity, "wang.xm", NOW, "a" * 64))
    second = store.bind(Binding(identity, "someone.else", NOW, "b" * 64))
    assert first == second and second.account == "wang.xm"
    assert store.get(identity) == first
    assert store.unbind(identity) and store.get(identity) is None


def test_bindings_of_an_account_and_unbinding(sql_spec: tuple[str, str, str]) -> None:
    from twcert.audit import MemoryAuditSink
    from twcert.binding import unbind_account

    store = _make(sql_spec, "bindings")
    account = f"acct-{secrets.token_hex(4)}"
    first = store.bind(Binding(f"MOICA:serial:{secrets.randbelow(10**16):016d}", account, NOW, "a" * 64))
    later = NOW + dt.timedelta(days=1)
    second = store.bind(Binding(f"MOICA:serial:{secrets.randbelow(10**16):016d}", account, later, "b" * 64))
    assert store.for_account(account) == [first, second]
    assert store.for_account("nobody-" + account) == []
    audit = MemoryAuditSink()
    assert unbind_account(store, account, actor="admin", audit=audit, now=later) == [first, second]
    assert store.for_account(account) == [] and store.get(first.identity) is None
    (event,) = audit.events
    assert event.event == "twcert.unbind" and event.outcome == "success" and account not in event.summary()
    assert unbind_account(store, account, actor="admin", audit=audit) == []
    assert audit.events[-1].outcome == "failure"


def _race_bind(spec: tuple[str, str, str], identity: str, barrier: Any, results: Any) -> None:
    store = _make(spec, "bindings")
    barrier.wait()
    results.put(
        store.bind(Binding(identity, f"acct-{multiprocessing.current_process().pid}", NOW, "c" * 64)).account
    )


def test_binding_race_gives_one_binding(shared_sql_spec: tuple[str, str, str]) -> None:
    identity = f"MOICA:serial:{secrets.randbelow(10**16):016d}"
    accounts = _race(_race_bind, (shared_sql_spec, identity))
    assert len(set(accounts)) == 1


def test_personnel_lookup_by_account_or_id(sql_spec: tuple[str, str, str]) -> None:
    directory = _make(sql_spec, "personnel")
    suffix = secrets.token_hex(3)
    person = Person(f"wang-{suffix}", "A123456789", "王小明", True, "A09000000E")
    if isinstance(directory, MemoryPersonnelDirectory):
        assert directory.upsert([person]) == 1  # the same verb as the SQL directory's
    else:
        # A unique national ID per run keeps concurrent runs on one database apart.
        from twcert.testing.people import make_id_number

        person = Person(
            person.account, make_id_number(f"A1{secrets.randbelow(10**7):07d}"), "王小明", True, "A09000000E"
        )
        directory.upsert([person])
    assert directory.get(person.account) == person
    assert directory.find(person.account) == person
    assert directory.find(person.national_id.lower()) == person
    assert directory.find("nobody") is None
