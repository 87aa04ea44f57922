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

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from . import idnumber
from .agency.directory import Agency, AgencyDirectory, normalize_agency_name
from .agency.resolver import AgencyResolver
from .audit import AuditEvent, AuditSink, LoggingAuditSink, mask_account, masked_card
from .binding import Binding, BindingKeyKind, BindingStore, binding_key
from .certificate import CAFamily, TaiwanCertificate, load_certificate
from .challenge import DEFAULT_CHALLENGE_TTL, DEFAULT_SKEW, Challenge, NonceStore, issue_challenge
from .errors import (
    AccountAlreadyBound,
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
from .pin import PinRecord, from_hipki, unblock_address, unblock_url
from .signature import VerifiedSignature, verify_cms, verify_pkcs1
from .validation import ValidationResult, Validator

__all__ = [
    "BindingsPerAccount",
    "LoginFacts",
    "LoginPolicy",
    "LoginQuery",
    "LoginReads",
    "LoginService",
    "LoginStores",
    "Principal",
    "PrincipalKind",
    "SignedChallenge",
]

DEFAULT_MAX_SKEW = DEFAULT_SKEW

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


BindingsPerAccount = Literal["one", "many"]


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """What a deployment decides about logins (every field has the safe default).

    :param signature_type: what the login page asks HiPKI for ("PKCS7" or "PKCS1"); "any"
        accepts both, telling them apart by structure.
    :param binding_key: see :mod:`twcert.binding`.
    :param require_signing_time: CMS signatures must carry signingTime within ``max_skew``.
    :param max_skew: clock difference allowed between the card's host and the server; also how
        long past its expiry a consumed challenge is remembered (see
        :func:`twcert.challenge.retained_until`).
    :param challenge_ttl: how long an issued challenge may be answered.
    :param allow_sha1: accept SHA-1 signatures (old cards).
    :param bindings_per_account: "one" (default): an account bound to one certificate identity
        refuses another identity's first use (:class:`~twcert.errors.AccountAlreadyBound`);
        "many" lets an account collect bindings.
    """

    signature_type: Literal["PKCS7", "PKCS1", "any"] = "any"
    binding_key: BindingKeyKind = "subject_serial"
    require_signing_time: bool = False
    max_skew: dt.timedelta = DEFAULT_MAX_SKEW
    challenge_ttl: dt.timedelta = DEFAULT_CHALLENGE_TTL
    allow_sha1: bool = False
    bindings_per_account: BindingsPerAccount = "one"

    def __post_init__(self) -> None:
        if self.bindings_per_account not in ("one", "many"):
            raise ValueError('bindings_per_account must be "one" or "many"')
        if self.challenge_ttl <= dt.timedelta(0):
            raise ValueError("challenge_ttl must be positive")


@dataclass(frozen=True, slots=True)
class LoginStores:
    """Where a login's state lives (memory, SQL, Redis, Django: :mod:`twcert.stores`).

    :param nonces: issued challenges.
    :param personnel: the personnel directory (citizen cards).
    :param bindings: first-use bindings (citizen cards).
    :param agencies: the agency resolver over the agency-code file (agency cards).
    :param pin_record: the advisory PIN record (what the page shows after wrong PINs).
    """

    nonces: NonceStore
    personnel: PersonnelDirectory | None = None
    bindings: BindingStore | None = None
    agencies: AgencyResolver | None = None
    pin_record: PinRecord | None = None


@dataclass(frozen=True, slots=True)
class LoginQuery:
    """What a login reads and changes once the signature and certificate are valid.

    :param clear_pin: PIN-record keys to clear (:meth:`PinRecord.clear`): the signature proved
        that card unlocked.
    :param identity: a citizen card's binding identity: read its binding and the bound person.
    :param agency_codes: an agency card's codes already known from configuration (OID or
        serial maps): read those agencies.
    :param agency_name: an agency card's name (its first OU): read the agencies of that name.
    """

    clear_pin: tuple[str, ...] = ()
    identity: str | None = None
    agency_codes: tuple[str, ...] = ()
    agency_name: str | None = None


@dataclass(frozen=True, slots=True)
class LoginFacts:
    """What :meth:`LoginReads.prefetch` found for a :class:`LoginQuery`."""

    #: The binding of ``identity`` (None: not bound, or no identity asked).
    binding: Binding | None = None
    #: The person of the binding's account (None: not in the personnel database).
    person: Person | None = None
    #: The agencies with one of ``agency_codes`` or named ``agency_name``.
    agencies: tuple[Agency, ...] = ()


@runtime_checkable
class LoginReads(Protocol):
    """Optional, for a store whose database also holds the others: answer a login's reads and
    its PIN-record change in one go (one round trip on PostgreSQL) instead of one call per
    store. Looked for on the nonce, binding, personnel, agency and PIN stores, in that order;
    without it the stores are used one call at a time."""

    def prefetch(self, stores: LoginStores, query: LoginQuery) -> LoginFacts | None:
        """Clear ``query.clear_pin`` and read what ``query`` names; ``None`` (having done
        nothing) when a store ``query`` touches is not this database's."""
        ...


class LoginService:
    """Run the manual's login flow over pluggable stores.

    :param validator: certificate validation (trust, revocation, test certificates, families).
    :param stores: :class:`LoginStores`.
    :param policy: :class:`LoginPolicy`.
    :param audit: where audit events go (default: the ``twcert.audit`` logger).
    :param clock: the current time (default: the validator's clock).
    """

    def __init__(
        self,
        validator: Validator,
        stores: LoginStores,
        policy: LoginPolicy | None = None,
        *,
        audit: AuditSink | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.validator = validator
        self.stores = stores
        self.policy = policy or LoginPolicy()
        self.audit = audit or LoggingAuditSink()
        self.clock = clock or validator.clock

    @property
    def nonces(self) -> NonceStore:
        """The challenge store (``stores.nonces``); assigning it replaces that store only."""
        return self.stores.nonces

    @nonces.setter
    def nonces(self, value: NonceStore) -> None:
        self.stores = replace(self.stores, nonces=value)

    @property
    def signature_type(self) -> Literal["PKCS7", "PKCS1", "any"]:
        return self.policy.signature_type

    # -- step 1 --------------------------------------------------------------------------------

    def issue_challenge(self, session_id: str, origin: str) -> Challenge:
        """Issue and store a challenge; give ``challenge.tbs`` to the card to sign."""
        challenge = issue_challenge(session_id, origin, self.clock(), self.policy.challenge_ttl)
        self.stores.nonces.put(challenge)
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
        card_hint: CAFamily | str | None = None,
    ) -> Principal:
        """Finish a login: return the :class:`Principal` or raise the catalogued error.

        ``session_id`` and ``origin`` must be those the challenge was issued for.
        ``card_hint`` is the card type the user chose on the login page ("MOICA" or "GCA"):
        it only picks the unblock address shown for a locked card whose failure report
        carries no certificate.
        """
        now = self.clock()
        context: dict[str, Any] = {
            "challenge_id": challenge_id,
            "origin": origin,
            "account": mask_account(account),
        }
        try:
            principal = self._complete(
                challenge_id, response, account, session_id, origin, _family_hint(card_hint), now, context
            )
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
        hint: CAFamily | None,
        now: dt.datetime,
        context: dict[str, Any],
    ) -> Principal:
        # 1. The challenge: live, unused, this session's and this site's (a failure report
        #    uses it up too, so one challenge carries at most one report).
        challenge = self.stores.nonces.consume(challenge_id, now).unwrap(now)
        challenge.check_binding(session_id, origin)
        # 2. The card's answer: a failure report ends here; a signature must be over the challenge.
        signed = self._signed_from(response, context, hint)
        verified = self._verify_signature(signed, challenge, now)
        cert = verified.certificate
        context.update(certificate_sha256=cert.sha256, certificate_serial=f"{cert.serial_number:x}")
        # 3. The certificate: chain, validity, revocation, family.
        result = self.validator.validate(cert)
        context["family"] = result.family.value
        # A valid signature proves its card was not locked: its PIN record ends (together
        # with step 4's reads, where the stores can do both in one go).
        stores = self._prefetched(verified, result)
        card_serial = verified.card_serial or signed.card_serial
        # 4. Who: a serving citizen bound to an account, or a listed agency.
        if result.family is CAFamily.MOICA:
            person, first_use = self._citizen(stores, result, account, now, context)
            return self._principal(result, card_serial, now, person=person, first_use=first_use)
        if result.family in (CAFamily.GCA, CAFamily.GTESTCA):
            if stores.agencies is None:
                raise CertificateNotAccepted("agency login is not configured (no agency-code file)")
            agency = stores.agencies.agency_for(cert)
            context["agency_code"] = agency.code
            return self._principal(result, card_serial, now, agency=agency)
        raise CertificateNotAccepted(f"family {result.family.value} has no login flow")

    def _prefetched(self, verified: VerifiedSignature, result: ValidationResult) -> LoginStores:
        """Clear the PIN record; return stores that answer step 4's reads from what one
        :meth:`LoginReads.prefetch` found (or ``self.stores`` when the stores cannot)."""
        stores = self.stores
        keys = self._pin_keys(verified) if stores.pin_record is not None else ()
        reads = _login_reads(stores)
        if reads is None:
            self._clear_pin_record(keys)
            return stores
        query = LoginQuery(clear_pin=keys, **self._step4_query(result))
        facts = reads.prefetch(stores, query)
        if facts is None and keys:
            # The PIN record lives elsewhere (e.g. Redis): clear it there, read the rest at once.
            self._clear_pin_record(keys)
            query = replace(query, clear_pin=())
            facts = reads.prefetch(stores, query)
        if facts is None:
            if query.clear_pin:
                self._clear_pin_record(keys)
            return stores
        changes: dict[str, Any] = {}
        if query.identity is not None and stores.bindings is not None and stores.personnel is not None:
            changes["bindings"] = _KnownBinding(stores.bindings, query.identity, facts.binding)
            if facts.binding is not None:
                changes["personnel"] = _KnownPerson(stores.personnel, facts.binding.account, facts.person)
        if stores.agencies is not None and (query.agency_codes or query.agency_name is not None):
            resolver = copy.copy(stores.agencies)
            resolver.directory = _KnownAgencies(resolver.directory, query, facts.agencies)
            changes["agencies"] = resolver
        return replace(stores, **changes) if changes else stores

    def _step4_query(self, result: ValidationResult) -> dict[str, Any]:
        """What step 4 will read for this certificate (nothing when it will refuse unread)."""
        stores, cert = self.stores, result.certificate
        if result.family is CAFamily.MOICA:
            if stores.personnel is None or stores.bindings is None:
                return {}
            try:
                return {"identity": binding_key(cert, self.policy.binding_key, family=result.family)}
            except TwcertError:
                return {}  # step 4 raises it again, after the PIN record is cleared
        if result.family in (CAFamily.GCA, CAFamily.GTESTCA) and stores.agencies is not None:
            resolver = stores.agencies
            mapped = ((cert.agency_oid, resolver.oid_map), (cert.subject_serial, resolver.serial_map))
            codes = tuple(dict.fromkeys(m[k] for k, m in mapped if k and k in m))
            name = cert.subject_ous[0] if resolver.match_names and cert.subject_ous and not codes else None
            return {"agency_codes": codes, "agency_name": name}
        return {}

    @staticmethod
    def _pin_keys(verified: VerifiedSignature) -> tuple[str, ...]:
        # The certificate, and the card number signed into the CMS: never a number the
        # client merely names beside the signature.
        keys = [PinRecord.certificate_key(verified.certificate.sha256)]
        if verified.card_serial and verified.card_serial.strip():
            keys.append(PinRecord.card_key(verified.card_serial))
        return tuple(keys)

    def _clear_pin_record(self, keys: tuple[str, ...]) -> None:
        if self.stores.pin_record is not None and keys:
            self.stores.pin_record.clear(*keys)

    def _signed_from(
        self,
        response: Mapping[str, Any] | str | bytes | SignedChallenge | HipkiSignResponse,
        context: dict[str, Any],
        hint: CAFamily | None,
    ) -> SignedChallenge:
        if isinstance(response, SignedChallenge):
            if response.card_serial:
                context["card_serial"] = masked_card(response.card_serial)
            return response
        parsed = response if isinstance(response, HipkiSignResponse) else HipkiSignResponse.parse(response)
        if parsed.card_serial:
            context["card_serial"] = masked_card(parsed.card_serial)
        if not parsed.ok:
            self._report_pin_failure(parsed, hint)
            error = parsed.error()
            assert error is not None
            raise error
        if parsed.signature is None:
            raise ResponseParseError("successful sign response without a signature")
        return SignedChallenge(
            parsed.signature, self.policy.signature_type, parsed.certb64, parsed.card_serial
        )

    def _report_pin_failure(self, parsed: HipkiSignResponse, hint: CAFamily | None) -> None:
        """An unsigned failure report: count it (toward "locked" only) and raise what to show."""
        status = from_hipki(parsed.ret_code, parsed.last_error)
        if status is None:
            return
        family = hint
        sha256 = None
        if parsed.certb64:
            try:
                reported = load_certificate(parsed.certb64)
                family, sha256 = reported.family, reported.sha256
            except TwcertError:
                pass
        record = self.stores.pin_record
        # The card the report names (its certificate, else its number): a report can only
        # push that card toward "locked", never clear anything. Keyed so that the card's next
        # valid signature clears it (the certificate always; the number when signed in).
        key = (
            PinRecord.certificate_key(sha256)
            if sha256
            else PinRecord.card_key(parsed.card_serial)
            if parsed.card_serial and parsed.card_serial.strip()
            else None
        )
        if record is not None and key is not None:
            status = record.report_failure(key, status)
        if status.locked:
            raise PinLockedError(
                "card locked after repeated wrong PINs",
                unblock_url=unblock_address(family),
                unblock_link=unblock_url(family),
            )
        status.raise_for_status(family)

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
                allow_sha1=self.policy.allow_sha1,
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
            max_skew=self.policy.max_skew,
            require_signing_time=self.policy.require_signing_time,
            allow_sha1=self.policy.allow_sha1,
        )

    # -- citizen cards ---------------------------------------------------------------------------

    def _citizen(
        self,
        stores: LoginStores,
        result: ValidationResult,
        account: str | None,
        now: dt.datetime,
        context: dict[str, Any],
    ) -> tuple[Person, bool]:
        """The serving person this citizen card logs in as, and whether this login bound it."""
        personnel, bindings = stores.personnel, stores.bindings
        if personnel is None or bindings is None:
            raise CertificateNotAccepted("citizen login is not configured (no personnel directory/bindings)")
        cert = result.certificate
        context["holder"] = idnumber.mask_name(cert.holder_name)
        identity = binding_key(cert, self.policy.binding_key, family=result.family)
        existing = bindings.get(identity)
        if existing is not None:
            person = personnel.get(existing.account)
            if person is None:
                raise AccountNotFound("the bound account is no longer in the personnel database")
        else:
            if not account or not account.strip():
                raise AccountRequired("first login with this certificate")
            person = personnel.find(account)
            if person is None:
                raise AccountNotFound("no such account or national ID")
        if not person.in_service:
            raise NotInService("the person has left the service")
        self._check_holder(cert, person)
        if existing is None:
            self._bind(bindings, Binding(identity, person.account, now, cert.sha256))
        return person, existing is None

    def _bind(self, bindings: BindingStore, binding: Binding) -> None:
        """First use: bind, keeping to one identity per account unless the policy says "many"."""
        one = self.policy.bindings_per_account == "one"
        if one and _bound_elsewhere(bindings, binding):
            raise AccountAlreadyBound("the account is bound to another certificate identity")
        stored = bindings.bind(binding)
        if stored.account != binding.account:
            raise HolderMismatch("this certificate is already bound to another account")
        if one and stored == binding and _bound_elsewhere(bindings, binding):
            # Two identities raced to bind one account: each that sees the other withdraws
            # (both may, and the user tries again); never do both stay.
            bindings.unbind(binding.identity)
            raise AccountAlreadyBound("another certificate identity bound the account meanwhile")

    @staticmethod
    def _check_holder(cert: TaiwanCertificate, person: Person) -> None:
        """The card's ID tail and name must be the account holder's."""
        id_tail = (cert.id_tail or "").upper()
        expected_tail = idnumber.normalize(person.national_id)[-4:]
        if not id_tail or id_tail != expected_tail:
            raise HolderMismatch("ID tail on the certificate differs from the account's national ID")
        if "".join((cert.holder_name or "").split()) != "".join(person.name.split()):
            raise HolderMismatch("name on the certificate differs from the account's name")

    # -- the result ------------------------------------------------------------------------------

    @staticmethod
    def _principal(
        result: ValidationResult,
        card_serial: str | None,
        now: dt.datetime,
        *,
        person: Person | None = None,
        first_use: bool = False,
        agency: Agency | None = None,
    ) -> Principal:
        """The one place a :class:`Principal` is made (a citizen's ``person`` or an ``agency``)."""
        cert = result.certificate
        common: dict[str, Any] = {
            "certificate_sha256": cert.sha256,
            "certificate_serial": f"{cert.serial_number:x}",
            "family": result.family,
            "generation": result.generation,
            "card_serial": card_serial,
            "authenticated_at": now,
            "revocation_source": result.revocation.source,
        }
        if person is not None:
            return Principal(
                kind="citizen",
                principal_id=person.account,
                account=person.account,
                agency_code=person.agency_code,
                agency_name=None,
                display_name=person.name,
                first_use=first_use,
                **common,
            )
        assert agency is not None
        return Principal(
            kind="agency",
            principal_id=agency.code,
            account=None,
            agency_code=agency.code,
            agency_name=agency.name,
            display_name=agency.name,
            **common,
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


class _KnownBinding:
    """A binding store whose answer for one identity is already known (prefetched)."""

    def __init__(self, inner: BindingStore, identity: str, binding: Binding | None) -> None:
        self._inner, self._identity, self._binding = inner, identity, binding

    def get(self, identity: str) -> Binding | None:
        return self._binding if identity == self._identity else self._inner.get(identity)

    def bind(self, binding: Binding) -> Binding:
        return self._inner.bind(binding)

    def unbind(self, identity: str) -> bool:
        return self._inner.unbind(identity)

    def for_account(self, account: str) -> list[Binding]:
        return self._inner.for_account(account)


class _KnownPerson:
    """A personnel directory whose answer for one account is already known (prefetched)."""

    def __init__(self, inner: PersonnelDirectory, account: str, person: Person | None) -> None:
        self._inner, self._account, self._person = inner, account, person

    def get(self, account: str) -> Person | None:
        return self._person if account == self._account else self._inner.get(account)

    def find(self, account_or_id: str) -> Person | None:
        return self._inner.find(account_or_id)


class _KnownAgencies:
    """An agency directory whose answers for a query's codes and name are already known."""

    def __init__(self, inner: AgencyDirectory, query: LoginQuery, found: tuple[Agency, ...]) -> None:
        self._inner = inner
        self._by_code: dict[str, Agency | None] = {code.strip().upper(): None for code in query.agency_codes}
        self._name_key = normalize_agency_name(query.agency_name) if query.agency_name is not None else None
        self._by_name: list[Agency] = []
        for agency in found:
            self._by_code[agency.code] = agency
            if self._name_key is not None and normalize_agency_name(agency.name) == self._name_key:
                self._by_name.append(agency)
        self._by_name.sort(key=lambda a: a.code)

    def get(self, code: str) -> Agency | None:
        key = code.strip().upper()
        return self._by_code[key] if key in self._by_code else self._inner.get(code)

    def find_by_name(self, name: str) -> list[Agency]:
        if self._name_key is not None and normalize_agency_name(name) == self._name_key:
            return list(self._by_name)
        return self._inner.find_by_name(name)


def _login_reads(stores: LoginStores) -> LoginReads | None:
    """The first of the stores that can answer a login's reads in one go, if any."""
    candidates: tuple[object, ...] = (
        stores.nonces,
        stores.bindings,
        stores.personnel,
        stores.agencies.directory if stores.agencies is not None else None,
        stores.pin_record.store if stores.pin_record is not None else None,
    )
    for candidate in candidates:
        if isinstance(candidate, LoginReads):
            return candidate
    return None


def _bound_elsewhere(bindings: BindingStore, binding: Binding) -> bool:
    return any(b.identity != binding.identity for b in bindings.for_account(binding.account))


def _family_hint(hint: CAFamily | str | None) -> CAFamily | None:
    """The card type the login page says the user chose; anything else is no hint."""
    if isinstance(hint, CAFamily):
        return hint if hint in (CAFamily.MOICA, CAFamily.GCA) else None
    if isinstance(hint, str):
        return {"MOICA": CAFamily.MOICA, "GCA": CAFamily.GCA}.get(hint.strip().upper())
    return None
