"""Decide whether a certificate may log in: trusted, unexpired, fit for signing, not revoked.

Two layers, so a login costs about one RSA verification:

* **Issuing CAs** (GRCA → MOICA/GCA ...) are validated once with pyhanko-certvalidator — full
  RFC 5280 path validation, including the CA's own revocation (its issuer's CRL) — and the
  result is cached for the window in which it holds: the overlap of the path's validity
  periods and the freshness of the revocation data used. This is the only module that talks to
  pyhanko-certvalidator; its errors are translated here, keeping the original as ``__cause__``.
* **Each login** then checks the leaf against a cached validated CA: issuer found by key
  identifier (never by DN alone: GPKI generations share DNs), name chaining, signature, no
  unknown critical extension, validity at the injected clock, signing key usage, policy,
  family, test certificates, and revocation from an indexed CRL or an OCSP answer.

The leaf checks are those RFC 5280 §6.1 applies to a path's last certificate, against the
path state left by its CAs (:mod:`twcert.path_state`: path length, policies valid through the
whole path, the CAs' extendedKeyUsage), computed once per CA path and cached with it. Where a
CA on the path carries name constraints, policy mappings or policy constraints (none of the
GPKI CAs does), the leaf is instead validated by pyhanko in full, so the fast path is never
weaker than the full one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID

from . import oids
from .certificate import CAFamily, CertificateUsage, TaiwanCertificate, load_certificate
from .errors import (
    CertificateExpiredError,
    CertificateFamilyNotAcceptedError,
    CertificateInvalidError,
    CertificateNotYetValidError,
    CertificatePolicyError,
    CertificateRevokedError,
    ConfigurationError,
    RevocationUnavailableError,
    TestCertificateRefused,
    TwcertError,
    UntrustedCertificateError,
    WrongCertificateUsageError,
)
from .path_state import (
    DEFAULT_LOGIN_PURPOSES,
    PathState,
    check_leaf_purpose,
    path_state,
    signature_algorithms_match,
)
from .revocation.ca_revocation import CARevocation
from .revocation.checker import RevocationChecker
from .revocation.policy import RevocationPolicy, RevocationState, RevocationStatus
from .trust import TrustedCA, TrustStore

__all__ = [
    "DEFAULT_ACCEPTED_FAMILIES",
    "DEFAULT_MAX_CRL_AGE",
    "VERIFIED_SIGNATURES_KEPT",
    "ValidationPolicy",
    "ValidationResult",
    "Validator",
]

logger = logging.getLogger(__name__)

#: Cards that may log in to the vacancy board: citizen (MOICA) and agency (GCA) cards.
DEFAULT_ACCEPTED_FAMILIES: Final = frozenset({CAFamily.MOICA, CAFamily.GCA})

# Extensions whose semantics the leaf checks implement (RFC 5280 §4.2); any other critical
# extension refuses the certificate, as path validation must.
_UNDERSTOOD: Final = frozenset(
    oid.dotted_string
    for oid in (
        ExtensionOID.KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    )
) | {oids.SUBJECT_DIRECTORY_ATTRIBUTES}
_WEAK_HASHES: Final = frozenset({"md5", "sha1"})
#: How many verified (certificate, issuer) signatures a :class:`Validator` remembers.
VERIFIED_SIGNATURES_KEPT: Final = 4096
_FAILURE_RETRY: Final = dt.timedelta(seconds=60)
#: How long after thisUpdate a CRL without nextUpdate counts as fresh. RFC 5280 requires
#: nextUpdate, so such a CRL is broken; a day is this library's fail-closed choice.
DEFAULT_MAX_CRL_AGE: Final = dt.timedelta(days=1)

T = TypeVar("T")
TwcertErrorT = TypeVar("TwcertErrorT", bound=Exception)


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """What a :class:`Validator` accepts (a value: share one between validators).

    :param revocation: what an unanswered revocation check means (default: refuse).
    :param allow_test: accept GTestCA / test-policy certificates (development only).
    :param accepted_families: CA families whose certificates may log in.
    :param required_policies: one of these policy OIDs must be valid for the whole path — the
        leaf and every CA below the anchor assert it (a CA may assert anyPolicy); empty: no
        check. The default, GPKI assurance level 3 (2.16.886.101.0.3.3), is the policy of every
        MOICA and MOEACA CA certificate; that holder certificates carry it too is *unconfirmed*
        in public sources — override it if real cards are refused with CERT_POLICY.
    :param test_policies: policy OIDs that mark test certificates (the GPKI test arc is
        unconfirmed; the issuer — GTestCA — is the primary signal). With ``allow_test`` a leaf
        may carry one instead of a required policy.
    :param login_purposes: extendedKeyUsage OIDs a login certificate may be restricted to; a
        leaf (or CA) whose EKU, when present, allows none of them is refused. The default
        (clientAuth, emailProtection, anyExtendedKeyUsage) is *unconfirmed* for GPKI cards.
    :param allow_sha1: accept SHA-1-signed certificates (GRCA G1-era); refused by default.
    :param max_crl_age: how long after thisUpdate a CRL without nextUpdate is fresh.
    """

    revocation: RevocationPolicy = RevocationPolicy.HARD_FAIL
    allow_test: bool = False
    accepted_families: frozenset[CAFamily] = DEFAULT_ACCEPTED_FAMILIES
    required_policies: frozenset[str] = frozenset({oids.GPKI_ASSURANCE_LEVEL_3})
    test_policies: frozenset[str] = frozenset({oids.GPKI_TEST_POLICY})
    login_purposes: frozenset[str] = DEFAULT_LOGIN_PURPOSES
    allow_sha1: bool = False
    max_crl_age: dt.timedelta = DEFAULT_MAX_CRL_AGE

    def __post_init__(self) -> None:
        # Accept any collection (a tuple from settings), keep a hashable frozenset.
        for name in ("accepted_families", "required_policies", "test_policies", "login_purposes"):
            value: Collection[Any] = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"ValidationPolicy.{name} must be a collection, not a string")
            object.__setattr__(self, name, frozenset(value))
        if not isinstance(self.revocation, RevocationPolicy):
            raise TypeError("ValidationPolicy.revocation must be a RevocationPolicy")
        if self.max_crl_age <= dt.timedelta(0):
            raise ConfigurationError("ValidationPolicy.max_crl_age must be positive")

    @property
    def families(self) -> frozenset[CAFamily]:
        """The accepted families, GTestCA added when test certificates are allowed."""
        return self.accepted_families | ({CAFamily.GTESTCA} if self.allow_test else frozenset())


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """A certificate accepted for login, and how that was decided."""

    certificate: TaiwanCertificate
    #: Leaf, issuing CA, …, trust anchor.
    chain: tuple[TaiwanCertificate, ...]
    issuing_ca: TrustedCA
    revocation: RevocationStatus
    checked_at: dt.datetime

    @property
    def family(self) -> CAFamily:
        """The family of the issuing CA (authoritative: from the trust store, not the leaf)."""
        return self.issuing_ca.family

    @property
    def generation(self) -> str | None:
        return self.issuing_ca.generation


@dataclass(frozen=True, slots=True)
class _CAPath:
    """The cached outcome of validating one issuing CA's path."""

    chain: tuple[TaiwanCertificate, ...]  # the CA, its issuers, the anchor
    valid_from: dt.datetime
    valid_until: dt.datetime
    error: TwcertError | None = None
    #: What the path leaves for its leaves to satisfy (None with an error).
    state: PathState | None = None
    crls: tuple[bytes, ...] = field(default=(), repr=False)
    #: The :attr:`CARevocation.version` the CRLs came from.
    version: int = 0


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run pyhanko's async API from sync code, also when the caller is inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _asn1(cert: TaiwanCertificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.der)


def _anchor(cert: TaiwanCertificate) -> Any:
    """A pyhanko trust anchor carrying the certificate's own pathLen, name constraints and
    validity (fail closed). Built by hand: pyhanko's ``derive_default_quals_from_cert`` also
    turns the anchor's certificatePolicies into an explicit policy requirement, and leaves the
    attribute-certificate path length unset, which breaks its path length countdown."""
    from pyhanko_certvalidator.authority import CertTrustAnchor, TrustQualifiers
    from pyhanko_certvalidator.name_trees import process_general_subtrees
    from pyhanko_certvalidator.policy_decl import PKIXValidationParams

    asn1 = _asn1(cert)
    params = None
    constraints = asn1.name_constraints_value
    if constraints is not None:
        permitted, excluded = constraints["permitted_subtrees"], constraints["excluded_subtrees"]
        params = PKIXValidationParams(
            initial_permitted_subtrees=(
                process_general_subtrees(permitted)
                if isinstance(permitted, asn1_x509.GeneralSubtrees)
                else None
            ),
            initial_excluded_subtrees=(
                process_general_subtrees(excluded)
                if isinstance(excluded, asn1_x509.GeneralSubtrees)
                else None
            ),
        )
    quals = TrustQualifiers(
        standard_parameters=params,
        max_path_length=asn1.max_path_length,
        max_aa_path_length=asn1.max_path_length,
        valid_from=cert.not_before,
        valid_until=cert.not_after,
    )
    return CertTrustAnchor(asn1, quals=quals)


class Validator:
    """Validate certificates for login.

    :param trust: trusted CAs (:meth:`TrustStore.default` plus configured ones).
    :param policy: what is accepted (:class:`ValidationPolicy`; default: fail closed).
    :param clock: returns the current aware UTC time; inject it in tests.
    :param checker: revocation sources of the leaves (default: fetch from each certificate's
        CDP/AIA).
    :param ca_revocation: revocation data of the CA certificates (default: fetched from their
        CDPs when the checker fetches on demand); give GRCA's ARLs with
        ``CARevocation([arl, ...])``; more can be added with :meth:`add_ca_crl`.
    """

    def __init__(
        self,
        trust: TrustStore,
        policy: ValidationPolicy | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        *,
        checker: RevocationChecker | None = None,
        ca_revocation: CARevocation | None = None,
    ) -> None:
        if not len(trust):
            raise ConfigurationError("the trust store is empty")
        if not trust.anchors:
            raise ConfigurationError("the trust store has no self-signed trust anchor")
        if policy is not None and not isinstance(policy, ValidationPolicy):
            raise TypeError(f"policy must be a ValidationPolicy, not {type(policy).__name__}")
        self.trust = trust
        self.policy = policy if policy is not None else ValidationPolicy()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.checker = checker if checker is not None else RevocationChecker()
        self.ca_revocation = ca_revocation if ca_revocation is not None else CARevocation()
        self._families = self.policy.families
        self._verified: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._verified_lock = threading.Lock()
        self._ca_paths: dict[str, _CAPath] = {}
        self._ca_lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------

    def add_ca_crl(self, der: bytes) -> None:
        """Provide a CRL covering CA certificates (e.g. GRCA's ARL) instead of fetching it;
        cached CA results are dropped so the next login re-validates with it."""
        self.ca_revocation.add(der)
        with self._ca_lock:
            self._ca_paths.clear()

    # -- the per-login path --------------------------------------------------------------------

    def validate(self, certificate: TaiwanCertificate | bytes | str) -> ValidationResult:
        """Validate for login at the injected clock; raise a catalogued error or return the result.

        Only :class:`~twcert.errors.TwcertError` comes out (a wrong argument type: TypeError).
        """
        if not isinstance(certificate, TaiwanCertificate | bytes | bytearray | memoryview | str):
            kind = type(certificate).__name__  # type: ignore[unreachable]  # untyped callers
            raise TypeError(f"expected a certificate, DER bytes or PEM text, not {kind}")
        try:
            return self._validate(certificate)
        except TwcertError:
            raise
        except Exception as exc:  # fail closed: an unexpected failure refuses, catalogued
            logger.exception("unexpected failure while validating a certificate")
            raise CertificateInvalidError(f"validation failed: {type(exc).__name__}: {exc}") from exc

    def _validate(self, certificate: TaiwanCertificate | bytes | str) -> ValidationResult:
        cert = certificate if isinstance(certificate, TaiwanCertificate) else load_certificate(certificate)
        policy = self.policy
        now = self.clock()
        issuing = self._issuing_ca(cert)
        test_marked = bool(policy.test_policies.intersection(cert.policies))
        if not policy.allow_test and (
            test_marked or (issuing is not None and issuing.family is CAFamily.GTESTCA)
        ):
            raise TestCertificateRefused("issued by GTestCA or under a test policy")
        if issuing is None:
            if not policy.allow_test and cert.is_test:
                raise TestCertificateRefused("issued by GTestCA (not a trusted CA)")
            raise UntrustedCertificateError(
                "no trusted CA with the certificate's authority key identifier signed it"
            )
        # The leaf's own dates first: "expired" is what its holder can act on, even when the
        # issuing CA has since expired too.
        self._check_dates(cert, now)
        ca_path = self._ca_path(issuing, now)
        if issuing.family not in self._families:
            raise CertificateFamilyNotAcceptedError(
                f"issuing CA is {issuing.name}", family=issuing.family.value
            )
        state = ca_path.state
        assert state is not None  # a path without error has its state
        self._check_leaf(cert, state)
        if state.needs_full_validation:
            self._validate_leaf_fully(cert, ca_path, now)
        status = self._revocation(cert, issuing, now)
        return ValidationResult(cert, (cert, *ca_path.chain), issuing, status, now)

    def _issuing_ca(self, cert: TaiwanCertificate) -> TrustedCA | None:
        """The trusted CA whose key signed ``cert``: by AKI, with name chaining and the signature."""
        if cert.authority_key_identifier is not None:
            candidates = self.trust.by_key_identifier(cert.authority_key_identifier)
        else:
            # No AKI (legacy): DN finds candidates, the signature decides.
            candidates = tuple(ca for ca in self.trust if ca.certificate.subject_der == cert.issuer_der)
        for ca in candidates:
            if ca.certificate.subject_der != cert.issuer_der:
                continue
            if self._signed_by(cert, ca.certificate):
                return ca
        return None

    def _signed_by(self, cert: TaiwanCertificate, issuer: TaiwanCertificate) -> bool:
        inner = cert.certificate
        algorithm = inner.signature_hash_algorithm
        if algorithm is None or (algorithm.name in _WEAK_HASHES and not self.policy.allow_sha1):
            return False
        # The same bytes under the same key verify the same way every time: remember successes
        # by the SHA-256 of both certificates (a different certificate has a different digest).
        # Dates, usage, policy and revocation are still checked at every call.
        pair = (cert.sha256, issuer.sha256)
        with self._verified_lock:
            if pair in self._verified:
                self._verified.move_to_end(pair)
                return True
        if not signature_algorithms_match(cert.der):
            raise UntrustedCertificateError(
                "signatureAlgorithm differs from tbsCertificate.signature (RFC 5280 4.1.1.2)"
            )
        if not self._verify_signature(cert, issuer, algorithm):
            return False
        with self._verified_lock:
            self._verified[pair] = None
            if len(self._verified) > VERIFIED_SIGNATURES_KEPT:
                self._verified.popitem(last=False)
        return True

    @staticmethod
    def _verify_signature(
        cert: TaiwanCertificate, issuer: TaiwanCertificate, algorithm: hashes.HashAlgorithm
    ) -> bool:
        inner = cert.certificate
        key = issuer.certificate.public_key()
        params = inner.signature_algorithm_parameters
        try:
            if isinstance(key, rsa.RSAPublicKey) and isinstance(params, padding.PKCS1v15 | padding.PSS):
                key.verify(inner.signature, cert.tbs_der, params, algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
                key.verify(inner.signature, cert.tbs_der, params)
            else:
                return False
        except InvalidSignature:
            return False
        return True

    @staticmethod
    def _check_dates(cert: TaiwanCertificate, now: dt.datetime) -> None:
        if now < cert.not_before:
            raise CertificateNotYetValidError(f"valid from {cert.not_before}", valid_from=cert.not_before)
        if now > cert.not_after:
            raise CertificateExpiredError(f"expired {cert.not_after}", expired_at=cert.not_after)

    def _check_leaf(self, cert: TaiwanCertificate, state: PathState) -> None:
        policy = self.policy
        eku: x509.ExtendedKeyUsage | None = None
        for ext in cert.certificate.extensions:
            if ext.critical and ext.oid.dotted_string not in _UNDERSTOOD:
                raise UntrustedCertificateError(f"unsupported critical extension {ext.oid.dotted_string}")
            if isinstance(ext.value, x509.ExtendedKeyUsage):
                eku = ext.value
        if cert.is_ca or cert.usage not in (CertificateUsage.SIGNING, CertificateUsage.DUAL):
            raise WrongCertificateUsageError(f"key usage {sorted(cert.key_usage)}", usage=cert.usage.value)
        if "digital_signature" not in cert.key_usage:
            raise WrongCertificateUsageError("digitalSignature is not set", usage=cert.usage.value)
        if eku is not None:
            check_leaf_purpose(eku, state)
        if not policy.required_policies:
            return
        # The required policies still valid after the CAs (all of them when full validation
        # decides the path's policy processing), plus test policies when those are allowed.
        valid = state.valid_policies if state.valid_policies is not None else policy.required_policies
        accepted = valid | (policy.test_policies if policy.allow_test else frozenset())
        if not accepted.intersection(cert.policies):
            raise CertificatePolicyError(
                f"policies {cert.policies} lack one of {sorted(valid)} valid through the path"
            )

    def _revocation(self, cert: TaiwanCertificate, issuing: TrustedCA, now: dt.datetime) -> RevocationStatus:
        policy = self.policy
        if policy.revocation is RevocationPolicy.OFF:
            return RevocationStatus(RevocationState.NOT_CHECKED, checked_at=now)
        status = self.checker.check(cert, issuing.certificate, now)
        if status.state is RevocationState.REVOKED:
            reason = status.reason.value if status.reason is not None else "unspecified"
            raise CertificateRevokedError(
                f"revoked per {status.source} {status.url or ''}".strip(),
                revoked_at=status.revoked_at,
                reason=reason,
            )
        if (
            status.state is RevocationState.GOOD
            and status.source == "crl"
            and status.next_update is None
            and status.this_update is not None
            and now - policy.max_crl_age > status.this_update
        ):
            # A CRL without nextUpdate is fresh only for max_crl_age after its thisUpdate.
            status = RevocationStatus(
                RevocationState.UNKNOWN,
                checked_at=now,
                failures=(
                    f"CRL {status.url}: no nextUpdate and thisUpdate {status.this_update} is older "
                    f"than {policy.max_crl_age}",
                ),
            )
        if status.state is RevocationState.UNKNOWN and policy.revocation is RevocationPolicy.HARD_FAIL:
            raise RevocationUnavailableError("; ".join(status.failures) or "no revocation source answered")
        return status

    # -- issuing CAs: pyhanko, once, cached ---------------------------------------------------

    def _ca_path(self, ca: TrustedCA, now: dt.datetime) -> _CAPath:
        key = ca.certificate.sha256
        version = self.ca_revocation.version
        cached = self._ca_paths.get(key)
        if cached is None or cached.version != version or not cached.valid_from <= now <= cached.valid_until:
            with self._ca_lock:
                cached = self._ca_paths.get(key)
                if (
                    cached is None
                    or cached.version != version
                    or not cached.valid_from <= now <= cached.valid_until
                ):
                    try:
                        cached = self._validate_ca(ca, now)
                    except TwcertError as exc:
                        cached = _CAPath((ca.certificate,), now, now + _FAILURE_RETRY, exc)
                    except Exception as exc:  # pyhanko on odd data: refuse, retry later
                        logger.exception("unexpected failure validating issuing CA %s", ca.name)
                        error = UntrustedCertificateError(f"issuing CA {ca.name} does not validate: {exc}")
                        cached = _CAPath((ca.certificate,), now, now + _FAILURE_RETRY, _caused(error, exc))
                    self._ca_paths[key] = replace(cached, version=version)
                    cached = self._ca_paths[key]
        if cached.error is not None:
            raise cached.error
        return cached

    def _state(self, chain: tuple[TaiwanCertificate, ...], now: dt.datetime) -> PathState:
        for cert in chain[:-1]:  # the anchor's own signature is not part of the path
            if not signature_algorithms_match(cert.der):
                raise UntrustedCertificateError(
                    f"CA certificate {cert.sha256[:16]}…: signatureAlgorithm differs from "
                    "tbsCertificate.signature (RFC 5280 4.1.1.2)"
                )
        return path_state(
            chain,
            now,
            required_policies=self.policy.required_policies,
            login_purposes=self.policy.login_purposes,
        )

    def _validate_ca(self, ca: TrustedCA, now: dt.datetime) -> _CAPath:
        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator import errors as pv_errors
        from pyhanko_certvalidator.policy_decl import (
            CertRevTrustPolicy,
            RevocationCheckingPolicy,
            RevocationCheckingRule,
        )

        policy = self.policy
        retry = now + _FAILURE_RETRY
        if ca.is_anchor:
            cert = ca.certificate
            state = self._state((cert,), now)
            return _CAPath((cert,), cert.not_before, cert.not_after, None, state)

        # HARD_FAIL requires revocation data for every CA certificate that points to some
        # (pyhanko's "if declared" rule would pass offline with no data at all).
        declared = bool(ca.certificate.crl_urls or ca.certificate.ocsp_urls)
        rule = {
            RevocationPolicy.HARD_FAIL: (
                RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
                if declared
                else RevocationCheckingRule.CHECK_IF_DECLARED
            ),
            RevocationPolicy.SOFT_FAIL: RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
            RevocationPolicy.OFF: RevocationCheckingRule.NO_CHECK,
        }[policy.revocation]
        fetching = policy.revocation is not RevocationPolicy.OFF and self.checker.fetch_on_demand
        # pyhanko itself gives a CA CRL without nextUpdate 30 minutes (its fallback validity):
        # the cached CA result must not outlive what pyhanko would accept.
        from pyhanko_certvalidator.policy_decl import FRESHNESS_FALLBACK_VALIDITY_DEFAULT

        found = self.ca_revocation.collect(
            self.trust,
            ca,
            now,
            max_age=min(policy.max_crl_age, FRESHNESS_FALLBACK_VALIDITY_DEFAULT),
            fetch_from=self.checker.crls if fetching else None,
        )
        context = ValidationContext(
            trust_roots=[_anchor(a.certificate) for a in self.trust.anchors],
            other_certs=[_asn1(i.certificate) for i in self.trust.intermediates],
            moment=now,
            allow_fetching=False,
            crls=list(found.crls),
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
            weak_hash_algos={"md5"} if policy.allow_sha1 else {"md5", "sha1"},
        )
        validator = CertificateValidator(_asn1(ca.certificate), validation_context=context)
        try:
            path = _run(validator.async_validate_usage({"key_cert_sign"}))  # type: ignore[no-untyped-call]
        except pv_errors.RevokedError as exc:
            revoked = UntrustedCertificateError(f"issuing CA {ca.name} is revoked: {exc}")
            return _CAPath((ca.certificate,), now, retry, _caused(revoked, exc))
        except (pv_errors.InsufficientRevinfoError, pv_errors.StaleRevinfoError) as exc:
            detail = f"issuing CA {ca.name}: {exc}; {'; '.join(found.failures)}".rstrip("; ")
            return _CAPath((ca.certificate,), now, retry, _caused(RevocationUnavailableError(detail), exc))
        except (pv_errors.PathBuildingError, pv_errors.PathValidationError, pv_errors.ValidationError) as exc:
            invalid = UntrustedCertificateError(f"issuing CA {ca.name} does not validate: {exc}")
            return _CAPath((ca.certificate,), now, retry, _caused(invalid, exc))
        by_sha = {c.certificate.sha256: c.certificate for c in self.trust}
        chain: list[TaiwanCertificate] = []
        for asn1_cert in reversed(list(path)):
            der = asn1_cert.dump()
            parsed = by_sha.get(_sha256(der)) or load_certificate(der)
            chain.append(parsed)
        state = self._state(tuple(chain), now)
        valid_from = max(c.not_before for c in chain)
        valid_until = min(c.not_after for c in chain)
        if found.fresh_until is not None and policy.revocation is not RevocationPolicy.OFF:
            valid_until = min(valid_until, found.fresh_until)
        logger.info("validated issuing CA %s until %s", ca.name, valid_until)
        return _CAPath(tuple(chain), valid_from, valid_until, None, state, found.crls)

    def _validate_leaf_fully(self, cert: TaiwanCertificate, ca_path: _CAPath, now: dt.datetime) -> None:
        """Full pyhanko validation of the leaf, for CA paths with name/policy constraints."""
        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator import errors as pv_errors
        from pyhanko_certvalidator.policy_decl import (
            CertRevTrustPolicy,
            PKIXValidationParams,
            RevocationCheckingPolicy,
            RevocationCheckingRule,
        )

        no_check = RevocationCheckingRule.NO_CHECK  # revocation: our own checker, next step
        context = ValidationContext(
            trust_roots=[_anchor(ca_path.chain[-1])],
            other_certs=[_asn1(c) for c in ca_path.chain[:-1]],
            moment=now,
            allow_fetching=False,
            crls=list(ca_path.crls),
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(no_check, no_check)),
        )
        required = self.policy.required_policies
        if required and self.policy.allow_test:
            required = required | self.policy.test_policies
        params = (
            PKIXValidationParams(user_initial_policy_set=frozenset(required), initial_explicit_policy=True)
            if required
            else None
        )
        try:
            leaf = CertificateValidator(_asn1(cert), validation_context=context, pkix_params=params)
            _run(leaf.async_validate_usage({"digital_signature"}))  # type: ignore[no-untyped-call]
        except (pv_errors.PathBuildingError, pv_errors.PathValidationError, pv_errors.ValidationError) as exc:
            raise UntrustedCertificateError(f"full path validation failed: {exc}") from exc


def _caused(error: TwcertErrorT, cause: BaseException) -> TwcertErrorT:
    """Keep pyhanko's exception as the cause of the catalogued one (re-raised from the cache)."""
    error.__cause__ = cause
    return error


def _sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
