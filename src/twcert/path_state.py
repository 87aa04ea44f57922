"""What RFC 5280 §6.1 leaves for a leaf to satisfy once its issuing CA's path is processed.

A validated issuing-CA path (CA, its issuers, the trust anchor) is reduced once to a
:class:`PathState`: the remaining path length, the required policies still valid through every
CA, the login purposes the CAs' extendedKeyUsage still allow, and whether the path carries
constraints the fast path does not evaluate itself (name constraints, policy mappings, inhibit /
require-explicit policy), which send the leaf to full validation. The state is cached with the
CA path, so a login only intersects two small sets.

Fail-closed rules beyond the letter of RFC 5280, where the trust anchor is a certificate: its
validity, its ``pathLenConstraint`` and its name constraints are enforced (RFC 5937 style).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from ._der import _header
from .certificate import TaiwanCertificate
from .errors import CertificatePolicyError, CertificatePurposeError, UntrustedCertificateError

__all__ = [
    "ANY_EXTENDED_KEY_USAGE",
    "ANY_POLICY",
    "DEFAULT_LOGIN_PURPOSES",
    "PathState",
    "check_leaf_purpose",
    "path_state",
    "signature_algorithms_match",
]

ANY_POLICY: Final = "2.5.29.32.0"
ANY_EXTENDED_KEY_USAGE: Final = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string
#: Purposes a login certificate may be restricted to: TLS client authentication, e-mail
#: protection (S/MIME signing, which GPKI signing certificates are commonly issued for) and any.
#: Which EKU real MOICA/GCA signing certificates carry, if any, is not confirmed by a public
#: source: configurable through ValidationPolicy.login_purposes.
DEFAULT_LOGIN_PURPOSES: Final = frozenset(
    {
        ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string,
        ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string,
        ANY_EXTENDED_KEY_USAGE,
    }
)
# Constraints whose evaluation the fast path leaves to full validation (pyhanko-certvalidator).
_NAME_CONSTRAINTS: Final = ExtensionOID.NAME_CONSTRAINTS
_POLICY_PROCESSING: Final = (
    ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.INHIBIT_ANY_POLICY,
    ExtensionOID.POLICY_MAPPINGS,
)


@dataclass(frozen=True, slots=True)
class PathState:
    """The outcome of processing an issuing CA's path, for the leaves it issues."""

    #: Non-self-issued intermediates still allowed below the issuing CA (None: no limit).
    remaining_path_length: int | None
    #: Required policies valid through every CA of the path; None: no policy is required, or
    #: full validation decides (policy mappings / constraints on the path).
    valid_policies: frozenset[str] | None
    #: Login purposes the CAs' extendedKeyUsage leave (those with none leave all).
    login_purposes: frozenset[str]
    #: Name constraints or policy mappings/constraints on the path: leaves get full validation.
    needs_full_validation: bool


def _extension(cert: TaiwanCertificate, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
    try:
        return cert.certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _eku(cert: TaiwanCertificate) -> frozenset[str] | None:
    value = _extension(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    if not isinstance(value, x509.ExtendedKeyUsage):
        return None
    return frozenset(oid.dotted_string for oid in value)


def path_state(
    chain: Sequence[TaiwanCertificate],
    now: dt.datetime,
    *,
    required_policies: frozenset[str],
    login_purposes: frozenset[str],
) -> PathState:
    """Process ``chain`` (issuing CA first, trust anchor last) as RFC 5280 §6.1 does for the
    certificates above a leaf; raise the catalogued error of the first violated constraint."""
    anchor = chain[-1]
    if not anchor.not_before <= now <= anchor.not_after:
        raise UntrustedCertificateError(f"trust anchor {anchor.subject_der.hex()[:32]}… is not valid now")
    remaining: int | None = None
    purposes = frozenset(login_purposes)
    full = False
    for depth, cert in enumerate(reversed(chain)):
        if depth and cert.issuer_der != cert.subject_der:  # §6.1.4 (l): self-issued ones don't count
            if remaining is not None and remaining <= 0:
                raise UntrustedCertificateError(
                    f"path length exceeded at CA certificate {cert.sha256[:16]}… (a CA above allows fewer)"
                )
            remaining = None if remaining is None else remaining - 1
        constraints = _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
        if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
            raise UntrustedCertificateError(f"certificate {cert.sha256[:16]}… on the CA path is not a CA")
        if constraints.path_length is not None:  # §6.1.4 (m)
            remaining = (
                constraints.path_length if remaining is None else min(remaining, constraints.path_length)
            )
        eku = _eku(cert)
        if eku is not None and ANY_EXTENDED_KEY_USAGE not in eku:
            purposes &= eku  # a CA's EKU bounds its subjects' purposes (as OpenSSL applies it)
        ids = {ext.oid for ext in cert.certificate.extensions}
        full = full or _NAME_CONSTRAINTS in ids or any(oid in ids for oid in _POLICY_PROCESSING)
    if not purposes:
        raise CertificatePurposeError("the CAs' extendedKeyUsage allow none of the login purposes")
    valid: frozenset[str] | None = None
    if required_policies and not any(
        ext.oid in _POLICY_PROCESSING for c in chain for ext in c.certificate.extensions
    ):
        valid = frozenset(required_policies)
        for cert in chain[:-1]:  # the trust anchor is not part of the path (RFC 5280 §6.1)
            asserted = frozenset(cert.policies)
            if ANY_POLICY not in asserted:
                valid &= asserted
        if not valid:
            raise CertificatePolicyError(
                f"no required policy ({sorted(required_policies)}) is asserted by every CA of the path"
            )
    return PathState(remaining, valid, purposes, full)


def check_leaf_purpose(eku: x509.ExtendedKeyUsage, state: PathState) -> None:
    """Refuse a leaf whose extendedKeyUsage (when present: the caller found it while reading
    the extensions once) allows none of the login purposes."""
    purposes = frozenset(oid.dotted_string for oid in eku)
    if ANY_EXTENDED_KEY_USAGE in purposes:
        allowed = bool(state.login_purposes)
    else:
        allowed = bool(purposes & state.login_purposes)
    if not allowed:
        raise CertificatePurposeError(f"extendedKeyUsage {sorted(purposes)} allows no login purpose")


def signature_algorithms_match(der: bytes) -> bool:
    """Whether the outer signatureAlgorithm equals tbsCertificate.signature byte for byte
    (RFC 5280 §4.1.1.2). Malformed input answers False."""
    # Fast path for the usual shape (a per-login cost): 2-byte lengths of the certificate and
    # tbsCertificate, version [0] 03 02 01 vv, a short serial, short AlgorithmIdentifiers. A
    # slice of the inner length + 2 bytes also compares the outer's tag and length bytes.
    if (
        len(der) > 16
        and der[1] == 0x82
        and der[5] == 0x82
        and der[8] == 0xA0
        and der[9] == 3
        and der[14] < 0x80
    ):
        inner = 15 + der[14]
        if inner + 1 < len(der) and der[inner + 1] < 0x80:
            outer = 8 + (der[6] << 8 | der[7])
            size = der[inner + 1] + 2
            return der[inner : inner + size] == der[outer : outer + size] and der[inner] == 0x30
    try:
        _, pos, end = _header(der, 0, len(der))
        _, field, tbs_end = _header(der, pos, end)
        tag, _, stop = _header(der, field, tbs_end)
        if tag == 0xA0:  # explicit version, then serialNumber
            _, _, stop = _header(der, stop, tbs_end)
        _, _, inner_end = _header(der, stop, tbs_end)  # tbsCertificate.signature
        _, _, outer_end = _header(der, tbs_end, end)  # signatureAlgorithm
    except (ValueError, IndexError):
        return False
    return der[stop:inner_end] == der[tbs_end:outer_end]
