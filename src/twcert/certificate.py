"""Load a certificate (PEM, DER or HiPKI's base64 ``certb64``) into a :class:`TaiwanCertificate`.

The GPKI-specific fields come from the subject DN, the issuer DN and key identifiers, and the
subjectDirectoryAttributes extension (2.5.29.9), which :mod:`cryptography` does not decode;
:mod:`asn1crypto` decodes it here. Anything malformed raises
:class:`~twcert.errors.CertificateParseError` and nothing else.
"""

from __future__ import annotations

import binascii
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Final

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from . import oids
from ._der import certificate_names, name_attributes, read_subject_directory_attributes
from .errors import CertificateParseError
from .idnumber import mask_name, mask_serial

__all__ = [
    "CERTIFICATE_CACHE_SIZE",
    "KNOWN_CA_KEYS",
    "MAX_CERTIFICATE_BYTES",
    "CAFamily",
    "CertificateUsage",
    "HolderKind",
    "IssuerInfo",
    "TaiwanCertificate",
    "key_identifier",
    "load_certificate",
    "load_certificates",
]

#: Largest DER certificate accepted. Real GPKI certificates are under 2.5 KB; the cap keeps a
#: hostile multi-megabyte "certificate" from costing more than a length check.
MAX_CERTIFICATE_BYTES: Final = 64 * 1024
# Text forms (PEM, base64) are about 4/3 larger, plus armour and line breaks.
_MAX_TEXT_BYTES: Final = MAX_CERTIFICATE_BYTES * 2
# A bundle (PEM chain or PKCS#7) may hold a handful of CA certificates.
_MAX_BUNDLE_BYTES: Final = MAX_CERTIFICATE_BYTES * 16
#: How many parsed certificates :func:`load_certificate` keeps (least recently used dropped).
CERTIFICATE_CACHE_SIZE: Final = 256
# Larger inputs are parsed every time, so the cache holds at most ~256 × 8 KiB of input.
_CACHEABLE_BYTES: Final = 8 * 1024


class CAFamily(enum.Enum):
    """Which certification authority of the Government PKI issued (or is) the certificate."""

    MOICA = "MOICA"  #: 內政部憑證管理中心 — citizen certificates (自然人憑證)
    GCA = "GCA"  #: 政府憑證管理中心 — agency certificates (機關憑證)
    MOEACA = "MOEACA"  #: 工商憑證管理中心 — business certificates (工商憑證)
    XCA = "XCA"  #: 組織及團體憑證管理中心 — organisation certificates
    GTESTCA = "GTESTCA"  #: 政府測試憑證管理中心 — test certificates, never valid for login
    GRCA = "GRCA"  #: 政府憑證總管理中心 — the root CAs themselves
    UNKNOWN = "UNKNOWN"


class HolderKind(enum.Enum):
    """Who holds the certificate, from the subject-type attribute (2.16.886.1.100.2.1)."""

    CITIZEN = "citizen"
    AGENCY = "agency"
    UNIT = "unit"
    BUSINESS = "business"
    ORGANISATION = "organisation"
    SERVER = "server"
    HEALTH_PROFESSIONAL = "health_professional"
    CA = "ca"
    UNKNOWN = "unknown"


class CertificateUsage(enum.Enum):
    """What the key is for, from KeyUsage. Cards carry one signing and one encryption certificate."""

    SIGNING = "signing"
    ENCRYPTION = "encryption"
    DUAL = "dual"  #: both signing and encryption bits
    CA = "ca"
    UNKNOWN = "unknown"


_PERSONAL_KINDS: Final = frozenset({HolderKind.CITIZEN, HolderKind.HEALTH_PROFESSIONAL, HolderKind.UNKNOWN})


@dataclass(frozen=True, slots=True)
class IssuerInfo:
    """What a CA key identifier is known to belong to."""

    family: CAFamily
    generation: str | None
    name: str = ""


def _ki(hex_colon: str) -> bytes:
    return bytes.fromhex(hex_colon.replace(":", ""))


#: Key identifiers of the real GPKI CAs (docs/reference/real-ca.md). Families and
#: generations are decided by these, never by DN: generations share subject DNs.
KNOWN_CA_KEYS: Final[Mapping[bytes, IssuerInfo]] = MappingProxyType(
    {
        _ki("CC:CC:EF:CC:29:60:A4:3B:B1:92:B6:3C:FA:32:62:8F:AC:25:15:3B"): IssuerInfo(
            CAFamily.GRCA, "G1", "GRCA"
        ),
        _ki("D5:67:1D:E0:9C:7A:2C:9C:CB:C5:98:E7:1D:07:26:2A:86:EC:74:CD"): IssuerInfo(
            CAFamily.GRCA, "G2", "GRCA2"
        ),
        _ki("3A:90:8E:E7:41:47:19:73:DC:9C:BD:A3:7E:D8:3D:3E:83:09:1F:03"): IssuerInfo(
            CAFamily.GRCA, "G3", "GRCA G3"
        ),
        _ki("B6:20:C8:CF:BE:51:8A:A4:54:B9:78:D3:04:D1:0A:B2:CC:7E:2F:46"): IssuerInfo(
            CAFamily.MOICA, "G1", "MOICA"
        ),
        _ki("FA:9B:34:67:09:0A:98:22:F7:62:48:8B:82:26:A6:45:C5:C3:22:A4"): IssuerInfo(
            CAFamily.MOICA, "G2", "MOICA2"
        ),
        _ki("47:20:A3:B1:26:4B:CD:6D:48:AC:F2:64:08:86:97:2C:74:54:11:5F"): IssuerInfo(
            CAFamily.MOICA, "G3", "MOICA-G3"
        ),
        _ki("99:44:7A:02:72:EB:6D:65:22:B3:02:57:8F:D6:A1:DD:3A:02:0F:6C"): IssuerInfo(
            CAFamily.MOEACA, "G2", "MOEACA2"
        ),
        _ki("46:CC:59:F8:66:7C:73:6A:70:4B:8F:F3:D6:18:13:E6:20:DE:9C:68"): IssuerInfo(
            CAFamily.MOEACA, "G3", "MOEACA-G3"
        ),
        # GCA's certificates are not public in any stored source: its key identifiers are
        # only learned from certificates configured with TrustStore.with_pem_files().
    }
)


class _AnyValues(asn1.SetOf):  # type: ignore[misc]
    _child_spec = asn1.Any


class _Attribute(asn1.Sequence):  # type: ignore[misc]
    _fields = [("type", asn1.ObjectIdentifier), ("values", _AnyValues)]


class SubjectDirectoryAttributesSpec(asn1.SequenceOf):  # type: ignore[misc]
    """asn1crypto spec of subjectDirectoryAttributes (values kept as raw ``Any``)."""

    _child_spec = _Attribute


@dataclass(frozen=True, eq=False)
class TaiwanCertificate:
    """A parsed certificate with the Government-PKI fields a login needs.

    Everything validation reads (key identifiers, key usage, policies, URLs, validity,
    subjectDirectoryAttributes) is decoded by :func:`load_certificate`. Name-derived fields
    (``subject``, ``issuer``, ``holder_name``, ``subject_serial``, and ``family`` when the
    issuing key is not a known one) are decoded on first access, because building
    :mod:`cryptography` ``Name`` objects costs more than an RSA verification; a malformed name
    raises :class:`~twcert.errors.CertificateParseError` then.

    Equality and hashing go by the DER bytes. ``repr`` masks the holder's name and serial so a
    certificate can be logged safely. Instances are immutable and may be shared:
    :func:`load_certificate` returns the same object when it is given the same input again.
    """

    #: The underlying :class:`cryptography.x509.Certificate`.
    certificate: x509.Certificate
    #: The DER encoding.
    der: bytes = field(repr=False)
    #: SHA-256 of the DER, lowercase hex (the certificate's fingerprint).
    sha256: str
    serial_number: int
    not_before: dt.datetime
    not_after: dt.datetime
    usage: CertificateUsage
    #: KeyUsage bits that are set, by their :mod:`cryptography` attribute names.
    key_usage: frozenset[str]
    is_ca: bool
    policies: tuple[str, ...]
    #: CRL distribution point URLs in the order of the extension (the partition CRL first).
    crl_urls: tuple[str, ...]
    ocsp_urls: tuple[str, ...]
    ca_issuers_urls: tuple[str, ...]
    subject_key_identifier: bytes
    authority_key_identifier: bytes | None
    #: Every subjectDirectoryAttributes value, decoded to text, by attribute OID.
    directory_attributes: Mapping[str, tuple[str, ...]]
    subject_type_oid: str | None
    holder_kind: HolderKind
    #: Last four characters of the national ID / resident number (SDA 2.16.886.1.100.2.51).
    id_tail: str | None
    #: Organisation OID (SDA 2.16.886.1.100.2.102), GCA and XCA certificates.
    agency_oid: str | None
    #: Uniform business number (SDA 2.16.886.1.100.2.101), MOEACA certificates.
    business_number: str | None
    #: What the issuing (or, for a CA, its own) key identifier is known to be, if known.
    known_issuer: IssuerInfo | None = field(repr=False)
    #: The issuer and subject Name encodings, for name chaining by bytes.
    issuer_der: bytes = field(repr=False)
    subject_der: bytes = field(repr=False)
    #: The signed part (tbsCertificate) as it appears in :attr:`der`.
    tbs_der: bytes = field(repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaiwanCertificate):
            return NotImplemented
        return self.der == other.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        try:
            holder = self.masked()["holder_name"]
            family = self.family.value
        except CertificateParseError:
            holder, family = "<malformed>", "?"
        return (
            f"<TaiwanCertificate {family} {self.generation or '-'} "
            f"{self.holder_kind.value} holder={holder!r} "
            f"serial={self.serial_number:x} sha256={self.sha256[:16]}…>"
        )

    # -- name-derived fields, decoded on first use ---------------------------------------------

    @cached_property
    def _subject(self) -> _NameParts:
        return _NameParts.of(self.subject_der, "subject")

    @cached_property
    def _issuer(self) -> _NameParts:
        return _NameParts.of(self.issuer_der, "issuer")

    @cached_property
    def subject(self) -> str:
        """Subject DN, RFC 4514 string (contains the holder's name: do not log it)."""
        return self._subject.rfc4514(self.certificate, "subject")

    @cached_property
    def issuer(self) -> str:
        return self._issuer.rfc4514(self.certificate, "issuer")

    @property
    def holder_name(self) -> str | None:
        """Subject CN (the citizen's name, or the agency/unit name); else the last OU, else O."""
        parts = self._subject
        if parts.cns:
            return parts.cns[0]
        if parts.ous:
            return parts.ous[-1]
        return parts.orgs[-1] if parts.orgs else None

    @property
    def subject_serial(self) -> str | None:
        """Subject serialNumber attribute (16 digits on MOICA cards; treated as opaque)."""
        return self._subject.serials[0] if self._subject.serials else None

    @property
    def subject_ous(self) -> tuple[str, ...]:
        return self._subject.ous

    @property
    def issuer_ou(self) -> str | None:
        return self._issuer.ous[-1] if self._issuer.ous else None

    @property
    def is_self_signed(self) -> bool:
        """Subject equals issuer and, where both are present, SKI equals AKI."""
        if self.subject_der != self.issuer_der:
            return False
        return self.authority_key_identifier in (None, self.subject_key_identifier)

    @cached_property
    def family(self) -> CAFamily:
        """By key identifier when the key is known; else a CA by its own OU and anything else by
        its issuer's OU (the OUs the GPKI CAs use, see :data:`twcert.oids.ISSUER_OU_FAMILY`)."""
        if self.known_issuer is not None:
            return self.known_issuer.family
        if self.is_ca:
            subject = self._subject
            own = oids.ISSUER_OU_FAMILY.get(subject.ous[-1] if subject.ous else "")
            if own:
                return CAFamily(own)
            if self.subject_der == self.issuer_der and any(
                n.startswith(_GRCA_NAME) for n in subject.orgs + subject.cns
            ):
                return CAFamily.GRCA
        return CAFamily(oids.ISSUER_OU_FAMILY.get(self.issuer_ou or "", "UNKNOWN"))

    @property
    def generation(self) -> str | None:
        """ "G1" | "G2" | "G3" when the issuing (or own) key identifier is a known CA key."""
        return self.known_issuer.generation if self.known_issuer is not None else None

    @cached_property
    def is_test(self) -> bool:
        """True for GTestCA-issued certificates or those with a test policy."""
        if oids.GPKI_TEST_POLICY in self.policies:
            return True
        if self.known_issuer is not None:
            return self.known_issuer.family is CAFamily.GTESTCA
        return self.family is CAFamily.GTESTCA or _TEST_CA_OU in self._issuer.ous

    def masked(self) -> dict[str, str | None]:
        """The identity fields with personal data masked, for logs and displays.

        Names of agencies, companies and CAs are not personal data and stay readable.
        """
        personal = not self.is_ca and self.holder_kind in _PERSONAL_KINDS
        return {
            "holder_name": mask_name(self.holder_name) if personal else self.holder_name,
            "subject_serial": mask_serial(self.subject_serial),
            "id_tail": mask_serial(self.id_tail, keep_head=0, keep_tail=2),
        }


_GRCA_NAME: Final = "Government Root Certification Authority"
_TEST_CA_OU: Final = "政府測試憑證管理中心"


_CN: Final = NameOID.COMMON_NAME.dotted_string
_OU: Final = NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string
_O: Final = NameOID.ORGANIZATION_NAME.dotted_string
_SERIAL: Final = NameOID.SERIAL_NUMBER.dotted_string


@dataclass(frozen=True, slots=True)
class _NameParts:
    """The attributes of one Name that the GPKI fields use, read from its DER by the small
    reader in :mod:`twcert._der` (a cryptography ``Name`` costs ~25 µs, its RFC 4514 string as
    much again; the login path needs neither)."""

    der: bytes
    cns: tuple[str, ...]
    ous: tuple[str, ...]
    orgs: tuple[str, ...]
    serials: tuple[str, ...]

    @classmethod
    def of(cls, der: bytes, which: str) -> _NameParts:
        try:
            pairs = name_attributes(der)
        except (ValueError, UnicodeDecodeError, IndexError) as exc:
            raise CertificateParseError(f"malformed {which} name: {exc}") from exc

        def values(oid: str) -> tuple[str, ...]:
            return tuple(text for kind, text in pairs if kind == oid)

        return cls(der, values(_CN), values(_OU), values(_O), values(_SERIAL))

    def rfc4514(self, cert: x509.Certificate, which: str) -> str:
        try:
            return (cert.subject if which == "subject" else cert.issuer).rfc4514_string()
        except (ValueError, TypeError) as exc:  # TypeError: e.g. a CN that is a BIT STRING
            raise CertificateParseError(f"malformed {which} name: {exc}") from exc


def key_identifier(cert: x509.Certificate) -> bytes:
    """The subject key identifier, or RFC 5280 method 1 (SHA-1 of the key) if absent."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


_PEM_LABEL = re.compile(rb"[A-Z0-9 ]+")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s_-]+")
_ASCII_WHITESPACE: Final = b" \t\n\r\x0b\x0c"  # what \s matches in a bytes pattern


def _as_bytes(data: bytes | bytearray | memoryview | str, limit: int) -> bytes:
    if isinstance(data, str):
        if len(data) > limit:
            raise CertificateParseError(f"input of {len(data)} characters exceeds the {limit}-byte limit")
        try:
            raw = data.encode("ascii")
        except UnicodeEncodeError as exc:
            raise CertificateParseError("text input is not ASCII (PEM or base64 expected)") from exc
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise CertificateParseError(f"expected bytes or str, got {type(data).__name__}")
    if len(raw) > limit:
        raise CertificateParseError(f"input of {len(raw)} bytes exceeds the {limit}-byte limit")
    if not raw:
        raise CertificateParseError("empty input")
    return raw


def _b64decode(text: bytes) -> bytes:
    # bytes.translate, not a regex: a tenth of the time on a 2 KB certb64 (every login).
    compact = text.translate(None, _ASCII_WHITESPACE)
    if b"-" in compact or b"_" in compact:  # URL-safe alphabet, seen in some web bridges
        compact = compact.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise CertificateParseError(f"invalid base64: {exc}") from exc


def _pem_armour(raw: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(BEGIN label, body, END label) of each ``-----BEGIN …-----`` … ``-----END …-----`` block.

    Found with ``bytes.find``, in one pass: a regular expression with a lazy body between
    optional whitespace took seconds on 40 000 newlines (quadratic backtracking).
    """
    pos = 0
    while True:
        begin = raw.find(b"-----BEGIN ", pos)
        if begin < 0:
            return
        label_end = raw.find(b"-----", begin + 11)
        if label_end < 0:
            return
        label = raw[begin + 11 : label_end]
        if not _PEM_LABEL.fullmatch(label):
            pos = begin + 1
            continue
        end = raw.find(b"-----END ", label_end + 5)
        if end < 0:
            return
        end_label_end = raw.find(b"-----", end + 9)
        end_label = raw[end + 9 : end_label_end]
        if end_label_end < 0 or not _PEM_LABEL.fullmatch(end_label):
            raise CertificateParseError("damaged PEM armour")
        yield label, raw[label_end + 5 : end], end_label
        pos = end_label_end + 5


def _pem_blocks(raw: bytes) -> list[bytes]:
    blocks = []
    for begin, body, end in _pem_armour(raw):
        if begin != end:
            raise CertificateParseError(f"PEM armour mismatch: BEGIN {begin.decode()} / END {end.decode()}")
        if begin not in (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"):
            continue
        if begin == b"TRUSTED CERTIFICATE":
            raise CertificateParseError("OpenSSL TRUSTED CERTIFICATE armour is not supported")
        blocks.append(_b64decode(body))
    if not blocks:
        raise CertificateParseError("no PEM CERTIFICATE block found (wrong or damaged armour)")
    return blocks


def _der_candidates(raw: bytes) -> list[bytes]:
    """Split input into DER blobs: PEM blocks, or raw DER, or base64 of DER."""
    if raw[:1] == b"\x30":
        return [raw]
    if b"-----BEGIN" in raw:
        return _pem_blocks(raw)
    if b"-----" in raw:
        raise CertificateParseError("damaged PEM armour")
    if _BASE64_TEXT.fullmatch(raw):
        der = _b64decode(raw)
        if der[:1] != b"\x30":
            raise CertificateParseError("base64 text does not decode to a DER SEQUENCE")
        return [der]
    raise CertificateParseError("input is neither DER, PEM nor base64 DER")


def load_certificate(
    data: bytes | bytearray | memoryview | str,
    *,
    issuers: Mapping[bytes, IssuerInfo] | None = None,
) -> TaiwanCertificate:
    """Parse one certificate given as DER, PEM, or base64 DER (HiPKI ``certb64``).

    Without ``issuers`` the result is memoised by the input bytes (the last
    :data:`CERTIFICATE_CACHE_SIZE` inputs): loading the same certificate again returns the same
    immutable object.

    :param issuers: extra CA key identifiers to classify by (e.g.
        :attr:`twcert.TrustStore.issuers`); the real GPKI CA keys are always known.
    :raises CertificateParseError: for anything that is not exactly one well-formed certificate.
    """
    raw = _as_bytes(data, _MAX_TEXT_BYTES)
    if issuers is None and len(raw) <= _CACHEABLE_BYTES:
        return _load_cached(raw)
    return _load_one(raw, issuers)


def _load_one(raw: bytes, issuers: Mapping[bytes, IssuerInfo] | None) -> TaiwanCertificate:
    blobs = _der_candidates(raw)
    if len(blobs) != 1:
        raise CertificateParseError(f"expected one certificate, found {len(blobs)}; use load_certificates()")
    return _from_der(blobs[0], issuers)


@lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _load_cached(raw: bytes) -> TaiwanCertificate:
    """:func:`load_certificate` without ``issuers``, memoised by the input bytes.

    A card presents the same certificate at every login, and parsing it costs more than an
    RSA verification. Sharing the result is safe: a :class:`TaiwanCertificate` is frozen and
    every field is immutable (tuples, frozensets, a read-only mapping, cryptography's immutable
    ``Certificate``); its lazily decoded fields are pure functions of the DER. Failures are not
    cached (``lru_cache`` does not keep exceptions), so a malformed input is parsed, and
    refused, every time. Memory is bounded by :data:`CERTIFICATE_CACHE_SIZE` entries of at
    most :data:`_CACHEABLE_BYTES` input each (real GPKI certificates are under 2.5 KB).
    """
    return _load_one(raw, None)


def load_certificates(
    data: bytes | bytearray | memoryview | str,
    *,
    issuers: Mapping[bytes, IssuerInfo] | None = None,
) -> list[TaiwanCertificate]:
    """Parse a bundle: concatenated PEM blocks, one DER/base64 certificate, or a PKCS#7 ``.p7b``."""
    raw = _as_bytes(data, _MAX_BUNDLE_BYTES)
    blobs = _der_candidates(raw)
    if len(blobs) == 1 and raw[:1] == b"\x30":
        try:
            return [_from_der(blobs[0], issuers)]
        except CertificateParseError:
            try:
                bundle = pkcs7.load_der_pkcs7_certificates(blobs[0])
            except Exception:  # ValueError, InvalidVersion, UnsupportedAlgorithm (not signedData)…
                raise CertificateParseError("neither a DER certificate nor a PKCS#7 bundle") from None
            blobs = [c.public_bytes(Encoding.DER) for c in bundle]
    return [_from_der(blob, issuers) for blob in blobs]


def _from_der(der: bytes, issuers: Mapping[bytes, IssuerInfo] | None) -> TaiwanCertificate:
    if len(der) > MAX_CERTIFICATE_BYTES:
        raise CertificateParseError(f"certificate of {len(der)} bytes exceeds {MAX_CERTIFICATE_BYTES}")
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise CertificateParseError(f"not a DER X.509 certificate: {exc}") from exc
    try:
        return _build(cert, der, issuers)
    except CertificateParseError:
        raise
    except Exception as exc:  # cryptography parses extensions lazily and raises ValueError & co.
        raise CertificateParseError(f"malformed certificate field: {type(exc).__name__}: {exc}") from exc


def _usage(ku: x509.KeyUsage | None, is_ca: bool) -> tuple[CertificateUsage, frozenset[str]]:
    if ku is None:
        return (CertificateUsage.CA if is_ca else CertificateUsage.UNKNOWN), frozenset()
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ]
    bits = {n for n in names if getattr(ku, n)}
    if ku.key_agreement:
        bits |= {n for n in ("encipher_only", "decipher_only") if getattr(ku, n)}
    if "key_cert_sign" in bits:
        return CertificateUsage.CA, frozenset(bits)
    signs = bool(bits & {"digital_signature", "content_commitment"})
    encrypts = bool(bits & {"key_encipherment", "data_encipherment", "key_agreement"})
    if signs and encrypts:
        usage = CertificateUsage.DUAL
    elif signs:
        usage = CertificateUsage.SIGNING
    elif encrypts:
        usage = CertificateUsage.ENCRYPTION
    else:
        usage = CertificateUsage.UNKNOWN
    return usage, frozenset(bits)


_SKI: Final = ExtensionOID.SUBJECT_KEY_IDENTIFIER
_AKI: Final = ExtensionOID.AUTHORITY_KEY_IDENTIFIER
_BC: Final = ExtensionOID.BASIC_CONSTRAINTS
_KU: Final = ExtensionOID.KEY_USAGE
_CP: Final = ExtensionOID.CERTIFICATE_POLICIES
_CDP: Final = ExtensionOID.CRL_DISTRIBUTION_POINTS
_AIA: Final = ExtensionOID.AUTHORITY_INFORMATION_ACCESS
_SDA: Final = x509.ObjectIdentifier(oids.SUBJECT_DIRECTORY_ATTRIBUTES)


def _build(
    cert: x509.Certificate, der: bytes, issuers: Mapping[bytes, IssuerInfo] | None
) -> TaiwanCertificate:
    by_oid = {e.oid: e.value for e in cert.extensions}
    try:
        issuer_der, subject_der, tbs_der = certificate_names(der)
    except (ValueError, IndexError) as exc:
        raise CertificateParseError(f"malformed certificate header: {exc}") from exc

    ski_ext = by_oid.get(_SKI)
    ski = ski_ext.digest if isinstance(ski_ext, x509.SubjectKeyIdentifier) else key_identifier(cert)
    aki_ext = by_oid.get(_AKI)
    aki = aki_ext.key_identifier if isinstance(aki_ext, x509.AuthorityKeyIdentifier) else None

    bc = by_oid.get(_BC)
    is_ca = isinstance(bc, x509.BasicConstraints) and bc.ca
    ku = by_oid.get(_KU)
    usage, ku_bits = _usage(ku if isinstance(ku, x509.KeyUsage) else None, is_ca)

    policies_ext = by_oid.get(_CP)
    policies = (
        tuple(p.policy_identifier.dotted_string for p in policies_ext)
        if isinstance(policies_ext, x509.CertificatePolicies)
        else ()
    )

    crl_urls: list[str] = []
    cdp = by_oid.get(_CDP)
    if isinstance(cdp, x509.CRLDistributionPoints):
        for point in cdp:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    crl_urls.append(name.value)
    ocsp_urls: list[str] = []
    ca_issuers: list[str] = []
    aia = by_oid.get(_AIA)
    if isinstance(aia, x509.AuthorityInformationAccess):
        for desc in aia:
            if not isinstance(desc.access_location, x509.UniformResourceIdentifier):
                continue
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp_urls.append(desc.access_location.value)
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                ca_issuers.append(desc.access_location.value)

    sda: dict[str, tuple[str, ...]] = {}
    sda_ext = by_oid.get(_SDA)
    if isinstance(sda_ext, x509.UnrecognizedExtension):
        try:
            sda = {k: tuple(v) for k, v in read_subject_directory_attributes(sda_ext.value).items()}
        except (ValueError, UnicodeDecodeError, IndexError) as exc:
            raise CertificateParseError(f"malformed subjectDirectoryAttributes: {exc}") from exc

    def first(oid: str) -> str | None:
        values = sda.get(oid)
        return values[0] if values else None

    subject_type = first(oids.SUBJECT_TYPE)
    if subject_type is not None:
        holder_kind = HolderKind(oids.SUBJECT_TYPES.get(subject_type, "unknown"))
    else:
        holder_kind = HolderKind.CA if is_ca else HolderKind.UNKNOWN

    # A CA certificate describes itself (its own key); an end-entity its issuer's key.
    lookup_key = ski if is_ca else aki
    known = None
    if lookup_key is not None:
        known = (issuers or {}).get(lookup_key) or KNOWN_CA_KEYS.get(lookup_key)

    return TaiwanCertificate(
        certificate=cert,
        der=der,
        sha256=hashlib.sha256(der).hexdigest(),
        serial_number=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        usage=usage,
        key_usage=ku_bits,
        is_ca=is_ca,
        policies=policies,
        crl_urls=tuple(crl_urls),
        ocsp_urls=tuple(ocsp_urls),
        ca_issuers_urls=tuple(ca_issuers),
        subject_key_identifier=ski,
        authority_key_identifier=aki,
        directory_attributes=MappingProxyType(sda),
        subject_type_oid=subject_type,
        holder_kind=holder_kind,
        id_tail=first(oids.ID_TAIL),
        agency_oid=first(oids.ORGANISATION_OID),
        business_number=first(oids.UNIFORM_BUSINESS_NUMBER),
        known_issuer=known,
        issuer_der=issuer_der,
        subject_der=subject_der,
        tbs_der=tbs_der,
    )
