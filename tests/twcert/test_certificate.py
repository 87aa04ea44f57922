from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twcert import (
    CAFamily,
    CertificateParseError,
    CertificateUsage,
    HolderKind,
    load_certificate,
    load_certificates,
)
from twcert.certificate import CERTIFICATE_CACHE_SIZE, _load_cached
from twcert.testing import FakeGPKI

# From src/twcert/anchors/SOURCES.md (decoded with OpenSSL, docs/reference/real-ca.md), not from our code.
REAL_CAS = {
    "grca-g1-root.pem": (CAFamily.GRCA, "G1", "2002-12-05", "2032-12-05"),
    "grca-g2-root.pem": (CAFamily.GRCA, "G2", "2012-09-28", "2037-12-31"),
    "grca-g3-root.pem": (CAFamily.GRCA, "G3", "2022-06-07", "2049-12-31"),
    "moica-g1-intermediate-expired-2023.pem": (CAFamily.MOICA, "G1", "2003-04-21", "2023-04-21"),
    "moica-g2-intermediate.pem": (CAFamily.MOICA, "G2", "2014-01-02", "2034-01-02"),
    "moica-g3-intermediate.pem": (CAFamily.MOICA, "G3", "2024-01-23", "2044-01-23"),
    "moeaca-g2-intermediate.pem": (CAFamily.MOEACA, "G2", "2013-01-31", "2033-01-31"),
    "moeaca-g3-intermediate.pem": (CAFamily.MOEACA, "G3", "2022-06-07", "2042-06-07"),
}


@pytest.mark.parametrize("filename", sorted(REAL_CAS))
def test_real_ca_certificates_are_classified(real_ca_dir: Path, filename: str) -> None:
    family, generation, not_before, not_after = REAL_CAS[filename]
    cert = load_certificate((real_ca_dir / filename).read_bytes())
    assert cert.family is family
    assert cert.generation == generation
    assert cert.not_before.date().isoformat() == not_before
    assert cert.not_after.date().isoformat() == not_after
    assert cert.is_ca and cert.usage is CertificateUsage.CA
    assert not cert.is_test


def test_grca_g1_without_key_usage_loads(real_ca_dir: Path) -> None:
    cert = load_certificate((real_ca_dir / "grca-g1-root.pem").read_bytes())
    assert cert.key_usage == frozenset()
    bc = cert.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical is False and bc.value.ca
    assert cert.is_self_signed


def test_same_dn_generations_are_told_apart_by_key_identifier(real_ca_dir: Path) -> None:
    g1 = load_certificate((real_ca_dir / "moica-g1-intermediate-expired-2023.pem").read_bytes())
    g2 = load_certificate((real_ca_dir / "moica-g2-intermediate.pem").read_bytes())
    g3 = load_certificate((real_ca_dir / "moica-g3-intermediate.pem").read_bytes())
    assert g1.subject == g2.subject == g3.subject
    assert len({g1.generation, g2.generation, g3.generation}) == 3
    assert g2.crl_urls == ("http://grca.nat.gov.tw/repository/CRL2/CA.crl",)
    assert g3.ocsp_urls == ("http://ocsp.grca.nat.gov.tw/OCSP",)
    assert g2.policies == ("2.16.886.101.0.3.3",)


def _hand_built(
    extensions: list[x509.ExtensionType | x509.UnrecognizedExtension], *, name: str = "王小明"
) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TW"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "1234567890123456"),
        ]
    )
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TW"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "行政院"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "內政部憑證管理中心"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_hand_built_sda_gives_id_tail_and_citizen_kind() -> None:
    # SEQUENCE { SEQUENCE { OID 2.16.886.1.100.2.51, SET { PrintableString "6789" } },
    #            SEQUENCE { OID 2.16.886.1.100.2.1,  SET { OID 2.16.886.1.100.3.1.1 } } }
    # written out byte by byte so the test does not share the library's encoder.
    # 2.16.886 encodes as 60 86 76 (886 = 6*128 + 118).
    id_tail = bytes.fromhex("3011" + "0607608676016402" + "33" + "3106" + "130436373839")
    subject_type = bytes.fromhex("3015" + "0607608676016402" + "01" + "310a" + "06086086760164030101")
    assert len(id_tail) == 2 + 0x11 and len(subject_type) == 2 + 0x15
    sda = b"\x30" + bytes([len(id_tail) + len(subject_type)]) + id_tail + subject_type
    der = _hand_built([x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), sda)])
    cert = load_certificate(der)
    assert cert.id_tail == "6789"
    assert cert.holder_kind is HolderKind.CITIZEN
    assert cert.family is CAFamily.MOICA  # by issuer OU: key identifier unknown
    assert cert.generation is None
    assert cert.holder_name == "王小明"
    assert cert.subject_serial == "1234567890123456"


def test_missing_and_unknown_extensions_are_not_errors() -> None:
    der = _hand_built([x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")])
    cert = load_certificate(der)
    assert cert.id_tail is None and cert.agency_oid is None
    assert cert.holder_kind is HolderKind.UNKNOWN
    assert cert.usage is CertificateUsage.UNKNOWN
    assert cert.crl_urls == () and cert.ocsp_urls == () and cert.policies == ()


def test_malformed_sda_is_a_parse_error() -> None:
    der = _hand_built([x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), b"\x30\x05\x06\x01")])
    with pytest.raises(CertificateParseError):
        load_certificate(der)


def test_all_input_forms_give_the_same_certificate(pki: FakeGPKI) -> None:
    issued = pki.issue_citizen("王小明", "A123456789")
    der = issued.der
    b64 = base64.b64encode(der)
    forms = [
        der,
        bytearray(der),
        issued.pem,
        issued.pem.decode(),
        b64,
        b64.decode(),
        base64.encodebytes(der).decode(),
        "\n" + issued.pem.decode().replace("\n", "\r\n"),
        # every ASCII whitespace a web form or mail client may put into base64
        b" \t" + b"\x0b".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + b"\x0c\r\n",
    ]
    parsed = {load_certificate(f).sha256 for f in forms}
    assert len(parsed) == 1


def test_loading_the_same_input_again_returns_the_cached_certificate(pki: FakeGPKI) -> None:
    issued = pki.issue_citizen("王小明", "A123456789")
    certb64 = base64.b64encode(issued.der).decode()
    first = load_certificate(certb64)
    assert load_certificate(certb64) is first  # a card presents the same certb64 at every login
    # Another form of the same certificate is another cache entry, with an equal certificate.
    other = load_certificate(issued.der)
    assert other == first and other.sha256 == first.sha256 and other.holder_name == "王小明"
    # Nothing about the cached object can be changed by one caller under another's feet.
    with pytest.raises(AttributeError):
        first.id_tail = "0000"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.directory_attributes["x"] = ("y",)  # type: ignore[index]


def test_the_certificate_cache_is_bounded(pki: FakeGPKI) -> None:
    der = pki.issue_citizen("王小明", "A123456789").der
    b64 = base64.b64encode(der).decode()
    # Distinct inputs (the same base64 with different trailing whitespace) are distinct keys.
    inputs = [b64 + "\n" * n for n in range(CERTIFICATE_CACHE_SIZE + 40)]
    _load_cached.cache_clear()
    parsed = [load_certificate(text) for text in inputs]
    info = _load_cached.cache_info()
    assert info.maxsize == CERTIFICATE_CACHE_SIZE and info.currsize == CERTIFICATE_CACHE_SIZE
    assert load_certificate(inputs[-1]) is parsed[-1]  # recent: kept
    assert _load_cached.cache_info().misses == info.misses
    again = load_certificate(inputs[0])  # the oldest was dropped: parsed anew, equal
    assert _load_cached.cache_info().misses == info.misses + 1
    assert again is not parsed[0] and again == parsed[0]


def test_large_inputs_and_extra_issuers_bypass_the_cache(fixture_set) -> None:  # type: ignore[no-untyped-def]
    pem = fixture_set.pem("citizen-wang")
    padded = pem + b"\n" * (9 * 1024)  # still one valid PEM certificate, but over the cache's size cap
    assert load_certificate(padded) is not load_certificate(padded)
    assert load_certificate(padded) == load_certificate(pem)
    issuers = fixture_set.pki.trust_store().issuers
    with_issuers = load_certificate(pem, issuers=issuers)
    assert load_certificate(pem, issuers=issuers) is not with_issuers
    assert with_issuers.family is CAFamily.MOICA and with_issuers.generation == "G2"


def test_failures_are_not_cached(fixture_set) -> None:  # type: ignore[no-untyped-def]
    broken = fixture_set.issued("citizen-wang").der[:-10]
    _load_cached.cache_clear()
    for _ in range(2):
        with pytest.raises(CertificateParseError):
            load_certificate(broken)
    info = _load_cached.cache_info()
    assert info.currsize == 0 and info.misses == 2 and info.hits == 0


def test_fixture_citizen_fields(fixture_set) -> None:  # type: ignore[no-untyped-def]
    trust = fixture_set.pki.trust_store()
    cert = load_certificate(fixture_set.pem("citizen-wang"), issuers=trust.issuers)
    assert cert.family is CAFamily.MOICA and cert.generation == "G2"
    assert cert.holder_kind is HolderKind.CITIZEN and cert.usage is CertificateUsage.SIGNING
    assert cert.id_tail == "6789" and cert.holder_name == "王小明"
    assert cert.crl_urls[0].endswith("/CRL_0001.crl") and cert.crl_urls[1].endswith("/complete.crl")
    assert cert.ocsp_urls and cert.ca_issuers_urls
    assert "王小明" not in repr(cert) and "6789" not in repr(cert)
    enc = load_certificate(fixture_set.pem("citizen-wang-enc"))
    assert enc.usage is CertificateUsage.ENCRYPTION
    agency = load_certificate(fixture_set.pem("agency-dgpa"))
    assert agency.family is CAFamily.GCA and agency.holder_kind is HolderKind.AGENCY
    assert agency.agency_oid == "2.16.886.101.20003.20007"
    test_card = load_certificate(fixture_set.pem("agency-test"))
    assert test_card.is_test and test_card.family is CAFamily.GTESTCA
    assert load_certificate(fixture_set.pem("citizen-test-policy")).is_test


def test_bundle_loading(real_ca_dir: Path) -> None:
    bundle = b"".join((real_ca_dir / name).read_bytes() for name in sorted(REAL_CAS))
    assert len(load_certificates(bundle)) == 8
    with pytest.raises(CertificateParseError, match="expected one certificate"):
        load_certificate(bundle)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        "",
        b"\x30",
        b"\x30\x82\xff\xff",
        b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END X509 CRL-----\n",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "證書",
        b"not a certificate at all",
        "QUJD",  # base64 of "ABC", not DER
    ],
)
def test_garbage_is_a_parse_error(data: bytes | str) -> None:
    with pytest.raises(CertificateParseError):
        load_certificate(data)


def test_wrong_type_is_a_parse_error() -> None:
    with pytest.raises(CertificateParseError):
        load_certificate(12345)  # type: ignore[arg-type]


def test_truncated_der_is_a_parse_error(fixture_set) -> None:  # type: ignore[no-untyped-def]
    der = load_certificate(fixture_set.pem("citizen-wang")).der
    for cut in range(0, len(der), 37):
        with pytest.raises(CertificateParseError):
            load_certificate(der[:cut])


def test_ten_megabyte_blob_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A size check, not a parse: nothing that reads the input's content may run. (Asserted by
    # what is called, not by time: timings belong in benchmarks/.)
    from twcert import certificate

    def must_not_parse(*_args: object) -> None:
        raise AssertionError("a 10 MB input reached the parser")

    for parser in ("_der_candidates", "_pem_blocks", "_b64decode", "_from_der"):
        monkeypatch.setattr(certificate, parser, must_not_parse)
    blob = b"\x30\x84" + os.urandom(10 * 1024 * 1024)
    for given_as in (blob, bytearray(blob), memoryview(blob), blob.decode("latin-1")):
        with pytest.raises(CertificateParseError, match="limit"):
            load_certificate(given_as)
        with pytest.raises(CertificateParseError, match="limit"):
            load_certificates(given_as)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    try:
        load_certificate(data)
    except CertificateParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_random_text_only_raises_parse_error(text: str) -> None:
    try:
        load_certificate(text)
    except CertificateParseError:
        pass


_SEED_DER = [
    (Path(__file__).resolve().parents[2] / "fixtures" / "gpki" / "ee" / name).read_bytes()
    for name in ("citizen-wang.pem", "agency-dgpa.pem", "business-moeaca.pem")
]


@st.composite
def mutated_der(draw: st.DrawFn) -> bytes:
    der = bytearray(load_certificate(draw(st.sampled_from(_SEED_DER))).der)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        pos = draw(st.integers(0, len(der) - 1))
        if op == "flip":
            der[pos] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del der[pos : pos + draw(st.integers(1, 16))]
        elif op == "insert":
            der[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del der[pos:]
        if not der:
            break
    return bytes(der)


def test_an_unknown_x509_version_is_a_parse_error(pki: FakeGPKI) -> None:
    der = pki.issue_citizen("王小明", "A123456789").der
    v3 = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2 (v3)
    assert der.count(v3) == 1
    with pytest.raises(CertificateParseError, match=r"not a DER X\.509 certificate"):
        load_certificate(der.replace(v3, b"\xa0\x03\x02\x01\x03"))  # found by the property test below


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_der())
def test_mutated_der_only_raises_parse_error(data: bytes) -> None:
    try:
        cert = load_certificate(data)
    except CertificateParseError:
        return
    # If a mutation still loads, every field must be usable or raise the parse error (names
    # are decoded on first access).
    repr(cert)
    for name in ("subject", "issuer", "holder_name", "subject_serial", "family", "is_test", "is_self_signed"):
        try:
            getattr(cert, name)
        except CertificateParseError:
            pass
    try:
        cert.masked()
    except CertificateParseError:
        pass


# -- escapes found by fuzzing (issue 12, item 7) ----------------------------------------------------


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def test_pkcs7_that_is_not_signed_data_is_a_parse_error() -> None:
    # ContentInfo { id-data, [0] OCTET STRING "hello" }: cryptography raised UnsupportedAlgorithm.
    data_oid = bytes.fromhex("06092a864886f70d010701")
    p7 = _tlv(0x30, data_oid + _tlv(0xA0, _tlv(0x04, b"hello")))
    with pytest.raises(CertificateParseError, match="PKCS#7"):
        load_certificates(p7)


def test_a_common_name_encoded_as_bit_string_is_a_parse_error(fixture_set) -> None:  # type: ignore[no-untyped-def]
    der = load_certificate(fixture_set.pem("citizen-wang")).der
    subject = load_certificate(der).subject_der
    start = der.index(subject)
    cn = der.index(bytes.fromhex("0603550403"), start) + 5  # the CN value's tag
    assert der[cn] == 0x0C  # UTF8String
    # BIT STRING with 0 unused bits and the same length: cryptography raised TypeError.
    bad = der[:cn] + b"\x03" + der[cn + 1 : cn + 2] + b"\x00" + der[cn + 3 :]
    cert = load_certificate(bad)
    with pytest.raises(CertificateParseError, match="malformed subject name"):
        _ = cert.subject


def _with_directory_attribute_oid(oid_body: bytes) -> bytes:
    """A self-signed certificate whose subjectDirectoryAttributes has one attribute of the
    given OID content octets."""
    key = ec.generate_private_key(ec.SECP256R1())
    value = _tlv(0x30, _tlv(0x30, _tlv(0x06, oid_body) + _tlv(0x31, _tlv(0x13, b"x"))))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oid bounds")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2030, 1, 1))
        .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), value), critical=False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "oid_body",
    [
        b"\x2a" + b"\x01" * 64,  # 65 arcs
        b"\x2a" + b"\x81" * 20 + b"\x01",  # one arc of 21 base-128 digits (147 bits)
        b"\x2a" + b"\xff" * 30_000 + b"\x01",  # one 30 KB arc: was a quadratic decode
    ],
    ids=["65-arcs", "21-byte-arc", "30KB-arc"],
)
def test_oversized_oids_are_refused(oid_body: bytes) -> None:
    with pytest.raises(CertificateParseError, match="subjectDirectoryAttributes"):
        load_certificate(_with_directory_attribute_oid(oid_body))


def test_a_uuid_oid_arc_is_read() -> None:
    # 2.25.<128-bit UUID> (X.667) is the longest arc a real OID uses: it must stay readable.
    uuid = 0xF81D4FAE7DEC11D0A76500A0C91E6BF6
    digits = []
    value = uuid
    while value:
        digits.append(value & 0x7F)
        value >>= 7
    arc = bytes(d | 0x80 for d in reversed(digits[1:])) + bytes((digits[0],))
    cert = load_certificate(_with_directory_attribute_oid(b"\x69" + arc))
    assert cert.directory_attributes == {f"2.25.{uuid}": ("x",)}


def test_pem_armour_is_found_as_before(real_ca_dir: Path) -> None:
    """The PEM splitter (bytes.find, no backtracking regex) keeps the armour rules."""
    pem = (real_ca_dir / "grca-g2-root.pem").read_bytes()
    other = (real_ca_dir / "moica-g2-intermediate.pem").read_bytes()
    padded = pem.replace(b"-----\n", b"-----\n" + b"\n" * 40_000, 1)  # long whitespace inside
    assert load_certificate(padded) == load_certificate(pem)
    skipped = b"-----BEGIN bad label-----\n" + pem  # not a label: skipped, as the regex did
    assert load_certificate(skipped) == load_certificate(pem)
    assert [c.sha256 for c in load_certificates(b"junk\n" + pem + b"\n" + other)] == [
        load_certificate(pem).sha256,
        load_certificate(other).sha256,
    ]
    for damaged in (
        pem.replace(b"-----END CERTIFICATE-----", b"-----END certificate-----"),
        pem.replace(b"-----END CERTIFICATE-----", b"-----END CRL-----"),
        pem.replace(b"-----END CERTIFICATE-----", b"-----END "),
    ):
        with pytest.raises(CertificateParseError, match="PEM"):
            load_certificate(damaged)


_REAL_CA_FILES = sorted((Path(__file__).resolve().parents[2] / "src" / "twcert" / "anchors").glob("*.pem"))
_BUNDLE_SEEDS = [
    b"".join(path.read_bytes() for path in _REAL_CA_FILES[:3]),
    pkcs7.serialize_certificates(
        [x509.load_pem_x509_certificate(path.read_bytes()) for path in _REAL_CA_FILES[:3]],
        serialization.Encoding.DER,
    ),
]


@st.composite
def mutated_bundle(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_BUNDLE_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[pos:]
        if not data:
            break
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_bundle(), st.binary(max_size=2000)))
def test_load_certificates_raises_only_parse_error(data: bytes) -> None:
    try:
        certificates = load_certificates(data)
    except CertificateParseError:
        return
    for cert in certificates:
        for name in ("subject", "issuer", "holder_name", "family", "is_test"):
            try:
                getattr(cert, name)
            except CertificateParseError:
                pass
