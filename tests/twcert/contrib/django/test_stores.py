"""The Django ORM stores pass the library's store contract (tests/twcert/stores/test_contract.py)
on SQLite and PostgreSQL, including its multi-process races: N processes consume one challenge
(one winner), report PIN failures at once (exact count), bind one identity (one binding)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import override_settings

from twcert.agency import Agency, AgencyDirectory
from twcert.binding import Binding, BindingStore
from twcert.challenge import NonceStore, issue_challenge
from twcert.contrib.django import models
from twcert.contrib.django.stores import (
    DjangoAgencyDirectory,
    DjangoBindingStore,
    DjangoNonceStore,
    DjangoPersonnelDirectory,
    DjangoPinCounterStore,
)
from twcert.errors import (
    BackendUnavailableError,
    ChallengeExpiredError,
    ChallengeReplayedError,
    ChallengeUnknownError,
)
from twcert.personnel import Person, PersonnelDirectory
from twcert.pin import PinCounterStore
from twcert.testing.people import make_id_number

from . import workers

NOW = workers.NOW
ORIGIN = "https://jobs.example.gov.tw"


@pytest.fixture(params=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "default"
    else:
        yield request.getfixturevalue("pg_alias")


def _card() -> str:
    return f"TP{secrets.randbelow(10**14):014d}"


def _identity() -> str:
    return f"MOICA:serial:{secrets.randbelow(10**16):016d}"


def test_the_stores_satisfy_the_library_protocols() -> None:
    assert isinstance(DjangoNonceStore(), NonceStore)
    assert isinstance(DjangoPinCounterStore(), PinCounterStore)
    assert isinstance(DjangoBindingStore(), BindingStore)
    assert isinstance(DjangoPersonnelDirectory(), PersonnelDirectory)
    assert isinstance(DjangoAgencyDirectory(), AgencyDirectory)


# ------------------------------------------------------------------ nonces


def test_nonce_single_use_and_states(alias: str) -> None:
    store = DjangoNonceStore(using=alias)
    challenge = issue_challenge("session-1", ORIGIN, NOW)
    store.put(challenge)
    result = store.consume(challenge.id, NOW)
    assert result.state == "ok"
    got = result.unwrap(NOW)
    assert got == challenge and got.tbs == challenge.tbs
    with pytest.raises(ChallengeReplayedError):
        store.consume(challenge.id, NOW).unwrap(NOW)
    with pytest.raises(ChallengeUnknownError):
        store.consume("never-issued", NOW).unwrap(NOW)
    late = issue_challenge("session-1", ORIGIN, NOW - dt.timedelta(minutes=10))
    store.put(late)
    with pytest.raises(ChallengeExpiredError):
        store.consume(late.id, NOW).unwrap(NOW)


def test_nonce_store_without_time_zone_support() -> None:
    """USE_TZ = False: times go in as naive UTC and come back aware and equal."""
    with override_settings(USE_TZ=False):
        store = DjangoNonceStore()
        challenge = issue_challenge("session-1", ORIGIN, NOW)
        store.put(challenge)
        assert store.consume(challenge.id, NOW).unwrap(NOW) == challenge
        assert models.Challenge.objects.get(challenge_id=challenge.id).used_at == NOW.replace(tzinfo=None)


def test_purge_drops_only_expired_challenges(alias: str) -> None:
    store = DjangoNonceStore(using=alias)
    old = issue_challenge("s", ORIGIN, NOW - dt.timedelta(hours=2))
    fresh = issue_challenge("s", ORIGIN, NOW)
    store.put(old)
    store.put(fresh)
    assert store.purge(NOW) >= 1
    assert store.consume(old.id, NOW).state == "unknown"
    assert store.consume(fresh.id, NOW).state == "ok"


@pytest.mark.slow
def test_nonce_race_has_exactly_one_winner(alias: str) -> None:
    store = DjangoNonceStore(using=alias)
    challenge = issue_challenge("s", "https://x.gov.tw", NOW)
    store.put(challenge)
    states = workers.race(workers.consume, (alias, challenge.id))
    assert sorted(states) == ["ok"] + ["used"] * 7


# ------------------------------------------------------------------ PIN counters


def test_pin_counter_semantics(alias: str) -> None:
    store = DjangoPinCounterStore(using=alias)
    card = _card()
    assert store.get(card) == 0
    assert store.increment(card) == 1
    assert store.increment(card) == 2
    store.set(card, 3)
    assert store.get(card) == 3
    store.reset(card)
    assert store.get(card) == 0
    store.set(card, 2)  # set on a card with no row yet
    assert store.get(card) == 2 and store.increment(card) == 3


@pytest.mark.slow
def test_pin_counter_race_loses_nothing(alias: str) -> None:
    card = _card()
    counts = workers.race(workers.fail_pin, (alias, card))
    assert DjangoPinCounterStore(using=alias).get(card) == 40
    # Every increment returned a distinct running count: none was read stale.
    assert sorted(n for run in counts for n in run) == list(range(1, 41))


# ------------------------------------------------------------------ bindings


def test_binding_is_first_writer_wins(alias: str) -> None:
    store = DjangoBindingStore(using=alias)
    identity = _identity()
    first = store.bind(Binding(identity, "wang.xm", NOW, "a" * 64))
    second = store.bind(Binding(identity, "someone.else", NOW, "b" * 64))
    assert first == second and second.account == "wang.xm"
    assert store.get(identity) == first
    assert store.unbind(identity) and store.get(identity) is None
    assert not store.unbind(identity)


@pytest.mark.slow
def test_binding_race_gives_one_binding(alias: str) -> None:
    identity = _identity()
    accounts = workers.race(workers.bind, (alias, identity))
    assert len(set(accounts)) == 1
    assert models.Binding.objects.using(alias).filter(identity=identity).count() == 1


# ------------------------------------------------------------------ personnel and agencies


def test_personnel_lookup_by_account_or_id(alias: str) -> None:
    directory = DjangoPersonnelDirectory(using=alias)
    suffix = secrets.token_hex(3)
    national_id = make_id_number(f"A1{secrets.randbelow(10**7):07d}")
    models.Person(
        account=f"wang-{suffix}", national_id=national_id.lower(), name="王小明", agency_code="A09000000E"
    ).save(using=alias)
    person = Person(f"wang-{suffix}", national_id, "王小明", True, "A09000000E")
    assert directory.get(person.account) == person
    assert directory.find(person.account) == person
    assert directory.find(f" {national_id.lower()} ") == person
    assert directory.find("nobody") is None and directory.find("") is None
    # An account that looks like someone else's national ID is that account.
    other_id = make_id_number(f"B2{secrets.randbelow(10**7):07d}")
    models.Person(account=national_id, national_id=other_id, name="陳美玲", in_service=False).save(
        using=alias
    )
    found = directory.find(national_id)
    assert found is not None and found.account == national_id and not found.in_service
    assert found.agency_code is None


def test_agency_directory(alias: str) -> None:
    directory = DjangoAgencyDirectory(using=alias)
    rows = [
        Agency("A09000000E", "行政院人事行政總處", address="臺北市中正區濟南路1段2-2號"),
        Agency("376610000A", "臺南市政府"),
        Agency("379100000G", "臺北市商業處", abolished_date="20200101"),
    ]
    assert directory.replace_all(rows) == 3
    assert directory.get(" a09000000e ") == rows[0]
    assert directory.find_by_name("台南市政府") == [rows[1]]
    assert directory.find_by_name("臺北市 商業處")[0].abolished
    assert directory.get("ZZ9990000X") is None
    assert directory.replace_all(rows[:1]) == 1 and directory.get("376610000A") is None


def test_database_failures_are_the_catalogued_backend_error() -> None:
    store = DjangoPinCounterStore()
    with connections["default"].cursor() as cursor:
        cursor.execute("ALTER TABLE twcert_pinfailure RENAME TO twcert_pinfailure_away")
    try:
        with pytest.raises(BackendUnavailableError) as info:
            store.increment(_card())
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("ALTER TABLE twcert_pinfailure_away RENAME TO twcert_pinfailure")
    assert info.value.code == "BACKEND_UNAVAILABLE" and info.value.http_status == 503
    assert "twcert_pinfailure" not in info.value.message
