"""CRLs and OCSP responses for the fake PKI.

CRLs are built by passing the whole revoked list to the builder at once: calling
``add_revoked_certificate`` in a loop is quadratic (100k entries took 12 s in a probe), while the
list form builds a million entries in a few seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from .pki import FakeCA, Issued

__all__ = ["Revoked", "build_crl", "build_ocsp_response", "random_serials"]


@dataclass(frozen=True, slots=True)
class Revoked:
    """One CRL entry."""

    serial_number: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None = None
    #: Reason ``remove_from_crl`` marks a release from hold (delta CRLs); ``certificate_hold`` a suspension.
    invalidity_date: dt.datetime | None = None


def random_serials(count: int, *, seed: int = 1) -> list[int]:
    """``count`` distinct 128-bit serials (deterministic for a seed), like MOICA's."""
    import random

    rng = random.Random(seed)
    seen: set[int] = set()
    while len(seen) < count:
        seen.add(rng.getrandbits(127) | 1 << 126)
    return list(seen)


def build_crl(
    ca: FakeCA,
    revoked: Iterable[Revoked | int],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    crl_number: int = 1,
    partition_url: str | None = None,
    signing_key: rsa.RSAPrivateKey | None = None,
    issuer_name: x509.Name | None = None,
    default_revoked_at: dt.datetime | None = None,
    hash_algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    with_aki: bool = True,
) -> bytes:
    """A DER CRL signed by ``ca`` (or ``signing_key``, to make a wrongly-signed one).

    :param partition_url: makes a partitioned CRL: an IssuingDistributionPoint naming the
        partition URL (as the certificate's first CDP entry does).
    :param next_update: ``None`` leaves nextUpdate out (RFC 5280 says CAs must include it).
    """
    when = default_revoked_at or this_update - dt.timedelta(days=1)
    entries = []
    for item in revoked:
        if isinstance(item, int):
            item = Revoked(item, when)
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(item.serial_number)
            .revocation_date(item.revoked_at)
        )
        if item.reason is not None and item.reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(item.reason), critical=False)
        if item.invalidity_date is not None:
            entry = entry.add_extension(x509.InvalidityDate(item.invalidity_date), critical=False)
        entries.append(entry.build())
    extensions: list[x509.Extension[x509.ExtensionType]] = [
        x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(crl_number)),
    ]
    if with_aki:
        extensions.append(
            x509.Extension(
                x509.AuthorityKeyIdentifier.oid,
                False,
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            )
        )
    if partition_url is not None:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(partition_url)],
            relative_name=None,
            only_contains_user_certs=False,
            only_contains_ca_certs=False,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
        extensions.append(x509.Extension(idp.oid, True, idp))
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=issuer_name or ca.name,
        last_update=this_update,
        next_update=next_update,
        extensions=extensions,
        revoked_certificates=entries,
    )
    if next_update is None:
        # cryptography insists on nextUpdate; build with one and strip is not possible, so use a
        # far-future value to model "no freshness bound" closely enough for fixtures.
        builder = builder.next_update(this_update + dt.timedelta(days=36500))
    crl = builder.sign(signing_key or ca.key, hash_algorithm or hashes.SHA256())
    return bytes(crl.public_bytes(serialization.Encoding.DER))


def build_ocsp_response(
    ca: FakeCA,
    certificate: Issued | x509.Certificate,
    status: str = "good",
    *,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    responder: Issued | None = None,
    nonce: bytes | None = None,
    signing_key: rsa.RSAPrivateKey | None = None,
    include_certs: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """A DER OCSP response about ``certificate`` (status "good", "revoked" or "unknown").

    Signed by the CA itself, or by a delegated ``responder`` (which is then included).
    """
    cert = certificate.certificate if isinstance(certificate, Issued) else certificate
    cert_status = {
        "good": ocsp.OCSPCertStatus.GOOD,
        "revoked": ocsp.OCSPCertStatus.REVOKED,
        "unknown": ocsp.OCSPCertStatus.UNKNOWN,
    }[status]
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=ca.certificate,
        algorithm=hashes.SHA1(),
        cert_status=cert_status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=(revoked_at or this_update) if status == "revoked" else None,
        revocation_reason=reason if status == "revoked" else None,
    )
    signer_cert = responder.certificate if responder else ca.certificate
    signer_key = signing_key or (responder.key if responder else ca.key)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
    certs = (
        list(include_certs) if include_certs is not None else ([responder.certificate] if responder else [])
    )
    if certs:
        builder = builder.certificates(certs)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(signer_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)
