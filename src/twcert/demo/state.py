"""Build the demo's world in a state directory, fresh at every start.

* a fake GPKI centred on *now*: its CA keys under ``private/`` (never served), the public part
  under ``pki/`` — CA certificates (``pki/ca/<CA>.pem``, ``pki/certs/<CA>.cer``) and CRLs valid
  for a week (``pki/crl/<CA>/complete.crl``), the only files ``/pki/`` serves (:func:`public_pki_file`);
* SoftHSM2 tokens laid out like GPKI cards (``hsm/``), one per :data:`~.cards.DEMO_CARDS` entry;
* SQLite stores for the login (``twcert.db``: nonces, PIN counts, bindings, the personnel
  directory and the agency-code table from :mod:`twcert.testing.fixtures`) and the vacancies
  (``vacancies.db``);
* the PIN ledger of the local signing agent (``agent-ledger.json``).

Nothing is read from the repository: the demo runs from an installed package.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..agency import Agency, AgencyResolver
from ..card.softhsm import SoftCard, SoftHsm, provision
from ..certificate import load_certificate
from ..login import LoginService, LoginStores
from ..personnel import Person
from ..pin import PinRecord
from ..revocation import CARevocation, CRLCache, RevocationChecker
from ..stores.sql import SqlStores
from ..testing import FakeCA, FakeGPKI, KeyPool, Revoked, build_crl
from ..testing.fixtures import AGENCIES, PEOPLE
from ..validation import Validator
from .cards import DemoCard, IssuedCard, issue_cards

__all__ = ["ISSUING_CAS", "MARKER", "ROOT_CAS", "DemoState", "build_state", "public_pki_file"]

#: A file that marks a directory as the demo's own (so a fresh start may empty it).
MARKER: Final = ".twcert-demo"
_WEEK: Final = dt.timedelta(days=7)
#: CAs whose CRLs are preloaded (the GRCA ARLs go to the validator as CA CRLs).
ISSUING_CAS: Final = ("MOICA1", "MOICA2", "MOICA3", "GCA", "GTESTCA", "MOEACA", "XCA")
ROOT_CAS: Final = ("GRCA1", "GRCA2", "GRCA3")
_UNLISTED: Final = "ZZ9990000X"


@dataclass(frozen=True)
class DemoState:
    """The built world: where it is and the services over it."""

    directory: Path
    now: dt.datetime
    pki: FakeGPKI
    cards: tuple[DemoCard, ...]
    hsm: SoftHsm
    stores: SqlStores
    login_service: LoginService
    vacancy_url: str

    @property
    def agent_ledger(self) -> Path:
        return self.directory / "agent-ledger.json"

    def card(self, card_serial: str) -> DemoCard | None:
        return next((c for c in self.cards if c.card_serial == card_serial), None)


def _prepare(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise FileExistsError(f"{directory} is not empty and is not a twcert demo directory")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("twcert demo state; rebuilt at every start\n", encoding="utf-8")


def _crls(pki: FakeGPKI, revoked: list[Revoked], now: dt.datetime, root: Path) -> dict[str, bytes]:
    """One complete CRL per CA, written where the certificates' CDPs point (under ``pki/``)."""
    result: dict[str, bytes] = {}
    for label in (*ISSUING_CAS, *ROOT_CAS):
        ca = pki.cas[label]
        entries = revoked if label == "MOICA2" else []
        der = build_crl(ca, entries, this_update=now - dt.timedelta(hours=1), next_update=now + _WEEK)
        path = root / "pki" / "crl" / label / "complete.crl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(der)
        result[label] = der
    return result


def _publish_certificates(pki: FakeGPKI, public: Path) -> None:
    (public / "ca").mkdir(parents=True, exist_ok=True)
    (public / "certs").mkdir(parents=True, exist_ok=True)
    for label, ca in pki.cas.items():
        (public / "ca" / f"{label}.pem").write_bytes(ca.pem)
        (public / "certs" / f"{label}.cer").write_bytes(ca.der)


def public_pki_file(state: DemoState, name: str) -> tuple[Path, str] | None:
    """The file ``/pki/<name>`` serves and its media type, or ``None``: an allow-list, not a directory.

    Only CA certificates (``ca/<CA>.pem``, ``certs/<CA>.cer``) and complete CRLs
    (``crl/<CA>/complete.crl``) of the demo's CAs are public.
    """
    allowed: dict[str, str] = {}
    for label in state.pki.cas:
        allowed[f"ca/{label}.pem"] = "application/x-pem-file"
        allowed[f"certs/{label}.cer"] = "application/pkix-cert"
        allowed[f"crl/{label}/complete.crl"] = "application/pkix-crl"
    media_type = allowed.get(name)
    if media_type is None:
        return None
    path = state.directory / "pki" / name
    return (path, media_type) if path.is_file() else None


def _validator(pki: FakeGPKI, crls: dict[str, bytes]) -> Validator:
    cache = CRLCache()
    for label in ISSUING_CAS:
        ca: FakeCA = pki.cas[label]
        cache.preload(crls[label], load_certificate(ca.der), url=ca.complete_crl_url)
    # CRLs are preloaded, never fetched during a login (HARD_FAIL: no answer, no login).
    checker = RevocationChecker(crls=cache, fetch_on_demand=False)
    ca_revocation = CARevocation([crls[label] for label in ROOT_CAS])
    return Validator(pki.trust_store(), checker=checker, ca_revocation=ca_revocation)


def _soft_card(pki: FakeGPKI, item: IssuedCard) -> SoftCard:
    sign, encrypt = item.certificates.sign, item.certificates.encrypt
    chain = []
    by_subject = {ca.certificate.subject: ca.certificate for ca in pki.cas.values()}
    current = sign.certificate
    while current.issuer != current.subject and current.issuer in by_subject:
        current = by_subject[current.issuer]
        chain.append(current)
    return SoftCard(
        card_serial=item.card.card_serial,
        pin=item.card.pin,
        so_pin="87654321",
        sign_certificate=sign.certificate,
        sign_key=sign.key,
        encryption_certificate=encrypt.certificate,
        encryption_key=encrypt.key,
        ca_certificates=tuple(chain),
    )


def _login_service(directory: Path, validator: Validator) -> tuple[SqlStores, LoginService]:
    stores = SqlStores(f"sqlite:///{directory / 'twcert.db'}")
    stores.personnel.upsert(
        Person(p.account, p.national_id, p.name, p.in_service, p.agency_code) for p in PEOPLE
    )
    # ZZ9990000X stays out of the agency-code table: its card is the manual's "not in the file".
    stores.agencies.upsert(Agency(a.code, a.name, address=a.address) for a in AGENCIES if a.code != _UNLISTED)
    resolver = AgencyResolver(stores.agencies, oid_map={a.oid: a.code for a in AGENCIES})
    service = LoginService(
        validator,
        LoginStores(
            stores.nonces, stores.personnel, stores.bindings, resolver, PinRecord(stores.pin_counters)
        ),
    )
    return stores, service


def build_state(directory: str | Path, *, base_url: str, now: dt.datetime | None = None) -> DemoState:
    """Build a fresh world in ``directory`` (emptied first if it is a previous demo's).

    :param base_url: where the certificates' CRL and CA links point (the demo serves ``pki/``).
    """
    root = Path(directory).resolve()
    _prepare(root)
    when = now or dt.datetime.now(dt.UTC)
    pki = FakeGPKI(now=when, base_url=base_url, keys=KeyPool())
    # CA keys stay out of anything the site serves; pki/ gets certificates and CRLs only.
    pki.save(root / "private" / "pki")
    _publish_certificates(pki, root / "pki")
    issued, revoked = issue_cards(pki, when)
    crls = _crls(pki, revoked, when, root)
    hsm = provision(root / "hsm", [_soft_card(pki, item) for item in issued])
    stores, service = _login_service(root, _validator(pki, crls))
    cards = tuple(item.card for item in issued)
    manifest = {
        "built_at": when.isoformat(),
        "cards": [
            {"name": c.name, "kind": c.kind, "holder": c.holder, "card_serial": c.card_serial, "pin": c.pin}
            for c in cards
        ],
    }
    (root / "cards.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return DemoState(root, when, pki, cards, hsm, stores, service, f"sqlite:///{root / 'vacancies.db'}")
