"""FreshPKI: a fake GPKI valid on the real clock, its one-call validator and login service."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from twcert import CAFamily
from twcert.errors import (
    AccountNotFound,
    AgencyCodeUnknown,
    CertificateExpiredError,
    CertificateRevokedError,
    PinIncorrectError,
    PinLockedError,
)
from twcert.revocation import RevocationState
from twcert.testing import FakeCard, FreshPKI

ORIGIN = "https://jobs.example.gov.tw"
YEAR = dt.timedelta(days=365)


@pytest.fixture(scope="module")
def kit() -> FreshPKI:
    return FreshPKI()


@pytest.fixture(scope="module")
def wang(kit: FreshPKI) -> FakeCard:
    return kit.citizen_card("王小明", "A123456789", account="wang.xm")


@pytest.fixture(scope="module")
def dgpa(kit: FreshPKI) -> FakeCard:
    return kit.agency_card("A09000000E", "行政院人事行政總處")


def _login(kit: FreshPKI, answer: object, account: str | None = None, **service: object) -> object:
    login = kit.login_service(**service)  # type: ignore[arg-type]
    challenge = login.issue_challenge("session-1", ORIGIN)
    payload = answer(challenge.tbs) if callable(answer) else answer
    return login.complete(challenge.id, payload, account, session_id="session-1", origin=ORIGIN)  # type: ignore[arg-type]


def test_built_around_the_real_clock_with_long_lived_crls(kit: FreshPKI) -> None:
    wall = dt.datetime.now(dt.UTC)
    assert abs(kit.now - wall) < dt.timedelta(minutes=10)
    for label in ("MOICA2", "GCA", "GRCA2"):
        crl = x509.load_der_x509_crl(kit.crl(label))
        assert crl.is_signature_valid(kit.cas[label].certificate.public_key())
        assert crl.last_update_utc <= wall
        assert crl.next_update_utc is not None and crl.next_update_utc >= wall + 9 * YEAR


def test_validator_accepts_cards_on_the_real_clock_without_the_network(
    kit: FreshPKI, wang: FakeCard, dgpa: FakeCard
) -> None:
    validator = kit.validator()  # real clock; the CRL addresses (crl.twcert.test) do not resolve
    citizen = validator.validate(wang.sign_certificate.der)
    assert citizen.family is CAFamily.MOICA and citizen.revocation.state is RevocationState.GOOD
    assert citizen.revocation.source == "crl"
    assert validator.validate(dgpa.sign_certificate.der).family is CAFamily.GCA


def test_validator_stays_usable_for_years(kit: FreshPKI, wang: FakeCard) -> None:
    later = kit.now + 5 * YEAR
    assert kit.validator(clock=lambda: later).validate(wang.sign_certificate.der)


def test_revoked_card_is_refused_by_validators_built_after_the_revocation(kit: FreshPKI) -> None:
    card = kit.citizen_card("廢止者", listed=False)
    before = kit.validator()
    kit.revoke(card)
    assert before.validate(card.sign_certificate.der)
    with pytest.raises(CertificateRevokedError):
        kit.validator().validate(card.sign_certificate.der)


def test_expired_card_via_issue_options(kit: FreshPKI) -> None:
    card = kit.citizen_card(
        "過期者", listed=False, not_before=kit.now - 3 * YEAR, not_after=kit.now - dt.timedelta(days=1)
    )
    with pytest.raises(CertificateExpiredError):
        kit.validator().validate(card.sign_certificate.der)


def test_login_service_knows_the_cards_holders_and_agencies(
    kit: FreshPKI, wang: FakeCard, dgpa: FakeCard
) -> None:
    citizen = _login(kit, wang.sign, "wang.xm")
    assert citizen.principal_id == "wang.xm" and citizen.kind == "citizen"  # type: ignore[attr-defined]
    agency = _login(kit, dgpa.sign)
    assert agency.agency_code == "A09000000E" and agency.agency_name == "行政院人事行政總處"  # type: ignore[attr-defined]
    pkcs1 = _login(kit, lambda tbs: wang.sign(tbs, signature_type="PKCS1"), "wang.xm")
    assert pkcs1.principal_id == "wang.xm"  # type: ignore[attr-defined]


def test_unlisted_holder_and_agency_are_refused(kit: FreshPKI) -> None:
    stranger = kit.citizen_card("路人甲", account="nobody", listed=False)
    with pytest.raises(AccountNotFound):
        _login(kit, stranger.sign, "nobody")
    unknown = kit.agency_card("ZZ9990000X", "虛構機關", listed=False)
    with pytest.raises(AgencyCodeUnknown):
        _login(kit, unknown.sign)


def test_pin_failures_reach_the_login_service(kit: FreshPKI, wang: FakeCard) -> None:
    with pytest.raises(PinIncorrectError) as wrong:
        _login(kit, wang.wrong_pin(1))
    assert wrong.value.params["tries_left"] == 1
    with pytest.raises(PinLockedError):
        _login(kit, wang.locked())


def test_written_files_trust_only_the_genuine_cas(kit: FreshPKI, dgpa: FakeCard, tmp_path: Path) -> None:
    files = kit.write(tmp_path)
    settings = files.django_settings(NONCE_STORE="memory")
    assert settings["TRUST_BUNDLED"] is False and settings["REVOCATION_FETCH"] is False
    assert settings["NONCE_STORE"] == "memory"
    assert settings["CRL_CACHE_DIR"] is None  # tests never write into a shared cache
    labels = {label for label, *_ in files.ca_files}
    assert {"GRCA1", "GRCA2", "GRCA3", "MOICA2", "GCA"} <= labels
    assert not any(label.startswith(("ROGUE", "MOICA_ROGUE")) for label in labels)
    for entry in settings["CA_FILES"]:
        cert = x509.load_pem_x509_certificate(Path(entry["path"]).read_bytes())
        assert entry["pins"] == [hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()]
    for path, url in files.crl_files:
        crl = x509.load_der_x509_crl(path.read_bytes())
        issuer = next(ca for ca in kit.cas.values() if ca.complete_crl_url == url)
        assert crl.issuer == issuer.name and crl.is_signature_valid(issuer.certificate.public_key())
    assert len(files.arl_files) == 3
    assert settings["AGENCY_OID_MAP"][next(iter(kit.agency_oid_map))] in {"A09000000E", "ZZ9990000X"}
