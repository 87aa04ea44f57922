"""CRLIndex: verification, the entry walk (differentially against cryptography), lookups,
complexity, and the shared on-disk index.

Expectations come from :func:`cryptography.x509.load_der_x509_crl` iterating the same DER (an
independent parser), from the fixture manifest, or from the CRL's construction; never from
the code under test. Odd encodings that cryptography's builder cannot produce are hand-built
here with a small DER writer and signed with the fake CA's key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import random
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from twcert.errors import RevocationDataError
from twcert.revocation import crl_index
from twcert.revocation.crl_index import CRLIndex, RevokedEntry
from twcert.testing import FakeGPKI
from twcert.testing.fixtures import FixtureSet
from twcert.testing.pki import FakeCA
from twcert.testing.revocation import Revoked, build_crl, random_serials

REPO = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
R = x509.ReasonFlags
SLOW_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- DER writer


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def der_int(value: int) -> bytes:
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return der(0x02, value.to_bytes(size, "big", signed=True))


def utc_time(when: dt.datetime) -> bytes:
    return der(0x17, when.strftime("%y%m%d%H%M%SZ").encode())


def gen_time(when: dt.datetime) -> bytes:
    return der(0x18, f"{when.year:04d}{when.strftime('%m%d%H%M%S')}Z".encode())


OID_REASON = bytes.fromhex("0603551d15")
OID_INVALIDITY = bytes.fromhex("0603551d18")
OID_CERT_ISSUER = bytes.fromhex("0603551d1d")
OID_UNKNOWN = bytes.fromhex("06032a0304")  # 1.2.3.4
OID_AKI = bytes.fromhex("0603551d23")
OID_CRL_NUMBER = bytes.fromhex("0603551d14")
SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SHA384_RSA = bytes.fromhex("300d06092a864886f70d01010c0500")


def extension(oid: bytes, value: bytes, *, critical: bool = False) -> bytes:
    return der(0x30, oid + (b"\x01\x01\xff" if critical else b"") + der(0x04, value))


def reason_ext(code: int) -> bytes:
    return extension(OID_REASON, der(0x0A, bytes((code,))))


def invalidity_ext(when: dt.datetime) -> bytes:
    return extension(OID_INVALIDITY, gen_time(when))


def entry(serial: int, when: bytes, extensions: Sequence[bytes] | None = None) -> bytes:
    """An entry element; ``extensions=[]`` writes an empty crlEntryExtensions SEQUENCE."""
    body = der_int(serial) + when
    if extensions is not None:
        body += der(0x30, b"".join(extensions))
    return der(0x30, body)


def crl_der(
    ca: FakeCA,
    entries: Sequence[bytes] | None,
    *,
    version: bool = True,
    next_update: bool = True,
    extensions: Sequence[bytes] | None = None,
    inner_algorithm: bytes = SHA256_RSA,
    outer_algorithm: bytes | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> bytes:
    """A hand-built CRL signed (RSA PKCS#1 v1.5) over the tbsCertList bytes as written.

    ``entries=None`` leaves revokedCertificates out; ``[]`` writes an empty SEQUENCE.
    """
    if extensions is None:
        ski = x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key()).digest
        extensions = [
            extension(OID_CRL_NUMBER, der_int(7)),
            extension(OID_AKI, der(0x30, der(0x80, ski))),
        ]
    tbs = (
        (der_int(1) if version else b"")
        + inner_algorithm
        + ca.certificate.subject.public_bytes()
        + utc_time(NOW - dt.timedelta(days=1))
        + (utc_time(NOW + dt.timedelta(days=6)) if next_update else b"")
        + (der(0x30, b"".join(entries)) if entries is not None else b"")
        + (der(0xA0, der(0x30, b"".join(extensions))) if extensions else b"")
    )
    tbs = der(0x30, tbs)
    signature = (key or ca.key).sign(tbs, padding.PKCS1v15(), hash_algorithm or hashes.SHA256())
    return der(0x30, tbs + (outer_algorithm or inner_algorithm) + der(0x03, b"\x00" + signature))


# --------------------------------------------------------------------------- oracle


def oracle(der_bytes: bytes) -> tuple[dict[int, RevokedEntry], int]:
    """What cryptography iterates: serial -> entry, and the count. Of several listings of one
    serial the first that is not removeFromCRL wins (any such entry revokes), else the first."""
    crl = x509.load_der_x509_crl(der_bytes)
    entries: dict[int, RevokedEntry] = {}
    for revoked in crl:
        reason = invalidity = None
        for ext in revoked.extensions:
            if isinstance(ext.value, x509.CRLReason):
                reason = ext.value.reason
            elif isinstance(ext.value, x509.InvalidityDate):
                invalidity = ext.value.invalidity_date_utc
        entry = RevokedEntry(revoked.serial_number, revoked.revocation_date_utc, reason, invalidity)
        held = entries.get(revoked.serial_number)
        if held is None or (not held.is_revoked and entry.is_revoked):
            entries[revoked.serial_number] = entry
    return entries, len(crl)


def assert_matches_oracle(index: CRLIndex, der_bytes: bytes) -> None:
    expected, count = oracle(der_bytes)
    assert len(index) == count
    for serial, want in expected.items():
        assert index.lookup(serial) == want
        assert (serial in index) == want.is_revoked
        # Neighbours that are not listed must be absent.
        for other in (serial - 1, serial + 1, -serial - 1):
            if other not in expected:
                assert index.lookup(other) is None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fake() -> FakeGPKI:
    from twcert.testing import KeyPool

    return FakeGPKI(keys=KeyPool(reuse=True))


@pytest.fixture(scope="module")
def moica(fake: FakeGPKI) -> FakeCA:
    return fake.cas["MOICA2"]


def index_of(ca: FakeCA, der_bytes: bytes) -> CRLIndex:
    return CRLIndex.from_der(der_bytes, issuer=ca.certificate)


def revoked_at(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


# --------------------------------------------------------------------------- committed fixtures


def test_fixture_complete_crl_lists_the_revoked_and_the_held_certificates(fixture_set: FixtureSet) -> None:
    der_bytes = fixture_set.crl("MOICA2-complete")
    moica2 = fixture_set.pki.cas["MOICA2"]
    index = CRLIndex.from_der(der_bytes, issuer=moica2.parsed())
    certs = fixture_set.certificates
    revoked = int(certs["citizen-revoked"]["serial"], 16)
    on_hold = int(certs["citizen-on-hold"]["serial"], 16)
    good = int(certs["citizen-wang"]["serial"], 16)

    assert_matches_oracle(index, der_bytes)
    entry_revoked = index.lookup(revoked)
    assert entry_revoked is not None
    assert entry_revoked.reason is R.key_compromise
    assert entry_revoked.revoked_at == fixture_set.now - dt.timedelta(days=10)
    assert entry_revoked.is_revoked and not entry_revoked.on_hold
    held = index.lookup(on_hold)
    assert held is not None and held.on_hold and held.is_revoked
    assert revoked in index and on_hold in index
    assert index.lookup(good) is None and good not in index

    crl = x509.load_der_x509_crl(der_bytes)
    assert index.crl_number == crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 20
    assert index.this_update == crl.last_update_utc
    assert index.next_update == crl.next_update_utc
    assert index.sha256 == hashlib.sha256(der_bytes).hexdigest()
    assert index.issuer_key_identifier == moica2.parsed().subject_key_identifier
    assert index.partition_urls == () and not index.only_user_certs and not index.only_ca_certs
    assert index.is_fresh(fixture_set.now)
    assert not index.is_mapped


def test_fixture_partition_crl_has_its_scope(fixture_set: FixtureSet) -> None:
    moica2 = fixture_set.pki.cas["MOICA2"]
    index = CRLIndex.from_der(fixture_set.crl("MOICA2-partition-1"), issuer=moica2.certificate)
    assert_matches_oracle(index, fixture_set.crl("MOICA2-partition-1"))
    assert index.partition_urls == (moica2.partition_crl_url(1),)
    assert index.covers(moica2.partition_crl_url(1))
    assert not index.covers(moica2.partition_crl_url(2))
    assert not index.covers(moica2.complete_crl_url)
    wang = fixture_set.issued("citizen-wang")  # CDP: partition 1, then the complete CRL
    assert index.covers(wang.certificate) and index.covers(wang.parsed())

    complete = CRLIndex.from_der(fixture_set.crl("MOICA2-complete"), issuer=moica2.certificate)
    assert complete.covers(moica2.partition_crl_url(2)) and complete.covers(wang.certificate)


def test_fixture_crl_signed_by_the_wrong_key_is_refused(fixture_set: FixtureSet) -> None:
    moica2 = fixture_set.pki.cas["MOICA2"]
    with pytest.raises(RevocationDataError, match="signature"):
        CRLIndex.from_der(fixture_set.crl("MOICA2-wrong-key"), issuer=moica2.certificate)


def test_fixture_old_crl_is_stale_and_still_shows_the_hold(fixture_set: FixtureSet) -> None:
    moica2 = fixture_set.pki.cas["MOICA2"]
    der_bytes = fixture_set.crl("MOICA2-old-with-hold")
    index = CRLIndex.from_der(der_bytes, issuer=moica2.certificate)
    assert_matches_oracle(index, der_bytes)
    assert not index.is_fresh(fixture_set.now)
    released = index.lookup(int(fixture_set.certificates["citizen-released"]["serial"], 16))
    assert released is not None and released.on_hold
    newer = CRLIndex.from_der(fixture_set.crl("MOICA2-complete"), issuer=moica2.certificate)
    assert newer.lookup(released.serial_number) is None


@pytest.mark.parametrize(
    "name",
    json.loads((REPO / "fixtures" / "gpki" / "manifest.json").read_text(encoding="utf-8"))["crls"],
)
def test_every_fixture_crl_ingests_with_its_own_ca_only(fixture_set: FixtureSet, name: str) -> None:
    info = fixture_set.manifest["crls"][name]
    der_bytes = fixture_set.crl(name)
    ca = fixture_set.pki.cas[info["ca"]]
    if "wrong key" in info.get("note", ""):
        with pytest.raises(RevocationDataError):
            CRLIndex.from_der(der_bytes, issuer=ca.certificate)
        return
    assert_matches_oracle(CRLIndex.from_der(der_bytes, issuer=ca.certificate), der_bytes)
    for label, other in fixture_set.pki.cas.items():
        if label != info["ca"]:
            with pytest.raises(RevocationDataError):
                CRLIndex.from_der(der_bytes, issuer=other.certificate)


# --------------------------------------------------------------------------- issuer binding


def test_same_dn_other_generation_fails_on_the_authority_key_identifier(fixture_set: FixtureSet) -> None:
    moica3 = fixture_set.pki.cas["MOICA3"]  # same DN as MOICA2, another key
    with pytest.raises(RevocationDataError, match="authority key identifier"):
        CRLIndex.from_der(fixture_set.crl("MOICA2-complete"), issuer=moica3.certificate)


def test_without_aki_the_same_dn_ca_fails_on_the_signature(fake: FakeGPKI) -> None:
    moica2, moica3 = fake.cas["MOICA2"], fake.cas["MOICA3"]
    der_bytes = build_crl(moica2, [5], this_update=NOW, next_update=NOW, with_aki=False)
    assert len(CRLIndex.from_der(der_bytes, issuer=moica2.certificate)) == 1
    with pytest.raises(RevocationDataError, match="signature"):
        CRLIndex.from_der(der_bytes, issuer=moica3.certificate)


def test_wrong_issuer_name_is_refused(fake: FakeGPKI, moica: FakeCA) -> None:
    der_bytes = build_crl(moica, [5], this_update=NOW, next_update=NOW, issuer_name=fake.cas["GCA"].name)
    with pytest.raises(RevocationDataError, match="issuer"):
        index_of(moica, der_bytes)


def test_tampered_signature_and_body_are_refused(moica: FakeCA) -> None:
    der_bytes = build_crl(moica, [Revoked(77, revoked_at(3), R.superseded)], this_update=NOW, next_update=NOW)
    assert len(index_of(moica, der_bytes)) == 1
    last = der_bytes[:-1] + bytes((der_bytes[-1] ^ 1,))
    with pytest.raises(RevocationDataError, match="signature"):
        index_of(moica, last)
    serial_at = der_bytes.index(der_int(77))
    body = bytearray(der_bytes)
    body[serial_at + 2] = 78  # revoke another certificate
    with pytest.raises(RevocationDataError, match="signature"):
        index_of(moica, bytes(body))


def test_issuer_without_crl_sign_is_refused(moica: FakeCA) -> None:
    usage = x509.KeyUsage(True, False, False, False, False, True, False, False, False)  # no cRLSign
    impostor = (
        x509.CertificateBuilder()
        .subject_name(moica.name)
        .issuer_name(moica.name)
        .public_key(moica.key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(usage, critical=True)
        .sign(moica.key, hashes.SHA256())
    )
    der_bytes = build_crl(moica, [5], this_update=NOW, next_update=NOW)
    with pytest.raises(RevocationDataError, match="cRLSign"):
        CRLIndex.from_der(der_bytes, issuer=impostor)


def test_issuer_without_key_usage_is_accepted(moica: FakeCA) -> None:
    plain = (
        x509.CertificateBuilder()
        .subject_name(moica.name)
        .issuer_name(moica.name)
        .public_key(moica.key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(moica.key, hashes.SHA256())
    )
    der_bytes = build_crl(moica, [5], this_update=NOW, next_update=NOW)
    index = CRLIndex.from_der(der_bytes, issuer=plain)
    # Without an SKI extension the key identifier is RFC 5280 method 1, as in the CRL's AKI.
    assert (
        index.issuer_key_identifier
        == x509.SubjectKeyIdentifier.from_public_key(moica.key.public_key()).digest
    )


# --------------------------------------------------------------------------- signature algorithms


def _self_signed_ca(key: Any, algorithm: hashes.HashAlgorithm | None, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, algorithm)
    )


def _crl_by(cert: x509.Certificate, key: Any, algorithm: hashes.HashAlgorithm | None, **sign: Any) -> bytes:
    revoked = [
        x509.RevokedCertificateBuilder().serial_number(s).revocation_date(revoked_at(1)).build()
        for s in (3, 2**100, 12345)
    ]
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=cert.subject,
        last_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        revoked_certificates=revoked,
        extensions=[
            x509.Extension(
                x509.AuthorityKeyIdentifier.oid,
                False,
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
            )
        ],
    )
    return builder.sign(key, algorithm, **sign).public_bytes(serialization.Encoding.DER)


SIGNERS: dict[str, tuple[Any, hashes.HashAlgorithm | None, dict[str, Any]]] = {
    "rsa-sha256": (rsa.generate_private_key(65537, 2048), hashes.SHA256(), {}),
    "rsa-sha512": (rsa.generate_private_key(65537, 2048), hashes.SHA512(), {}),
    "rsa-pss": (
        rsa.generate_private_key(65537, 2048),
        hashes.SHA256(),
        {"rsa_padding": padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)},
    ),
    "ecdsa-p256": (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256(), {}),
    "ecdsa-p384": (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384(), {}),
    "ed25519": (ed25519.Ed25519PrivateKey.generate(), None, {}),
}


@pytest.mark.parametrize("signer", sorted(SIGNERS))
def test_signature_check_agrees_with_is_signature_valid(signer: str) -> None:
    key, algorithm, extra = SIGNERS[signer]
    cert = _self_signed_ca(key, algorithm, signer)
    der_bytes = _crl_by(cert, key, algorithm, **extra)
    assert x509.load_der_x509_crl(der_bytes).is_signature_valid(key.public_key())
    assert_matches_oracle(CRLIndex.from_der(der_bytes, issuer=cert), der_bytes)

    # The same CRL under another signer's certificate with the same name: refused, as
    # is_signature_valid refuses it (the AKI check is bypassed by leaving AKI out).
    for other_name, (other_key, other_alg, _) in SIGNERS.items():
        if other_name == signer:
            continue
        other = _self_signed_ca(other_key, other_alg, signer)
        unmarked = _crl_no_aki(cert, key, algorithm, **extra)
        assert not x509.load_der_x509_crl(unmarked).is_signature_valid(other.public_key())
        with pytest.raises(RevocationDataError, match="signature"):
            CRLIndex.from_der(unmarked, issuer=other)

    flipped = bytearray(der_bytes)
    flipped[-3] ^= 0x40
    assert not x509.load_der_x509_crl(bytes(flipped)).is_signature_valid(key.public_key())
    with pytest.raises(RevocationDataError, match="signature"):
        CRLIndex.from_der(bytes(flipped), issuer=cert)


def _crl_no_aki(
    cert: x509.Certificate, key: Any, algorithm: hashes.HashAlgorithm | None, **sign: Any
) -> bytes:
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=cert.subject, last_update=NOW, next_update=NOW + dt.timedelta(days=1)
    )
    return builder.sign(key, algorithm, **sign).public_bytes(serialization.Encoding.DER)


def test_signature_algorithm_mismatch_inside_and_outside_tbs_is_refused(moica: FakeCA) -> None:
    der_bytes = crl_der(
        moica, [entry(5, utc_time(revoked_at(1)))], outer_algorithm=SHA384_RSA, hash_algorithm=hashes.SHA384()
    )
    with pytest.raises(ValueError, match="signature algorithms do not match"):
        x509.load_der_x509_crl(der_bytes)  # cryptography 50 refuses it already while parsing
    with pytest.raises(RevocationDataError):
        index_of(moica, der_bytes)
    assert not crl_index._layout(der_bytes).algorithms_match  # and so would our own check


# --------------------------------------------------------------------------- extensions and scope


def _crl_with(moica: FakeCA, extensions: Sequence[x509.Extension[x509.ExtensionType]]) -> bytes:
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=moica.name,
        last_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        extensions=list(extensions),
        revoked_certificates=[
            x509.RevokedCertificateBuilder().serial_number(9).revocation_date(revoked_at(2)).build()
        ],
    )
    return builder.sign(moica.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _idp(**overrides: Any) -> x509.Extension[x509.ExtensionType]:
    fields: dict[str, Any] = {
        "full_name": [x509.UniformResourceIdentifier("http://crl.example/CRL_0001.crl")],
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    fields.update(overrides)
    value = x509.IssuingDistributionPoint(**fields)
    return x509.Extension(value.oid, True, value)


UNKNOWN = x509.ObjectIdentifier("1.2.3.4")


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ([x509.Extension(UNKNOWN, True, x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"))], "critical"),
        ([x509.Extension(x509.DeltaCRLIndicator.oid, True, x509.DeltaCRLIndicator(4))], "delta"),
        ([_idp(indirect_crl=True)], "indirect"),
        ([_idp(full_name=None, only_some_reasons=frozenset({R.key_compromise}))], "onlySomeReasons"),
        ([_idp(full_name=None, only_contains_attribute_certs=True)], "attribute"),
    ],
    ids=["critical-unknown", "delta", "indirect", "some-reasons", "attribute-certs"],
)
def test_unsupported_crl_extensions_are_refused(
    moica: FakeCA, extensions: list[x509.Extension[x509.ExtensionType]], message: str
) -> None:
    der_bytes = _crl_with(moica, extensions)
    assert len(x509.load_der_x509_crl(der_bytes).extensions) == len(extensions)  # cryptography accepts them
    with pytest.raises(RevocationDataError, match=message):
        index_of(moica, der_bytes)


def test_ignorable_crl_extensions_are_accepted(moica: FakeCA) -> None:
    freshest = x509.FreshestCRL(
        [
            x509.DistributionPoint(
                [x509.UniformResourceIdentifier("http://crl.example/delta.crl")], None, None, None
            )
        ]
    )
    der_bytes = _crl_with(
        moica,
        [
            x509.Extension(UNKNOWN, False, x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00")),
            x509.Extension(freshest.oid, False, freshest),
        ],
    )
    assert_matches_oracle(index_of(moica, der_bytes), der_bytes)


def test_idp_flags_limit_coverage(fake: FakeGPKI, moica: FakeCA) -> None:
    users = index_of(moica, _crl_with(moica, [_idp(full_name=None, only_contains_user_certs=True)]))
    cas = index_of(moica, _crl_with(moica, [_idp(full_name=None, only_contains_ca_certs=True)]))
    relative = index_of(
        moica,
        _crl_with(
            moica,
            [
                _idp(
                    full_name=None,
                    relative_name=x509.RelativeDistinguishedName(
                        [x509.NameAttribute(NameOID.COMMON_NAME, "p1")]
                    ),
                )
            ],
        ),
    )
    person = fake.issue_citizen("王測試", "A123456789").certificate
    assert users.only_user_certs and users.covers(person)
    assert cas.only_ca_certs and not cas.covers(person)
    # A partition named relative to the issuer has no URL to match: it covers nothing here.
    assert relative.partition_urls == () and not relative.covers(person)
    from_gca = fake.issue("GCA", person.subject).certificate
    assert not users.covers(from_gca)  # another issuer's certificate


def test_critical_unknown_entry_extension_is_refused_non_critical_accepted(moica: FakeCA) -> None:
    when = utc_time(revoked_at(2))
    ok = crl_der(moica, [entry(5, when, [extension(OID_UNKNOWN, b"\x05\x00"), reason_ext(1)])])
    assert_matches_oracle(index_of(moica, ok), ok)
    bad = crl_der(moica, [entry(5, when, [extension(OID_UNKNOWN, b"\x05\x00", critical=True)])])
    with pytest.raises(RevocationDataError, match="critical"):
        index_of(moica, bad)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ([extension(OID_REASON, der(0x0A, b"\x07"))], "reason"),
        ([extension(OID_REASON, der(0x0A, b"\x0b"))], "reason"),
        ([extension(OID_REASON, der(0x0A, b"\x00\x01"))], "reason"),
        ([extension(OID_REASON, der(0x02, b"\x01"))], "reason"),
        ([extension(OID_REASON, der(0x0A, b"\x01") + b"\x00")], "reason"),
        ([reason_ext(1), reason_ext(1)], "duplicate"),
        ([extension(OID_INVALIDITY, der(0x18, b"20250101000000.5Z"))], "invalidityDate"),
        ([extension(OID_INVALIDITY, utc_time(NOW))], "invalidityDate"),
        ([extension(OID_INVALIDITY, der(0x18, b"20250230000000Z"))], "date"),
        ([extension(OID_CERT_ISSUER, der(0x30, der(0x86, b"http://x")), critical=True)], "indirect"),
    ],
)
def test_bad_entry_extensions_are_refused_where_cryptography_fails_too(
    moica: FakeCA, extensions: list[bytes], message: str
) -> None:
    der_bytes = crl_der(
        moica, [entry(5, utc_time(revoked_at(2))), entry(6, utc_time(revoked_at(2)), extensions)]
    )
    crl = x509.load_der_x509_crl(der_bytes)
    if message != "indirect":  # cryptography understands certificateIssuer; we refuse indirect CRLs
        with pytest.raises((ValueError, x509.DuplicateExtension)):
            [list(r.extensions) for r in crl]
    with pytest.raises(RevocationDataError, match=message):
        index_of(moica, der_bytes)


def test_year_zero_revocation_date_is_refused(moica: FakeCA) -> None:
    der_bytes = crl_der(moica, [entry(5, der(0x18, b"00000101000000Z"))])
    crl = x509.load_der_x509_crl(der_bytes)  # accepted here, but no datetime can hold it
    with pytest.raises(ValueError):
        [r.revocation_date_utc for r in crl]
    with pytest.raises(RevocationDataError, match="date"):
        index_of(moica, der_bytes)


# --------------------------------------------------------------------------- not a CRL


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"not a crl", bytes(range(256)), b"\xff" * 4096],
    ids=["empty", "tag", "empty-seq", "indefinite", "text", "bytes", "ff"],
)
def test_bytes_that_are_not_a_crl(moica: FakeCA, data: bytes) -> None:
    with pytest.raises(RevocationDataError):
        index_of(moica, data)


def test_other_der_objects_and_pem_are_not_a_crl(moica: FakeCA) -> None:
    for data in (
        moica.certificate.public_bytes(serialization.Encoding.DER),
        x509.load_der_x509_crl(build_crl(moica, [], this_update=NOW, next_update=NOW)).public_bytes(
            serialization.Encoding.PEM
        ),
        build_crl(moica, [1], this_update=NOW, next_update=NOW) + b"\x00",
    ):
        with pytest.raises(RevocationDataError):
            index_of(moica, data)


def test_size_limit(moica: FakeCA) -> None:
    der_bytes = build_crl(moica, [1, 2, 3], this_update=NOW, next_update=NOW)
    assert len(CRLIndex.from_der(der_bytes, issuer=moica.certificate, max_bytes=len(der_bytes))) == 3
    with pytest.raises(RevocationDataError, match="limit"):
        CRLIndex.from_der(der_bytes, issuer=moica.certificate, max_bytes=len(der_bytes) - 1)


def test_accepts_bytearray_and_memoryview(moica: FakeCA) -> None:
    der_bytes = build_crl(
        moica, [Revoked(4, revoked_at(1), R.key_compromise)], this_update=NOW, next_update=NOW
    )
    for data in (bytearray(der_bytes), memoryview(der_bytes)):
        assert 4 in CRLIndex.from_der(data, issuer=moica.certificate)


# --------------------------------------------------------------------------- hold and release


def test_hold_and_remove_from_crl(moica: FakeCA) -> None:
    der_bytes = build_crl(
        moica,
        [
            Revoked(10, revoked_at(5), R.certificate_hold),
            Revoked(11, revoked_at(4), R.remove_from_crl),
            Revoked(12, revoked_at(3), R.key_compromise, invalidity_date=revoked_at(30)),
            Revoked(13, revoked_at(3)),
        ],
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
    )
    index = index_of(moica, der_bytes)
    assert_matches_oracle(index, der_bytes)
    held, released, compromised, plain = (index.lookup(s) for s in (10, 11, 12, 13))
    assert held is not None and held.on_hold and held.is_revoked and 10 in index
    assert released is not None and not released.is_revoked and not released.on_hold and 11 not in index
    assert compromised is not None and compromised.invalidity_date == revoked_at(30)
    assert plain is not None and plain.reason is None and plain.is_revoked and 13 in index
    assert "13" not in index  # type: ignore[operator]


def test_is_fresh_boundaries(moica: FakeCA) -> None:
    this_update, next_update = NOW, NOW + dt.timedelta(days=1)
    index = index_of(moica, build_crl(moica, [], this_update=this_update, next_update=next_update))
    skew = dt.timedelta(minutes=5)
    assert index.is_fresh(this_update - skew)
    assert not index.is_fresh(this_update - skew - dt.timedelta(seconds=1))
    assert index.is_fresh(next_update + skew)
    assert not index.is_fresh(next_update + skew + dt.timedelta(seconds=1))
    assert not index.is_fresh(next_update + dt.timedelta(seconds=1), skew=dt.timedelta(0))
    with pytest.raises(ValueError, match="aware"):
        index.is_fresh(NOW.replace(tzinfo=None))


def test_crl_without_next_update_is_always_fresh_after_this_update(moica: FakeCA) -> None:
    der_bytes = crl_der(moica, [entry(5, utc_time(revoked_at(1)))], next_update=False)
    index = index_of(moica, der_bytes)
    assert index.next_update is None
    assert index.is_fresh(NOW + dt.timedelta(days=3650))
    assert not index.is_fresh(NOW - dt.timedelta(days=2))


# --------------------------------------------------------------------------- differential walk


def _entries_oddities() -> list[bytes]:
    """Entries cryptography's builder cannot (or does not) write."""
    rng = random.Random(7)
    when_utc = utc_time(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
    when_gen = gen_time(dt.datetime(2050, 1, 1, tzinfo=dt.UTC))
    old_gen = gen_time(dt.datetime(1949, 12, 31, tzinfo=dt.UTC))
    utc_1950 = utc_time(dt.datetime(1950, 1, 1, tzinfo=dt.UTC))
    big_value = b"\x04\x81\x90" + bytes(144)  # a non-critical unknown extension of 144 bytes
    return [
        entry(0, when_utc),
        entry(-1, when_utc, [reason_ext(1)]),
        entry(-128, when_gen),
        entry(-129, old_gen, [reason_ext(6)]),
        entry(127, utc_1950),
        entry(128, when_utc, []),  # empty extensions after UTCTime
        entry(255, when_gen, []),  # empty extensions after GeneralizedTime
        entry(2**159 - 1, when_utc, [reason_ext(10), invalidity_ext(dt.datetime(1, 1, 1, tzinfo=dt.UTC))]),
        entry(-(2**159), when_gen, [invalidity_ext(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))]),
        entry(2**167, when_utc),  # 22 octets
        entry(rng.getrandbits(1015), when_utc, [reason_ext(4)]),  # 127 octets: long-form entry length
        entry(rng.getrandbits(1016) | 1 << 1015, when_utc),  # 128 octets: long-form serial length
        entry(-(2**1100), when_gen, [reason_ext(0)]),
        entry(77, when_utc, [extension(OID_UNKNOWN, big_value), reason_ext(2)]),  # entry of over 255 bytes
        entry(78, when_gen, [extension(OID_UNKNOWN, b"\x04\x00"), reason_ext(9), invalidity_ext(NOW)]),
        entry(79, utc_time(revoked_at(1)), [invalidity_ext(NOW), reason_ext(8)]),
        entry(80, gen_time(revoked_at(1)), [reason_ext(5)]),
    ]


def test_walk_matches_cryptography_on_hand_built_oddities(moica: FakeCA) -> None:
    entries = _entries_oddities()
    der_bytes = crl_der(moica, entries)
    index = index_of(moica, der_bytes)
    assert_matches_oracle(index, der_bytes)
    assert len(index) == len(entries)
    # The careful per-element walk and the fast walk build the same table.
    start, end = crl_index._layout(der_bytes).revoked or (0, 0)
    careful = crl_index._build_table(der_bytes, start, end, len(entries), {}, careful=True)
    assert careful == index._table


@pytest.mark.parametrize(
    ("entries", "kwargs"),
    [
        (None, {}),
        ([], {}),
        (None, {"version": False, "extensions": []}),  # a v1 CRL: no version, no extensions
        ([entry(5, utc_time(revoked_at(1)))], {"version": False, "extensions": [], "next_update": False}),
    ],
    ids=["absent", "empty-sequence", "v1-empty", "v1-one"],
)
def test_empty_and_v1_crls(moica: FakeCA, entries: list[bytes] | None, kwargs: dict[str, Any]) -> None:
    der_bytes = crl_der(moica, entries, **kwargs)
    index = index_of(moica, der_bytes)
    assert_matches_oracle(index, der_bytes)
    assert index.lookup(0) is None and index.lookup(-5) is None and index.lookup(2**200) is None


def test_duplicate_serial_answers_with_the_first_listing_like_cryptography(moica: FakeCA) -> None:
    der_bytes = crl_der(
        moica,
        [
            entry(42, utc_time(revoked_at(9)), [reason_ext(6)]),
            entry(42, utc_time(revoked_at(1)), [reason_ext(1)]),
        ],
    )
    index = index_of(moica, der_bytes)
    first = x509.load_der_x509_crl(der_bytes).get_revoked_certificate_by_serial_number(42)
    assert first is not None
    found = index.lookup(42)
    assert found is not None and found.revoked_at == first.revocation_date_utc and found.on_hold
    assert len(index) == 2


def test_walk_matches_cryptography_on_builder_crls(moica: FakeCA) -> None:
    rng = random.Random(11)
    items: list[Revoked | int] = []
    for i in range(3000):
        size = rng.choice([1, 2, 8, 15, 16, 16, 16, 17, 17, 19, 20])
        serial = rng.getrandbits(size * 8 - 1) | 1 if size > 1 else rng.randrange(1, 128)
        when = dt.datetime(
            rng.choice([1950, 1999, 2026, 2049, 2050, 2199]), 1 + i % 12, 1 + i % 28, tzinfo=dt.UTC
        )
        reason = rng.choice([None, None, *R.__members__.values()])
        reason = None if reason is R.unspecified else reason
        invalidity = revoked_at(rng.randrange(1, 400)) if rng.random() < 0.1 else None
        items.append(
            Revoked(serial, when, reason, invalidity)
            if reason or invalidity or rng.random() < 0.5
            else serial
        )
    der_bytes = build_crl(moica, items, this_update=NOW, next_update=NOW + dt.timedelta(days=1))
    assert_matches_oracle(index_of(moica, der_bytes), der_bytes)


_times = st.datetimes(
    min_value=dt.datetime(1950, 1, 1),
    max_value=dt.datetime(2049, 12, 31, 23, 59, 59),
    timezones=st.just(dt.UTC),
).map(lambda t: t.replace(microsecond=0))
_any_times = st.datetimes(min_value=dt.datetime(1, 1, 1), timezones=st.just(dt.UTC)).map(
    lambda t: t.replace(microsecond=0)
)
_serials = st.one_of(
    st.integers(min_value=-(2**200), max_value=2**200),
    st.integers(min_value=-300, max_value=300),
    st.integers(min_value=2**126, max_value=2**128),
    st.integers(min_value=1, max_value=32).map(lambda k: 2 ** (8 * k - 1)),
)


@st.composite
def _crl_entries(draw: st.DrawFn) -> list[bytes]:
    out = []
    for serial in draw(st.lists(_serials, min_size=0, max_size=40)):
        when = draw(st.one_of(_times.map(utc_time), _any_times.map(gen_time)))
        kind = draw(st.sampled_from(["none", "empty", "reason", "invalidity", "both", "unknown"]))
        exts: list[bytes] | None = {
            "none": None,
            "empty": [],
            "reason": [reason_ext(draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 9, 10])))],
            "invalidity": [invalidity_ext(draw(_any_times))],
            "both": [invalidity_ext(draw(_any_times)), reason_ext(draw(st.sampled_from([1, 6, 8])))],
            "unknown": [extension(OID_UNKNOWN, draw(st.binary(max_size=300))), reason_ext(4)],
        }[kind]
        out.append(entry(serial, when, exts))
    return out


@SLOW_SETTINGS
@given(entries=_crl_entries())
def test_walk_matches_cryptography_on_generated_entries(moica: FakeCA, entries: list[bytes]) -> None:
    der_bytes = crl_der(moica, entries)
    index = index_of(moica, der_bytes)
    assert_matches_oracle(index, der_bytes)
    start, end = crl_index._layout(der_bytes).revoked or (0, 0)
    careful = crl_index._build_table(der_bytes, start, end, len(entries), {}, careful=True)
    assert careful == index._table


# --------------------------------------------------------------------------- mutations


@pytest.fixture(scope="module")
def seed_crl(moica: FakeCA) -> bytes:
    return crl_der(
        moica,
        [
            entry(2**127 + 5, utc_time(revoked_at(3)), [reason_ext(1)]),
            entry(77, gen_time(revoked_at(2))),
            entry(-3, utc_time(revoked_at(1)), [reason_ext(6), invalidity_ext(revoked_at(9))]),
            entry(2**140, utc_time(revoked_at(4)), []),
        ],
    )


_mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
        st.integers(0, 10**6),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in mutations:
        if not out:
            break
        i = where % len(out)
        if kind == "flip":
            out[i] ^= 1 << (value % 8)
        elif kind == "set":
            out[i] = value
        elif kind == "insert":
            out.insert(i, value)
        elif kind == "delete":
            del out[i]
        else:
            del out[i:]
    return bytes(out)


@SLOW_SETTINGS
@given(mutations=_mutations)
def test_mutated_crl_raises_only_revocation_data_error(
    moica: FakeCA, seed_crl: bytes, mutations: list[tuple[str, int, int]]
) -> None:
    data = _mutate(seed_crl, mutations)
    assume(data != seed_crl)
    with pytest.raises(RevocationDataError):
        index_of(moica, data)


@SLOW_SETTINGS
@given(mutations=_mutations)
def test_mutated_then_re_signed_crl_is_refused_or_matches_cryptography(
    moica: FakeCA, seed_crl: bytes, mutations: list[tuple[str, int, int]]
) -> None:
    """Mutate the tbsCertList and sign it again, so only the structure decides."""
    layout = crl_index._layout(seed_crl)
    tbs = _mutate(seed_crl[layout.tbs[0] : layout.tbs[1]], mutations)
    signature = moica.key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    data = der(0x30, tbs + SHA256_RSA + der(0x03, b"\x00" + signature))
    try:
        index = index_of(moica, data)
    except RevocationDataError:
        return
    assert x509.load_der_x509_crl(data).is_signature_valid(moica.key.public_key())
    assert_matches_oracle(index, data)


def test_structure_preserving_mutations_match_cryptography(moica: FakeCA, seed_crl: bytes) -> None:
    """Every single-byte change inside the entries, re-signed: refused, or exactly as cryptography."""
    layout = crl_index._layout(seed_crl)
    start, end = layout.revoked or (0, 0)
    tbs_start = layout.tbs[0]
    accepted = refused = 0
    for pos in range(start, end):
        for value in (0x00, 0x01, 0x30, 0x7F, 0x80, 0xFF):
            if seed_crl[pos] == value:
                continue
            tbs = bytearray(seed_crl[tbs_start : layout.tbs[1]])
            tbs[pos - tbs_start] = value
            signature = moica.key.sign(bytes(tbs), padding.PKCS1v15(), hashes.SHA256())
            data = der(0x30, bytes(tbs) + SHA256_RSA + der(0x03, b"\x00" + signature))
            try:
                index = index_of(moica, data)
            except RevocationDataError:
                refused += 1
                continue
            accepted += 1
            assert_matches_oracle(index, data)
    assert accepted > 50 and refused > 50  # both outcomes really happen


# --------------------------------------------------------------------------- lookup cost


class _CountingTable(Sequence[int]):
    def __init__(self, inner: Sequence[int]) -> None:
        self.inner, self.reads = inner, 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: Any) -> Any:
        self.reads += 1
        return self.inner[i]


class _CountingBuffer:
    def __init__(self, inner: bytes) -> None:
        self.inner, self.reads = inner, 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: Any) -> Any:
        self.reads += 1
        return self.inner[i]


def _probe_cost(moica: FakeCA, count: int) -> tuple[float, float, int]:
    serials = random_serials(count, seed=count)
    index = index_of(moica, build_crl(moica, serials, this_update=NOW, next_update=NOW))
    table, buffer = _CountingTable(index._table), _CountingBuffer(index._der)  # type: ignore[arg-type]
    index._table, index._der = table, buffer  # type: ignore[assignment]
    rng = random.Random(f"probe-{count}")  # not the seed random_serials used
    present = rng.sample(serials, 500)
    listed = set(serials)
    absent = [s for s in (rng.getrandbits(127) | 1 << 126 for _ in range(500)) if s not in listed]
    worst = 0
    means = []
    for group in (present, absent):
        total = 0
        for serial in group:
            before = table.reads + buffer.reads
            found = index.lookup(serial)
            assert (found is not None) == (group is present)
            cost = table.reads + buffer.reads - before
            total += cost
            worst = max(worst, cost)
        means.append(total / len(group))
    return means[0], means[1], worst


def test_lookup_cost_does_not_grow_with_the_crl(moica: FakeCA) -> None:
    """Reads of the table and the DER per lookup: a few, whatever the size (no per-entry work)."""
    costs = {count: _probe_cost(moica, count) for count in (1_000, 10_000, 100_000)}
    for present, absent, worst in costs.values():
        assert present <= 12 and absent <= 12 and worst <= 200
    assert costs[100_000][0] <= costs[1_000][0] + 2
    assert costs[100_000][1] <= costs[1_000][1] + 2


def test_structured_serials_probe_like_random_ones(moica: FakeCA) -> None:
    count = 20_000
    patterns = {
        "sequential": list(range(1, count + 1)),
        "counter-high": [i << 64 for i in range(1, count + 1)],
        "counter-high-const": [(i << 64) | 0x0EBED56B1B6CECC4 for i in range(1, count + 1)],
        "negative": [-i for i in range(1, count + 1)],
    }
    for name, serials in patterns.items():
        index = index_of(moica, crl_der(moica, [entry(s, utc_time(revoked_at(1))) for s in serials]))
        table = _CountingTable(index._table)
        index._table = table
        for serial in serials[:500]:
            assert index.lookup(serial) is not None
        for serial in range(10**30, 10**30 + 500):
            assert index.lookup(serial) is None
        assert table.reads / 1000 <= 4, name


def test_index_memory_and_no_cryptography_object_kept(moica: FakeCA) -> None:
    count = 50_000
    index = index_of(moica, build_crl(moica, random_serials(count), this_update=NOW, next_update=NOW))
    table = index._table
    assert isinstance(table, crl_index.array)
    assert table.itemsize * len(table) <= 8 * count + 8  # 8 bytes per entry (load 1/2)
    for name in CRLIndex.__slots__:
        assert not isinstance(getattr(index, name), x509.CertificateRevocationList)


def test_fast_entry_construction_is_an_ordinary_revoked_entry() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    fast = crl_index._make_entry(7, when, R.key_compromise, None)
    slow = RevokedEntry(7, when, R.key_compromise)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    with pytest.raises(AttributeError):
        fast.serial_number = 8  # type: ignore[misc]


@pytest.mark.slow
def test_million_entry_crl(moica: FakeCA) -> None:
    count = 1_000_000
    rng = random.Random(3)
    serials = random_serials(count, seed=3)
    reasons = [R.key_compromise, R.certificate_hold, R.superseded, R.cessation_of_operation]
    items: list[Revoked | int] = [
        Revoked(s, revoked_at(rng.randrange(1, 4000)), rng.choice(reasons)) if i % 100 == 0 else s
        for i, s in enumerate(serials)
    ]
    der_bytes = build_crl(moica, items, this_update=NOW, next_update=NOW + dt.timedelta(days=1))
    index = index_of(moica, der_bytes)
    assert len(index) == count
    crl = x509.load_der_x509_crl(der_bytes)
    checked = 0
    for revoked in itertools.islice(crl, 0, None, 997):
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = None
        assert index.lookup(revoked.serial_number) == RevokedEntry(
            revoked.serial_number, revoked.revocation_date_utc, reason
        )
        checked += 1
    assert checked > 1000
    listed = set(serials)
    absent = [s for s in (rng.getrandbits(127) | 1 << 126 for _ in range(2000)) if s not in listed]
    assert all(index.lookup(s) is None for s in absent)
    assert sum(1 for s in serials[:: count // 1000] if s in index) == len(serials[:: count // 1000])


# --------------------------------------------------------------------------- shared file


@pytest.fixture(scope="module")
def sample(moica: FakeCA) -> tuple[CRLIndex, bytes, list[int]]:
    rng = random.Random(5)
    serials = [*random_serials(3000, seed=5), 0, -1, -(2**140), 2**1100]
    items: list[Revoked | int] = [
        Revoked(
            s, revoked_at(rng.randrange(1, 900)), rng.choice([None, R.certificate_hold, R.remove_from_crl])
        )
        for s in serials[:2000]
    ]
    der_bytes = crl_der(
        moica,
        [entry(s, utc_time(revoked_at(1)), [reason_ext(1)]) for s in serials[2000:]]
        + [
            entry(i.serial_number, gen_time(i.revoked_at), [reason_ext(6)] if i.reason else None)
            for i in items
            if isinstance(i, Revoked)
        ],
    )
    return index_of(moica, der_bytes), der_bytes, serials


def _answers(index: CRLIndex, serials: Sequence[int]) -> list[Any]:
    out = []
    for serial in serials:
        found = index.lookup(serial)
        out.append(
            None if found is None else [found.revoked_at.isoformat(), str(found.reason), serial in index]
        )
    return out


def test_save_open_round_trip(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, der_bytes, serials = sample
    path = tmp_path / "moica.crlidx"
    path.write_bytes(b"an older file the save replaces")
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["moica.crlidx"]  # no temporary left behind
    probe = [*serials[::7], 12345, -2, 2**200]
    with CRLIndex.open(path, issuer=moica.certificate) as mapped:
        assert mapped.is_mapped and len(mapped) == len(index)
        assert mapped.metadata == index.metadata
        assert _answers(mapped, probe) == _answers(index, probe)
        again = tmp_path / "again.crlidx"
        mapped.save(again)  # a mapped index saves too
    assert again.read_bytes() == path.read_bytes()
    assert path.read_bytes().endswith(der_bytes)


_CHILD = """
import json, sys
from twcert.revocation.crl_index import CRLIndex
index = CRLIndex.open(sys.argv[1], key=b"deployment secret")
serials = json.loads(sys.stdin.read())
out = []
for serial in serials:
    found = index.lookup(serial)
    out.append(None if found is None else [found.revoked_at.isoformat(), str(found.reason), serial in index])
print(json.dumps({"mapped": index.is_mapped, "sha256": index.sha256, "answers": out}))
"""


def test_two_processes_share_the_saved_index(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]]
) -> None:
    index, _, serials = sample
    path = tmp_path / "shared.crlidx"
    index.save(path, key=b"deployment secret")
    probe = [*serials[::11], 99, -99, 2**128]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [json.loads(child.communicate(json.dumps(probe), timeout=120)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    expected = json.loads(json.dumps(_answers(index, probe)))
    for result in results:
        assert result["mapped"] and result["sha256"] == index.sha256
        assert result["answers"] == expected
    assert any(answer is not None for answer in expected) and any(answer is None for answer in expected)


def _header_fields(data: bytes) -> tuple[int, int]:
    _, _, meta_length, file_length, _ = struct.unpack_from("<8sIIQ32s", data)
    return meta_length, file_length


def _sections(data: bytes, der_size: int) -> Iterator[tuple[str, int]]:
    meta_length, file_length = _header_fields(data)
    yield "magic", 0
    yield "version", 8
    yield "meta-length", 12
    yield "file-length", 16
    yield "digest", 30
    yield "metadata", 56 + meta_length // 2
    table_offset = (56 + meta_length + 7) & ~7
    der_offset = file_length - der_size
    yield "table", (table_offset + der_offset) // 2
    yield "der-first", der_offset
    yield "der-entry", der_offset + der_size // 2
    yield "der-last", file_length - 1


def test_tampered_index_files_are_refused(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, der_bytes, _ = sample
    path = tmp_path / "good.crlidx"
    index.save(path)
    good = path.read_bytes()
    for label, offset in _sections(good, len(der_bytes)):
        bad = bytearray(good)
        bad[offset] ^= 0x01
        target = tmp_path / f"{label}.crlidx"
        target.write_bytes(bytes(bad))
        with pytest.raises(RevocationDataError):
            CRLIndex.open(target, issuer=moica.certificate)
    for cut in (0, 1, 55, 56, 100, len(good) // 2, len(good) - len(der_bytes), len(good) - 1):
        target = tmp_path / f"cut-{cut}.crlidx"
        target.write_bytes(good[:cut])
        with pytest.raises(RevocationDataError):
            CRLIndex.open(target, issuer=moica.certificate)
    longer = tmp_path / "longer.crlidx"
    longer.write_bytes(good + b"\x00")
    with pytest.raises(RevocationDataError):
        CRLIndex.open(longer, issuer=moica.certificate)
    not_index = tmp_path / "crl.der"
    not_index.write_bytes(der_bytes)
    with pytest.raises(RevocationDataError, match="not a CRL index"):
        CRLIndex.open(not_index, issuer=moica.certificate)


def _rewrite(
    good: bytes,
    *,
    version: int | None = None,
    table: bytes | None = None,
    meta_edit: Any = None,
    key: bytes | None = None,
) -> bytes:
    """A consistent file (digest recomputed) with one field changed: what only a buggy or
    hostile writer produces; it must still fail cleanly, never hang or crash."""
    magic, old_version, meta_length, file_length, _ = struct.unpack_from("<8sIIQ32s", good)
    body = bytearray(good[56:])
    meta = json.loads(body[:meta_length])
    der_offset = file_length - meta["crl"]["der_size"]
    table_offset = (56 + meta_length + 7) & ~7
    if table is not None:
        body[table_offset - 56 : der_offset - 56] = table
    if meta_edit is not None:  # same-length JSON edit keeps the layout
        edited = meta_edit(bytes(body[:meta_length]))
        assert len(edited) == meta_length
        body[:meta_length] = edited
    fixed = struct.pack(
        "<8sIIQ", magic, old_version if version is None else version, meta_length, file_length
    )
    signed = fixed + bytes(body[: der_offset - 56])
    digest = (hmac.new(key, signed, "sha256") if key else hashlib.sha256(signed)).digest()
    return fixed + digest + bytes(body)


def test_consistent_but_wrong_files_fail_cleanly(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, _, serials = sample
    path = tmp_path / "good.crlidx"
    index.save(path)
    good = path.read_bytes()
    slots = len(index._table)

    newer = tmp_path / "v3.crlidx"
    newer.write_bytes(_rewrite(good, version=3))
    with pytest.raises(RevocationDataError, match="version"):
        CRLIndex.open(newer, issuer=moica.certificate)

    for name, table in {
        "full": struct.pack(f"<{slots}I", *([1] * slots)),
        "outside": struct.pack(f"<{slots}I", *([0xFFFFFFF0] * (slots - 1) + [0])),
    }.items():
        target = tmp_path / f"{name}.crlidx"
        target.write_bytes(_rewrite(good, table=table))
        # Without a key the table is checked against the CRL at open.
        with pytest.raises(RevocationDataError, match="table is not derived"):
            CRLIndex.open(target, issuer=moica.certificate)
        # Under a key only a key holder writes files; a buggy one still fails cleanly at lookup.
        keyed = tmp_path / f"{name}-keyed.crlidx"
        keyed.write_bytes(_rewrite(good, table=table, key=b"k"))
        broken = CRLIndex.open(keyed, key=b"k")
        with pytest.raises(RevocationDataError, match="corrupt"):
            _lookup_all(broken, serials[:50])
        broken.close()


def _lookup_all(index: CRLIndex, serials: Sequence[int]) -> None:
    for serial in serials:
        index.lookup(serial)


def test_keyed_index_file_resists_forgery(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, _, serials = sample
    path = tmp_path / "keyed.crlidx"
    index.save(path, key=b"deployment secret")
    with CRLIndex.open(path, key=b"deployment secret") as mapped:
        assert _answers(mapped, serials[:50]) == _answers(index, serials[:50])
    with pytest.raises(RevocationDataError, match="digest"):
        CRLIndex.open(path, key=b"another secret")
    with pytest.raises(RevocationDataError, match="digest"):
        CRLIndex.open(path, issuer=moica.certificate)
    # A forger without the key recomputes the plain digest over an emptied table: refused
    # with the key, and without one the table is checked against the signed CRL.
    good = path.read_bytes()
    forged = tmp_path / "forged.crlidx"
    forged.write_bytes(_rewrite(good, table=bytes(4 * len(index._table))))
    with pytest.raises(RevocationDataError, match="digest"):
        CRLIndex.open(forged, key=b"deployment secret")
    with pytest.raises(RevocationDataError, match="table is not derived"):
        CRLIndex.open(forged, issuer=moica.certificate)


def test_closed_mapping_releases_the_file(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, _, _ = sample
    path = tmp_path / "x.crlidx"
    index.save(path)
    mapped = CRLIndex.open(path, issuer=moica.certificate)
    mapped.close()
    mapped.close()  # idempotent
    index.close()  # no-op for an in-memory index
    os.unlink(path)


def test_open_does_not_follow_a_symlink(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    index, _, _ = sample
    real = tmp_path / "real.crlidx"
    index.save(real, key=b"k")
    link = tmp_path / "link.crlidx"
    link.symlink_to(real)
    with pytest.raises(OSError):
        CRLIndex.open(link, key=b"k")
    with pytest.raises(TypeError, match=r"key= .* or issuer="):
        CRLIndex.open(real)
    with pytest.raises(RevocationDataError, match="not signed by the CA given"):
        CRLIndex.open(real, key=b"k", issuer=_other_ca())


def _other_ca() -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return _self_signed_ca(key, hashes.SHA256(), "another CA")


FAR_FUTURE = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_next_update_9999_is_fresh_not_an_overflow(moica: FakeCA) -> None:
    der_bytes = build_crl(moica, [5], this_update=NOW - dt.timedelta(days=1), next_update=FAR_FUTURE)
    index = index_of(moica, der_bytes)
    assert index.next_update == FAR_FUTURE
    assert index.is_fresh(NOW) and index.is_fresh(NOW, skew=dt.timedelta(days=1))


def test_metadata_edited_under_a_recomputed_digest_is_refused(
    tmp_path: Path, sample: tuple[CRLIndex, bytes, list[int]], moica: FakeCA
) -> None:
    """A writer without the key moves nextUpdate to 9999 (today: the file opened, and is_fresh
    raised OverflowError); without a key the metadata is checked against the signed CRL."""
    index, _, _ = sample
    path = tmp_path / "good.crlidx"
    index.save(path)
    good = path.read_bytes()
    next_update = index.next_update
    assert next_update is not None
    old = json.dumps(next_update.isoformat()).encode()
    new = json.dumps(FAR_FUTURE.isoformat()).encode()
    assert len(old) == len(new)
    forged = tmp_path / "forged.crlidx"
    forged.write_bytes(_rewrite(good, meta_edit=lambda meta: meta.replace(old, new)))
    with pytest.raises(RevocationDataError, match="metadata does not match"):
        CRLIndex.open(forged, issuer=moica.certificate)


def _header_mutations(draw: st.DrawFn, meta_end: int) -> list[tuple[int, int]]:
    count = draw(st.integers(1, 6))
    return [(draw(st.integers(0, meta_end - 1)), draw(st.integers(0, 255))) for _ in range(count)]


@pytest.fixture(scope="module")
def small_index_file(
    moica: FakeCA, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, bytes, list[int]]:
    serials = random_serials(40, seed=12)
    der_bytes = build_crl(
        moica, serials, this_update=NOW - dt.timedelta(days=1), next_update=NOW + dt.timedelta(days=6)
    )
    path = tmp_path_factory.mktemp("mutations") / "small.crlidx"
    index_of(moica, der_bytes).save(path)
    plain = path.read_bytes()
    index_of(moica, der_bytes).save(path, key=b"k")
    return plain, path.read_bytes(), serials


def _exercise(index: CRLIndex, serials: Sequence[int]) -> None:
    """Everything a caller does with an opened index: only the library's error may escape."""
    for serial in [*serials[:8], 1, -1]:
        index.lookup(serial)
        _ = serial in index
    index.is_fresh(NOW)
    index.is_fresh(dt.datetime(1, 1, 1, 0, 10, tzinfo=dt.UTC))
    index.covers("http://127.0.0.1/crl")
    repr(index)
    len(index)
    index.annotations  # noqa: B018


@SLOW_SETTINGS
@given(data=st.data(), recompute=st.booleans(), keyed=st.booleans())
def test_mutated_index_headers_raise_only_revocation_data_error(
    tmp_path_factory: pytest.TempPathFactory,
    small_index_file: tuple[bytes, bytes, list[int]],
    moica: FakeCA,
    data: st.DataObject,
    recompute: bool,
    keyed: bool,
) -> None:
    plain, keyed_file, serials = small_index_file
    good = keyed_file if keyed else plain
    meta_length = struct.unpack_from("<I", good, 12)[0]
    mutations = data.draw(st.composite(_header_mutations)(56 + meta_length))
    bad = bytearray(good)
    for offset, value in mutations:
        bad[offset] = value
    if recompute and bytes(bad[:24]) == good[:24]:
        # A forger recomputing the digest (plain SHA-256, or the HMAC under the key: the
        # worst case of a buggy key holder) over a header edit that keeps the layout.
        with contextlib.suppress(Exception):
            bad = bytearray(_rewrite(bytes(bad), key=b"k" if keyed else None))
    path = tmp_path_factory.mktemp("m") / "x.crlidx"
    path.write_bytes(bytes(bad))
    try:
        index = CRLIndex.open(path, key=b"k") if keyed else CRLIndex.open(path, issuer=moica.certificate)
    except RevocationDataError:
        return
    with index:
        try:
            _exercise(index, serials)
        except RevocationDataError:
            pass
