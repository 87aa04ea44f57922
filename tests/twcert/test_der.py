"""The small DER reader against independent decoders (asn1crypto, cryptography)."""

from __future__ import annotations

import datetime as dt
import mmap

import pytest
from asn1crypto import cms
from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert._der import (
    GENERALIZED_TIME,
    MAX_OID_ARC_BYTES,
    MAX_OID_ARCS,
    UTC_TIME,
    DERError,
    certificate_names,
    check_oid_bounds,
    decode_oid,
    name_attributes,
    parse_time,
    read_header,
    read_signed_data,
    read_subject_directory_attributes,
    read_tlv,
)
from twcert.card.cms import build_signed_data
from twcert.certificate import SubjectDirectoryAttributesSpec
from twcert.testing import FakeGPKI

oids = st.builds(
    lambda first, second, rest: ".".join(str(a) for a in [first, second, *rest]),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**40), max_size=8),
)
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
printable = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?", max_size=30
)
values = st.one_of(
    oids.map(asn1.ObjectIdentifier),
    texts.map(asn1.UTF8String),
    printable.map(asn1.PrintableString),
    texts.map(asn1.BMPString),
    st.integers(-(2**70), 2**70).map(asn1.Integer),
    st.booleans().map(asn1.Boolean),
    st.binary(max_size=20).map(asn1.OctetString),
)
attributes = st.lists(st.tuples(oids, st.lists(values, max_size=3)), max_size=5)


def oracle(encoded: bytes) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for attribute in SubjectDirectoryAttributesSpec.load(encoded, strict=True):
        out = result.setdefault(attribute["type"].dotted, [])
        for value in attribute["values"]:
            parsed = asn1.load(value.dump())
            if isinstance(parsed, asn1.ObjectIdentifier):
                out.append(parsed.dotted)
            elif isinstance(parsed.native, str):
                out.append(parsed.native)
            else:
                out.append(value.dump().hex())
    return result


@settings(max_examples=300, deadline=None)
@given(attributes)
def test_sda_reader_agrees_with_asn1crypto(attrs: list[tuple[str, list[asn1.Asn1Value]]]) -> None:
    encoded = SubjectDirectoryAttributesSpec(
        [{"type": oid, "values": [asn1.Any.load(v.dump()) for v in vals]} for oid, vals in attrs]
    ).dump()
    assert read_subject_directory_attributes(encoded) == oracle(encoded)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_sda_reader_raises_only_value_error(data: bytes) -> None:
    try:
        read_subject_directory_attributes(data)
    except DERError:
        pass


@given(oids)
def test_oid_decoding(dotted: str) -> None:
    assert decode_oid(asn1.ObjectIdentifier(dotted).contents) == dotted


def test_non_der_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="non-minimal"):
        read_subject_directory_attributes(bytes.fromhex("3081 00".replace(" ", "")))


def test_certificate_names_are_the_names_cryptography_sees(pki: FakeGPKI) -> None:
    for issued in (pki.issue_citizen("王小明", "A123456789"), pki.cas["GRCA2"], pki.cas["MOICA2"]):
        cert = x509.load_der_x509_certificate(issued.der)
        issuer, subject, tbs = certificate_names(issued.der)
        assert issuer == cert.issuer.public_bytes()
        assert subject == cert.subject.public_bytes()
        assert tbs == cert.tbs_certificate_bytes


name_values = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20)
name_oids = st.sampled_from(
    [
        NameOID.COMMON_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.SERIAL_NUMBER,
        NameOID.COUNTRY_NAME,
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(name_oids, name_values), min_size=1, max_size=2), max_size=6))
def test_name_reader_agrees_with_cryptography(rdns: list[list[tuple[x509.ObjectIdentifier, str]]]) -> None:
    attributes = []
    for rdn in rdns:
        try:
            attributes.append(
                x509.RelativeDistinguishedName(
                    [
                        x509.NameAttribute(oid, value if oid != NameOID.COUNTRY_NAME else "TW")
                        for oid, value in rdn
                    ]
                )
            )
        except ValueError:
            return  # an RDN cryptography itself refuses (duplicate attribute)
    name = x509.Name(attributes)
    expected = [(a.oid.dotted_string, a.value) for rdn in name.rdns for a in rdn]
    assert sorted(name_attributes(name.public_bytes())) == sorted(expected)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_name_reader_raises_only_value_errors(data: bytes) -> None:
    try:
        name_attributes(data)
    except DERError:
        pass


# ------------------------------------------------------------------ CMS SignedData


@pytest.fixture(scope="module")
def signed_data_seeds(pki: FakeGPKI) -> list[bytes]:
    issued = pki.issue_citizen("王小明", "A123456789")
    tbs = b"twcert-login/1 https://jobs.example.gov.tw abc123 bm9uY2U"

    def sign(data: bytes) -> bytes:
        return issued.key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]

    builder = pkcs7.PKCS7SignatureBuilder().set_data(tbs)
    signed = builder.add_signer(issued.certificate, issued.key, hashes.SHA256())  # type: ignore[arg-type]
    return [
        signed.sign(serialization.Encoding.DER, []),
        signed.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoCerts]),
        signed.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]),
        signed.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoAttributes]),
        build_signed_data(
            tbs,
            issued.der,
            sign,
            card_serial="TP0001",
            nonce=b"\x01",
            extra_certificates=[pki.cas["MOICA2"].der],
        ),
    ]


def test_signed_data_reader_reads_what_asn1crypto_reads(signed_data_seeds: list[bytes]) -> None:
    for der in signed_data_seeds:
        parts = read_signed_data(der)
        signed = cms.ContentInfo.load(der, strict=True)["content"]
        encap = signed["encap_content_info"]
        assert parts.content_type == encap["content_type"].dotted
        assert parts.content == encap["content"].native
        expected_certs = [c.chosen.dump() for c in signed["certificates"] or () if c.name == "certificate"]
        assert list(parts.certificates) == expected_certs
        assert parts.signer_count == len(signed["signer_infos"]) == 1
        info = signed["signer_infos"][0]
        signer = parts.signer
        assert signer is not None
        ias = info["sid"].chosen
        assert (signer.issuer, signer.serial_number, signer.key_identifier) == (
            ias["issuer"].dump(),
            ias["serial_number"].native,
            None,
        )
        assert signer.digest_algorithm == info["digest_algorithm"]["algorithm"].dotted
        assert signer.signature_algorithm == info["signature_algorithm"]["algorithm"].dotted
        params = info["signature_algorithm"]["parameters"]
        assert signer.signature_parameters == (None if isinstance(params, asn1.Void) else params.dump())
        assert signer.signature == info["signature"].native
        attrs = info["signed_attrs"]
        if isinstance(attrs, asn1.Void):
            assert signer.signed_attrs is None and signer.attributes == ()
            continue
        assert signer.signed_attrs == attrs.dump()
        assert signer.attributes == tuple(
            (a["type"].dotted, tuple(v.dump() for v in a["values"])) for a in attrs
        )


def test_signed_data_reader_refuses_what_is_not_der_signed_data() -> None:
    signed_data = asn1.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
    data = asn1.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
    # An indefinite length (BER, as streamed CMS is).
    with pytest.raises(ValueError, match="length"):
        read_signed_data(b"\x30\x80" + signed_data + b"\xa0\x80\x30\x00\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="not id-signedData"):
        read_signed_data(b"\x30" + bytes([len(data) + 4]) + data + b"\xa0\x02\x30\x00")
    with pytest.raises(ValueError, match="ContentInfo is not one element"):
        read_signed_data(b"\x30\x00\x00")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_signed_data_reader_raises_only_value_errors(data: bytes) -> None:
    try:
        read_signed_data(data)
    except DERError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_signed_data_reader_on_mutations_raises_only_value_errors(
    signed_data_seeds: list[bytes], data: st.DataObject
) -> None:
    mutated = bytearray(data.draw(st.sampled_from(signed_data_seeds)))
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        read_signed_data(bytes(mutated))
    except DERError:
        pass


# ------------------------------------------------------------------ the shared TLV reader and time parser


def test_parse_time_reads_the_rfc_5280_forms() -> None:
    utc = dt.UTC
    assert parse_time(UTC_TIME, b"491231235959Z") == dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=utc)
    assert parse_time(UTC_TIME, b"500101000000Z") == dt.datetime(1950, 1, 1, tzinfo=utc)
    # RFC 5280 §4.1.2.5: 99991231235959Z means "no well-defined expiration date".
    far = parse_time(GENERALIZED_TIME, b"99991231235959Z")
    assert far == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=utc)
    assert parse_time(GENERALIZED_TIME, memoryview(b"20240229120000Z")).day == 29


@pytest.mark.parametrize(
    ("tag", "content"),
    [
        (UTC_TIME, b"2402291200Z"),  # no seconds
        (UTC_TIME, b"240229120000+0800"),  # offset
        (GENERALIZED_TIME, b"20240229120000.5Z"),  # fraction (RFC 5280 forbids it)
        (GENERALIZED_TIME, b"20230229120000Z"),  # no 29 February in 2023
        (GENERALIZED_TIME, b"00000101000000Z"),  # year 0
        (UTC_TIME, b"24 229120000Z"),
        (GENERALIZED_TIME, b"\xd9\xa0" * 7 + b"Z"),  # non-ASCII digits
        (0x04, b"240229120000Z"),  # not a time
    ],
)
def test_parse_time_refuses_everything_else(tag: int, content: bytes) -> None:
    with pytest.raises(DERError):
        parse_time(tag, content)


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
def test_parse_time_agrees_with_asn1crypto(when: dt.datetime) -> None:
    when = when.replace(microsecond=0, tzinfo=dt.UTC)
    encoded = asn1.GeneralizedTime(when).dump()
    assert parse_time(*read_tlv(encoded)) == asn1.GeneralizedTime.load(encoded).native == when
    if 1950 <= when.year < 2050:
        encoded = asn1.UTCTime(when).dump()
        assert parse_time(*read_tlv(encoded)) == asn1.UTCTime.load(encoded).native == when


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=20))
def test_parse_time_raises_only_der_errors(tag: int, content: bytes) -> None:
    try:
        parse_time(tag, content)
    except DERError:
        pass


def test_read_header_reads_a_mapped_file_and_a_memoryview(tmp_path) -> None:  # type: ignore[no-untyped-def]
    encoded = asn1.OctetString(b"x" * 300).dump()
    path = tmp_path / "der"
    path.write_bytes(b"\x00" + encoded)
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert read_header(mapped, 1, len(mapped)) == (0x04, 5, 305)
    assert read_header(memoryview(encoded), 0, len(encoded)) == (0x04, 4, 304)
    with pytest.raises(DERError, match="runs past"):
        read_header(encoded, 0, len(encoded) - 1)


def test_der_error_is_a_value_error() -> None:
    # Callers written against the ValueError contract keep working.
    assert issubclass(DERError, ValueError)


def test_oid_bounds() -> None:
    many = b"\x2a" + b"\x01" * (MAX_OID_ARCS - 2)  # exactly MAX_OID_ARCS arcs (1.2 counts two)
    assert decode_oid(many).count(".") == MAX_OID_ARCS - 1
    with pytest.raises(DERError, match="arcs"):
        decode_oid(many + b"\x01")
    longest = b"\x2a" + b"\xff" * (MAX_OID_ARC_BYTES - 1) + b"\x7f"
    assert decode_oid(longest) == f"1.2.{2 ** (7 * MAX_OID_ARC_BYTES) - 1}"
    with pytest.raises(DERError, match="arc longer"):
        decode_oid(b"\x2a" + b"\xff" * MAX_OID_ARC_BYTES + b"\x7f")
    with pytest.raises(DERError, match="too long"):
        decode_oid(b"\x2a" + b"\xff" * 62_000 + b"\x01")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_every_reader_raises_only_der_errors(data: bytes) -> None:
    for reader in (
        lambda: read_tlv(data),
        lambda: read_header(data, 0, len(data)),
        lambda: decode_oid(data),
        lambda: certificate_names(data),
        lambda: name_attributes(data),
        lambda: read_subject_directory_attributes(data),
        lambda: read_signed_data(data),
    ):
        try:
            reader()
        except DERError:
            pass


@settings(max_examples=300, deadline=None)
@given(attributes)
def test_check_oid_bounds_accepts_what_asn1crypto_encodes(
    attrs: list[tuple[str, list[asn1.Asn1Value]]],
) -> None:
    encoded = SubjectDirectoryAttributesSpec(
        [{"type": oid, "values": [asn1.Any.load(v.dump()) for v in vals]} for oid, vals in attrs]
    ).dump()
    check_oid_bounds(encoded)


def test_check_oid_bounds_reads_ber_and_refuses_oversized_oids() -> None:
    oid = asn1.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
    check_oid_bounds(b"\x30\x80" + oid + b"\x24\x80\x04\x01x\x00\x00" + b"\x00\x00")
    huge = b"\x06\x82\x01\x2d\x2a" + b"\xff" * 299 + b"\x01"
    broken = b"\x30\x03\x02\x05\x00"  # runs past its container: skipped, not refused
    for bad in (
        b"\x30\x80" + huge + b"\x00\x00",
        b"\x30\x82\x01\x31" + huge,
        huge,
        b"\x30\x82\x01\x36" + broken + huge,
    ):
        with pytest.raises(DERError, match="OID"):
            check_oid_bounds(bad)
    for unreadable in (
        b"\x30\x80\x02\x01",
        b"\x04\x80\x00\x00",
        broken,
        b"\x30\x05" + broken,
        b"\x06\x02\x2a\x81",  # truncated, but small
        b"\x06\x00",
    ):
        check_oid_bounds(unreadable)  # asn1crypto judges these


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_check_oid_bounds_raises_only_der_errors(data: bytes) -> None:
    try:
        check_oid_bounds(data)
    except DERError:
        pass
