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

The leaf checks are those RFC 5280 §6.1 applies to a path's last certificate. Where a CA on the
path carries name or policy constraints (none of the GPKI CAs does), the leaf is instead
validated by pyhanko in full, so the fast path is never weaker than the full one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID

from . import oids
from .certificate import CAFamily, CertificateUsage, TaiwanCertificate, load_certificate
from .errors import (
    CertificateExpiredError,
    CertificateFamilyNotAcceptedError,
    CertificateNotYetValidError,
    CertificatePolicyError,
    CertificateRevokedError,
    ConfigurationError,
    RevocationDataError,
    RevocationUnavailableError,
    TestCertificateRefused,
    UntrustedCertificateError,
    WrongCertificateUsageError,
)
from .revocation.checker import RevocationChecker
from .revocation.crl_index import CRLIndex
from .revocation.http import FetchError
from .revocation.policy import RevocationPolicy, RevocationState, RevocationStatus
from .trust import TrustedCA, TrustStore

__all__ = ["DEFAULT_ACCEPTED_FAMILIES", "VERIFIED_SIGNATURES_KEPT", "ValidationResult", "Validator"]

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
_CONSTRAINT_EXTENSIONS: Final = (
    ExtensionOID.NAME_CONSTRAINTS,
    ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.INHIBIT_ANY_POLICY,
    ExtensionOID.POLICY_MAPPINGS,
)
_WEAK_HASHES: Final = frozenset({"md5", "sha1"})
#: How many verified (certificate, issuer) signatures a :class:`Validator` remembers.
VERIFIED_SIGNATURES_KEPT: Final = 4096
_FAILURE_RETRY: Final = dt.timedelta(seconds=60)

T = TypeVar("T")
TwcertErrorT = TypeVar("TwcertErrorT", bound=Exception)


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
    error: Exception | None = None
    #: With name/policy constraints on the path, leaves get full validation.
    needs_full_leaf_validation: bool = False
    crls: tuple[bytes, ...] = field(default=(), repr=False)


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


class Validator:
    """Validate certificates for login.

    :param trust: trusted CAs (:meth:`TrustStore.default` plus configured ones).
    :param revocation: what an unanswered revocation check means (default: refuse).
    :param clock: returns the current aware UTC time; inject it in tests.
    :param allow_test: accept GTestCA / test-policy certificates (development only).
    :param accepted_families: CA families whose certificates may log in.
    :param required_policies: the leaf must carry one of these policy OIDs (empty: no check).
        The default, GPKI assurance level 3 (2.16.886.101.0.3.3), is the policy of every MOICA
        and MOEACA CA certificate; that holder certificates carry it too is *unconfirmed* in
        public sources — override it if real cards are refused with CERT_POLICY.
    :param test_policies: policy OIDs that mark test certificates (the GPKI test arc is
        unconfirmed; the issuer — GTestCA — is the primary signal).
    :param checker: revocation sources (default: fetch from each certificate's CDP/AIA).
    :param ca_crls: CRLs (DER) of the issuing CAs' issuers (GRCA ARLs) to use instead of
        fetching them; more can be added with :meth:`add_ca_crl`.
    :param allow_sha1: accept SHA-1-signed certificates (GRCA G1-era); refused by default.
    """

    def __init__(
        self,
        trust: TrustStore,
        revocation: RevocationPolicy = RevocationPolicy.HARD_FAIL,
        clock: Callable[[], dt.datetime] | None = None,
        *,
        allow_test: bool = False,
        accepted_families: Collection[CAFamily] = DEFAULT_ACCEPTED_FAMILIES,
        required_policies: Collection[str] = (oids.GPKI_ASSURANCE_LEVEL_3,),
        test_policies: Collection[str] = (oids.GPKI_TEST_POLICY,),
        checker: RevocationChecker | None = None,
        ca_crls: Iterable[bytes] = (),
        allow_sha1: bool = False,
    ) -> None:
        if not len(trust):
            raise ConfigurationError("the trust store is empty")
        if not trust.anchors:
            raise ConfigurationError("the trust store has no self-signed trust anchor")
        self.trust = trust
        self.revocation = revocation
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.allow_test = allow_test
        self.accepted_families = frozenset(accepted_families) | (
            {CAFamily.GTESTCA} if allow_test else frozenset()
        )
        self.required_policies = frozenset(required_policies)
        self.test_policies = frozenset(test_policies)
        self.checker = checker if checker is not None else RevocationChecker()
        self.allow_sha1 = allow_sha1
        self._ca_crls: dict[str, bytes] = {}
        self._verified: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._verified_lock = threading.Lock()
        self._fetched_ca_crls: dict[str, tuple[bytes, dt.datetime | None]] = {}
        self._ca_paths: dict[str, _CAPath] = {}
        self._ca_lock = threading.Lock()
        for der in ca_crls:
            self.add_ca_crl(der)

    # -- configuration -----------------------------------------------------------------------

    def add_ca_crl(self, der: bytes) -> None:
        """Provide a CRL covering CA certificates (e.g. GRCA's ARL) instead of fetching it;
        cached CA results are dropped so the next login re-validates with it."""
        self._ca_crls[hashlib.sha256(der).hexdigest()] = der
        with self._ca_lock:
            self._ca_paths.clear()

    # -- the per-login path --------------------------------------------------------------------

    def validate(self, certificate: TaiwanCertificate | bytes | str) -> ValidationResult:
        """Validate for login at the injected clock; raise a catalogued error or return the result."""
        cert = certificate if isinstance(certificate, TaiwanCertificate) else load_certificate(certificate)
        now = self.clock()
        issuing = self._issuing_ca(cert)
        test_marked = bool(self.test_policies.intersection(cert.policies))
        if not self.allow_test and (
            test_marked or (issuing is not None and issuing.family is CAFamily.GTESTCA)
        ):
            raise TestCertificateRefused("issued by GTestCA or under a test policy")
        if issuing is None:
            if not self.allow_test and cert.is_test:
                raise TestCertificateRefused("issued by GTestCA (not a trusted CA)")
            raise UntrustedCertificateError(
                "no trusted CA with the certificate's authority key identifier signed it"
            )
        # The leaf's own dates first: "expired" is what its holder can act on, even when the
        # issuing CA has since expired too.
        self._check_dates(cert, now)
        ca_path = self._ca_path(issuing, now)
        if issuing.family not in self.accepted_families:
            raise CertificateFamilyNotAcceptedError(
                f"issuing CA is {issuing.name}", family=issuing.family.value
            )
        self._check_leaf(cert)
        if ca_path.needs_full_leaf_validation:
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
        if algorithm is None or (algorithm.name in _WEAK_HASHES and not self.allow_sha1):
            return False
        # The same bytes under the same key verify the same way every time: remember successes
        # by the SHA-256 of both certificates (a different certificate has a different digest).
        # Dates, usage, policy and revocation are still checked at every call.
        pair = (cert.sha256, issuer.sha256)
        with self._verified_lock:
            if pair in self._verified:
                self._verified.move_to_end(pair)
                return True
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

    def _check_leaf(self, cert: TaiwanCertificate) -> None:
        for ext in cert.certificate.extensions:
            if ext.critical and ext.oid.dotted_string not in _UNDERSTOOD:
                raise UntrustedCertificateError(f"unsupported critical extension {ext.oid.dotted_string}")
        if cert.is_ca or cert.usage not in (CertificateUsage.SIGNING, CertificateUsage.DUAL):
            raise WrongCertificateUsageError(f"key usage {sorted(cert.key_usage)}", usage=cert.usage.value)
        if "digital_signature" not in cert.key_usage:
            raise WrongCertificateUsageError("digitalSignature is not set", usage=cert.usage.value)
        accepted = self.required_policies | (self.test_policies if self.allow_test else frozenset())
        if self.required_policies and not accepted.intersection(cert.policies):
            raise CertificatePolicyError(
                f"policies {cert.policies} lack one of {sorted(self.required_policies)}"
            )

    def _revocation(self, cert: TaiwanCertificate, issuing: TrustedCA, now: dt.datetime) -> RevocationStatus:
        if self.revocation is RevocationPolicy.OFF:
            return RevocationStatus(RevocationState.NOT_CHECKED, checked_at=now)
        status = self.checker.check(cert, issuing.certificate, now)
        if status.state is RevocationState.REVOKED:
            reason = status.reason.value if status.reason is not None else "unspecified"
            raise CertificateRevokedError(
                f"revoked per {status.source} {status.url or ''}".strip(),
                revoked_at=status.revoked_at,
                reason=reason,
            )
        if status.state is RevocationState.UNKNOWN and self.revocation is RevocationPolicy.HARD_FAIL:
            raise RevocationUnavailableError("; ".join(status.failures) or "no revocation source answered")
        return status

    # -- issuing CAs: pyhanko, once, cached ---------------------------------------------------

    def _ca_path(self, ca: TrustedCA, now: dt.datetime) -> _CAPath:
        key = ca.certificate.sha256
        cached = self._ca_paths.get(key)
        if cached is None or not cached.valid_from <= now <= cached.valid_until:
            with self._ca_lock:
                cached = self._ca_paths.get(key)
                if cached is None or not cached.valid_from <= now <= cached.valid_until:
                    cached = self._validate_ca(ca, now)
                    self._ca_paths[key] = cached
        if cached.error is not None:
            raise cached.error
        return cached

    def _ca_crls_for(
        self, ca: TrustedCA, now: dt.datetime
    ) -> tuple[list[bytes], dt.datetime | None, list[str]]:
        """CRLs covering ``ca`` — preloaded ones signed by its issuer, else fetched from its CDP —
        and the earliest nextUpdate among them (when the CA's result must be re-checked)."""
        issuers = [
            c.certificate for c in self.trust.by_key_identifier(ca.certificate.authority_key_identifier)
        ]
        failures: list[str] = []

        def verified(der: bytes) -> tuple[bool, dt.datetime | None]:
            for issuer in issuers:
                try:
                    index = CRLIndex.from_der(der, issuer=issuer)
                except RevocationDataError:
                    continue
                return index.is_fresh(now), index.next_update
            return False, None

        usable: list[tuple[bytes, dt.datetime | None]] = []
        for der in self._ca_crls.values():
            fresh, next_update = verified(der)
            if fresh:
                usable.append((der, next_update))
        if not usable and self.revocation is not RevocationPolicy.OFF and not self.checker.fetch_on_demand:
            # A login never touches the network then: the app keeps CA CRLs fresh itself.
            failures.append("no fresh CA CRL preloaded (fetch_on_demand=False: not downloaded)")
        elif not usable and self.revocation is not RevocationPolicy.OFF:
            for url in ca.certificate.crl_urls:
                cached = self._fetched_ca_crls.get(url)
                if cached is not None and (cached[1] is None or now <= cached[1]):
                    usable.append(cached)
                    break
                try:
                    der = self.checker.crls.fetcher.get(
                        url, timeout=self.checker.crls.timeout, max_bytes=self.checker.crls.max_bytes
                    ).body
                except FetchError as exc:
                    failures.append(f"CA CRL {url}: {exc}")
                    continue
                fresh, next_update = verified(der)
                if not fresh:
                    failures.append(f"CA CRL {url}: not a fresh CRL of the CA's issuer")
                    continue
                self._fetched_ca_crls[url] = (der, next_update)
                usable.append((der, next_update))
                break
        updates = [next_update for _, next_update in usable if next_update is not None]
        return [der for der, _ in usable], (min(updates) if updates else None), failures

    def _validate_ca(self, ca: TrustedCA, now: dt.datetime) -> _CAPath:
        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator import errors as pv_errors
        from pyhanko_certvalidator.policy_decl import (
            CertRevTrustPolicy,
            RevocationCheckingPolicy,
            RevocationCheckingRule,
        )

        retry = now + _FAILURE_RETRY
        if ca.is_anchor:
            cert = ca.certificate
            if not cert.not_before <= now <= cert.not_after:
                error = UntrustedCertificateError(f"trust anchor {ca.name} is not valid now")
                return _CAPath((cert,), now, retry, error)
            return _CAPath((cert,), cert.not_before, cert.not_after)

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
        }[self.revocation]
        crls, fresh_until, failures = self._ca_crls_for(ca, now)
        context = ValidationContext(
            trust_roots=[_asn1(a.certificate) for a in self.trust.anchors],
            other_certs=[_asn1(i.certificate) for i in self.trust.intermediates],
            moment=now,
            allow_fetching=False,
            crls=crls,
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
            weak_hash_algos={"md5"} if self.allow_sha1 else {"md5", "sha1"},
        )
        validator = CertificateValidator(_asn1(ca.certificate), validation_context=context)
        try:
            path = _run(validator.async_validate_usage({"key_cert_sign"}))  # type: ignore[no-untyped-call]
        except pv_errors.RevokedError as exc:
            revoked = UntrustedCertificateError(f"issuing CA {ca.name} is revoked: {exc}")
            return _CAPath((ca.certificate,), now, retry, _caused(revoked, exc))
        except (pv_errors.InsufficientRevinfoError, pv_errors.StaleRevinfoError) as exc:
            detail = f"issuing CA {ca.name}: {exc}; {'; '.join(failures)}".rstrip("; ")
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
        valid_from = max(c.not_before for c in chain)
        valid_until = min(c.not_after for c in chain)
        if fresh_until is not None and self.revocation is not RevocationPolicy.OFF:
            valid_until = min(valid_until, fresh_until)
        constrained = any(
            ext.oid in _CONSTRAINT_EXTENSIONS for c in chain for ext in c.certificate.extensions
        )
        logger.info("validated issuing CA %s until %s", ca.name, valid_until)
        return _CAPath(tuple(chain), valid_from, valid_until, None, constrained, tuple(crls))

    def _validate_leaf_fully(self, cert: TaiwanCertificate, ca_path: _CAPath, now: dt.datetime) -> None:
        """Full pyhanko validation of the leaf, for CA paths with name/policy constraints."""
        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator import errors as pv_errors
        from pyhanko_certvalidator.policy_decl import (
            CertRevTrustPolicy,
            RevocationCheckingPolicy,
            RevocationCheckingRule,
        )

        no_check = RevocationCheckingRule.NO_CHECK  # revocation: our own checker, next step
        context = ValidationContext(
            trust_roots=[_asn1(ca_path.chain[-1])],
            other_certs=[_asn1(c) for c in ca_path.chain[:-1]],
            moment=now,
            allow_fetching=False,
            crls=list(ca_path.crls),
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(no_check, no_check)),
        )
        try:
            leaf = CertificateValidator(_asn1(cert), validation_context=context)
            _run(leaf.async_validate_usage({"digital_signature"}))  # type: ignore[no-untyped-call]
        except (pv_errors.PathBuildingError, pv_errors.PathValidationError, pv_errors.ValidationError) as exc:
            raise UntrustedCertificateError(f"full path validation failed: {exc}") from exc


def _caused(error: TwcertErrorT, cause: BaseException) -> TwcertErrorT:
    """Keep pyhanko's exception as the cause of the catalogued one (re-raised from the cache)."""
    error.__cause__ = cause
    return error


def _sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
