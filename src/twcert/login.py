"""The login flow of the manual, steps 1–4, as one service.

1. :meth:`LoginService.issue_challenge` — a single-use challenge bound to the session and site.
2. :meth:`LoginService.complete` — the card's answer (a HiPKI sign response or a
   :class:`SignedChallenge`): PIN outcome (retry/lock), signature over the challenge, and the
   certificate's validity (:class:`~twcert.validation.Validator`).
3. Citizen certificate (MOICA): the first use needs an account or national ID; refused if not
   in the personnel database, if the person left the service, or if the account's holder is not
   the card's; then the certificate is bound to the account and later logins need only the PIN.
   The serving status is checked again at every login.
4. Agency certificate (GCA): a test certificate is refused; the agency code the certificate
   resolves to must be in the agency-code file.

Every attempt, success or failure, is audited with personal data masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import idnumber
from .agency.resolver import AgencyResolver
from .audit import AuditEvent, AuditSink, LoggingAuditSink, mask_account, masked_card
from .binding import Binding, BindingKeyKind, BindingStore, binding_key
from .certificate import CAFamily, TaiwanCertificate, load_certificate
from .challenge import DEFAULT_CHALLENGE_TTL, Challenge, NonceStore, issue_challenge
from .errors import (
    AccountNotFound,
    AccountRequired,
    CertificateNotAccepted,
    HolderMismatch,
    NotInService,
    PinLockedError,
    ResponseParseError,
    SignatureParseError,
    TwcertError,
)
from .hipki import HipkiSignResponse
from .personnel import Person, PersonnelDirectory
from .pin import PinAttemptLedger, from_hipki, unblock_url
from .signature import VerifiedSignature, verify_cms, verify_pkcs1
from .validation import ValidationResult, Validator

__all__ = ["LoginService", "Principal", "PrincipalKind", "SignedChallenge"]

PrincipalKind = Literal["citizen", "agency"]


@dataclass(frozen=True, slots=True)
class SignedChallenge:
    """A card's signature over :attr:`Challenge.tbs`, for clients other than HiPKI."""

    signature: bytes
    #: "PKCS7" (CMS SignedData, challenge attached), "PKCS1" (raw RSA; needs ``certificate``),
    #: or "any" (told apart by structure).
    kind: Literal["PKCS7", "PKCS1", "any"] = "PKCS7"
    certificate: bytes | str | TaiwanCertificate | None = None
    card_serial: str | None = None
    hash_algorithm: str = "sha256"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who logged in."""

    kind: PrincipalKind
    #: The account (citizen) or the agency code (agency card): what sessions remember.
    principal_id: str
    account: str | None
    agency_code: str | None
    agency_name: str | None
    #: The holder's name (citizen) or the agency's name. Not for logs: see ``repr``.
    display_name: str | None
    certificate_sha256: str
    certificate_serial: str
    family: CAFamily
    generation: str | None
    card_serial: str | None
    authenticated_at: dt.datetime
    #: Whether this login bound the certificate to the account (first use).
    first_use: bool = False
    revocation_source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Principal(kind={self.kind!r}, principal_id={mask_account(self.principal_id)!r}, "
            f"agency_code={self.agency_code!r}, family={self.family.value}, "
            f"display_name={self._shown_name()!r})"
        )

    def _shown_name(self) -> str | None:
        return idnumber.mask_name(self.display_name) if self.kind == "citizen" else self.display_name

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for a session (no personal data beyond the account)."""
        return {
            "kind": self.kind,
            "principal_id": self.principal_id,
            "account": self.account,
            "agency_code": self.agency_code,
            "agency_name": self.agency_name,
            "certificate_sha256": self.certificate_sha256,
            "family": self.family.value,
            "authenticated_at": self.authenticated_at.isoformat(),
        }


class LoginService:
    """Run the manual's login flow over pluggable stores.

    :param validator: certificate validation (trust, revocation, test certificates, families).
    :param nonces: where challenges wait (memory, SQL, Redis: :mod:`twcert.stores`).
    :param personnel: the personnel directory (citizen cards).
    :param bindings: first-use bindings (citizen cards).
    :param agencies: the agency resolver over the agency-code file (agency cards).
    :param pin_ledger: counts wrong PINs per card where the card reports no counter.
    :param signature_type: what the login page asks HiPKI for ("PKCS7" or "PKCS1"); "any"
        accepts both, telling them apart by structure.
    :param binding_key: see :mod:`twcert.binding`.
    :param require_signing_time: CMS signatures must carry signingTime within ``max_skew``.
    """

    def __init__(
        self,
        *,
        validator: Validator,
        nonces: NonceStore,
        personnel: PersonnelDirectory | None = None,
        bindings: BindingStore | None = None,
        agencies: AgencyResolver | None = None,
        pin_ledger: PinAttemptLedger | None = None,
        audit: AuditSink | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        challenge_ttl: dt.timedelta = DEFAULT_CHALLENGE_TTL,
        signature_type: Literal["PKCS7", "PKCS1", "any"] = "any",
        allow_sha1: bool = False,
        binding_key: BindingKeyKind = "subject_serial",
        require_signing_time: bool = False,
        max_skew: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        self.validator = validator
        self.nonces = nonces
        self.personnel = personnel
        self.bindings = bindings
        self.agencies = agencies
        self.pin_ledger = pin_ledger
        self.audit = audit or LoggingAuditSink()
        self.clock = clock or validator.clock
        self.challenge_ttl = challenge_ttl
        self.signature_type = signature_type
        self.allow_sha1 = allow_sha1
        self.binding_key_kind = binding_key
        self.require_signing_time = require_signing_time
        self.max_skew = max_skew

    # -- step 1 --------------------------------------------------------------------------------

    def issue_challenge(self, session_id: str, origin: str) -> Challenge:
        """Issue and store a challenge; give ``challenge.tbs`` to the card to sign."""
        challenge = issue_challenge(session_id, origin, self.clock(), self.challenge_ttl)
        self.nonces.put(challenge)
        return challenge

    # -- steps 2–4 -----------------------------------------------------------------------------

    def complete(
        self,
        challenge_id: str,
        response: Mapping[str, Any] | str | bytes | SignedChallenge | HipkiSignResponse,
        account: str | None = None,
        *,
        session_id: str | None = None,
        origin: str | None = None,
    ) -> Principal:
        """Finish a login: return the :class:`Principal` or raise the catalogued error.

        ``session_id`` and ``origin`` must be those the challenge was issued for.
        """
        now = self.clock()
        context: dict[str, Any] = {
            "challenge_id": challenge_id,
            "origin": origin,
            "account": mask_account(account),
        }
        try:
            principal = self._complete(challenge_id, response, account, session_id, origin, now, context)
        except TwcertError as exc:
            self._audit(now, "failure", exc.code, context, detail=exc.detail)
            raise
        context.update(
            family=principal.family.value,
            agency_code=principal.agency_code,
            account=mask_account(principal.account),
        )
        self._audit(now, "success", None, context, detail="first use: bound" if principal.first_use else None)
        return principal

    def _complete(
        self,
        challenge_id: str,
        response: Mapping[str, Any] | str | bytes | SignedChallenge | HipkiSignResponse,
        account: str | None,
        session_id: str | None,
        origin: str | None,
        now: dt.datetime,
        context: dict[str, Any],
    ) -> Principal:
        challenge = self.nonces.consume(challenge_id, now).unwrap(now)
        challenge.check_binding(session_id, origin)
        signed = self._signed_from(response, context)
        if signed.card_serial:
            context["card_serial"] = masked_card(signed.card_serial)
        verified = self._verify_signature(signed, challenge, now)
        cert = verified.certificate
        context.update(certificate_sha256=cert.sha256, certificate_serial=f"{cert.serial_number:x}")
        card_serial = signed.card_serial or verified.card_serial
        pin_status = None
        if self.pin_ledger is not None and card_serial:
            # The card accepted the PIN (it signed), but a card the ledger holds locked stays
            # refused until an unblock is recorded, as the manual requires.
            pin_status = self.pin_ledger.status(card_serial)
            if pin_status.locked:
                raise PinLockedError("card locked per the PIN ledger", unblock_url=unblock_url(cert.family))
        result = self.validator.validate(cert)
        context["family"] = result.family.value
        if (
            self.pin_ledger is not None
            and card_serial
            and pin_status is not None
            and (pin_status.tries_left != self.pin_ledger.limit)
        ):
            self.pin_ledger.store.reset(card_serial)  # a success ends a run of failures
        if result.family is CAFamily.MOICA:
            return self._citizen(result, card_serial, account, now, context)
        if result.family in (CAFamily.GCA, CAFamily.GTESTCA):
            return self._agency(result, card_serial, now, context)
        raise CertificateNotAccepted(f"family {result.family.value} has no login flow")

    def _signed_from(
        self,
        response: Mapping[str, Any] | str | bytes | SignedChallenge | HipkiSignResponse,
        context: dict[str, Any],
    ) -> SignedChallenge:
        if isinstance(response, SignedChallenge):
            return response
        parsed = response if isinstance(response, HipkiSignResponse) else HipkiSignResponse.parse(response)
        if parsed.card_serial:
            context["card_serial"] = masked_card(parsed.card_serial)
        if not parsed.ok:
            self._record_pin_failure(parsed)
            error = parsed.error()
            assert error is not None
            raise error
        if parsed.signature is None:
            raise ResponseParseError("successful sign response without a signature")
        return SignedChallenge(parsed.signature, self.signature_type, parsed.certb64, parsed.card_serial)

    def _record_pin_failure(self, parsed: HipkiSignResponse) -> None:
        status = from_hipki(parsed.ret_code, parsed.last_error)
        if status is None or self.pin_ledger is None or not parsed.card_serial:
            return
        family = None
        if parsed.certb64:
            try:
                family = load_certificate(parsed.certb64).family
            except TwcertError:
                family = None
        recorded = self.pin_ledger.record(parsed.card_serial, status)
        if recorded.locked:
            raise PinLockedError("card locked after repeated wrong PINs", unblock_url=unblock_url(family))
        recorded.raise_for_status(family)

    def _verify_signature(
        self, signed: SignedChallenge, challenge: Challenge, now: dt.datetime
    ) -> VerifiedSignature:
        certificate = signed.certificate
        cert = (
            certificate
            if isinstance(certificate, TaiwanCertificate) or certificate is None
            else load_certificate(certificate)
        )
        kind: str = signed.kind
        if kind == "any":
            # CMS is a DER SEQUENCE; a raw RSA signature starts with that byte only by chance,
            # so a CMS parse failure falls back to PKCS#1 when the certificate came along.
            kind = "PKCS7" if signed.signature[:1] == b"\x30" or cert is None else "PKCS1"
            if kind == "PKCS7" and cert is not None:
                try:
                    return self._verify_cms(signed, challenge, cert, now)
                except SignatureParseError:
                    kind = "PKCS1"
        if kind == "PKCS1":
            if cert is None:
                raise SignatureParseError("a PKCS#1 signature needs the certificate (certb64)")
            return verify_pkcs1(
                signed.signature,
                challenge.tbs,
                cert,
                hash_algorithm=signed.hash_algorithm,
                allow_sha1=self.allow_sha1,
            )
        return self._verify_cms(signed, challenge, cert, now)

    def _verify_cms(
        self, signed: SignedChallenge, challenge: Challenge, cert: TaiwanCertificate | None, now: dt.datetime
    ) -> VerifiedSignature:
        return verify_cms(
            signed.signature,
            challenge.tbs,
            certificate=cert,
            now=now,
            max_skew=self.max_skew,
            require_signing_time=self.require_signing_time,
            allow_sha1=self.allow_sha1,
        )

    # -- citizen cards ---------------------------------------------------------------------------

    def _citizen(
        self,
        result: ValidationResult,
        card_serial: str | None,
        account: str | None,
        now: dt.datetime,
        context: dict[str, Any],
    ) -> Principal:
        if self.personnel is None or self.bindings is None:
            raise CertificateNotAccepted("citizen login is not configured (no personnel directory/bindings)")
        cert = result.certificate
        context["holder"] = idnumber.mask_name(cert.holder_name)
        identity = binding_key(cert, self.binding_key_kind, family=result.family)
        existing = self.bindings.get(identity)
        first_use = existing is None
        if existing is not None:
            person = self.personnel.get(existing.account)
            if person is None:
                raise AccountNotFound("the bound account is no longer in the personnel database")
        else:
            if not account or not account.strip():
                raise AccountRequired("first login with this certificate")
            person = self.personnel.find(account)
            if person is None:
                raise AccountNotFound("no such account or national ID")
        if not person.in_service:
            raise NotInService("the person has left the service")
        self._check_holder(cert, person)
        if first_use:
            stored = self.bindings.bind(Binding(identity, person.account, now, cert.sha256))
            if stored.account != person.account:
                raise HolderMismatch("this certificate is already bound to another account")
        return Principal(
            kind="citizen",
            principal_id=person.account,
            account=person.account,
            agency_code=person.agency_code,
            agency_name=None,
            display_name=person.name,
            certificate_sha256=cert.sha256,
            certificate_serial=f"{cert.serial_number:x}",
            family=result.family,
            generation=result.generation,
            card_serial=card_serial,
            authenticated_at=now,
            first_use=first_use,
            revocation_source=result.revocation.source,
        )

    @staticmethod
    def _check_holder(cert: TaiwanCertificate, person: Person) -> None:
        """The card's ID tail and name must be the account holder's."""
        id_tail = (cert.id_tail or "").upper()
        expected_tail = idnumber.normalize(person.national_id)[-4:]
        if not id_tail or id_tail != expected_tail:
            raise HolderMismatch("ID tail on the certificate differs from the account's national ID")
        if "".join((cert.holder_name or "").split()) != "".join(person.name.split()):
            raise HolderMismatch("name on the certificate differs from the account's name")

    # -- agency cards ----------------------------------------------------------------------------

    def _agency(
        self, result: ValidationResult, card_serial: str | None, now: dt.datetime, context: dict[str, Any]
    ) -> Principal:
        if self.agencies is None:
            raise CertificateNotAccepted("agency login is not configured (no agency-code file)")
        cert = result.certificate
        agency = self.agencies.agency_for(cert)
        context["agency_code"] = agency.code
        return Principal(
            kind="agency",
            principal_id=agency.code,
            account=None,
            agency_code=agency.code,
            agency_name=agency.name,
            display_name=agency.name,
            certificate_sha256=cert.sha256,
            certificate_serial=f"{cert.serial_number:x}",
            family=result.family,
            generation=result.generation,
            card_serial=card_serial,
            authenticated_at=now,
            revocation_source=result.revocation.source,
        )

    # -- audit -----------------------------------------------------------------------------------

    def _audit(
        self,
        now: dt.datetime,
        outcome: str,
        reason: str | None,
        context: Mapping[str, Any],
        detail: str | None = None,
    ) -> None:
        self.audit.emit(
            AuditEvent(
                event="twcert.login",
                occurred_at=now,
                outcome=outcome,
                reason=reason,
                family=context.get("family"),
                certificate_sha256=context.get("certificate_sha256"),
                certificate_serial=context.get("certificate_serial"),
                holder=context.get("holder"),
                account=context.get("account"),
                agency_code=context.get("agency_code"),
                card_serial=context.get("card_serial"),
                challenge_id=context.get("challenge_id"),
                origin=context.get("origin"),
                detail=detail,
            )
        )
