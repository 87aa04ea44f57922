"""OCSP responses that cryptography parses lazily: every bad field is an OCSPError (a catalogued
RevocationDataError), never UnsupportedAlgorithm/ValueError/DuplicateExtension, both out of
``verify_response`` and out of a revocation check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twcert import load_certificate
from twcert.errors import RevocationDataError
from twcert.revocation import OCSPClient, OCSPError, RevocationChecker, RevocationSources, RevocationState
from twcert.revocation.http import HttpResponse
from twcert.testing import FakeGPKI, Issued, KeyPool, build_ocsp_response

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
NONCE = b"n" * 16

SHA1_OID = bytes.fromhex("06052b0e03021a")
SHA256_RSA_OID = bytes.fromhex("06092a864886f70d01010b")
RSA_KEY_OID = bytes.fromhex("06092a864886f70d010101")
NONCE_OID = bytes.fromhex("06092b0601050507300102")


@pytest.fixture(scope="module")
def pki() -> FakeGPKI:
    return FakeGPKI(keys=KeyPool(reuse=True))


@pytest.fixture(scope="module")
def target(pki: FakeGPKI) -> Issued:
    return pki.issue_citizen("王小明", "A123456789", not_before=NOW - DAY, not_after=NOW + 365 * DAY)


def _good(pki: FakeGPKI, target: Issued, **kwargs: object) -> bytes:
    options: dict[str, object] = {"this_update": NOW, "next_update": NOW + DAY, "nonce": NONCE}
    options.update(kwargs)
    return build_ocsp_response(pki.moica, target, **options)  # type: ignore[arg-type]


def _resign(der: bytes, key: rsa.RSAPrivateKey, old: bytes, new: bytes) -> bytes:
    """``der`` with ``old`` replaced by ``new`` (same length) inside tbsResponseData, signed again,
    so the response gets past the signature check to the mutated field."""
    assert len(old) == len(new)
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"].dump()
    assert tbs.count(old) == 1, "the mutation must hit exactly one place"
    mutated = tbs.replace(old, new)
    signature = basic["signature"].native
    new_signature = key.sign(mutated, padding.PKCS1v15(), hashes.SHA256())
    assert len(new_signature) == len(signature)
    return der.replace(tbs, mutated).replace(signature, new_signature)


def _verify(pki: FakeGPKI, target: Issued, der: bytes) -> RevocationState:
    status = OCSPClient().verify_response(
        der, load_certificate(target.der), load_certificate(pki.moica.der), NOW, nonce=NONCE
    )
    return status.state


class _Replies:
    """A Fetcher that answers every OCSP POST with the same bytes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def get(
        self, url: str, *, timeout: float, max_bytes: int, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        raise AssertionError("no CRL is fetched with OCSP_ONLY")

    def post(
        self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int
    ) -> HttpResponse:
        return HttpResponse(200, self.body)


def _malformed(pki: FakeGPKI, target: Issued, case: str) -> bytes:
    key = pki.moica.key
    if case == "unknown_certid_hash":
        # CertID hashAlgorithm 1.3.14.3.2.26 → 1.3.14.3.2.27: UnsupportedAlgorithm when read.
        return _resign(_good(pki, target), key, SHA1_OID, SHA1_OID[:-1] + b"\x1b")
    if case == "unknown_signature_algorithm":
        # sha256WithRSAEncryption → 1.2.840.113549.1.1.127: UnsupportedAlgorithm when read.
        der = _good(pki, target)
        position = der.rindex(SHA256_RSA_OID)
        return der[:position] + SHA256_RSA_OID[:-1] + b"\x7f" + der[position + len(SHA256_RSA_OID) :]
    if case in ("unknown_responder_key_algorithm", "invalid_responder_key"):
        responder = pki.issue_ocsp_responder(pki.moica)
        der = _good(pki, target, responder=responder)
        cert = responder.der
        if case == "unknown_responder_key_algorithm":  # rsaEncryption → 1.2.840.113549.1.1.127
            bad = cert.replace(RSA_KEY_OID, RSA_KEY_OID[:-1] + b"\x7f")
        else:  # public exponent 65537 → 65536: cryptography refuses the even exponent
            assert cert.count(b"\x02\x03\x01\x00\x01") == 1
            bad = cert.replace(b"\x02\x03\x01\x00\x01", b"\x02\x03\x01\x00\x00")
        return der.replace(cert, bad)
    if case == "duplicate_extension":
        # A second responseExtension with an OID of the nonce's length, renamed to the nonce.
        other = x509.ObjectIdentifier("1.3.6.1.5.5.7.48.1.99")
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=target.certificate,
                issuer=pki.moica.certificate,
                algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=NOW,
                next_update=NOW + DAY,
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.moica.certificate)
            .add_extension(x509.OCSPNonce(NONCE), critical=False)
            .add_extension(x509.UnrecognizedExtension(other, b"\x04\x10" + NONCE), critical=False)
        )
        der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return _resign(der, key, bytes.fromhex("06092b0601050507300163"), NONCE_OID)
    if case == "unknown_reason_code":
        der = _good(
            pki,
            target,
            status="revoked",
            revoked_at=NOW - DAY,
            reason=x509.ReasonFlags.key_compromise,
        )
        # CRLReason keyCompromise (1) → 7, a value RFC 5280 leaves unused.
        return _resign(der, key, b"\xa0\x03\x0a\x01\x01", b"\xa0\x03\x0a\x01\x07")
    raise AssertionError(case)


CASES = [
    "unknown_certid_hash",
    "unknown_signature_algorithm",
    "unknown_responder_key_algorithm",
    "invalid_responder_key",
    "duplicate_extension",
    "unknown_reason_code",
]


def test_the_mutation_helper_keeps_a_valid_response_valid(pki: FakeGPKI, target: Issued) -> None:
    der = _good(pki, target)
    same = _resign(der, pki.moica.key, SHA1_OID, SHA1_OID)
    assert _verify(pki, target, same) is RevocationState.GOOD


@pytest.mark.parametrize("case", CASES)
def test_malformed_fields_are_ocsp_errors(pki: FakeGPKI, target: Issued, case: str) -> None:
    der = _malformed(pki, target, case)
    with pytest.raises(OCSPError) as caught:
        _verify(pki, target, der)
    assert isinstance(caught.value, RevocationDataError)
    assert caught.value.code == "OCSP_RESPONSE_INVALID"


@pytest.mark.parametrize("case", CASES)
def test_malformed_fields_leave_the_check_unknown(pki: FakeGPKI, target: Issued, case: str) -> None:
    """What Validator.validate calls: the answer is 'no answer from OCSP', not an exception."""
    client = OCSPClient(fetcher=_Replies(_malformed(pki, target, case)), responder_url="http://ocsp.test/")
    checker = RevocationChecker(sources=RevocationSources.OCSP_ONLY, ocsp=client)
    status = checker.check(load_certificate(target.der), load_certificate(pki.moica.der), NOW)
    assert status.state is RevocationState.UNKNOWN
    assert status.failures and "OCSP" in status.failures[0]


def test_next_update_9999_is_valid_and_fresh(pki: FakeGPKI, target: Issued) -> None:
    far = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert _verify(pki, target, _good(pki, target, next_update=far)) is RevocationState.GOOD


def test_wrong_python_type_is_a_type_error(pki: FakeGPKI, target: Issued) -> None:
    with pytest.raises(TypeError, match="OCSP response must be bytes"):
        OCSPClient().verify_response(
            "not bytes",  # type: ignore[arg-type]
            load_certificate(target.der),
            load_certificate(pki.moica.der),
            NOW,
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_responses_raise_only_ocsp_errors(pki: FakeGPKI, target: Issued, data: st.DataObject) -> None:
    base = _good(pki, target)
    mutated = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    candidate = bytes(mutated[:cut]) if data.draw(st.booleans()) else bytes(mutated)
    try:
        _verify(pki, target, candidate)
    except OCSPError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_ocsp_errors(pki: FakeGPKI, target: Issued, der: bytes) -> None:
    try:
        _verify(pki, target, der)
    except OCSPError:
        pass
