"""The committed fixture PKI on the real clock: crl/live re-signs the fixed-clock CRLs with a
nextUpdate ten years ahead, so its good certificates stop failing with REVOCATION_UNKNOWN."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from twcert.errors import RevocationUnavailableError, TwcertError
from twcert.testing.fixtures import FixtureSet, reissue_live_crls

from ..conftest import fixture_validator

#: Certificates whose verdict depends on the instant (not yet valid at the fixtures' instant).
TIME_BOUND = {"citizen-not-yet-valid"}


def _verdict(validate: object, pem: bytes) -> str:
    try:
        validate(pem)  # type: ignore[operator]
    except TwcertError as exc:
        return exc.code
    return "ok"


def test_fixed_clock_crls_are_stale_on_the_real_clock(fixture_set: FixtureSet) -> None:
    # What a host app met: the fixed-clock CRLs expired on 2026-06-07.
    validator = fixture_validator(fixture_set)
    validator.clock = lambda: dt.datetime.now(dt.UTC)
    with pytest.raises(RevocationUnavailableError):
        validator.validate(fixture_set.pem("citizen-wang"))


def test_manifest_verdicts_hold_on_the_real_clock(fixture_set: FixtureSet) -> None:
    validator = fixture_set.validator()
    for name, entry in fixture_set.certificates.items():
        if name not in TIME_BOUND:
            assert _verdict(validator.validate, fixture_set.pem(name)) == entry["expect"], name


def test_manifest_verdicts_hold_at_the_fixtures_instant_too(fixture_set: FixtureSet) -> None:
    validator = fixture_set.validator(clock=lambda: fixture_set.now)
    for name, entry in fixture_set.certificates.items():
        assert _verdict(validator.validate, fixture_set.pem(name)) == entry["expect"], name


def test_live_crls_stay_fresh_for_ten_years_with_the_same_entries(fixture_set: FixtureSet) -> None:
    live = fixture_set.live_crls
    fixed = fixture_set.manifest["crls"]
    assert set(live) == {name for name, entry in fixed.items() if "note" not in entry}
    assert {"MOICA2-complete", "GRCA1-arl", "GRCA2-arl", "GRCA3-arl", "GCA-complete"} <= set(live)
    for name, entry in live.items():
        crl = x509.load_der_x509_crl((fixture_set.directory / entry["file"]).read_bytes())
        old = x509.load_der_x509_crl(fixture_set.crl(name))
        ca = fixture_set.pki.cas[entry["ca"]].certificate
        assert crl.is_signature_valid(ca.public_key()) and crl.issuer == ca.subject
        assert crl.last_update_utc == fixture_set.now
        assert crl.next_update_utc == dt.datetime(2036, 5, 29, 9, 0, tzinfo=dt.UTC)
        assert {r.serial_number for r in crl} == {r.serial_number for r in old}
    validator = fixture_set.validator(clock=lambda: dt.datetime(2029, 12, 1, tzinfo=dt.UTC))
    assert _verdict(validator.validate, fixture_set.pem("citizen-wang")) == "ok"
    assert _verdict(validator.validate, fixture_set.pem("citizen-revoked")) == "CERT_REVOKED"


def test_committed_live_crls_match_what_the_script_writes(fixture_set: FixtureSet, tmp_path: Path) -> None:
    copy = tmp_path / "gpki"
    shutil.copytree(fixture_set.directory, copy)
    shutil.rmtree(copy / "crl" / "live")
    index = reissue_live_crls(copy)
    assert index == fixture_set.live_crls
    for entry in index.values():
        assert (copy / entry["file"]).read_bytes() == (fixture_set.directory / entry["file"]).read_bytes()
