"""The challenge-signature verifier against signatures made by OpenSSL and by cryptography."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twcert import load_certificate
from twcert.errors import SignatureMismatchError, SignatureParseError
from twcert.signature import verify_cms, verify_pkcs1
from twcert.testing import Issued
from twcert.testing.fixtures import FixtureSet

TBS = b"twcert-login/1 https://jobs.example.gov.tw abc123 bm9uY2U"


def _wall() -> dt.datetime:
    # OpenSSL and cryptography stamp signingTime with the wall clock at signing time.
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def signer(fixture_set: FixtureSet) -> Issued:
    return fixture_set.issued("citizen-wang")


@pytest.fixture(scope="module")
def files(signer: Issued, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cms")
    (d / "cert.pem").write_bytes(signer.pem)
    (d / "key.pem").write_bytes(signer.key_pem)
    (d / "tbs").write_bytes(TBS)
    return d


def openssl_cms(files: Path, *extra: str, data: bytes = TBS) -> bytes:
    (files / "in").write_bytes(data)
    out = files / "out.der"
    subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            str(files / "in"),
            "-signer",
            str(files / "cert.pem"),
            "-inkey",
            str(files / "key.pem"),
            "-outform",
            "DER",
            "-out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def builder_cms(
    signer: Issued,
    data: bytes = TBS,
    *options: pkcs7.PKCS7Options,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(signer.certificate, signer.key, algorithm or hashes.SHA256())  # type: ignore[arg-type]
        .sign(serialization.Encoding.DER, list(options))
    )


def test_openssl_cms_sign_verifies(files: Path, signer: Issued) -> None:
    der = openssl_cms(files)
    now = _wall()
    result = verify_cms(der, TBS, now=now, require_signing_time=True)
    assert result.kind == "PKCS7" and result.hash_algorithm == "sha256"
    assert result.certificate.der == signer.der
    assert result.signing_time is not None and abs(result.signing_time - now) < dt.timedelta(minutes=1)


def test_cryptography_builder_verifies(signer: Issued) -> None:
    cert = load_certificate(signer.der)
    result = verify_cms(builder_cms(signer), TBS, certificate=cert, now=_wall(), require_signing_time=True)
    assert result.certificate == cert


def test_openssl_verify_agrees_on_our_accepted_signatures(
    files: Path, signer: Issued, fixture_set: FixtureSet
) -> None:
    """The oracle: OpenSSL's own `cms -verify` accepts what we accept."""
    ca = fixture_set.pki.cas["MOICA2"]
    (files / "ca.pem").write_bytes(ca.pem + fixture_set.pki.cas["GRCA2"].pem)
    for der in (openssl_cms(files), builder_cms(signer)):
        (files / "sig.der").write_bytes(der)
        result = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                str(files / "sig.der"),
                "-CAfile",
                str(files / "ca.pem"),
                "-purpose",
                "any",
                "-attime",
                str(int(fixture_set.now.timestamp())),
            ],
            capture_output=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == TBS
        verify_cms(der, TBS, now=_wall())


def test_content_must_be_the_issued_challenge(files: Path, signer: Issued) -> None:
    with pytest.raises(SignatureMismatchError, match="differs"):
        verify_cms(openssl_cms(files), TBS + b"x", now=_wall())
    with pytest.raises(SignatureMismatchError, match="differs"):
        verify_cms(builder_cms(signer, b"other"), TBS, now=_wall())


def test_detached_and_attribute_less_signatures_are_refused(files: Path, signer: Issued) -> None:
    detached = builder_cms(signer, TBS, pkcs7.PKCS7Options.DetachedSignature)
    with pytest.raises(SignatureMismatchError, match="attached"):
        verify_cms(detached, TBS, now=_wall())
    with pytest.raises(SignatureMismatchError, match="signed attributes"):
        verify_cms(openssl_cms(files, "-noattr"), TBS, now=_wall())
    with pytest.raises(SignatureMismatchError, match="signed attributes"):
        verify_cms(builder_cms(signer, TBS, pkcs7.PKCS7Options.NoAttributes), TBS, now=_wall())


def test_two_signers_are_refused(files: Path, fixture_set: FixtureSet) -> None:
    other = fixture_set.issued("citizen-chen")
    (files / "cert2.pem").write_bytes(other.pem)
    (files / "key2.pem").write_bytes(other.key_pem)
    der = openssl_cms(files, "-signer", str(files / "cert2.pem"), "-inkey", str(files / "key2.pem"))
    with pytest.raises(SignatureMismatchError, match="exactly one signer"):
        verify_cms(der, TBS, now=_wall())


def test_tampered_signature_value(signer: Issued) -> None:
    der = bytearray(builder_cms(signer))
    der[-5] ^= 0x01  # inside the signature value, the last field of the SignerInfo
    with pytest.raises(SignatureMismatchError):
        verify_cms(bytes(der), TBS, now=_wall())


def test_signing_time_skew(signer: Issued) -> None:
    der = builder_cms(signer)
    with pytest.raises(SignatureMismatchError, match="skew"):
        verify_cms(der, TBS, now=_wall() + dt.timedelta(hours=1), require_signing_time=True)
    verify_cms(der, TBS, now=_wall() + dt.timedelta(hours=1), require_signing_time=False)


def test_sha1_needs_opting_in(files: Path, signer: Issued) -> None:
    der = openssl_cms(files, "-md", "sha1")
    with pytest.raises(SignatureMismatchError, match="SHA-1"):
        verify_cms(der, TBS, now=_wall())
    assert verify_cms(der, TBS, now=_wall(), allow_sha1=True).hash_algorithm == "sha1"


def test_presented_certificate_must_be_the_signer(signer: Issued, fixture_set: FixtureSet) -> None:
    other = load_certificate(fixture_set.issued("citizen-chen").der)
    with pytest.raises(SignatureMismatchError):
        verify_cms(builder_cms(signer), TBS, certificate=other, now=_wall())


def test_pkcs1(signer: Issued, fixture_set: FixtureSet) -> None:
    cert = load_certificate(signer.der)
    good = signer.key.sign(TBS, padding.PKCS1v15(), hashes.SHA256())
    assert verify_pkcs1(good, TBS, cert).kind == "PKCS1"
    with pytest.raises(SignatureMismatchError):
        verify_pkcs1(good, TBS + b"!", cert)
    with pytest.raises(SignatureMismatchError):
        verify_pkcs1(good, TBS, load_certificate(fixture_set.issued("citizen-chen").der))
    sha1 = signer.key.sign(TBS, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(SignatureMismatchError, match="SHA-1"):
        verify_pkcs1(sha1, TBS, cert, hash_algorithm="SHA1")
    assert verify_pkcs1(sha1, TBS, cert, hash_algorithm="SHA1", allow_sha1=True).hash_algorithm == "sha1"
    with pytest.raises(SignatureParseError):
        verify_pkcs1(b"", TBS, cert)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_only_raise_signature_errors(data: bytes) -> None:
    try:
        verify_cms(data, TBS, now=_wall())
    except (SignatureParseError, SignatureMismatchError):
        pass


_SEED = builder_cms(
    FixtureSet.load(Path(__file__).resolve().parents[2] / "fixtures" / "gpki").issued("citizen-wang")
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(_SEED) - 1), st.integers(1, 255)), min_size=1, max_size=6),
    st.integers(0, len(_SEED)),
)
def test_mutated_cms_only_raises_signature_errors(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_SEED)
    for pos, mask in flips:
        data[pos] ^= mask
    try:
        verify_cms(bytes(data[: max(cut, 1)] if cut < len(_SEED) // 2 else data), TBS, now=_wall())
    except (SignatureParseError, SignatureMismatchError):
        pass
