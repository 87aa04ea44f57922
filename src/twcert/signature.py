"""Verify the card's signature over a login challenge: CMS SignedData or raw PKCS#1 v1.5.

HiPKI's ``signatureType`` "PKCS7" returns CMS SignedData with the challenge attached; "PKCS1"
returns a bare RSA signature and the certificate separately (``certb64``).

CMS is parsed with :mod:`asn1crypto` and the signature checked with :mod:`cryptography`; the
checks are the RFC 5652 §5.4/§5.6 ones and no more: exactly one signer, attached content equal
to the issued challenge, signed attributes present with contentType = the encapsulated type and
messageDigest = digest(content), signingTime (if required) within the allowed skew, and the
signature over the DER of the signed attributes. Certificate *validity* is not judged here:
the caller passes :attr:`VerifiedSignature.certificate` to :class:`twcert.Validator`. (A full
CMS engine such as pyHanko's would also build a ``ValidationContext`` per call, which the login
fast path must not do; ``tests/twcert/test_signature.py`` checks this module against
``openssl cms -verify``.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Final

from asn1crypto import cms
from asn1crypto import core as asn1_core
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

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
    if not isinstance(data, bytes) or not data or len(data) > MAX_SIGNATURE_BYTES:
        raise SignatureParseError("CMS signature must be non-empty bytes of a sane size")
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
    signed = _load_signed_data(data)
    try:
        return _verify_signed_data(signed, tbs, certificate, now, max_skew, require_signing_time, allow_sha1)
    except (SignatureMismatchError, SignatureParseError):
        raise
    except CertificateParseError as exc:
        raise SignatureParseError(f"certificate inside the CMS: {exc.detail}") from exc
    except Exception as exc:  # asn1crypto parses lazily: a malformed field fails on first access
        raise SignatureParseError(f"malformed CMS field: {type(exc).__name__}: {exc}") from exc


def _verify_signed_data(
    signed: cms.SignedData,
    tbs: bytes,
    certificate: TaiwanCertificate | None,
    now: dt.datetime | None,
    max_skew: dt.timedelta,
    require_signing_time: bool,
    allow_sha1: bool,
) -> VerifiedSignature:
    encap = signed["encap_content_info"]
    content = encap["content"].native
    if content is None:
        raise SignatureMismatchError("CMS has no attached content (detached signatures are not accepted)")
    if not isinstance(content, bytes):
        raise SignatureParseError("attached content is not an OCTET STRING")
    if content != tbs:
        raise SignatureMismatchError("signed content differs from the issued challenge")
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise SignatureMismatchError(f"expected exactly one signer, found {len(signer_infos)}")
    signer = signer_infos[0]

    signer_cert = _find_signer(signed, signer, certificate)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    algorithm = _hash_for(str(digest_name), allow_sha1)

    signed_attrs = signer["signed_attrs"]
    # (``.native`` on the whole attribute set would convert everything: far too slow per login.)
    if isinstance(signed_attrs, asn1_core.Void) or len(signed_attrs) == 0:
        raise SignatureMismatchError("CMS signer has no signed attributes")
    attrs: dict[str, list[object]] = {}
    for attr in signed_attrs:
        attrs.setdefault(attr["type"].dotted, []).extend(attr["values"])
    for oid, values in attrs.items():
        if len(values) != 1 and oid in (
            "1.2.840.113549.1.9.3",
            "1.2.840.113549.1.9.4",
            "1.2.840.113549.1.9.5",
        ):
            raise SignatureMismatchError(f"signed attribute {oid} must have exactly one value")

    content_types = attrs.get("1.2.840.113549.1.9.3")
    if not content_types or content_types[0].dotted != encap["content_type"].dotted:  # type: ignore[attr-defined]
        raise SignatureMismatchError("signed contentType attribute missing or not the encapsulated type")
    digests = attrs.get("1.2.840.113549.1.9.4")
    expected = hashlib.new(algorithm.name, tbs).digest()
    if not digests or digests[0].native != expected:  # type: ignore[attr-defined]
        raise SignatureMismatchError("messageDigest attribute does not match the challenge")

    signing_time: dt.datetime | None = None
    times = attrs.get("1.2.840.113549.1.9.5")
    if times:
        signing_time = times[0].native  # type: ignore[attr-defined]
    if require_signing_time:
        if signing_time is None:
            raise SignatureMismatchError("signingTime attribute is required")
        if now is None:
            raise ValueError("now is required to check signingTime")
        if abs(signing_time - now) > max_skew:
            raise SignatureMismatchError(
                f"signingTime {signing_time.isoformat()} is outside the allowed skew"
            )

    sig_algo = signer["signature_algorithm"]
    algo_name = sig_algo["algorithm"].native
    pss = algo_name == "rsassa_pss"
    if pss:
        params = sig_algo["parameters"]
        pss_hash = params["hash_algorithm"]["algorithm"].native
        if pss_hash != digest_name:
            raise SignatureMismatchError("RSASSA-PSS hash differs from the digest algorithm")
    elif algo_name not in ("rsassa_pkcs1v15", f"{digest_name}_rsa", "ecdsa", f"{digest_name}_ecdsa"):
        raise SignatureMismatchError(f"unsupported signature algorithm {algo_name}")

    # RFC 5652 §5.4: the signature covers the DER of the attributes as an explicit SET OF.
    # The original bytes are used with the [0] IMPLICIT tag replaced by SET (0x31): re-encoding
    # could reorder attributes a non-DER signer wrote and wrongly fail the signature.
    encoded = signed_attrs.dump()
    to_verify = b"\x31" + encoded[1:]
    _verify_raw(signer_cert, signer["signature"].native, to_verify, algorithm, pss)

    card_serial = None
    if CARD_SERIAL in attrs:
        value = attrs[CARD_SERIAL][0]
        card_serial = _text(value)
    nonce = None
    if _NONCE_ATTRIBUTE in attrs:
        raw = attrs[_NONCE_ATTRIBUTE][0]
        # The attribute type is unknown to asn1crypto (raw Any): decode the OCTET STRING itself.
        value = asn1_core.load(raw.dump())  # type: ignore[attr-defined]
        nonce = value.native if isinstance(value, asn1_core.OctetString) else None
    return VerifiedSignature(signer_cert, "PKCS7", algorithm.name, signing_time, card_serial, nonce)


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


def _identifies(sid: cms.SignerIdentifier, cert: TaiwanCertificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        return bool(
            ias["serial_number"].native == cert.serial_number and ias["issuer"].dump() == cert.issuer_der
        )
    if sid.name == "subject_key_identifier":
        return bool(sid.chosen.native == cert.subject_key_identifier)
    return False


def _find_signer(
    signed: cms.SignedData, signer: cms.SignerInfo, given: TaiwanCertificate | None
) -> TaiwanCertificate:
    sid = signer["sid"]
    if given is not None:
        # The presented certificate (HiPKI certb64) must be the signer; the CMS copies are not
        # even parsed then.
        if not _identifies(sid, given):
            raise SignatureMismatchError("CMS signer differs from the certificate presented (certb64)")
        return given
    for choice in signed["certificates"] or ():
        if choice.name == "certificate":
            cert = load_certificate(choice.chosen.dump())
            if _identifies(sid, cert):
                return cert
    raise SignatureMismatchError("the signer's certificate is not in the CMS")
