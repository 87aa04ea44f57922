"""A login on the SQL stores: how many times it waits for PostgreSQL, and that the challenge it
consumed stays consumed for other connections, other processes and a crash.

Round trips are counted at the wire: libpq's protocol trace of the stores' connection, one
``ReadyForQuery`` per exchange the client waits for. (The stores run their compiled statements
on the driver connection, below SQLAlchemy's execution events.)
"""

from __future__ import annotations

import base64
import datetime as dt
import multiprocessing
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import text

from twcert import LoginService, LoginStores
from twcert.agency import Agency, AgencyResolver
from twcert.audit import MemoryAuditSink
from twcert.card.cms import build_signed_data
from twcert.challenge import Challenge
from twcert.errors import ChallengeReplayedError, HolderMismatch, NotInService, PinIncorrectError
from twcert.hipki import HipkiSignResponse
from twcert.personnel import Person
from twcert.pin import PinRecord
from twcert.stores.sql import SqlStores
from twcert.testing.fixtures import AGENCIES, PEOPLE, FixtureSet

from ..conftest import fixture_validator

ORIGIN = "https://jobs.example.gov.tw"
SESSION = "session-trips"


@dataclass
class Site:
    fs: FixtureSet
    stores: SqlStores
    service: LoginService
    schema: str | None

    def challenge(self) -> Challenge:
        return self.service.issue_challenge(SESSION, ORIGIN)

    def answer(self, name: str, challenge: Challenge) -> dict[str, Any]:
        """HiPKI's answer for a correct PIN: CMS with the card number signed in."""
        issued = self.fs.issued(name)
        card_serial = self.fs.certificates[name].get("card_serial")
        key = issued.key
        signature = build_signed_data(
            challenge.tbs,
            issued.der,
            lambda tbs: key.sign(tbs, padding.PKCS1v15(), hashes.SHA256()),
            card_serial=card_serial,
        )
        return {
            "func": "sign",
            "ret_code": 0,
            "last_error": 0,
            "signature": base64.b64encode(signature).decode(),
            "certb64": base64.b64encode(issued.der).decode(),
            "cardSN": card_serial or "",
        }

    def complete(self, challenge: Challenge, answer: Any, account: str | None = None) -> Any:
        return self.service.complete(challenge.id, answer, account, session_id=SESSION, origin=ORIGIN)

    def login(self, name: str, account: str | None = None) -> Any:
        challenge = self.challenge()
        return self.complete(challenge, self.answer(name, challenge), account)


def _site(fs: FixtureSet, stores: SqlStores, schema: str | None) -> Site:
    stores.personnel.upsert(
        [Person(p.account, p.national_id, p.name, p.in_service, p.agency_code) for p in PEOPLE]
    )
    stores.agencies.upsert([Agency(a.code, a.name) for a in AGENCIES if a.code != "ZZ9990000X"])
    validator = fixture_validator(fs)
    now = fs.now
    validator.clock = lambda: now
    login_stores = LoginStores(
        stores.nonces,
        stores.personnel,
        stores.bindings,
        AgencyResolver(stores.agencies, oid_map={a.oid: a.code for a in AGENCIES}),
        PinRecord(stores.pin_counters),
    )
    service = LoginService(validator, login_stores, audit=MemoryAuditSink(), clock=lambda: now)
    return Site(fs, stores, service, schema)


@pytest.fixture
def pg(postgres_url: str, fixture_set: FixtureSet) -> Iterator[Site]:
    schema = f"twcert_trips_{uuid.uuid4().hex[:10]}"
    stores = SqlStores(postgres_url, schema=schema)
    yield _site(fixture_set, stores, schema)
    with stores.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    stores.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, fixture_set: FixtureSet, tmp_path: Path) -> Iterator[Site]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg")
        return
    stores = SqlStores(f"sqlite:///{tmp_path / 'trips.db'}")
    yield _site(fixture_set, stores, None)
    stores.dispose()


def _round_trips(site: Site, action: Callable[[], Any]) -> tuple[Any, int]:
    """Run *action*; return its result and how many times the stores' connection waited on
    PostgreSQL (libpq protocol trace: one ``ReadyForQuery`` per exchange)."""
    fairy, _autocommit = site.stores.nonces._connections.get()
    pgconn = fairy.dbapi_connection.pgconn
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            result = action()
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode(errors="replace").splitlines()
    # The same connection serves every store of the SqlStores in this thread: nothing missed.
    assert site.stores.nonces._connections.get()[0] is fairy
    return result, sum(1 for line in lines if "\tReadyForQuery" in line)


def test_a_later_login_waits_on_postgresql_at_most_twice(pg: Site) -> None:
    pg.login("citizen-wang", account="wang.xm")  # first use: binds
    challenge = pg.challenge()
    answer = pg.answer("citizen-wang", challenge)
    principal, trips = _round_trips(pg, lambda: pg.complete(challenge, answer))
    assert principal.account == "wang.xm" and not principal.first_use
    assert trips <= 2, trips


def test_a_later_login_after_wrong_pins_clears_them_within_the_two(pg: Site) -> None:
    pg.login("citizen-wang", account="wang.xm")
    issued = pg.fs.issued("citizen-wang")
    cert_key = PinRecord.certificate_key(load_sha256(issued.der))
    wrong = pg.challenge()
    report = {  # HiPKI: login failed, two tries left
        "func": "sign",
        "ret_code": 0x76100006,
        "last_error": 0x80000002,
        "signature": "",
        "certb64": base64.b64encode(issued.der).decode(),
        "cardSN": "",
    }
    with pytest.raises(PinIncorrectError):
        pg.complete(wrong, HipkiSignResponse.parse(report))
    assert pg.stores.pin_counters.get(cert_key) == 1
    challenge = pg.challenge()
    answer = pg.answer("citizen-wang", challenge)
    principal, trips = _round_trips(pg, lambda: pg.complete(challenge, answer))
    assert principal.account == "wang.xm" and trips <= 2, trips
    assert pg.stores.pin_counters.get(cert_key) == 0


def test_an_agency_login_waits_on_postgresql_at_most_twice(pg: Site) -> None:
    challenge = pg.challenge()
    answer = pg.answer("agency-dgpa", challenge)
    principal, trips = _round_trips(pg, lambda: pg.complete(challenge, answer))
    assert principal.kind == "agency" and principal.agency_code == "A09000000E"
    assert trips <= 2, trips


def test_what_the_one_read_finds_decides_as_the_separate_reads_did(site: Site) -> None:
    with pytest.raises(HolderMismatch):  # first use: no binding read, the account is looked up
        site.login("citizen-wang", account="chen.ml")
    assert site.login("citizen-wang", account="wang.xm").first_use
    assert not site.login("citizen-wang").first_use
    # The bound person is read afresh with the binding at every login.
    site.stores.personnel.upsert([Person("wang.xm", "A123456789", "王小明", False, "A09000000E")])
    with pytest.raises(NotInService):
        site.login("citizen-wang")


def load_sha256(der: bytes) -> str:
    from twcert import load_certificate

    return load_certificate(der).sha256


# -- single use across connections, processes and a crash ------------------------------------------


def _consume_then_crash(url: str, schema: str, challenge_id: str, now: dt.datetime) -> None:
    """In a child process: consume the challenge, then die at once (no cleanup, no close)."""
    import os

    stores = SqlStores(url, schema=schema, create=False)
    state = stores.nonces.consume(challenge_id, now).state
    os._exit(0 if state == "ok" else 3)


def test_a_challenge_consumed_by_a_process_that_then_crashed_stays_consumed(
    pg: Site, postgres_url: str
) -> None:
    assert pg.schema is not None
    challenge = pg.challenge()
    answer = pg.answer("citizen-wang", challenge)
    child = multiprocessing.get_context("spawn").Process(
        target=_consume_then_crash, args=(postgres_url, pg.schema, challenge.id, pg.fs.now)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    with pytest.raises(ChallengeReplayedError):
        pg.complete(challenge, answer, "wang.xm")


def test_a_challenge_a_login_consumed_is_used_up_for_another_connection(pg: Site, postgres_url: str) -> None:
    assert pg.schema is not None
    challenge = pg.challenge()
    pg.complete(challenge, pg.answer("citizen-wang", challenge), "wang.xm")
    other = SqlStores(postgres_url, schema=pg.schema, create=False)
    try:
        assert other.nonces.consume(challenge.id, pg.fs.now).state == "used"
    finally:
        other.dispose()


def test_the_consume_commits_durably_even_where_the_connection_asks_for_less(
    pg: Site, postgres_url: str
) -> None:
    assert pg.schema is not None
    weak = postgres_url + ("&" if "?" in postgres_url else "?") + "options=-csynchronous_commit%3Doff"
    other = SqlStores(weak, schema=pg.schema, create=False)
    try:
        challenge = pg.challenge()
        assert other.nonces.consume(challenge.id, pg.fs.now).state == "ok"
        fairy, _ = other.nonces._connections.get()
        cursor = fairy.dbapi_connection.cursor()
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
        cursor.close()
        with other.engine.connect() as plain:  # the connection string did ask for "off"
            assert plain.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    finally:
        other.dispose()


def test_with_challenges_and_pin_record_on_redis_postgresql_is_asked_once(pg: Site, redis_url: str) -> None:
    from twcert.stores.redis import RedisNonceStore, RedisPinCounterStore

    prefix = f"twcert-test:{uuid.uuid4().hex}:"
    pins = RedisPinCounterStore(redis_url, prefix=prefix)
    stores = pg.service.stores
    pg.service.stores = LoginStores(
        RedisNonceStore(redis_url, prefix=prefix),
        stores.personnel,
        stores.bindings,
        stores.agencies,
        PinRecord(pins),
    )
    try:
        pg.login("citizen-wang", account="wang.xm")
        cert_key = PinRecord.certificate_key(load_sha256(pg.fs.issued("citizen-wang").der))
        pins.set(cert_key, 1)
        challenge = pg.challenge()
        answer = pg.answer("citizen-wang", challenge)
        principal, trips = _round_trips(pg, lambda: pg.complete(challenge, answer))
        assert principal.account == "wang.xm" and trips <= 1, trips
        assert pins.get(cert_key) == 0  # cleared on Redis, where it lives
    finally:
        keys = list(pins.client.scan_iter(match=f"{prefix}*"))
        if keys:
            pins.client.delete(*keys)


def test_an_agency_found_by_its_name_is_found_by_the_one_read_too(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = site.service.stores
    assert stores.agencies is not None
    directory = stores.agencies.directory
    by_name = AgencyResolver(directory)  # no OID map: the certificate's OU

    def one_call_per_store(*_args: Any) -> Any:
        raise AssertionError("asked the directory again: the one read should have answered")

    monkeypatch.setattr(directory, "find_by_name", one_call_per_store)
    monkeypatch.setattr(directory, "get", one_call_per_store)
    site.service.stores = LoginStores(
        stores.nonces, stores.personnel, stores.bindings, by_name, stores.pin_record
    )
    principal = site.login("agency-dgpa")
    assert principal.kind == "agency" and principal.agency_code == "A09000000E"
    assert principal.agency_name == "行政院人事行政總處"
