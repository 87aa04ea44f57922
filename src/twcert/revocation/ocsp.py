"""OCSP (RFC 6960) over :mod:`cryptography.x509.ocsp`, which builds and parses but does not
verify: the checks are here.

A response is used only when: its status is *successful*; it has a single response for exactly
our CertID; it is signed by the issuing CA itself, by a responder certificate the CA issued
for OCSP signing (EKU id-kp-OCSPSigning, valid now), or by a locally trusted responder;
its nonce echoes ours (or, with ``require_nonce=False``, is absent); and thisUpdate/nextUpdate
hold at the injected clock within the skew. Good and revoked answers are cached until
nextUpdate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError
from .http import Fetcher, FetchError, UrllibFetcher
from .policy import RevocationState, RevocationStatus

__all__ = ["OCSPClient", "OCSPError"]

logger = logging.getLogger(__name__)


class OCSPError(RevocationDataError):
    """A response that cannot be used: :meth:`OCSPClient.check` turns it into "no answer from
    OCSP"; :meth:`OCSPClient.verify_response` raises it (a catalogued
    :class:`~twcert.errors.RevocationDataError`) for any bytes it cannot use."""

    code = "OCSP_RESPONSE_INVALID"
    message_zh = "憑證線上狀態（OCSP）回應無法使用，請洽系統管理者。"
    message_en = "An OCSP response could not be used ({detail_short})."


@dataclass(frozen=True, slots=True)
class _Cached:
    status: RevocationStatus
    expires: dt.datetime


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what RFC 6960 key hashes cover)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def _key_hash(cert: x509.Certificate) -> bytes:
    return hashlib.sha1(_key_bits(cert)).digest()


def _verify(signer: x509.Certificate, response: ocsp.OCSPResponse) -> None:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        raise OCSPError("response has no signature hash algorithm")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            raise OCSPError(f"unsupported responder key {type(key).__name__}")
    except InvalidSignature:
        raise OCSPError("response signature does not verify") from None


class OCSPClient:
    """Ask OCSP responders about certificates, verify the answers, cache them.

    :param responder_url: designated responder used instead of each certificate's AIA URL.
    :param trusted_responders: responder certificates trusted directly (RFC 6960 §4.2.2.2 "a
        locally configured signing authority"), e.g. a CA's long-lived OCSP certificate.
    :param require_nonce: refuse responses that do not echo the request nonce. Many production
        responders pre-sign responses and ignore nonces, so the default accepts a missing nonce
        (a *wrong* nonce is always refused) and relies on thisUpdate/nextUpdate.
    :param max_age: how old a response without nextUpdate may be.
    """

    def __init__(
        self,
        *,
        fetcher: Fetcher | None = None,
        timeout: float = 10.0,
        responder_url: str | None = None,
        trusted_responders: Iterable[TaiwanCertificate] = (),
        require_nonce: bool = False,
        skew: dt.timedelta = dt.timedelta(minutes=5),
        max_age: dt.timedelta = dt.timedelta(hours=1),
    ) -> None:
        self.fetcher: Fetcher = fetcher or UrllibFetcher()
        self.timeout = timeout
        self.responder_url = responder_url
        self.trusted_responders = tuple(t.certificate for t in trusted_responders)
        self.require_nonce = require_nonce
        self.skew = skew
        self.max_age = max_age
        self._cache: dict[tuple[bytes, int], _Cached] = {}
        self._lock = threading.Lock()

    def cached(
        self, cert: TaiwanCertificate, issuer: TaiwanCertificate, at: dt.datetime
    ) -> RevocationStatus | None:
        """A still-fresh cached answer, without any request."""
        entry = self._cache.get((issuer.subject_key_identifier, cert.serial_number))
        if (
            entry is None
            or at > entry.expires
            or (entry.status.this_update and at + self.skew < entry.status.this_update)
        ):
            return None
        return entry.status

    def urls_for(self, cert: TaiwanCertificate) -> tuple[str, ...]:
        return (self.responder_url,) if self.responder_url else cert.ocsp_urls

    def check(self, cert: TaiwanCertificate, issuer: TaiwanCertificate, at: dt.datetime) -> RevocationStatus:
        """Ask the responder(s); return GOOD/REVOKED, or UNKNOWN with the reasons."""
        cached = self.cached(cert, issuer, at)
        if cached is not None:
            return cached
        urls = self.urls_for(cert)
        if not urls:
            return RevocationStatus(RevocationState.UNKNOWN, "ocsp", checked_at=at, failures=("no OCSP URL",))
        failures = []
        for url in urls:
            try:
                status = self._ask(url, cert, issuer, at)
            except (FetchError, OCSPError, ValueError) as exc:
                failures.append(f"OCSP {url}: {exc}")
                continue
            if status.state is not RevocationState.UNKNOWN:
                expires = status.next_update or (status.this_update or at) + self.max_age
                with self._lock:
                    self._cache[(issuer.subject_key_identifier, cert.serial_number)] = _Cached(
                        status, expires
                    )
                return status
            failures.append(f"OCSP {url}: responder does not know the certificate")
        return RevocationStatus(RevocationState.UNKNOWN, "ocsp", checked_at=at, failures=tuple(failures))

    def _ask(
        self, url: str, cert: TaiwanCertificate, issuer: TaiwanCertificate, at: dt.datetime
    ) -> RevocationStatus:
        nonce = os.urandom(16)
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert.certificate, issuer.certificate, hashes.SHA1())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        body = request.public_bytes(serialization.Encoding.DER)
        reply = self.fetcher.post(
            url, body, content_type="application/ocsp-request", timeout=self.timeout, max_bytes=1024 * 1024
        )
        return self.verify_response(reply.body, cert, issuer, at, nonce=nonce, url=url)

    def verify_response(
        self,
        der: bytes,
        cert: TaiwanCertificate,
        issuer: TaiwanCertificate,
        at: dt.datetime,
        *,
        nonce: bytes | None = None,
        url: str | None = None,
    ) -> RevocationStatus:
        """Check a DER OCSP response about ``cert`` (public so tests and apps can feed stapled
        or pre-fetched responses).

        :raises OCSPError: the response cannot be used, whatever its bytes.
        :raises TypeError: ``der`` is not bytes.
        """
        if not isinstance(der, bytes | bytearray | memoryview):
            raise TypeError(f"an OCSP response must be bytes, not {type(der).__name__}")
        try:
            return self._verify_response(bytes(der), cert, issuer, at, nonce, url)
        except OCSPError:
            raise
        except Exception as exc:
            # cryptography decodes fields lazily: an unknown hash, signature or key algorithm
            # (UnsupportedAlgorithm), a duplicate extension (DuplicateExtension), an unknown
            # reason code or an invalid key (ValueError) surface only when read.
            raise OCSPError(f"malformed OCSP response: {type(exc).__name__}: {exc}") from exc

    def _verify_response(
        self,
        der: bytes,
        cert: TaiwanCertificate,
        issuer: TaiwanCertificate,
        at: dt.datetime,
        nonce: bytes | None,
        url: str | None,
    ) -> RevocationStatus:
        try:
            response = ocsp.load_der_ocsp_response(der)
        except ValueError as exc:
            raise OCSPError(f"malformed OCSP response: {exc}") from None
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise OCSPError(f"responder answered {response.response_status.name}")
        single = self._matching_single(response, cert, issuer)
        self._check_signer(response, issuer, at)
        self._check_nonce(response, nonce)
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update > at + self.skew:
            raise OCSPError("response thisUpdate is in the future")
        if next_update is not None and at - self.skew > next_update:  # 9999-12-31 + skew overflows
            raise OCSPError("response is past its nextUpdate")
        if next_update is None and at - this_update > self.max_age:
            raise OCSPError("response without nextUpdate is too old")
        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.GOOD:
            state = RevocationState.GOOD
        elif status is ocsp.OCSPCertStatus.REVOKED:
            state = RevocationState.REVOKED
        else:
            state = RevocationState.UNKNOWN
        return RevocationStatus(
            state,
            "ocsp",
            url=url,
            checked_at=at,
            this_update=this_update,
            next_update=next_update,
            revoked_at=single.revocation_time_utc if state is RevocationState.REVOKED else None,
            reason=single.revocation_reason if state is RevocationState.REVOKED else None,
        )

    @staticmethod
    def _matching_single(
        response: ocsp.OCSPResponse, cert: TaiwanCertificate, issuer: TaiwanCertificate
    ) -> ocsp.OCSPSingleResponse:
        key_hash = _key_hash(issuer.certificate)
        matches = []
        for single in response.responses:
            if single.serial_number != cert.serial_number:
                continue
            algorithm = single.hash_algorithm
            name_hash = hashlib.new(algorithm.name, issuer.subject_der).digest()
            if algorithm.name == "sha1":
                expected_key_hash = key_hash
            else:
                expected_key_hash = hashlib.new(algorithm.name, _key_bits(issuer.certificate)).digest()
            if single.issuer_name_hash == name_hash and single.issuer_key_hash == expected_key_hash:
                matches.append(single)
        if len(matches) != 1:
            raise OCSPError("response does not answer for this certificate")
        return matches[0]

    def _check_signer(self, response: ocsp.OCSPResponse, issuer: TaiwanCertificate, at: dt.datetime) -> None:
        ca = issuer.certificate
        candidates: list[x509.Certificate] = [ca, *response.certificates, *self.trusted_responders]
        signer = None
        for candidate in candidates:
            if response.responder_key_hash is not None:
                if _key_hash(candidate) == response.responder_key_hash:
                    signer = candidate
                    break
            elif response.responder_name == candidate.subject:
                signer = candidate
                break
        if signer is None:
            raise OCSPError("response signer not found")
        if signer != ca and signer not in self.trusted_responders:
            self._check_delegated(signer, ca, at)
        _verify(signer, response)

    @staticmethod
    def _check_delegated(responder: x509.Certificate, ca: x509.Certificate, at: dt.datetime) -> None:
        """RFC 6960 §4.2.2.2: issued by the CA itself and marked for OCSP signing."""
        try:
            responder.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise OCSPError("delegated responder certificate is not issued by the CA") from None
        try:
            eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            raise OCSPError("delegated responder lacks id-kp-OCSPSigning") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise OCSPError("delegated responder lacks id-kp-OCSPSigning")
        if not responder.not_valid_before_utc <= at <= responder.not_valid_after_utc:
            raise OCSPError("delegated responder certificate is not valid now")

    def _check_nonce(self, response: ocsp.OCSPResponse, nonce: bytes | None) -> None:
        if nonce is None:
            return
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            if self.require_nonce:
                raise OCSPError("response does not echo the request nonce") from None
            return
        if echoed != nonce:
            raise OCSPError("response nonce differs from the request nonce")
