"""The demo's test cards: who holds them, their PINs, and which step of the manual each shows.

Every card is issued fresh by a :class:`~twcert.testing.FakeGPKI` centred on the start-up time,
so its certificate is valid (or expired, or revoked, on purpose) at the wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from cryptography import x509

from .. import oids
from ..testing import CardCertificates, FakeGPKI, Revoked
from ..testing.fixtures import AGENCIES, PEOPLE
from ..testing.people import make_id_number

__all__ = ["DEMO_CARDS", "DemoCard", "IssuedCard", "issue_cards"]

_DAY: Final = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DemoCard:
    """One SoftHSM card of the demo (test data: the PIN is printed on purpose)."""

    name: str
    kind: Literal["citizen", "agency"]
    holder: str
    card_serial: str
    pin: str
    #: What the card demonstrates (shown on the cards page and the console).
    shows: str
    #: The personnel account of a citizen card's holder, if any.
    account: str | None = None
    agency_code: str | None = None


_PEOPLE = {p.account: p for p in PEOPLE}
_AGENCIES = {a.code: a for a in AGENCIES}

#: The cards, in the order the console lists them.
DEMO_CARDS: Final = (
    DemoCard(
        "citizen-wang", "citizen", "王小明", "TP00000000000101", "123456",
        "首次使用：輸入帳號 wang.xm（或身分證統一編號）綁定；之後只需PIN碼", account="wang.xm",
    ),
    DemoCard(
        "citizen-chen", "citizen", "陳美玲", "TP00000000000102", "135790",
        "首次使用輸入他人帳號（wang.xm）→ 非同一人；輸入 nobody → 帳號不存在", account="chen.ml",
    ),
    DemoCard(
        "citizen-lin", "citizen", "林志豪", "TP00000000000103", "246810",
        "已卸職：首次使用輸入 lin.zh → 僅現職人員得登入", account="lin.zh",
    ),
    DemoCard("citizen-expired", "citizen", "過期者", "TP00000000000104", "111111", "憑證已過期 → 憑證無效"),
    DemoCard("citizen-revoked", "citizen", "廢止者", "TP00000000000105", "222222", "憑證已廢止 → 憑證無效"),
    DemoCard(
        "agency-dgpa", "agency", "行政院人事行政總處", "GC00000000000101", "24682468",
        "機關憑證：登載與查詢職缺", agency_code="A09000000E",
    ),
    DemoCard(
        "agency-tainan", "agency", "臺南市政府", "GC00000000000102", "13572468",
        "另一機關：只看得到自己機關的職缺", agency_code="376610000A",
    ),
    DemoCard("agency-test", "agency", "測試機關", "GT00000000000101", "99990000", "測試機關憑證 → 拒絕登入"),
    DemoCard(
        "agency-unlisted", "agency", "虛構未登錄機關", "GC00000000000103", "88880000",
        "機關代碼 ZZ9990000X 不在機關代碼檔 → 拒絕登入", agency_code="ZZ9990000X",
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IssuedCard:
    card: DemoCard
    certificates: CardCertificates


def _issue(pki: FakeGPKI, card: DemoCard, now: dt.datetime) -> CardCertificates:
    serial = card.card_serial
    start, end = now - 60 * _DAY, now + 3 * 365 * _DAY
    if card.account is not None:
        person = _PEOPLE[card.account]
        return pki.issue_citizen_card(
            person.name, person.national_id, card_serial=serial, not_before=start, not_after=end
        )
    if card.name == "citizen-expired":
        return pki.issue_citizen_card(
            card.holder,
            make_id_number("C10000001"),
            card_serial=serial,
            not_before=now - 3 * 365 * _DAY,
            not_after=now - 30 * _DAY,
        )
    if card.name == "citizen-revoked":
        return pki.issue_citizen_card(
            card.holder, make_id_number("C10000003"), card_serial=serial, not_before=start, not_after=end
        )
    if card.name == "agency-test":
        return pki.issue_agency_card(
            card.holder,
            "2.16.886.101.99998",
            ca="GTESTCA",
            policies=(oids.GPKI_TEST_POLICY,),
            card_serial=serial,
            not_before=start,
            not_after=end,
        )
    agency = _AGENCIES[str(card.agency_code)]
    return pki.issue_agency_card(agency.name, agency.oid, card_serial=serial, not_before=start, not_after=end)


def issue_cards(pki: FakeGPKI, now: dt.datetime) -> tuple[list[IssuedCard], list[Revoked]]:
    """Issue every demo card; return them and the MOICA CRL entries (the revoked card)."""
    issued = [IssuedCard(card, _issue(pki, card, now)) for card in DEMO_CARDS]
    revoked = [
        Revoked(item.certificates.sign.serial_number, now - 10 * _DAY, x509.ReasonFlags.key_compromise)
        for item in issued
        if item.card.name == "citizen-revoked"
    ]
    return issued, revoked
