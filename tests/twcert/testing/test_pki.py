from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from twcert import CAFamily, load_certificate
from twcert.testing import FakeGPKI, Revoked, build_crl, build_ocsp_response, random_serials
from twcert.testing.fixtures import FixtureSet


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):
        return False
    return True


def test_same_dn_different_key_generations(pki: FakeGPKI) -> None:
    g1, g2, rogue = pki.cas["MOICA1"], pki.cas["MOICA2"], pki.cas["MOICA_ROGUE"]
    assert g1.name == g2.name == rogue.name
    assert len({load_certificate(c.der).subject_key_identifier for c in (g1, g2, rogue)}) == 3
    assert pki.cas["GRCA1"].name == pki.cas["GRCA2"].name == pki.cas["ROGUE"].name
    assert _signed_by(g2.certificate, pki.cas["GRCA2"].certificate)
    assert not _signed_by(g2.certificate, pki.cas["GRCA1"].certificate)


def test_citizen_card_profile(pki: FakeGPKI) -> None:
    card = pki.issue_citizen_card("王小明", "A123456789")
    sign, enc = card.sign.parsed(), card.encrypt.parsed()
    assert sign.subject_serial == enc.subject_serial and len(sign.subject_serial or "") == 16
    assert sign.certificate.public_key() != enc.certificate.public_key()
    assert sign.usage.value == "signing" and enc.usage.value == "encryption"
    assert sign.policies == ("2.16.886.101.0.3.3",)
    assert [u.rsplit("/", 1)[1] for u in sign.crl_urls] == ["CRL_0001.crl", "complete.crl"]
    assert len(card.card_serial) == 16 and card.card_serial[:2].isalpha()


def test_wrongly_signed_certificate_names_the_ca_but_does_not_verify(pki: FakeGPKI) -> None:
    bad = pki.issue_citizen("竄改者", "A123456789", signing_key=pki.keys.fresh())
    assert bad.certificate.issuer == pki.moica.name
    assert not _signed_by(bad.certificate, pki.moica.certificate)


def test_gtestca_issues_test_certificates(pki: FakeGPKI) -> None:
    cert = pki.issue_agency("測試機關", None, ca="GTESTCA").parsed()
    assert cert.is_test and cert.family is CAFamily.GTESTCA


def test_million_entry_crl_is_built_in_one_pass(pki: FakeGPKI) -> None:
    serials = random_serials(1_000_000)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    der = build_crl(pki.moica, serials, this_update=now, next_update=now + dt.timedelta(days=7))
    crl = x509.load_der_x509_crl(der)
    assert len(crl) == 1_000_000
    assert crl.is_signature_valid(pki.moica.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(serials[-1]) is not None


def test_crl_entries_keep_reason_and_partition(pki: FakeGPKI) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    der = build_crl(
        pki.moica,
        [Revoked(5, now, x509.ReasonFlags.certificate_hold), 7],
        this_update=now,
        next_update=now + dt.timedelta(days=1),
        partition_url=pki.moica.partition_crl_url(1),
    )
    crl = x509.load_der_x509_crl(der)
    entry = crl.get_revoked_certificate_by_serial_number(5)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.certificate_hold
    )
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.full_name is not None and idp.full_name[0].value == pki.moica.partition_crl_url(1)


def test_ocsp_response_from_delegated_responder(pki: FakeGPKI) -> None:
    leaf = pki.issue_citizen("王小明", "A123456789")
    responder = pki.issue_ocsp_responder(pki.moica)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    der = build_ocsp_response(
        pki.moica,
        leaf,
        "revoked",
        this_update=now,
        next_update=now + dt.timedelta(hours=4),
        revoked_at=now,
        responder=responder,
        nonce=b"n" * 16,
    )
    response = ocsp.load_der_ocsp_response(der)
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.certificates[0] == responder.certificate
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    responder.certificate.public_key().verify(  # type: ignore[union-attr, call-arg]
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
    )


def test_save_and_load_round_trip(pki: FakeGPKI, tmp_path: Path) -> None:
    pki.save(tmp_path)
    loaded = FakeGPKI.load(tmp_path, base_url="http://127.0.0.1:9999")
    assert loaded.cas.keys() == pki.cas.keys()
    leaf = loaded.issue_citizen("王小明", "A123456789")
    assert _signed_by(leaf.certificate, pki.moica.certificate)
    assert leaf.parsed().crl_urls[0].startswith("http://127.0.0.1:9999/")


def test_committed_fixtures_match_their_manifest(fixture_set: FixtureSet) -> None:
    trust = fixture_set.pki.trust_store()
    for name, entry in fixture_set.certificates.items():
        cert = load_certificate(fixture_set.pem(name), issuers=trust.issuers)
        ca = fixture_set.pki.cas[entry["ca"]]
        assert cert.authority_key_identifier == load_certificate(ca.der).subject_key_identifier, name
        assert f"{cert.serial_number:x}" == entry["serial"], name
        key = fixture_set.issued(name).key
        assert key.public_key() == cert.certificate.public_key(), name


def _openssl_verify(fixture_set: FixtureSet, name: str, chain: list[str]) -> subprocess.CompletedProcess[str]:
    ca_dir = fixture_set.directory / "ca"
    root, *untrusted = chain
    args = [
        "openssl",
        "verify",
        "-attime",
        str(int(fixture_set.now.timestamp())),
        "-CAfile",
        str(ca_dir / f"{root}.pem"),
    ]
    for label in untrusted:
        args += ["-untrusted", str(ca_dir / f"{label}.pem")]
    return subprocess.run(
        [*args, str(fixture_set.directory / fixture_set.certificates[name]["file"])],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("name", "chain", "ok"),
    [
        ("citizen-wang", ["GRCA2", "MOICA2"], True),
        ("citizen-chen", ["GRCA3", "MOICA3"], True),
        ("agency-dgpa", ["GRCA2", "GCA"], True),
        ("citizen-bad-signature", ["GRCA2", "MOICA2"], False),
        ("citizen-expired", ["GRCA2", "MOICA2"], False),
        ("citizen-not-yet-valid", ["GRCA2", "MOICA2"], False),
        # The trap: a MOICA2 leaf offered a same-DN MOICA1 chain must not verify.
        ("citizen-wang", ["GRCA1", "MOICA1"], False),
        ("citizen-rogue-ca", ["GRCA2", "MOICA2"], False),
    ],
)
def test_fixtures_agree_with_openssl(fixture_set: FixtureSet, name: str, chain: list[str], ok: bool) -> None:
    result = _openssl_verify(fixture_set, name, chain)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
