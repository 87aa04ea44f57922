"""signature_algorithms_match against asn1crypto's reading of the same bytes, and path state."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from twcert import load_certificate
from twcert.errors import CertificatePurposeError
from twcert.path_state import DEFAULT_LOGIN_PURPOSES, path_state, signature_algorithms_match
from twcert.testing.fixtures import FixtureSet

from .pathpki import NOW, SERVER_AUTH, PathPKI

FIXTURES = FixtureSet.load(Path(__file__).resolve().parents[2] / "fixtures" / "gpki")
SAMPLES = [FIXTURES.issued(n).der for n in ("citizen-wang", "agency-dgpa")]
_pki = PathPKI()
_pki.ca("root")
_pki.ca("int1", "root", use_rsa=True)
_pki.ca("int2", "int1")
SAMPLES += [_pki.leaf("int2"), _pki.leaf("int2", algorithm_mismatch=True), _pki.cas["int2"].der]


def reference(der: bytes) -> bool:
    cert = asn1_x509.Certificate.load(der, strict=True)
    return bool(cert["tbs_certificate"]["signature"].dump() == cert["signature_algorithm"].dump())


def test_samples() -> None:
    assert [signature_algorithms_match(d) for d in SAMPLES] == [True, True, True, False, True]
    assert [reference(d) for d in SAMPLES] == [True, True, True, False, True]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.integers(0, 2000), st.integers(0, 255))
def test_agrees_with_asn1crypto_on_mutations(der: bytes, position: int, value: int) -> None:
    mutated = bytearray(der)
    mutated[position % len(der)] = value
    try:
        expected = reference(bytes(mutated))
    except Exception:
        assume(False)
        return
    assert signature_algorithms_match(bytes(mutated)) == expected


@given(st.binary(max_size=64))
def test_arbitrary_bytes_answer_a_bool(data: bytes) -> None:
    assert signature_algorithms_match(data) in (True, False)


def test_a_ca_eku_outside_the_login_purposes_refuses_the_path() -> None:
    pki = PathPKI()
    pki.ca("root")
    pki.ca("int1", "root", eku=[SERVER_AUTH])
    chain = [load_certificate(pki.cas[label].der) for label in ("int1", "root")]
    with pytest.raises(CertificatePurposeError):
        path_state(chain, NOW, required_policies=frozenset(), login_purposes=DEFAULT_LOGIN_PURPOSES)
    state = path_state(
        chain, NOW, required_policies=frozenset(), login_purposes=frozenset({SERVER_AUTH.dotted_string})
    )
    assert state.login_purposes == {SERVER_AUTH.dotted_string}
    assert state.remaining_path_length is None
    assert not state.needs_full_validation
