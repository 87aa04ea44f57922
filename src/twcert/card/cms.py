"""Build CMS SignedData (attached content) around a signature made elsewhere (a card).

The card only ever signs the DER ``SET OF`` signed attributes (RFC 5652 §5.4) with
``CKM_SHA256_RSA_PKCS``; this module builds everything around it, the way HiPKI's
``signatureType: "PKCS7"`` answer looks: signed attributes contentType, messageDigest,
signingTime, optionally the card serial (2.16.886.1.100.2.204) and a nonce, and the signer
certificate in ``certificates``. :func:`twcert.signature.verify_cms` is the matching verifier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Final

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509

from ..oids import CARD_SERIAL

__all__ = ["DIGESTS", "NONCE_ATTRIBUTE", "build_signed_data", "signed_attributes"]

#: HiPKI ``hashAlgorithm`` names → hashlib / asn1crypto names.
DIGESTS: Final = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}

#: PKCS#9 randomNonce, the attribute HiPKI fills from the request's ``nonce``.
NONCE_ATTRIBUTE: Final = "1.2.840.113549.1.9.25.3"


def _signing_time(when: dt.datetime) -> cms.Time:
    when = when.astimezone(dt.UTC).replace(microsecond=0)
    # RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    if 1950 <= when.year <= 2049:
        return cms.Time({"utc_time": when})
    return cms.Time({"generalized_time": when})


def signed_attributes(
    content: bytes,
    digest: str,
    *,
    signing_time: dt.datetime | None,
    card_serial: str | None = None,
    nonce: bytes | None = None,
) -> cms.CMSAttributes:
    """The signed attributes, in DER order (``SET OF`` sorted by encoding, as strict verifiers
    re-encode before checking)."""
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(digest, content).digest()]}),
    ]
    if signing_time is not None:
        attributes.append(cms.CMSAttribute({"type": "signing_time", "values": [_signing_time(signing_time)]}))
    if card_serial is not None:
        attributes.append(
            cms.CMSAttribute({"type": CARD_SERIAL, "values": [core.PrintableString(card_serial)]})
        )
    if nonce is not None:
        attributes.append(cms.CMSAttribute({"type": NONCE_ATTRIBUTE, "values": [core.OctetString(nonce)]}))
    attributes.sort(key=lambda attribute: attribute.dump())
    return cms.CMSAttributes(attributes)


def build_signed_data(
    content: bytes,
    signer_certificate: bytes,
    sign: Callable[[bytes], bytes],
    *,
    digest: str = "sha256",
    signing_time: dt.datetime | None = None,
    card_serial: str | None = None,
    nonce: bytes | None = None,
    extra_certificates: Sequence[bytes] = (),
) -> bytes:
    """DER ContentInfo(SignedData) with ``content`` attached, signed by ``sign``.

    :param signer_certificate: DER of the signing certificate (included and named as signer).
    :param sign: makes the RSA PKCS#1 v1.5 signature, with ``digest``, over the bytes it is
        given (the DER of the signed attributes) — on a card, ``CKM_SHA256_RSA_PKCS``.
    :param signing_time: the signingTime attribute (omitted when ``None``).
    """
    if digest not in DIGESTS.values():
        raise ValueError(f"unsupported digest {digest}")
    certificate = asn1_x509.Certificate.load(signer_certificate)
    attributes = signed_attributes(
        content, digest, signing_time=signing_time, card_serial=card_serial, nonce=nonce
    )
    signature = sign(attributes.dump())
    digest_algorithm = algos.DigestAlgorithm({"algorithm": digest})
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
                    )
                }
            ),
            "digest_algorithm": digest_algorithm,
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": signature,
        }
    )
    certificates = [certificate] + [asn1_x509.Certificate.load(der) for der in extra_certificates]
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": certificates,
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
