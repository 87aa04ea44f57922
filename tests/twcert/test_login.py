"""The manual's login flow through LoginService, with real signatures over issued challenges,
on every store backend (memory, SQLite, PostgreSQL, and Redis for nonces and PIN counters)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from twcert import CAFamily, LoginService, LoginStores, SignedChallenge
from twcert.agency import Agency, AgencyResolver, MemoryAgencyDirectory
from twcert.audit import MemoryAuditSink
from twcert.binding import MemoryBindingStore, unbind_account
from twcert.card.cms import build_signed_data
from twcert.challenge import Challenge
from twcert.errors import (
    GCA_UNBLOCK_URL,
    MOICA_UNBLOCK_URL,
    AccountAlreadyBound,
    AccountNotFound,
    AccountRequired,
    AgencyAbolished,
    AgencyCodeUnknown,
    CardAbsentError,
    CertificateRevokedError,
    ChallengeBindingError,
    ChallengeExpiredError,
    ChallengeReplayedError,
    ChallengeUnknownError,
    HolderMismatch,
    NotInService,
    PinIncorrectError,
    PinLockedError,
    PinMissingError,
    ReaderAbsentError,
    SignatureMismatchError,
    SignatureParseError,
    TestCertificateRefused,
    UserCancelledError,
)
from twcert.hipki import HipkiSignResponse
from twcert.personnel import MemoryPersonnelDirectory, Person
from twcert.pin import PinRecord
from twcert.stores.memory import MemoryNonceStore, MemoryPinCounterStore
from twcert.stores.sql import SqlStores
from twcert.testing import Issued
from twcert.testing.fixtures import AGENCIES, PEOPLE, FixtureSet

from .conftest import fixture_validator

ORIGIN = "https://jobs.example.gov.tw"
SESSION = "session-abc"


@dataclass
class World:
    fs: FixtureSet
    service: LoginService
    audit: MemoryAuditSink
    personnel: Any
    clock: list[dt.datetime]
    #: Cards issued by a test itself (a namesake's, a renewal), by name.
    extra: dict[str, tuple[Issued, str | None]] = field(default_factory=dict)

    def challenge(self) -> Challenge:
        return self.service.issue_challenge(SESSION, ORIGIN)

    def card(self, name: str) -> tuple[Issued, str | None]:
        if name in self.extra:
            return self.extra[name]
        return self.fs.issued(name), self.fs.certificates[name].get("card_serial")

    def new_card(self, name: str, holder: str, id_number: str) -> None:
        """Issue another citizen card (new subject serial) under the fixture MOICA."""
        issued = self.fs.pki.issue_citizen(holder, id_number)
        self.extra[name] = (issued, f"TP{uuid.uuid4().int % 10**14:014d}")

    def hipki(
        self,
        name: str,
        challenge: Challenge,
        *,
        kind: str = "PKCS7",
        tbs: bytes | None = None,
        sign_card_serial: bool = True,
    ) -> dict[str, Any]:
        """What the HiPKI Local Server answers for a correct PIN (PKCS#7: the card number
        signed into the CMS, as HiPKI does, unless ``sign_card_serial`` is false)."""
        issued, card_serial = self.card(name)
        data = challenge.tbs if tbs is None else tbs
        if kind == "PKCS7" and sign_card_serial and card_serial:
            key = issued.key
            signature = build_signed_data(
                data,
                issued.der,
                lambda tbs_: key.sign(tbs_, padding.PKCS1v15(), hashes.SHA256()),
                card_serial=card_serial,
            )
        elif kind == "PKCS7":
            signature = (
                pkcs7.PKCS7SignatureBuilder()
                .set_data(data)
                .add_signer(issued.certificate, issued.key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [])
            )
        else:
            signature = issued.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return {
            "func": "sign",
            "ret_code": 0,
            "last_error": 0,
            "signature": base64.b64encode(signature).decode(),
            "certb64": base64.b64encode(issued.der).decode(),
            "cardSN": card_serial or "",
        }

    def login(self, name: str, account: str | None = None, **kwargs: Any) -> Any:
        challenge = self.challenge()
        return self.service.complete(
            challenge.id, self.hipki(name, challenge, **kwargs), account, session_id=SESSION, origin=ORIGIN
        )


def _people() -> list[Person]:
    return [Person(p.account, p.national_id, p.name, p.in_service, p.agency_code) for p in PEOPLE]


def _agencies() -> list[Agency]:
    listed = [a for a in AGENCIES if a.code != "ZZ9990000X"]
    return [Agency(a.code, a.name, address=a.address) for a in listed]


def _personal_data(fs: FixtureSet) -> set[str]:
    """Every national ID, name and card number of the fixtures."""
    found = {p.national_id for p in PEOPLE} | {p.name for p in PEOPLE}
    found |= {str(c["card_serial"]) for c in fs.certificates.values() if c.get("card_serial")}
    return found


@pytest.fixture(autouse=True)
def _no_personal_data_in_any_log(fixture_set: FixtureSet) -> Iterator[None]:
    """Every test of this module runs with the root logger at DEBUG; afterwards nothing logged
    by anyone (twcert, SQLAlchemy, drivers) may contain a fixture's ID, name or card number."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    formatter = logging.Formatter()
    text = "\n".join(f"{formatter.format(r)} {r.__dict__!r}" for r in records)
    text += "\n" + text.upper()
    leaked = sorted(value for value in _personal_data(fixture_set) if value.upper() in text)
    assert not leaked, f"personal data in the logs: {len(leaked)} value(s)"


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def world(request: pytest.FixtureRequest, fixture_set: FixtureSet, tmp_path: Path) -> Iterator[World]:
    clock = [fixture_set.now]
    personnel: Any
    cleanup: list[Any] = []
    if request.param == "memory":
        nonces: Any = MemoryNonceStore()
        pins: Any = MemoryPinCounterStore()
        bindings: Any = MemoryBindingStore()
        personnel = MemoryPersonnelDirectory(_people())
        directory: Any = MemoryAgencyDirectory(_agencies())
    elif request.param in ("sqlite", "postgres"):
        if request.param == "sqlite":
            stores = SqlStores(f"sqlite:///{tmp_path / 'login.db'}")
        else:
            schema = f"twcert_login_{uuid.uuid4().hex[:10]}"
            stores = SqlStores(request.getfixturevalue("postgres_url"), schema=schema)
            cleanup.append((stores, schema))
        nonces, pins, bindings, personnel, directory = (
            stores.nonces,
            stores.pin_counters,
            stores.bindings,
            stores.personnel,
            stores.agencies,
        )
        personnel.upsert(_people())
        directory.upsert(_agencies())
    else:
        from twcert.stores.redis import RedisNonceStore, RedisPinCounterStore

        url = request.getfixturevalue("redis_url")
        prefix = f"twcert-test:{uuid.uuid4().hex}:"
        nonces, pins = RedisNonceStore(url, prefix=prefix), RedisPinCounterStore(url, prefix=prefix)
        stores = SqlStores(f"sqlite:///{tmp_path / 'login.db'}")
        bindings, personnel, directory = stores.bindings, stores.personnel, stores.agencies
        personnel.upsert(_people())
        directory.upsert(_agencies())
    audit = MemoryAuditSink()
    validator = fixture_validator(fixture_set)
    validator.clock = lambda: clock[0]
    oid_map = {a.oid: a.code for a in AGENCIES}
    stores_ = LoginStores(
        nonces, personnel, bindings, AgencyResolver(directory, oid_map=oid_map), PinRecord(pins)
    )
    service = LoginService(validator, stores_, audit=audit, clock=lambda: clock[0])
    yield World(fixture_set, service, audit, personnel, clock)
    for stores, schema in cleanup:
        from sqlalchemy import text

        with stores.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        stores.dispose()


# ------------------------------------------------------------------ citizen cards (MOICA)


def test_first_use_requires_an_account_then_binds(world: World) -> None:
    with pytest.raises(AccountRequired) as info:
        world.login("citizen-wang")
    assert "首次" in info.value.message
    principal = world.login("citizen-wang", account="wang.xm")
    assert principal.kind == "citizen" and principal.account == "wang.xm" and principal.first_use
    assert principal.family is CAFamily.MOICA and principal.agency_code == "A09000000E"
    # Later logins need only the PIN (the signature); no account.
    again = world.login("citizen-wang")
    assert again.account == "wang.xm" and not again.first_use


def test_first_use_with_national_id_instead_of_account(world: World) -> None:
    assert world.login("citizen-chen", account=PEOPLE[1].national_id.lower()).account == "chen.ml"


def test_resident_certificate_holder(world: World) -> None:
    assert world.login("citizen-huang-arc", account="huang.yt").account == "huang.yt"


def test_account_not_found(world: World) -> None:
    with pytest.raises(AccountNotFound) as info:
        world.login("citizen-wang", account="nobody")
    assert info.value.message == "您輸入的帳號或身分證統一編號不存在人事資料庫中，無法登入。"


def test_person_who_left_the_service(world: World) -> None:
    with pytest.raises(NotInService):
        world.login("citizen-lin-left-service", account="lin.zh")


def test_account_of_another_person(world: World) -> None:
    with pytest.raises(HolderMismatch):
        world.login("citizen-wang", account="chen.ml")
    # Nothing was bound by the refused attempt.
    with pytest.raises(AccountRequired):
        world.login("citizen-wang")


def test_serving_status_is_checked_at_every_login(world: World) -> None:
    world.login("citizen-wang", account="wang.xm")
    left = Person("wang.xm", "A123456789", "王小明", False, "A09000000E")
    if isinstance(world.personnel, MemoryPersonnelDirectory):
        world.personnel.add(left)
    else:
        world.personnel.upsert([left])
    with pytest.raises(NotInService):
        world.login("citizen-wang")


def test_pkcs1_signatures_work_too(world: World) -> None:
    assert world.login("citizen-wang", account="wang.xm", kind="PKCS1").account == "wang.xm"


def test_invalid_certificate_is_refused_before_any_account_check(world: World) -> None:
    with pytest.raises(CertificateRevokedError):
        world.login("citizen-revoked", account="wang.xm")


# ------------------------------------------------------------------ agency cards (GCA)


def test_agency_card(world: World) -> None:
    principal = world.login("agency-dgpa")
    assert principal.kind == "agency" and principal.agency_code == "A09000000E"
    assert principal.agency_name == "行政院人事行政總處" and principal.principal_id == "A09000000E"


def test_test_agency_card_is_refused(world: World) -> None:
    with pytest.raises(TestCertificateRefused) as info:
        world.login("agency-test")
    assert info.value.message == "請勿使用測試之機關憑證登入。"


def test_agency_code_not_in_the_file(world: World) -> None:
    with pytest.raises(AgencyCodeUnknown) as info:
        world.login("agency-unlisted")
    assert "ZZ9990000X" in info.value.message


def test_abolished_agency_refused_or_mapped(fixture_set: FixtureSet) -> None:
    directory = MemoryAgencyDirectory(
        [
            Agency(
                "A09000000E", "行政院人事行政總處", abolished_date="20230101", successor_code="376610000A"
            ),
            Agency("376610000A", "臺南市政府"),
        ]
    )
    oid_map = {a.oid: a.code for a in AGENCIES}
    service = LoginService(
        fixture_validator(fixture_set),
        LoginStores(MemoryNonceStore(), agencies=AgencyResolver(directory, oid_map=oid_map)),
        audit=MemoryAuditSink(),
    )
    world = World(fixture_set, service, MemoryAuditSink(), None, [fixture_set.now])
    with pytest.raises(AgencyAbolished):
        world.login("agency-dgpa")
    service.stores = replace(
        service.stores, agencies=AgencyResolver(directory, oid_map=oid_map, abolished="successor")
    )
    assert world.login("agency-dgpa").agency_code == "376610000A"


# ------------------------------------------------------------------ PIN retry and lock


def _pin_failure(
    world: World,
    name: str,
    last_error: int | None,
    ret_code: int = 0x76100006,
    *,
    card: str | None = None,
    with_certificate: bool = True,
    session_id: str = SESSION,
    card_hint: str | None = None,
) -> Exception:
    """An unsigned failure report, as the HiPKI component (or the bundled agent) sends it."""
    challenge = world.challenge()
    issued, card_serial = world.card(name)
    response = {
        "func": "sign",
        "ret_code": ret_code,
        "last_error": last_error or 0,
        "signature": "",
        "certb64": base64.b64encode(issued.der).decode() if with_certificate else "",
        "cardSN": card_serial if card is None else card,
    }
    with pytest.raises(Exception) as info:
        world.service.complete(
            challenge.id, response, session_id=session_id, origin=ORIGIN, card_hint=card_hint
        )
    return info.value


def _tries(error: Exception) -> Any:
    return "locked" if isinstance(error, PinLockedError) else getattr(error, "params", {}).get("tries_left")


def test_hipki_counters_two_then_one_then_locked(world: World) -> None:
    first = _pin_failure(world, "citizen-wang", 0x80000002)
    assert isinstance(first, PinIncorrectError) and first.params["tries_left"] == 2
    second = _pin_failure(world, "citizen-wang", 0x80000001)
    assert isinstance(second, PinIncorrectError) and second.params["tries_left"] == 1
    third = _pin_failure(world, "citizen-wang", 0xA4)
    assert isinstance(third, PinLockedError) and third.action_url == MOICA_UNBLOCK_URL
    assert MOICA_UNBLOCK_URL in third.message


def test_record_counts_failures_without_a_counter_but_a_valid_signature_is_never_refused(
    world: World,
) -> None:
    tries = [_pin_failure(world, "citizen-wang", 0xA0) for _ in range(3)]
    assert [_tries(t) for t in tries] == [2, 1, "locked"]
    # The card signed: it was not locked. The record only decides what the page shows.
    assert world.login("citizen-wang", account="wang.xm").account == "wang.xm"
    assert _tries(_pin_failure(world, "citizen-wang", 0xA0)) == 2


def test_a_forged_report_naming_a_victims_card_does_not_lock_the_victim_out(world: World) -> None:
    """Unsigned reports naming someone else's card number, each on the attacker's own live
    challenge: the record may say "locked", the victim's signed login still succeeds."""
    _, victim_card = world.card("citizen-wang")
    assert victim_card
    for _ in range(3):
        _pin_failure(world, "citizen-chen", 0xA4, card=victim_card, with_certificate=False)
    assert world.login("citizen-wang", account="wang.xm").account == "wang.xm"


def test_reports_count_one_card_whatever_the_spelling_of_its_number(world: World) -> None:
    _, card = world.card("citizen-wang")
    assert card
    spellings = [card.lower(), f" {card[:6]} {card[6:]} ", card]
    tries = [_pin_failure(world, "citizen-wang", 0xA0, card=c, with_certificate=False) for c in spellings]
    assert [_tries(t) for t in tries] == [2, 1, "locked"]


def test_a_report_never_lowers_a_count_or_lifts_a_lock(world: World) -> None:
    assert _tries(_pin_failure(world, "citizen-wang", 0xA4)) == "locked"
    # "Wrong PIN, 2 tries left" after a lock: the lock stays.
    assert _tries(_pin_failure(world, "citizen-wang", 0x80000002)) == "locked"
    _pin_failure(world, "citizen-chen", 0xA0)
    _pin_failure(world, "citizen-chen", 0xA0)
    # Two failures counted; "2 tries left" does not lower the count to one.
    assert _tries(_pin_failure(world, "citizen-chen", 0x80000002)) == 1


def test_another_valid_card_cannot_clear_a_card_it_merely_names(world: World) -> None:
    _, victim_card = world.card("citizen-wang")
    assert victim_card
    for _ in range(2):
        _pin_failure(world, "citizen-wang", 0xA0, with_certificate=False)
    # 陳美玲's own valid signature, with 王小明's card number written beside it.
    challenge = world.challenge()
    response = world.hipki("citizen-chen", challenge)
    response["cardSN"] = victim_card
    world.service.complete(challenge.id, response, "chen.ml", session_id=SESSION, origin=ORIGIN)
    assert _tries(_pin_failure(world, "citizen-wang", 0xA0, with_certificate=False)) == "locked"


def test_a_card_number_signed_into_the_cms_clears_that_cards_count(world: World) -> None:
    _, card = world.card("citizen-wang")
    assert card
    for _ in range(2):
        _pin_failure(world, "citizen-wang", 0xA0, with_certificate=False)
    challenge = world.challenge()
    response = world.hipki("citizen-wang", challenge, sign_card_serial=True)
    response["cardSN"] = ""  # only the signed number counts
    world.service.complete(challenge.id, response, "wang.xm", session_id=SESSION, origin=ORIGIN)
    assert _tries(_pin_failure(world, "citizen-wang", 0xA0, with_certificate=False)) == 2


def test_a_report_counts_only_on_a_live_challenge_of_its_own_session(world: World) -> None:
    for _ in range(3):
        refused = _pin_failure(world, "citizen-wang", 0xA0, session_id="someone-else")
        assert isinstance(refused, ChallengeBindingError)
    assert _tries(_pin_failure(world, "citizen-wang", 0xA0)) == 2
    # The report used its challenge up: the same challenge cannot carry a second report.
    challenge = world.challenge()
    _, card = world.card("citizen-wang")
    report = {"func": "sign", "ret_code": 0x76100006, "last_error": 0xA0, "cardSN": card, "signature": ""}
    with pytest.raises(PinIncorrectError):
        world.service.complete(challenge.id, report, session_id=SESSION, origin=ORIGIN)
    with pytest.raises(ChallengeReplayedError):
        world.service.complete(challenge.id, report, session_id=SESSION, origin=ORIGIN)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("GCA", [GCA_UNBLOCK_URL]),
        ("MOICA", [MOICA_UNBLOCK_URL]),
        (None, [MOICA_UNBLOCK_URL, GCA_UNBLOCK_URL]),
    ],
)
def test_a_report_without_a_certificate_takes_the_family_from_the_pages_hint(
    world: World, hint: str | None, expected: list[str]
) -> None:
    locked = _pin_failure(world, "agency-dgpa", 0xA4, with_certificate=False, card_hint=hint)
    assert isinstance(locked, PinLockedError)
    assert all(url in locked.message for url in expected)
    others = {MOICA_UNBLOCK_URL, GCA_UNBLOCK_URL} - set(expected)
    assert not any(url in locked.message for url in others)


def test_a_success_reads_the_record_and_writes_it_only_to_end_a_run_of_failures(world: World) -> None:
    record = world.service.stores.pin_record
    assert record is not None
    counters = _RecordingCounters(record.store)
    record.store = counters
    world.login("citizen-wang", account="wang.xm")
    counters.calls.clear()
    world.login("citizen-wang")
    # Read at every login (the certificate's count and the signed card number's), never
    # written without failures.
    assert counters.calls == ["get", "get"]
    _pin_failure(world, "citizen-wang", 0xA0)  # carries the certificate: counted under it
    counters.calls.clear()
    world.login("citizen-wang")
    assert counters.calls == ["get", "reset", "get"]
    counters.calls.clear()
    world.login("citizen-wang")
    assert counters.calls == ["get", "get"]


class _RecordingCounters:
    """A PIN counter store that records which of its methods a login calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def recorded(*args: Any) -> Any:
            self.calls.append(name)
            return method(*args)

        return recorded


def test_locked_agency_card_points_to_the_gca_unblock_page(world: World) -> None:
    locked = _pin_failure(world, "agency-dgpa", 0xA4)
    assert isinstance(locked, PinLockedError) and locked.action_url == GCA_UNBLOCK_URL


@pytest.mark.parametrize(
    ("ret_code", "error"),
    [
        (0x76000006, CardAbsentError),
        (0x76100003, ReaderAbsentError),
        (0x76000999, UserCancelledError),
        (0x76000998, PinMissingError),
    ],
)
def test_client_side_conditions(world: World, ret_code: int, error: type[Exception]) -> None:
    assert isinstance(_pin_failure(world, "citizen-wang", None, ret_code=ret_code), error)


# ------------------------------------------------------------------ the challenge


def test_challenge_is_single_use_even_when_raced(world: World) -> None:
    world.login("citizen-wang", account="wang.xm")
    challenge = world.challenge()
    response = world.hipki("citizen-wang", challenge)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            world.service.complete(challenge.id, response, session_id=SESSION, origin=ORIGIN)
            outcomes.append("ok")
        except ChallengeReplayedError:
            outcomes.append("replayed")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok"] + ["replayed"] * 5


def test_challenge_errors(world: World) -> None:
    challenge = world.challenge()
    response = world.hipki("citizen-wang", challenge)
    with pytest.raises(ChallengeBindingError):
        world.service.complete(challenge.id, response, "wang.xm", session_id="other", origin=ORIGIN)
    challenge = world.challenge()
    with pytest.raises(ChallengeBindingError):
        world.service.complete(
            challenge.id,
            world.hipki("citizen-wang", challenge),
            "wang.xm",
            session_id=SESSION,
            origin="https://evil.example",
        )
    with pytest.raises(ChallengeUnknownError):
        world.service.complete("no-such-id", response, session_id=SESSION, origin=ORIGIN)
    challenge = world.challenge()
    world.clock[0] += dt.timedelta(minutes=6)
    with pytest.raises(ChallengeExpiredError) as info:
        world.service.complete(
            challenge.id, world.hipki("citizen-wang", challenge), "wang.xm", session_id=SESSION, origin=ORIGIN
        )
    assert info.value.message == "登入驗證已逾時，請重新登入。"


def test_signature_over_something_else_is_refused(world: World) -> None:
    challenge = world.challenge()
    other = world.challenge()
    for kind in ("PKCS7", "PKCS1"):
        challenge = world.challenge()
        with pytest.raises(SignatureMismatchError):
            world.service.complete(
                challenge.id,
                world.hipki("citizen-wang", challenge, kind=kind, tbs=other.tbs),
                "wang.xm",
                session_id=SESSION,
                origin=ORIGIN,
            )


def test_garbage_signature_and_certificate_mismatch(world: World) -> None:
    challenge = world.challenge()
    response = world.hipki("citizen-wang", challenge)
    response["signature"] = base64.b64encode(b"\x30\x03\x02\x01\x01").decode()
    with pytest.raises((SignatureParseError, SignatureMismatchError)):
        world.service.complete(challenge.id, response, "wang.xm", session_id=SESSION, origin=ORIGIN)
    # A signature by one card presented with another card's certificate.
    challenge = world.challenge()
    response = world.hipki("citizen-wang", challenge)
    response["certb64"] = base64.b64encode(world.fs.issued("citizen-chen").der).decode()
    with pytest.raises(SignatureMismatchError):
        world.service.complete(challenge.id, response, "wang.xm", session_id=SESSION, origin=ORIGIN)


def test_signed_challenge_without_hipki(world: World) -> None:
    challenge = world.challenge()
    issued, _ = world.card("citizen-wang")
    signature = issued.key.sign(challenge.tbs, padding.PKCS1v15(), hashes.SHA256())
    signed = SignedChallenge(signature, "PKCS1", issued.der)
    principal = world.service.complete(challenge.id, signed, "wang.xm", session_id=SESSION, origin=ORIGIN)
    assert principal.account == "wang.xm"


# ------------------------------------------------------------------ audit


def test_every_attempt_is_audited_with_personal_data_masked(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from twcert.audit import LoggingAuditSink

    world.service.audit = LoggingAuditSink()
    with caplog.at_level(logging.INFO, logger="twcert.audit"):
        with pytest.raises(AccountRequired):
            world.login("citizen-wang")
        with pytest.raises(HolderMismatch):  # 陳美玲's card, 王小明's national ID typed as account
            world.login("citizen-chen", account="A123456789")
        world.login("citizen-wang", account="A123456789")
        with pytest.raises(TestCertificateRefused):
            world.login("agency-test")
    records = [r for r in caplog.records if r.name == "twcert.audit"]
    outcomes = [r.twcert_event["outcome"] for r in records]  # type: ignore[attr-defined]
    assert outcomes == ["failure", "failure", "success", "failure"]
    assert records[0].twcert_event["reason"] == "ACCOUNT_REQUIRED"  # type: ignore[attr-defined]
    text = "\n".join(r.getMessage() + repr(r.twcert_event) for r in records)  # type: ignore[attr-defined]
    assert "王小明" not in text and "陳美玲" not in text and "A123456789" not in text
    assert "TP00000000000001" not in text
    assert "王*明" in text and "A12****789" in text


@pytest.mark.parametrize(
    "typed",
    [
        f"{PEOPLE[0].national_id}.",
        f"{PEOPLE[0].national_id}0",
        PEOPLE[0].name,
        f"{PEOPLE[0].name} {PEOPLE[0].national_id}",
        f" {PEOPLE[0].national_id.lower()} ",
    ],
)
def test_whatever_is_typed_as_the_account_is_masked(world: World, typed: str) -> None:
    """The autouse log check above fails this test if any of it reaches a log; the audit event
    itself must not carry it either."""
    with pytest.raises((AccountNotFound, HolderMismatch)):
        world.login("citizen-chen", account=typed)
    (event,) = world.audit.events
    assert event.account is not None and PEOPLE[0].name not in event.account
    assert PEOPLE[0].national_id not in event.account.upper() and typed.strip() not in event.summary()


# ------------------------------------------------------------------ one binding per account


def test_a_namesake_card_cannot_bind_to_an_account_already_bound(world: World) -> None:
    """Same name, same last four ID characters (all a citizen card carries), another person."""
    assert world.login("citizen-wang", account="wang.xm").first_use
    world.new_card("namesake", PEOPLE[0].name, "Z" + "2" + "9999" + PEOPLE[0].national_id[-4:])
    with pytest.raises(AccountAlreadyBound) as info:
        world.login("namesake", account="wang.xm")
    assert "管理者" in info.value.action and "re-bind" in info.value.action_english
    assert info.value.message and info.value.message_english
    # The bound card still logs in; the namesake's card stays unbound.
    assert world.login("citizen-wang").account == "wang.xm"
    with pytest.raises(AccountRequired):
        world.login("namesake")


def test_a_new_card_binds_after_the_administrator_unbinds_the_old_one(world: World) -> None:
    world.login("citizen-wang", account="wang.xm")
    world.new_card("renewed", PEOPLE[0].name, PEOPLE[0].national_id)
    with pytest.raises(AccountAlreadyBound):
        world.login("renewed", account="wang.xm")
    bindings = world.service.stores.bindings
    assert bindings is not None
    assert len(unbind_account(bindings, "wang.xm", actor="admin", audit=world.audit)) == 1
    assert world.login("renewed", account="wang.xm").first_use
    with pytest.raises(AccountAlreadyBound):  # the old card is now the stranger
        world.login("citizen-wang", account="wang.xm")


def test_bindings_per_account_many_allows_a_second_card(world: World) -> None:
    world.service.policy = replace(world.service.policy, bindings_per_account="many")
    world.login("citizen-wang", account="wang.xm")
    world.new_card("second", PEOPLE[0].name, PEOPLE[0].national_id)
    assert world.login("second", account="wang.xm").first_use
    assert world.login("citizen-wang").account == world.login("second").account == "wang.xm"


def test_two_cards_racing_to_bind_one_account_never_both_stay(world: World) -> None:
    for n in range(3):
        world.new_card(f"racer-{n}", PEOPLE[0].name, PEOPLE[0].national_id)
    prepared = []
    for n in range(3):
        challenge = world.challenge()
        prepared.append((challenge, world.hipki(f"racer-{n}", challenge)))
    outcomes: list[str] = []

    def attempt(challenge: Challenge, response: dict[str, Any]) -> None:
        try:
            world.service.complete(challenge.id, response, "wang.xm", session_id=SESSION, origin=ORIGIN)
            outcomes.append("bound")
        except AccountAlreadyBound:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=item) for item in prepared]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bindings = world.service.stores.bindings
    assert bindings is not None
    assert len(outcomes) == 3 and outcomes.count("bound") <= 1
    assert len(bindings.for_account("wang.xm")) == outcomes.count("bound")


def test_a_hipki_response_repr_masks_the_card_number_and_hides_the_certificate() -> None:
    parsed = HipkiSignResponse.parse(
        {"ret_code": 0, "signature": "AAAA", "certb64": "MIIB" * 10, "cardSN": "TP00000000000001"}
    )
    shown = repr(parsed)
    assert "TP00000000000001" not in shown and "MIIB" not in shown
    assert "TP00" in shown and "<3 bytes>" in shown
