"""A fake GRCA/MOICA/GCA PKI built on demand, valid on the real clock, with cards that answer
like HiPKI: what a host app needs to test its card login without a card or the network.

::

    from twcert.testing import FreshPKI

    pki = FreshPKI()                                   # CAs, ARLs and CRLs fresh for 10 years
    card = pki.citizen_card("王小明", "A123456789", account="wang.xm")
    validator = pki.validator()                        # CRLs preloaded, no download, real clock
    service = pki.login_service()                      # memory stores, the cards' holders listed

The CAs carry the real GPKI DNs (MOICA, GCA, GRCA in three generations) but their keys are
test keys, so nothing built here is trusted anywhere else. ``Validator`` and ``LoginService``
are each built in one method (:meth:`FreshPKI.validator`, :meth:`FreshPKI.login_service`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ..agency import Agency, AgencyResolver, MemoryAgencyDirectory
from ..audit import AuditSink, MemoryAuditSink
from ..binding import MemoryBindingStore
from ..certificate import CAFamily, load_certificate
from ..login import LoginPolicy, LoginService, LoginStores
from ..personnel import MemoryPersonnelDirectory, Person
from ..pin import PinRecord
from ..revocation import CARevocation, CRLCache, RevocationChecker
from ..stores.memory import MemoryNonceStore, MemoryPinCounterStore
from ..trust import TrustStore
from ..validation import ValidationPolicy, Validator
from . import hipki as responses
from .people import make_id_number
from .pki import FakeCA, FakeGPKI, Issued, KeyPool
from .revocation import Revoked, build_crl

__all__ = ["DEFAULT_CRL_LIFETIME", "FakeCard", "FreshPKI", "PKIFiles", "preloaded_validator"]

#: How long the CRLs and ARLs of a :class:`FreshPKI` stay fresh from the moment they are built.
DEFAULT_CRL_LIFETIME: Final = dt.timedelta(days=3650)

#: The CAs that issue cards (their CRLs are preloaded); the GRCA roots sign ARLs instead.
_ISSUING: Final = ("MOICA1", "MOICA2", "MOICA3", "GCA", "GTESTCA", "MOEACA", "XCA", "MOICA_EXPIRED")
_ROOTS: Final = ("GRCA1", "GRCA2", "GRCA3")


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def _sha256(pem_file: Path) -> str:
    der = x509.load_pem_x509_certificate(pem_file.read_bytes()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class FakeCard:
    """One GPKI card: its signing and encryption certificates, its number, and HiPKI's answers.

    Every method returns the ``/sign`` JSON (a dict) the login page posts to the server.
    """

    sign_certificate: Issued
    encrypt_certificate: Issued
    serial: str
    family: CAFamily
    #: The personnel-directory row of a citizen card's holder (``None`` for agency cards).
    person: Person | None = None
    #: The agency-code-file row of an agency card (``None`` for citizen cards).
    agency: Agency | None = None

    def sign(
        self, tbs: bytes | str, *, signature_type: Literal["PKCS7", "PKCS1"] = "PKCS7"
    ) -> dict[str, Any]:
        """The right PIN: the card signs ``tbs`` (the challenge's ``tbs``)."""
        return responses.sign_response(
            self.sign_certificate, tbs, card_serial=self.serial, signature_type=signature_type
        )

    def wrong_pin(self, tries_left: int | None = 2) -> dict[str, Any]:
        """A wrong PIN with ``tries_left`` (2 or 1; ``None``: the card gives no counter)."""
        return responses.wrong_pin_response(
            tries_left, certificate=self.sign_certificate, card_serial=self.serial
        )

    def locked(self) -> dict[str, Any]:
        """The PIN is locked."""
        return responses.locked_response(certificate=self.sign_certificate, card_serial=self.serial)

    @staticmethod
    def cancelled() -> dict[str, Any]:
        """The holder cancelled the PIN dialog."""
        return responses.cancelled_response()

    @staticmethod
    def no_card() -> dict[str, Any]:
        """The card is not in the reader."""
        return responses.no_card_response()


def preloaded_validator(
    trust: TrustStore,
    crls: CRLCache,
    arls: Iterable[bytes],
    *,
    clock: Callable[[], dt.datetime] | None = None,
    **options: Any,
) -> Validator:
    """The one place the test kit builds a Validator: ``crls`` answer for the end entities,
    ``arls`` (GRCA ARLs) for the issuing CAs, nothing is downloaded. ``options`` are
    :class:`~twcert.ValidationPolicy` fields (``allow_test=True``, ...)."""
    return Validator(
        trust,
        ValidationPolicy(**options),
        clock,
        checker=RevocationChecker(crls=crls, fetch_on_demand=False),
        ca_revocation=CARevocation(arls),
    )


@dataclass(frozen=True)
class PKIFiles:
    """A :class:`FreshPKI` written to disk (see :meth:`FreshPKI.write`)."""

    directory: Path
    #: ``(label, path, family, generation)`` of every genuine CA certificate (PEM).
    ca_files: tuple[tuple[str, Path, CAFamily, str | None], ...]
    #: ``(path, url)`` of each issuing CA's CRL (DER) and the address its certificates name.
    crl_files: tuple[tuple[Path, str], ...]
    #: The GRCA ARLs (DER), which check the issuing CAs' own certificates.
    arl_files: tuple[Path, ...]
    #: Agency certificate organisation OID → agency code, for the agency resolver.
    agency_oid_map: Mapping[str, str] = field(default_factory=dict)

    def django_settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``TWCERT`` setting trusting only this PKI, its CRLs read from the files, no download."""
        settings: dict[str, Any] = {
            "TRUST_BUNDLED": False,
            "CA_FILES": [
                {"path": str(path), "pins": [_sha256(path)], "family": family.value, "generation": generation}
                for _, path, family, generation in self.ca_files
            ],
            "CRL_FILES": [{"path": str(path), "url": url} for path, url in self.crl_files],
            "CA_CRL_FILES": [str(path) for path in self.arl_files],
            "REVOCATION_FETCH": False,
            # No on-disk CRL cache: a test must not write into the project's cache directory.
            "CRL_CACHE_DIR": None,
            "AGENCY_OID_MAP": dict(self.agency_oid_map),
        }
        settings.update(overrides)
        return settings


class FreshPKI:
    """A fake GPKI centred on ``now`` (default: the real clock at construction).

    :param now: when the CRLs are issued; certificates are valid from 30 days before it.
    :param crl_lifetime: how long after ``now`` the CRLs and ARLs stay fresh.
    :param base_url: where the certificates say their CRLs are (never fetched by default).
    """

    def __init__(
        self,
        *,
        now: dt.datetime | None = None,
        crl_lifetime: dt.timedelta = DEFAULT_CRL_LIFETIME,
        base_url: str = "http://crl.twcert.test",
    ) -> None:
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.crl_lifetime = crl_lifetime
        # End-entity keys are recycled (fast); every CA gets its own key.
        self.gpki = FakeGPKI(now=self.now, base_url=base_url, keys=KeyPool(reuse=True))
        self.people: list[Person] = []
        self.agencies: list[Agency] = []
        self.agency_oid_map: dict[str, str] = {}
        self._revoked: dict[str, list[Revoked]] = {}
        self._crl_number = 0

    # -- cards ---------------------------------------------------------------------------------

    def _validity(self, years: int) -> dict[str, dt.datetime]:
        start = self.now - dt.timedelta(days=30)
        return {"not_before": start, "not_after": start + dt.timedelta(days=365 * years)}

    def citizen_card(
        self,
        name: str = "王小明",
        national_id: str | None = None,
        *,
        account: str | None = None,
        in_service: bool = True,
        agency_code: str | None = None,
        listed: bool = True,
        ca: str = "MOICA2",
        **issue: Any,
    ) -> FakeCard:
        """A citizen (自然人憑證) card from MOICA; its holder is added to the personnel directory
        of :meth:`login_service` unless ``listed=False``. ``issue`` goes to
        :meth:`FakeGPKI.issue` (``not_after=...`` for an expired card, and so on)."""
        national_id = national_id or make_id_number("A1" + _digits(7))
        kwargs = {**self._validity(8), **issue}
        certs = self.gpki.issue_citizen_card(name, national_id, ca=ca, **kwargs)
        person = Person(account or f"user{len(self.people) + 1}", national_id, name, in_service, agency_code)
        if listed:
            self.people.append(person)
        return FakeCard(certs.sign, certs.encrypt, certs.card_serial, CAFamily.MOICA, person=person)

    def agency_card(
        self,
        code: str = "A09000000E",
        name: str = "行政院人事行政總處",
        *,
        oid: str | None = None,
        listed: bool = True,
        ca: str = "GCA",
        **issue: Any,
    ) -> FakeCard:
        """An agency (機關憑證) card from GCA for the agency ``code``, listed in the agency
        directory of :meth:`login_service` unless ``listed=False``."""
        oid = oid or f"2.16.886.101.{90000 + len(self.agency_oid_map)}"
        kwargs = {**self._validity(5), **issue}
        certs = self.gpki.issue_agency_card(name, oid, ca=ca, **kwargs)
        agency = Agency(code, name)
        self.agency_oid_map[oid] = code
        if listed:
            self.agencies.append(agency)
        family = self.gpki.cas[ca].family
        return FakeCard(certs.sign, certs.encrypt, certs.card_serial, family, agency=agency)

    def revoke(
        self,
        card: FakeCard | Issued,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
        *,
        ca: str | None = None,
    ) -> None:
        """List a card's signing certificate on its CA's CRL. Validators built *after* this
        see it (build a new one with :meth:`validator`)."""
        issued = card.sign_certificate if isinstance(card, FakeCard) else card
        label = ca or self._issuer_label(issued)
        revoked_at = self.now - dt.timedelta(hours=1)
        self._revoked.setdefault(label, []).append(Revoked(issued.serial_number, revoked_at, reason))

    def _issuer_label(self, issued: Issued) -> str:
        for label in _ISSUING:
            ca = self.gpki.cas[label]
            try:
                issued.certificate.verify_directly_issued_by(ca.certificate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return label
        raise ValueError("the certificate was not issued by an issuing CA of this PKI")

    # -- trust and revocation ------------------------------------------------------------------

    @property
    def cas(self) -> Mapping[str, FakeCA]:
        return self.gpki.cas

    def trust_store(self) -> TrustStore:
        """This PKI's genuine CAs (never its impostor ``ROGUE`` chain)."""
        return self.gpki.trust_store()

    def crl(self, label: str) -> bytes:
        """The current CRL (DER) of CA ``label`` (an ARL for the GRCA roots)."""
        self._crl_number += 1
        return build_crl(
            self.gpki.cas[label],
            self._revoked.get(label, []),
            this_update=self.now - dt.timedelta(hours=1),
            next_update=self.now + self.crl_lifetime,
            crl_number=self._crl_number,
        )

    def crl_cache(self) -> CRLCache:
        """A CRL cache holding every issuing CA's current CRL under its certificates' address."""
        cache = CRLCache()
        for label in _ISSUING:
            ca = self.gpki.cas[label]
            cache.preload(self.crl(label), load_certificate(ca.der), url=ca.complete_crl_url)
        return cache

    def validator(self, *, clock: Callable[[], dt.datetime] | None = None, **options: Any) -> Validator:
        """A :class:`~twcert.validation.Validator` trusting this PKI with every CRL and ARL
        preloaded and downloads off: a revocation check never waits on the network.
        ``options`` are :class:`~twcert.ValidationPolicy` fields (``allow_test=True``, ...)."""
        return preloaded_validator(
            self.trust_store(),
            self.crl_cache(),
            [self.crl(label) for label in _ROOTS],
            clock=clock,
            **options,
        )

    def login_service(
        self,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        validator: Validator | None = None,
        audit: AuditSink | None = None,
        **options: Any,
    ) -> LoginService:
        """A :class:`~twcert.LoginService` over memory stores: the citizen cards' holders in the
        personnel directory, the agency cards' agencies in the agency directory, a PIN record.
        ``options`` are :class:`~twcert.LoginPolicy` fields."""
        return LoginService(
            validator or self.validator(clock=clock),
            LoginStores(
                nonces=MemoryNonceStore(),
                personnel=MemoryPersonnelDirectory(self.people),
                bindings=MemoryBindingStore(),
                agencies=AgencyResolver(MemoryAgencyDirectory(self.agencies), oid_map=self.agency_oid_map),
                pin_record=PinRecord(MemoryPinCounterStore()),
            ),
            LoginPolicy(**options),
            audit=audit or MemoryAuditSink(),
            clock=clock,
        )

    # -- files ---------------------------------------------------------------------------------

    def write(self, directory: str | os.PathLike[str]) -> PKIFiles:
        """Write the genuine CA certificates (PEM), CRLs and ARLs (DER) under ``directory``, for
        configurations that read files (Django's ``TWCERT`` setting, ``twcert`` commands)."""
        root = Path(directory)
        (root / "ca").mkdir(parents=True, exist_ok=True)
        (root / "crl").mkdir(parents=True, exist_ok=True)
        cas = []
        for label, ca in self.gpki.cas.items():
            if label.startswith(("ROGUE", "MOICA_ROGUE")):
                continue
            path = root / "ca" / f"{label}.pem"
            path.write_bytes(ca.pem)
            cas.append((label, path, ca.family, ca.generation))
        crls = []
        for label in _ISSUING:
            path = root / "crl" / f"{label}.crl"
            path.write_bytes(self.crl(label))
            crls.append((path, self.gpki.cas[label].complete_crl_url))
        arls = []
        for label in _ROOTS:
            path = root / "crl" / f"{label}-arl.crl"
            path.write_bytes(self.crl(label))
            arls.append(path)
        return PKIFiles(root, tuple(cas), tuple(crls), tuple(arls), dict(self.agency_oid_map))
