"""The challenge-signature verifier against signatures made by OpenSSL and by cryptography."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from asn1crypto import cms
from asn1crypto import core as asn1_core
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twcert import load_certificate, signature
from twcert._der import read_header, read_signed_data
from twcert.card.cms import build_signed_data
from twcert.errors import SignatureMismatchError, SignatureParseError
from twcert.oids import CARD_SERIAL
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


# ------------------------------------------------------------------ the DER reader and asn1crypto


def _card_cms(signer: Issued, when: dt.datetime | None, **kwargs: Any) -> bytes:
    return build_signed_data(
        TBS,
        signer.der,
        lambda data: signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256()),  # type: ignore[union-attr,call-arg,arg-type]
        signing_time=when,
        **kwargs,
    )


@pytest.fixture(scope="module")
def seeds(files: Path, signer: Issued, fixture_set: FixtureSet) -> dict[str, bytes]:
    """Signatures as OpenSSL, cryptography and the card agent make them, and shapes that only
    asn1crypto reads (BER from ``-stream``, RSASSA-PSS, two signers)."""
    other = fixture_set.issued("citizen-chen")
    (files / "cert2.pem").write_bytes(other.pem)
    (files / "key2.pem").write_bytes(other.key_pem)
    options = pkcs7.PKCS7Options
    return {
        "builder": builder_cms(signer),
        "builder-sha512": builder_cms(signer, TBS, algorithm=hashes.SHA512()),
        "builder-no-certs": builder_cms(signer, TBS, options.NoCerts),
        "builder-no-capabilities": builder_cms(signer, TBS, options.NoCapabilities),
        "builder-no-attributes": builder_cms(signer, TBS, options.NoAttributes),
        "builder-detached": builder_cms(signer, TBS, options.DetachedSignature),
        "openssl": openssl_cms(files),
        "openssl-keyid": openssl_cms(files, "-keyid"),
        "openssl-no-certs": openssl_cms(files, "-nocerts"),
        "openssl-sha1": openssl_cms(files, "-md", "sha1"),
        "card": _card_cms(signer, _wall(), card_serial="TP01234567", nonce=b"\x01\x02\x03"),
        "card-generalized-time": _card_cms(signer, dt.datetime(2051, 1, 1, tzinfo=dt.UTC)),
        "card-without-signing-time": _card_cms(signer, None, card_serial="TP01234567"),
        "ber-stream": openssl_cms(files, "-stream"),
        "pss": openssl_cms(files, "-keyopt", "rsa_padding_mode:pss"),
        "two-signers": openssl_cms(
            files, "-signer", str(files / "cert2.pem"), "-inkey", str(files / "key2.pem")
        ),
    }


_ASN1_ONLY = ("ber-stream", "pss", "two-signers")


def _outcome(data: bytes, **kwargs: Any) -> tuple[object, ...]:
    try:
        result = verify_cms(data, TBS, **kwargs)
    except (SignatureParseError, SignatureMismatchError) as exc:
        return (type(exc).__name__, str(exc))
    return (
        result.certificate.der,
        result.kind,
        result.hash_algorithm,
        result.signing_time,
        result.card_serial,
        result.nonce,
    )


def _both_outcomes(data: bytes, **kwargs: Any) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """verify_cms as it runs (the DER reader when it takes the input), and with asn1crypto only."""
    usual = _outcome(data, **kwargs)
    with mock.patch.object(signature._DerReader, "read", return_value=None):
        return usual, _outcome(data, **kwargs)


def _option_sets(signer: Issued) -> list[dict[str, Any]]:
    now = _wall()
    cert = load_certificate(signer.der)
    return [
        {"now": now},
        {"now": now, "certificate": cert},
        {"now": now, "require_signing_time": False, "allow_sha1": True},
        {"now": now + dt.timedelta(hours=1), "certificate": cert},
    ]


def test_usual_signatures_take_the_der_reader(seeds: dict[str, bytes], signer: Issued) -> None:
    for name, der in seeds.items():
        assert (signature._DerReader.read(der) is None) is (name in _ASN1_ONLY), name
        for options in _option_sets(signer):
            usual, asn1_only = _both_outcomes(der, **options)
            assert usual == asn1_only, (name, options)
    cert = load_certificate(signer.der)
    for name in ("builder", "builder-no-certs", "openssl-keyid", "card", "pss", "ber-stream"):
        assert verify_cms(seeds[name], TBS, certificate=cert, now=_wall()).certificate == cert, name


def test_card_serial_nonce_and_signing_time_attributes(seeds: dict[str, bytes], signer: Issued) -> None:
    result = verify_cms(seeds["card"], TBS, now=_wall())
    assert (result.card_serial, result.nonce) == ("TP01234567", b"\x01\x02\x03")
    late = verify_cms(seeds["card-generalized-time"], TBS, require_signing_time=False)
    assert late.signing_time == dt.datetime(2051, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(SignatureMismatchError, match="signingTime attribute is required"):
        verify_cms(seeds["card-without-signing-time"], TBS, now=_wall(), require_signing_time=True)


@st.composite
def _mutated(draw: st.DrawFn, seeds: dict[str, bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(sorted(seeds.items())))[1])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "flip", "delete", "insert", "truncate"]))
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 4))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[max(pos, 1) :]
        if not data:
            return b"\x30"
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_der_reader_and_asn1crypto_agree_on_mutated_signatures(
    seeds: dict[str, bytes], signer: Issued, data: st.DataObject
) -> None:
    mutated = data.draw(_mutated(seeds))
    for options in _option_sets(signer):
        usual, asn1_only = _both_outcomes(mutated, **options)
        assert usual == asn1_only, options


def test_der_reader_agrees_on_a_fixed_sample_of_mutations(seeds: dict[str, bytes], signer: Issued) -> None:
    """The same comparison on a deterministic sample, which must exercise the DER reader."""
    rng = random.Random(20260601)
    options = _option_sets(signer)
    taken = 0
    for _ in range(600):
        data = bytearray(rng.choice(sorted(seeds.items()))[1])
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        mutated = bytes(data)
        taken += signature._DerReader.read(mutated) is not None
        for option in options[:2]:
            usual, asn1_only = _both_outcomes(mutated, **option)
            assert usual == asn1_only, (mutated.hex(), option)
    assert taken > 60


def test_known_attribute_decoders_mirror_asn1crypto() -> None:
    """The DER reader decodes the attribute types asn1crypto gives a spec the way that spec
    parses; the card serial and nonce are unknown to asn1crypto (its ``Any``)."""
    specs = {
        oid: cms.CMSAttribute._oid_specs[cms.CMSAttributeType.map(oid)] for oid in signature._KNOWN_VALUES
    }
    children = {oid: spec._child_spec for oid, spec in specs.items()}
    assert children == {
        "1.2.840.113549.1.9.3": cms.ContentType,
        "1.2.840.113549.1.9.4": asn1_core.OctetString,
        "1.2.840.113549.1.9.5": cms.Time,
        "1.2.840.113549.1.9.15": cms.SMIMECapabilites,
        "1.2.840.113549.1.9.52": cms.CMSAlgorithmProtection,
    }
    assert [alternative[1] for alternative in cms.Time._alternatives] == [
        asn1_core.UTCTime,
        asn1_core.GeneralizedTime,
    ]
    for oid in (CARD_SERIAL, signature._NONCE_ATTRIBUTE):
        assert cms.CMSAttributeType.map(oid) == oid


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.from_regex(rb"\A[0-9]{12}Z\Z").map(lambda c: asn1_core.UTCTime(contents=c)),
        st.from_regex(rb"\A[0-9]{14}Z\Z").map(lambda c: asn1_core.GeneralizedTime(contents=c)),
    )
)
def test_time_reading_matches_asn1crypto(value: asn1_core.Asn1Value) -> None:
    """The DER reader's signingTime (twcert._der.parse_time) is asn1crypto's reading, or it
    refuses the value and the CMS goes to asn1crypto."""
    encoded = value.dump()
    try:
        expected: object = type(value).load(encoded).native
    except ValueError:
        expected = ValueError
    try:
        got: object = signature._time_value(encoded)
    except ValueError:
        got = ValueError
    if isinstance(expected, dt.datetime):
        assert got == expected
    else:  # asn1crypto's extended_datetime (year 0) or an invalid date
        assert got is ValueError


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def test_a_huge_oid_never_reaches_asn1crypto(monkeypatch: pytest.MonkeyPatch) -> None:
    """asn1crypto decodes an OID arc in time quadratic in its length (a second for 60 KB): the
    bounds are checked first, so such a CMS is refused without asn1crypto reading it."""

    loaded: list[bytes] = []

    def must_not_load(data: bytes, *_args: object, **_kwargs: object) -> None:
        loaded.append(data)
        raise ValueError("asn1crypto was given the CMS")

    monkeypatch.setattr(cms.ContentInfo, "load", must_not_load)
    huge = _tlv(0x06, b"\x2a" + b"\xff" * 60_000 + b"\x01")
    data = _tlv(0x30, huge + _tlv(0xA0, _tlv(0x30, b"")))
    with pytest.raises(SignatureParseError, match="OID of"):
        verify_cms(data, TBS, now=_wall())
    assert not loaded


def test_ber_signatures_still_reach_asn1crypto(signer: Issued) -> None:
    """The bounds walk reads BER (indefinite lengths, constructed strings) as asn1crypto does."""
    der = build_signed_data(
        TBS, signer.der, lambda data: signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    )
    # Re-encode the outer ContentInfo and its [0] with indefinite lengths (BER).
    _tag, pos, end = read_header(der, 0, len(der))
    _tag, _oid_pos, oid_end = read_header(der, pos, end)
    _tag, inner_pos, inner_end = read_header(der, oid_end, end)
    ber = b"\x30\x80" + der[pos:oid_end] + b"\xa0\x80" + der[inner_pos:inner_end] + b"\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        signature._DerReader.read(ber) or read_signed_data(ber)  # not DER: only asn1crypto reads it
    assert signature._load_signed_data(ber)["encap_content_info"]["content"].native == TBS
