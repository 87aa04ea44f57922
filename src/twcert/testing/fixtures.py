"""Generate (and load back) the committed fixture PKI under ``fixtures/gpki``.

Each end-entity certificate is listed in ``manifest.json`` with what it is and what a strict
validator must decide about it at :data:`~twcert.testing.pki.DEFAULT_NOW` (``expect``: ``ok`` or
an error code of :mod:`twcert.errors`). Regenerate with ``python fixtures/generate.py``.

The CRLs in ``crl/`` describe the PKI at that fixed instant (nextUpdate six days later), and the
project's tests judge everything at it. ``crl/live/`` holds the same revocation state re-signed
with a nextUpdate ten years ahead (:func:`reissue_live_crls`), so the fixtures' CAs and good
certificates also validate on the real clock (:meth:`FixtureSet.validator`). The time-bound
certificates (``citizen-expired``, ``citizen-not-yet-valid``) keep the manifest's verdicts only
at the fixed instant.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import oids
from ..certificate import load_certificate
from ..revocation import CRLCache
from ..validation import Validator
from .kit import preloaded_validator
from .people import FakeAgency, FakePerson, make_id_number
from .pki import DEFAULT_NOW, ENCRYPTION_USAGE, FakeGPKI, Issued, KeyPool
from .revocation import Revoked, build_crl

__all__ = ["AGENCIES", "LIVE_CRL_LIFETIME", "PEOPLE", "FixtureSet", "generate", "reissue_live_crls"]

#: Synthetic civil servants of the personnel directory (no real person's data).
PEOPLE: tuple[FakePerson, ...] = (
    FakePerson("wang.xm", "王小明", "A123456789", "A09000000E"),
    FakePerson("chen.ml", "陳美玲", make_id_number("B22000128"), "A09000000E"),
    FakePerson("lin.zh", "林志豪", make_id_number("F13000456"), "A09000000E", in_service=False),
    FakePerson("huang.yt", "黃雅婷", make_id_number("AC0000123"), "376610000A"),
    FakePerson("lee.jh", "李家豪", make_id_number("H14000678"), "A09000000E"),
)

#: Synthetic agencies: DGPA-style codes with the organisation OID their cards carry.
AGENCIES: tuple[FakeAgency, ...] = (
    FakeAgency("A09000000E", "行政院人事行政總處", "2.16.886.101.20003.20007", "臺北市中正區濟南路1段2-2號"),
    FakeAgency("376610000A", "臺南市政府", "2.16.886.101.90009", "臺南市安平區永華路2段6號"),
    # An agency whose certificate exists but whose code is not in the agency-code file.
    FakeAgency("ZZ9990000X", "虛構未登錄機關", "2.16.886.101.99999"),
)

_DAY = dt.timedelta(days=1)

#: How long the ``crl/live`` CRLs stay fresh after the fixtures' instant.
LIVE_CRL_LIFETIME = dt.timedelta(days=3650)
_LIVE_NUMBER_OFFSET = 1000


def _write(directory: Path, name: str, issued: Issued) -> dict[str, str]:
    (directory / "ee").mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(parents=True, exist_ok=True)
    (directory / "ee" / f"{name}.pem").write_bytes(issued.pem)
    (directory / "keys" / f"{name}.key.pem").write_bytes(issued.key_pem)
    return {"file": f"ee/{name}.pem", "key": f"keys/{name}.key.pem", "serial": f"{issued.serial_number:x}"}


def generate(directory: str | os.PathLike[str], *, now: dt.datetime = DEFAULT_NOW) -> None:
    """Build a fresh fixture PKI in ``directory`` (overwriting it)."""
    root = Path(directory)
    pki = FakeGPKI(now=now, base_url="http://127.0.0.1:8080", keys=KeyPool())
    pki.save(root)
    people = {p.account: p for p in PEOPLE}
    agencies = {a.code: a for a in AGENCIES}
    entries: dict[str, dict[str, Any]] = {}

    def add(name: str, issued: Issued, **info: Any) -> Issued:
        entries[name] = {**_write(root, name, issued), **info}
        return issued

    wang = people["wang.xm"]
    card = pki.issue_citizen_card(wang.name, wang.national_id, card_serial="TP00000000000001")
    add(
        "citizen-wang",
        card.sign,
        kind="citizen",
        ca="MOICA2",
        person="wang.xm",
        card_serial=card.card_serial,
        expect="ok",
    )
    add(
        "citizen-wang-enc",
        card.encrypt,
        kind="citizen",
        ca="MOICA2",
        person="wang.xm",
        expect="CERT_WRONG_USAGE",
    )
    chen = people["chen.ml"]
    card = pki.issue_citizen_card(chen.name, chen.national_id, ca="MOICA3", card_serial="TP00000000000002")
    add(
        "citizen-chen",
        card.sign,
        kind="citizen",
        ca="MOICA3",
        person="chen.ml",
        card_serial=card.card_serial,
        expect="ok",
    )
    add(
        "citizen-chen-enc",
        card.encrypt,
        kind="citizen",
        ca="MOICA3",
        person="chen.ml",
        expect="CERT_WRONG_USAGE",
    )
    lin = people["lin.zh"]
    card = pki.issue_citizen_card(lin.name, lin.national_id, card_serial="TP00000000000003")
    add(
        "citizen-lin-left-service",
        card.sign,
        kind="citizen",
        ca="MOICA2",
        person="lin.zh",
        card_serial=card.card_serial,
        expect="ok",
    )
    huang = people["huang.yt"]
    card = pki.issue_citizen_card(huang.name, huang.national_id, card_serial="TP00000000000004")
    add(
        "citizen-huang-arc",
        card.sign,
        kind="citizen",
        ca="MOICA2",
        person="huang.yt",
        card_serial=card.card_serial,
        expect="ok",
    )
    lee = people["lee.jh"]
    add(
        "citizen-moica-g1",
        pki.issue_citizen(lee.name, lee.national_id, ca="MOICA1"),
        kind="citizen",
        ca="MOICA1",
        person="lee.jh",
        expect="ok",
    )

    add(
        "citizen-expired",
        pki.issue_citizen(
            "過期者",
            make_id_number("C10000001"),
            not_before=dt.datetime(2020, 6, 1, tzinfo=dt.UTC),
            not_after=now - 30 * _DAY,
        ),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_EXPIRED",
    )
    add(
        "citizen-not-yet-valid",
        pki.issue_citizen(
            "未生效", make_id_number("C10000002"), not_before=now + 30 * _DAY, not_after=now + 5 * 365 * _DAY
        ),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_NOT_YET_VALID",
    )
    revoked = add(
        "citizen-revoked",
        pki.issue_citizen("廢止者", make_id_number("C10000003")),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_REVOKED",
    )
    on_hold = add(
        "citizen-on-hold",
        pki.issue_citizen("停用者", make_id_number("C10000004")),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_REVOKED",
    )
    released = add(
        "citizen-released",
        pki.issue_citizen("復用者", make_id_number("C10000005")),
        kind="citizen",
        ca="MOICA2",
        expect="ok",
        note="on hold in an older CRL, then released",
    )
    add(
        "citizen-rogue-ca",
        pki.issue_citizen("冒名者", make_id_number("C10000006"), ca="MOICA_ROGUE"),
        kind="citizen",
        ca="MOICA_ROGUE",
        expect="CERT_UNTRUSTED",
        note="issuer DN of MOICA, unknown key",
    )
    add(
        "citizen-bad-signature",
        pki.issue_citizen("竄改者", make_id_number("C10000007"), signing_key=pki.keys.fresh()),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_UNTRUSTED",
    )
    add(
        "citizen-no-key-usage",
        pki.issue_citizen("無用途", make_id_number("C10000008"), usage=None),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_WRONG_USAGE",
    )
    add(
        "citizen-expired-ca",
        pki.issue_citizen(
            "舊卡者",
            make_id_number("C10000009"),
            ca="MOICA_EXPIRED",
            not_before=dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2023, 12, 1, tzinfo=dt.UTC),
        ),
        kind="citizen",
        ca="MOICA_EXPIRED",
        expect="CERT_EXPIRED",
    )
    add(
        "citizen-test-policy",
        pki.issue_citizen("測試者", make_id_number("C10000010"), policies=(oids.GPKI_TEST_POLICY,)),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_TEST",
    )

    dgpa = agencies["A09000000E"]
    card = pki.issue_agency_card(dgpa.name, dgpa.oid, card_serial="GC00000000000001")
    add(
        "agency-dgpa",
        card.sign,
        kind="agency",
        ca="GCA",
        agency="A09000000E",
        card_serial=card.card_serial,
        expect="ok",
    )
    add(
        "agency-dgpa-enc",
        card.encrypt,
        kind="agency",
        ca="GCA",
        agency="A09000000E",
        expect="CERT_WRONG_USAGE",
    )
    tainan = agencies["376610000A"]
    card = pki.issue_agency_card(tainan.name, tainan.oid, card_serial="GC00000000000002")
    add(
        "agency-tainan",
        card.sign,
        kind="agency",
        ca="GCA",
        agency="376610000A",
        card_serial=card.card_serial,
        expect="ok",
    )
    unknown = agencies["ZZ9990000X"]
    card = pki.issue_agency_card(unknown.name, unknown.oid, card_serial="GC00000000000003")
    add(
        "agency-unlisted",
        card.sign,
        kind="agency",
        ca="GCA",
        agency="ZZ9990000X",
        card_serial=card.card_serial,
        expect="ok",
        note="valid certificate; its agency code is not in the agency-code file",
    )
    card = pki.issue_agency_card(
        "測試機關",
        "2.16.886.101.99998",
        ca="GTESTCA",
        policies=(oids.GPKI_TEST_POLICY,),
        card_serial="GT00000000000001",
    )
    add(
        "agency-test",
        card.sign,
        kind="agency",
        ca="GTESTCA",
        card_serial=card.card_serial,
        expect="CERT_TEST",
    )
    add(
        "business-moeaca",
        pki.issue(
            "MOEACA",
            pki.agency_subject("範例股份有限公司"),
            directory_attributes=[
                (oids.SUBJECT_TYPE, oids.SubjectType.COMPANY, "oid"),
                (oids.UNIFORM_BUSINESS_NUMBER, "04595252", "printable"),
            ],
        ),
        kind="business",
        ca="MOEACA",
        expect="CERT_FAMILY_NOT_ACCEPTED",
    )
    add(
        "organisation-xca",
        pki.issue_agency("範例國民小學", "2.16.886.101.88888", ca="XCA"),
        kind="organisation",
        ca="XCA",
        expect="CERT_FAMILY_NOT_ACCEPTED",
    )
    add(
        "citizen-encryption-only",
        pki.issue_citizen("加密者", make_id_number("C10000011"), usage=ENCRYPTION_USAGE),
        kind="citizen",
        ca="MOICA2",
        expect="CERT_WRONG_USAGE",
    )

    # CRLs: MOICA2 complete + partition 1, an older one with the hold that was later released.
    crl_dir = root / "crl"
    crl_dir.mkdir(exist_ok=True)
    this_update, next_update = now - _DAY, now + 6 * _DAY
    moica = pki.cas["MOICA2"]
    listed = [
        Revoked(revoked.serial_number, now - 10 * _DAY, x509.ReasonFlags.key_compromise),
        Revoked(on_hold.serial_number, now - 5 * _DAY, x509.ReasonFlags.certificate_hold),
    ]
    crls: dict[str, dict[str, str]] = {}

    def crl(name: str, der: bytes, ca: str, **info: str) -> None:
        (crl_dir / f"{name}.crl").write_bytes(der)
        crls[name] = {"file": f"crl/{name}.crl", "ca": ca, **info}

    crl(
        "MOICA2-complete",
        build_crl(moica, listed, this_update=this_update, next_update=next_update, crl_number=20),
        "MOICA2",
        url=moica.complete_crl_url,
    )
    crl(
        "MOICA2-partition-1",
        build_crl(
            moica,
            listed,
            this_update=this_update,
            next_update=next_update,
            crl_number=20,
            partition_url=moica.partition_crl_url(1),
        ),
        "MOICA2",
        url=moica.partition_crl_url(1),
    )
    crl(
        "MOICA2-old-with-hold",
        build_crl(
            moica,
            [*listed, Revoked(released.serial_number, now - 20 * _DAY, x509.ReasonFlags.certificate_hold)],
            this_update=now - 15 * _DAY,
            next_update=now - 8 * _DAY,
            crl_number=10,
        ),
        "MOICA2",
        note="stale",
    )
    crl(
        "MOICA2-wrong-key",
        build_crl(moica, [], this_update=this_update, next_update=next_update, signing_key=pki.keys.fresh()),
        "MOICA2",
        note="signed by the wrong key",
    )
    for label in ("MOICA1", "MOICA3", "GCA", "GTESTCA", "MOEACA", "XCA", "MOICA_EXPIRED"):
        ca = pki.cas[label]
        crl(
            f"{label}-complete",
            build_crl(ca, [], this_update=this_update, next_update=next_update),
            label,
            url=ca.complete_crl_url,
        )
    for label in ("GRCA1", "GRCA2", "GRCA3"):
        ca = pki.cas[label]
        crl(
            f"{label}-arl",
            build_crl(ca, [], this_update=this_update, next_update=next_update),
            label,
            url=ca.complete_crl_url,
        )

    manifest = {
        "now": now.isoformat(),
        "people": [_slots(p) for p in PEOPLE],
        "agencies": [_slots(a) for a in AGENCIES],
        "certificates": entries,
        "crls": crls,
    }
    (root / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    reissue_live_crls(root)


def reissue_live_crls(
    directory: str | os.PathLike[str], *, lifetime: dt.timedelta = LIVE_CRL_LIFETIME
) -> dict[str, dict[str, str]]:
    """Re-sign the fixture CRLs that describe the current state with the committed CA keys:
    same entries and scope, thisUpdate at the fixtures' instant, nextUpdate ``lifetime`` later.
    Written to ``crl/live/`` with ``crl/live/index.json``; certificates are left untouched.
    Stale and wrongly signed CRLs (those with a ``note``) have no live copy."""
    root = Path(directory)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    pki = FakeGPKI.load(root, keys=KeyPool(reuse=True))
    now = dt.datetime.fromisoformat(manifest["now"])
    live = root / "crl" / "live"
    live.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, str]] = {}
    for name, entry in manifest["crls"].items():
        if "note" in entry:
            continue
        old = x509.load_der_x509_crl((root / entry["file"]).read_bytes())
        listed = [Revoked(item.serial_number, item.revocation_date_utc, _reason(item)) for item in old]
        ca = pki.cas[entry["ca"]]
        der = build_crl(
            ca,
            listed,
            this_update=now,
            next_update=now + lifetime,
            crl_number=_crl_number(old) + _LIVE_NUMBER_OFFSET,
            partition_url=entry["url"] if "partition" in name else None,
        )
        (live / f"{name}.crl").write_bytes(der)
        index[name] = {"file": f"crl/live/{name}.crl", "ca": entry["ca"], "url": entry["url"]}
    (live / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index


def _reason(item: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return item.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def _slots(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


@dataclass(frozen=True)
class FixtureSet:
    """The committed fixture PKI, loaded for tests and demos."""

    directory: Path
    pki: FakeGPKI
    manifest: Mapping[str, Any]

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> FixtureSet:
        root = Path(directory)
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        # End-entity keys are recycled (fast); CAs and "fresh" keys stay distinct.
        return cls(root, FakeGPKI.load(root, keys=KeyPool(reuse=True)), manifest)

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.manifest["now"])

    @property
    def certificates(self) -> Mapping[str, Mapping[str, Any]]:
        return self.manifest["certificates"]  # type: ignore[no-any-return]

    def pem(self, name: str) -> bytes:
        return (self.directory / str(self.certificates[name]["file"])).read_bytes()

    def issued(self, name: str) -> Issued:
        entry = self.certificates[name]
        cert = x509.load_pem_x509_certificate((self.directory / entry["file"]).read_bytes())
        key = serialization.load_pem_private_key((self.directory / entry["key"]).read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return Issued(cert, key)

    def crl(self, name: str) -> bytes:
        return (self.directory / str(self.manifest["crls"][name]["file"])).read_bytes()

    @property
    def live_crls(self) -> Mapping[str, Mapping[str, str]]:
        """The long-lived CRLs of ``crl/live`` (see :func:`reissue_live_crls`)."""
        path = self.directory / "crl" / "live" / "index.json"
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def validator(self, *, clock: Callable[[], dt.datetime] | None = None, **options: Any) -> Validator:
        """A Validator trusting the fixture CAs with the live CRLs and ARLs preloaded and
        downloads off; ``clock`` defaults to the real clock (pass ``lambda: fs.now`` for the
        manifest's verdicts on the time-bound certificates)."""
        cache = CRLCache()
        arls = []
        for name, entry in self.live_crls.items():
            der = (self.directory / entry["file"]).read_bytes()
            if name.endswith("-arl"):
                arls.append(der)
            else:
                cache.preload(der, load_certificate(self.pki.cas[entry["ca"]].der), url=entry["url"])
        return preloaded_validator(self.pki.trust_store(), cache, arls, clock=clock, **options)
