"""Verify the card's signature over a login challenge: CMS SignedData or raw PKCS#1 v1.5.

HiPKI's ``signatureType`` "PKCS7" returns CMS SignedData with the challenge attached; "PKCS1"
returns a bare RSA signature and the certificate separately (``certb64``).

The signature is checked with :mod:`cryptography`; the checks are the RFC 5652 §5.4/§5.6 ones
and no more: exactly one signer, attached content equal to the issued challenge, signed
attributes present with contentType = the encapsulated type and messageDigest =
digest(content), signingTime (if required) within the allowed skew, and the signature over the
DER of the signed attributes. Certificate *validity* is not judged here: the caller passes
:attr:`VerifiedSignature.certificate` to :class:`twcert.Validator`. (A full CMS engine such as
pyHanko's would also build a ``ValidationContext`` per call, which the login fast path must not
do; ``tests/twcert/test_signature.py`` checks this module against ``openssl cms -verify``.)

CMS is read by one of two readers and the checks, written once, ask either of them for the
fields: a strict DER reader (``twcert._der.read_signed_data``) for the shape cards and
libraries produce — reaching the fields through asn1crypto costs ~150 µs, more than the rest of
a login's signature check — and :mod:`asn1crypto` for anything else (BER, unusual attributes).
The DER reader takes only what it reads exactly as asn1crypto would, which the tests check on
mutated signatures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol, cast

from asn1crypto import algos, cms
from asn1crypto import core as asn1_core
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ._der import (
    DERError,
    SignedDataParts,
    SignerInfoParts,
    check_oid_bounds,
    decode_oid,
    parse_time,
    read_signed_data,
    read_tlv,
)
from .certificate import TaiwanCertificate, load_certificate
from .errors import CertificateParseError, SignatureMismatchError, SignatureParseError
from .oids import CARD_SERIAL

__all__ = [
    "MAX_SIGNATURE_BYTES",
    "SignatureKind",
    "VerifiedSignature",
    "verify_cms",
    "verify_pkcs1",
]

#: Largest signature blob accepted (a CMS with a certificate chain is a few KB).
MAX_SIGNATURE_BYTES: Final = 64 * 1024

_NONCE_ATTRIBUTE: Final = "1.2.840.113549.1.9.25.3"

SignatureKind = str  # "PKCS7" | "PKCS1"

_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signature that verified over the expected challenge."""

    certificate: TaiwanCertificate
    kind: SignatureKind
    hash_algorithm: str
    signing_time: dt.datetime | None = None
    #: Card serial from the signed attribute 2.16.886.1.100.2.204, if the card added it.
    card_serial: str | None = None
    nonce: bytes | None = None


def _hash_for(name: str, allow_sha1: bool) -> hashes.HashAlgorithm:
    if name == "sha1" and not allow_sha1:
        raise SignatureMismatchError("SHA-1 signatures are not accepted (allow_sha1=False)")
    try:
        return _HASHES[name]()
    except KeyError:
        raise SignatureMismatchError(f"unsupported digest algorithm {name}") from None


def _verify_raw(
    certificate: TaiwanCertificate,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm,
    pss: bool = False,
) -> None:
    key = certificate.certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if pss else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise SignatureMismatchError(f"unsupported key type {type(key).__name__}")
    except InvalidSignature:
        raise SignatureMismatchError("signature does not verify with the certificate's key") from None


def verify_pkcs1(
    signature: bytes,
    tbs: bytes,
    certificate: TaiwanCertificate,
    *,
    hash_algorithm: str = "sha256",
    allow_sha1: bool = False,
) -> VerifiedSignature:
    """Verify a raw PKCS#1 v1.5 signature of ``tbs`` by ``certificate``'s key."""
    if not isinstance(signature, bytes) or not signature or len(signature) > MAX_SIGNATURE_BYTES:
        raise SignatureParseError("PKCS#1 signature must be non-empty bytes of a sane size")
    algorithm = _hash_for(hash_algorithm.lower().replace("-", ""), allow_sha1)
    _verify_raw(certificate, signature, tbs, algorithm)
    return VerifiedSignature(certificate, "PKCS1", algorithm.name)


def _load_signed_data(data: bytes) -> cms.SignedData:
    try:
        # asn1crypto's OID decoding is quadratic in an arc's length: one 60 KB arc costs a
        # second. Nothing it reads may hold an OID beyond the bounds twcert._der keeps.
        check_oid_bounds(data)
    except DERError as exc:
        raise SignatureParseError(f"malformed CMS: {exc}") from None
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise SignatureParseError(f"CMS content type is {info['content_type'].native}, not signed_data")
        signed = info["content"]
    except SignatureParseError:
        raise
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise SignatureParseError(f"malformed CMS SignedData: {type(exc).__name__}: {exc}") from exc
    return signed


def verify_cms(
    data: bytes,
    tbs: bytes,
    *,
    certificate: TaiwanCertificate | None = None,
    now: dt.datetime | None = None,
    max_skew: dt.timedelta = dt.timedelta(minutes=5),
    require_signing_time: bool = True,
    allow_sha1: bool = False,
) -> VerifiedSignature:
    """Verify CMS SignedData with ``tbs`` attached, and return the signer's certificate.

    :param certificate: the certificate the client says signed (HiPKI ``certb64``); when given
        it must be the signer. Otherwise the signer is taken from the CMS certificates.
    :param now: the clock for the signingTime check (required if ``require_signing_time``).
    :raises SignatureParseError: the bytes are not CMS SignedData.
    :raises SignatureMismatchError: anything else that makes the signature unacceptable.
    """
    if not isinstance(data, bytes) or not data or len(data) > MAX_SIGNATURE_BYTES:
        raise SignatureParseError("CMS signature must be non-empty bytes of a sane size")
    reader = _DerReader.read(data) or _Asn1Reader(_load_signed_data(data))
    try:
        return _verify_signed_data(reader, tbs, certificate, now, max_skew, require_signing_time, allow_sha1)
    except (SignatureMismatchError, SignatureParseError):
        raise
    except CertificateParseError as exc:
        raise SignatureParseError(f"certificate inside the CMS: {exc.detail}") from exc
    except Exception as exc:  # asn1crypto parses lazily: a malformed field fails on first access
        raise SignatureParseError(f"malformed CMS field: {type(exc).__name__}: {exc}") from exc


# -- the checks, over either reader ----------------------------------------------------------------


class _SignedDataReader(Protocol):
    """The fields of a SignedData that the checks read, each read when first asked for.

    Two readers implement it: :class:`_DerReader` (a strict DER reader, for the usual shape)
    and :class:`_Asn1Reader` (asn1crypto, for everything else). The checks in
    :func:`_verify_signed_data` are written once, over this interface, so both are held to the
    same rules in the same order. Attribute values are opaque to the checks and decoded by
    the reader that produced them.
    """

    def content(self) -> object:
        """The attached content: bytes, None when detached, anything else when malformed."""

    def content_type(self) -> str: ...

    def signer_count(self) -> int: ...

    def signer_id(self) -> object:
        """The only signer's identifier (read before any certificate is compared with it)."""

    def identifies(self, sid: object, cert: TaiwanCertificate) -> bool: ...

    def certificates(self) -> Iterator[bytes]:
        """The DER of each certificate carried in the CMS."""

    def digest_algorithm(self) -> str:
        """asn1crypto's name for the digest algorithm ("sha256"), or its dotted OID."""

    def attributes(self) -> dict[str, list[object]] | None:
        """Signed attribute values by type, None when there are no signed attributes."""

    def oid_value(self, value: object) -> str: ...

    def octets_value(self, value: object) -> object: ...

    def time_value(self, value: object) -> dt.datetime | None: ...

    def text_value(self, value: object) -> str | None: ...

    def nonce_value(self, value: object) -> bytes | None: ...

    def signature_algorithm(self) -> str:
        """asn1crypto's name for the signature algorithm ("sha256_rsa"), or its dotted OID."""

    def pss_hash_algorithm(self) -> str:
        """The RSASSA-PSS parameters' hash (only asked for RSASSA-PSS)."""

    def signed_attributes_der(self) -> bytes:
        """What the signature covers: the signed attributes' encoding as a SET OF."""

    def signature(self) -> bytes: ...


_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_SIGNING_TIME: Final = "1.2.840.113549.1.9.5"
_SINGLE_VALUED: Final = frozenset({_CONTENT_TYPE, _MESSAGE_DIGEST, _SIGNING_TIME})


def _verify_signed_data(
    reader: _SignedDataReader,
    tbs: bytes,
    certificate: TaiwanCertificate | None,
    now: dt.datetime | None,
    max_skew: dt.timedelta,
    require_signing_time: bool,
    allow_sha1: bool,
) -> VerifiedSignature:
    content = reader.content()
    if content is None:
        raise SignatureMismatchError("CMS has no attached content (detached signatures are not accepted)")
    if not isinstance(content, bytes):
        raise SignatureParseError("attached content is not an OCTET STRING")
    if content != tbs:
        raise SignatureMismatchError("signed content differs from the issued challenge")
    signer_count = reader.signer_count()
    if signer_count != 1:
        raise SignatureMismatchError(f"expected exactly one signer, found {signer_count}")

    signer_cert = _find_signer(reader, certificate)
    digest_name = reader.digest_algorithm()
    algorithm = _hash_for(str(digest_name), allow_sha1)

    attrs = reader.attributes()
    if not attrs:
        raise SignatureMismatchError("CMS signer has no signed attributes")
    for oid, values in attrs.items():
        if len(values) != 1 and oid in _SINGLE_VALUED:
            raise SignatureMismatchError(f"signed attribute {oid} must have exactly one value")

    content_types = attrs.get(_CONTENT_TYPE)
    if not content_types or reader.oid_value(content_types[0]) != reader.content_type():
        raise SignatureMismatchError("signed contentType attribute missing or not the encapsulated type")
    digests = attrs.get(_MESSAGE_DIGEST)
    expected = hashlib.new(algorithm.name, tbs).digest()
    if not digests or reader.octets_value(digests[0]) != expected:
        raise SignatureMismatchError("messageDigest attribute does not match the challenge")

    signing_time: dt.datetime | None = None
    times = attrs.get(_SIGNING_TIME)
    if times:
        signing_time = reader.time_value(times[0])
    if require_signing_time:
        if signing_time is None:
            raise SignatureMismatchError("signingTime attribute is required")
        if now is None:
            raise ValueError("now is required to check signingTime")
        if abs(signing_time - now) > max_skew:
            raise SignatureMismatchError(
                f"signingTime {signing_time.isoformat()} is outside the allowed skew"
            )

    algo_name = reader.signature_algorithm()
    pss = algo_name == "rsassa_pss"
    if pss:
        if reader.pss_hash_algorithm() != digest_name:
            raise SignatureMismatchError("RSASSA-PSS hash differs from the digest algorithm")
    elif algo_name not in ("rsassa_pkcs1v15", f"{digest_name}_rsa", "ecdsa", f"{digest_name}_ecdsa"):
        raise SignatureMismatchError(f"unsupported signature algorithm {algo_name}")

    to_verify = reader.signed_attributes_der()
    _verify_raw(signer_cert, reader.signature(), to_verify, algorithm, pss)

    card_serial = reader.text_value(attrs[CARD_SERIAL][0]) if CARD_SERIAL in attrs else None
    nonce = reader.nonce_value(attrs[_NONCE_ATTRIBUTE][0]) if _NONCE_ATTRIBUTE in attrs else None
    return VerifiedSignature(signer_cert, "PKCS7", algorithm.name, signing_time, card_serial, nonce)


def _find_signer(reader: _SignedDataReader, given: TaiwanCertificate | None) -> TaiwanCertificate:
    sid = reader.signer_id()
    if given is not None:
        # The presented certificate (HiPKI certb64) must be the signer; the CMS copies are not
        # even parsed then.
        if not reader.identifies(sid, given):
            raise SignatureMismatchError("CMS signer differs from the certificate presented (certb64)")
        return given
    for der in reader.certificates():
        cert = load_certificate(der)
        if reader.identifies(sid, cert):
            return cert
    raise SignatureMismatchError("the signer's certificate is not in the CMS")


def _text(value: object) -> str | None:
    native = getattr(value, "native", None)
    if isinstance(native, str):
        return native
    if isinstance(native, bytes):
        try:
            return native.decode("ascii")
        except UnicodeDecodeError:
            return native.hex()
    return None


def _nonce(value: asn1_core.Asn1Value) -> bytes | None:
    return value.native if isinstance(value, asn1_core.OctetString) else None


# -- asn1crypto: every shape, lazily -----------------------------------------------------------------


class _Asn1Reader:
    """asn1crypto's CMS classes, read lazily in the order the checks ask."""

    def __init__(self, signed: cms.SignedData) -> None:
        self._signed = signed
        self._signer_info: cms.SignerInfo | None = None

    def _signer(self) -> cms.SignerInfo:
        if self._signer_info is None:
            self._signer_info = self._signed["signer_infos"][0]
        return self._signer_info

    def content(self) -> object:
        return self._signed["encap_content_info"]["content"].native

    def content_type(self) -> str:
        return str(self._signed["encap_content_info"]["content_type"].dotted)

    def signer_count(self) -> int:
        return len(self._signed["signer_infos"])

    def signer_id(self) -> object:
        return self._signer()["sid"]

    def identifies(self, sid: object, cert: TaiwanCertificate) -> bool:
        choice = cast(cms.SignerIdentifier, sid)
        if choice.name == "issuer_and_serial_number":
            ias = choice.chosen
            return bool(
                ias["serial_number"].native == cert.serial_number and ias["issuer"].dump() == cert.issuer_der
            )
        if choice.name == "subject_key_identifier":
            return bool(choice.chosen.native == cert.subject_key_identifier)
        return False

    def certificates(self) -> Iterator[bytes]:
        for choice in self._signed["certificates"] or ():
            if choice.name == "certificate":
                yield choice.chosen.dump()

    def digest_algorithm(self) -> str:
        return str(self._signer()["digest_algorithm"]["algorithm"].native)

    def attributes(self) -> dict[str, list[object]] | None:
        signed_attrs = self._signer()["signed_attrs"]
        # (``.native`` on the whole attribute set would convert everything: far too slow.)
        if isinstance(signed_attrs, asn1_core.Void) or len(signed_attrs) == 0:
            return None
        attrs: dict[str, list[object]] = {}
        for attr in signed_attrs:
            attrs.setdefault(attr["type"].dotted, []).extend(attr["values"])
        return attrs

    def oid_value(self, value: object) -> str:
        return str(value.dotted)  # type: ignore[attr-defined]

    def octets_value(self, value: object) -> object:
        return value.native  # type: ignore[attr-defined]

    def time_value(self, value: object) -> dt.datetime | None:
        return value.native  # type: ignore[attr-defined, no-any-return]

    def text_value(self, value: object) -> str | None:
        return _text(value)

    def nonce_value(self, value: object) -> bytes | None:
        # The attribute type is unknown to asn1crypto (raw Any): decode the OCTET STRING itself.
        return _nonce(asn1_core.load(value.dump()))  # type: ignore[attr-defined]

    def signature_algorithm(self) -> str:
        return str(self._signer()["signature_algorithm"]["algorithm"].native)

    def pss_hash_algorithm(self) -> str:
        params = self._signer()["signature_algorithm"]["parameters"]
        return str(params["hash_algorithm"]["algorithm"].native)

    def signed_attributes_der(self) -> bytes:
        # RFC 5652 §5.4: the signature covers the DER of the attributes as an explicit SET OF.
        # The original bytes are used with the [0] IMPLICIT tag replaced by SET (0x31):
        # re-encoding could reorder attributes a non-DER signer wrote and wrongly fail the
        # signature.
        encoded: bytes = self._signer()["signed_attrs"].dump()
        return b"\x31" + encoded[1:]

    def signature(self) -> bytes:
        value: bytes = self._signer()["signature"].native
        return value


# -- the strict DER reader: the usual shape, fast --------------------------------------------------

_DATA: Final = "1.2.840.113549.1.7.1"


def _oid_value(encoded: bytes) -> str:
    tag, content = read_tlv(encoded)
    if tag != 0x06:
        raise DERError("not an OBJECT IDENTIFIER")
    return decode_oid(content)


def _octets_value(encoded: bytes) -> bytes:
    tag, content = read_tlv(encoded)
    if tag != 0x04:
        raise DERError("not a primitive OCTET STRING")
    return content


def _time_value(encoded: bytes) -> dt.datetime:
    """The DER forms of UTCTime and GeneralizedTime, read as asn1crypto reads them; any other
    form (offsets, fractions) raises, which hands the CMS to :class:`_Asn1Reader`."""
    tag, content = read_tlv(encoded)
    return parse_time(tag, content)


def _sequence_value(encoded: bytes) -> bytes:
    tag, _content = read_tlv(encoded)
    if tag != 0x30:
        raise DERError("not a SEQUENCE")
    return encoded


#: Decoders for the signed attributes asn1crypto knows, mirroring its value specs (the tag
#: checks its parser makes; tests/twcert/test_signature.py pins the specs). An attribute type
#: asn1crypto knows but that is not listed sends the CMS to :class:`_Asn1Reader`.
_KNOWN_VALUES: Final[dict[str, Callable[[bytes], object]]] = {
    _CONTENT_TYPE: _oid_value,  # ContentType
    _MESSAGE_DIGEST: _octets_value,  # OctetString
    _SIGNING_TIME: _time_value,  # Time: UTCTime | GeneralizedTime
    "1.2.840.113549.1.9.15": _sequence_value,  # SMIMECapabilities
    "1.2.840.113549.1.9.52": _sequence_value,  # CMSAlgorithmProtection
}


def _unknown_value(oid: str, encoded: bytes) -> object:
    """Values of types asn1crypto does not know are ``Any`` there: decoded as it would."""
    if oid == CARD_SERIAL:
        return _text(asn1_core.Any.load(encoded))
    if oid == _NONCE_ATTRIBUTE:
        return _nonce(asn1_core.load(encoded))
    return encoded


@dataclass(frozen=True, slots=True)
class _DerReader:
    """The fields ``twcert._der.read_signed_data`` read, with every value decoded up front.

    It takes only CMS it reads exactly as :class:`_Asn1Reader` would: DER, id-data content in a
    primitive OCTET STRING, one signer that is not RSASSA-PSS, and signed attributes of the
    types above or unknown to asn1crypto; :meth:`read` returns None for anything else.
    """

    parts: SignedDataParts
    signer: SignerInfoParts
    attrs: dict[str, list[object]] | None

    @classmethod
    def read(cls, data: bytes) -> _DerReader | None:
        try:
            parts = read_signed_data(data)
            signer = parts.signer
            if parts.content_type != _DATA or signer is None:
                return None
            if algos.SignedDigestAlgorithmId.map(signer.signature_algorithm) == "rsassa_pss":
                return None
            attrs: dict[str, list[object]] | None = None
            if signer.attributes:
                attrs = {}
                for oid, values in signer.attributes:
                    decode = _KNOWN_VALUES.get(oid)
                    if decode is None:
                        if cms.CMSAttributeType.map(oid) != oid:
                            return None  # a type asn1crypto gives a spec we do not mirror
                        decoded = [_unknown_value(oid, value) for value in values]
                    else:
                        decoded = [decode(value) for value in values]
                    attrs.setdefault(oid, []).extend(decoded)
        except Exception:  # whatever this reader cannot take, asn1crypto judges
            return None
        return cls(parts, signer, attrs)

    def content(self) -> object:
        return self.parts.content

    def content_type(self) -> str:
        return self.parts.content_type

    def signer_count(self) -> int:
        return self.parts.signer_count

    def signer_id(self) -> object:
        return self.signer

    def identifies(self, sid: object, cert: TaiwanCertificate) -> bool:
        signer = self.signer
        if signer.issuer is not None:
            return signer.serial_number == cert.serial_number and signer.issuer == cert.issuer_der
        return signer.key_identifier == cert.subject_key_identifier

    def certificates(self) -> Iterator[bytes]:
        return iter(self.parts.certificates)

    def digest_algorithm(self) -> str:
        return str(algos.DigestAlgorithmId.map(self.signer.digest_algorithm))

    def attributes(self) -> dict[str, list[object]] | None:
        return self.attrs

    def oid_value(self, value: object) -> str:
        assert isinstance(value, str)
        return value

    def octets_value(self, value: object) -> object:
        return value

    def time_value(self, value: object) -> dt.datetime | None:
        assert isinstance(value, dt.datetime)
        return value

    def text_value(self, value: object) -> str | None:
        assert value is None or isinstance(value, str)
        return value

    def nonce_value(self, value: object) -> bytes | None:
        assert value is None or isinstance(value, bytes)
        return value

    def signature_algorithm(self) -> str:
        return str(algos.SignedDigestAlgorithmId.map(self.signer.signature_algorithm))

    def pss_hash_algorithm(self) -> str:
        raise AssertionError("RSASSA-PSS signatures are read by asn1crypto")

    def signed_attributes_der(self) -> bytes:
        encoded = self.signer.signed_attrs
        assert encoded is not None
        return b"\x31" + encoded[1:]  # [0] IMPLICIT → SET OF, as in _Asn1Reader

    def signature(self) -> bytes:
        return self.signer.signature
