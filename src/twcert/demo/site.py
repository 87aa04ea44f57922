"""What the demo's pages do, independent of the web framework serving them.

The vacancy board of the manual's step 5: register a vacancy for the logged-in agency, the
public listing (only vacancies inside their online period), the agency's own query, and the
demo-only reset of a locked test card.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from twcert_vacancy import (
    Actor,
    Headcount,
    PersonKind,
    SqlVacancyRepository,
    Vacancy,
    ValidityPeriod,
    taipei_date,
    work_place,
)
from twcert_vacancy.errors import VacancyExistsError
from twcert_vacancy.repository import OnlineQuery, Page
from twcert_vacancy.rocdate import RocDate
from twcert_vacancy.rules import Checked, VacancyRules

from ..agency import Agency
from ..card.agent import LocalAgent
from ..card.guard import PinGuard
from ..errors import GCA_UNBLOCK_URL, MOICA_UNBLOCK_URL
from .forms import FormValues, registration
from .state import DemoState

__all__ = ["DemoSite", "Principalish", "Viewer", "cards_context", "roc"]

_SEED_AGENCY: Final = "376610000A"


class Principalish(Protocol):
    """The logged-in principal as either adapter gives it."""

    @property
    def principal_id(self) -> str: ...

    @property
    def agency_code(self) -> str | None: ...

    @property
    def agency_name(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in principal read back from a session (:meth:`twcert.Principal.as_dict`)."""

    kind: str
    principal_id: str
    account: str | None
    agency_code: str | None
    agency_name: str | None

    @classmethod
    def from_dict(cls, data: object) -> Viewer | None:
        if not isinstance(data, Mapping) or data.get("kind") not in ("citizen", "agency"):
            return None
        return cls(
            str(data["kind"]),
            str(data.get("principal_id", "")),
            data.get("account"),
            data.get("agency_code"),
            data.get("agency_name"),
        )


def roc(day: dt.date) -> str:
    """``115/11/26``: dates as the board shows them."""
    return RocDate.from_date(day).slashed()


@dataclass
class DemoSite:
    """The demo's services: built once at start-up, shared by every request."""

    state: DemoState
    agent_url: str
    #: The local signing agent (to "insert" one card, as in a single reader).
    agent: LocalAgent | None = None
    repository: SqlVacancyRepository = field(init=False)
    rules: VacancyRules = field(default_factory=VacancyRules)
    #: The board's date (``twcert demo --today 115/12/20``), to see a window open or close;
    #: ``None``: today. Card logins keep the real time (the certificates are built around it).
    board_date: dt.date | None = None

    def __post_init__(self) -> None:
        self.repository = SqlVacancyRepository(self.state.vacancy_url)
        self.agent_guard = PinGuard.from_file(self.state.agent_ledger)
        real = dt.datetime.now(dt.UTC)
        self._shift = (
            dt.timedelta(0)
            if self.board_date is None
            else dt.timedelta(days=(self.board_date - taipei_date(real)).days)
        )

    # -- time ------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The board's clock: the real time, moved to :attr:`board_date` if one was given."""
        return dt.datetime.now(dt.UTC) + self._shift

    def today(self) -> dt.date:
        """Today in Taipei: the board's dates are Taiwan calendar dates."""
        return taipei_date(self.now())

    # -- agencies ----------------------------------------------------------------------------

    def agency(self, code: str | None) -> Agency | None:
        return self.state.stores.agencies.get(code) if code else None

    def agency_name(self, principal: Principalish) -> str:
        """徵才機關: the logged-in agency's name in the agency-code file (never what a form says)."""
        agency = self.agency(principal.agency_code)
        return agency.name if agency else ""

    def holder(self, kind: str | None, principal_id: str | None) -> str:
        """Who the header names: the citizen card holder's name, or the agency's name."""
        if not principal_id:
            return ""
        if kind == "agency":
            agency = self.agency(principal_id)
            return agency.name if agency else principal_id
        person = self.state.stores.personnel.get(principal_id)
        return person.name if person else principal_id

    def form_defaults(self, principal: Principalish) -> dict[str, Any]:
        """The registration form's first values: the agency from the login."""
        agency = self.agency(principal.agency_code)
        return {
            "agency_name": self.agency_name(principal),
            "agency_address": agency.address if agency else "",
            "period_start": roc(self.today()),
            "period_end": roc(self.today() + dt.timedelta(days=14)),
            "work_places": [],
        }

    # -- vacancies ---------------------------------------------------------------------------

    def _work_id(self) -> str:
        # Like the board's ids: ROC year and month, then a serial (random here).
        today = RocDate.from_date(self.today())
        return f"{today.year:03d}{today.month:02d}{secrets.randbelow(100_000):05d}"

    def register(self, form: FormValues, principal: Principalish) -> Checked:
        """Check and store a vacancy for the principal's agency (raises the catalogued errors)."""
        agency_code = principal.agency_code or ""
        for _ in range(5):
            checked = registration(
                form,
                work_id=self._work_id(),
                agency_code=agency_code,
                agency_name=self.agency_name(principal),
                rules=self.rules,
                today=self.today(),
            )
            try:
                stored = self.repository.add(checked.vacancy, principal, at=self.now())
            except VacancyExistsError:
                continue  # a random id taken: draw another
            return Checked(stored, checked.warnings)
        raise VacancyExistsError(work_id="?")

    def public(self, page: int = 1) -> Page:
        """What the public listing shows today: vacancies inside their online period."""
        return self.repository.online(OnlineQuery(self.now(), page=page, per_page=20))

    def agency_vacancies(self, agency_code: str, day: dt.date) -> list[Vacancy]:
        return self.repository.for_agency(agency_code, day)

    def get(self, work_id: str) -> Vacancy:
        return self.repository.get(work_id)

    def seed(self) -> None:
        """One published vacancy of another agency, so the public list is not empty at first."""
        agency = self.agency(_SEED_AGENCY)
        if agency is None:
            return
        today = self.today()
        vacancy = Vacancy(
            work_id=self._work_id(),
            agency_code=agency.code,
            agency_name=agency.name,
            title="行政專員（示範資料）",
            person_kind=PersonKind.GENERAL,
            headcount=Headcount.of(1),
            work_places=(work_place(72),),
            period=ValidityPeriod(today - dt.timedelta(days=2), today + dt.timedelta(days=12)),
            agency_address=agency.address,
            filler_name="示範資料",
            filler_phone="06-299-1111",
        )
        self.repository.add(vacancy, Actor("demo-seed", agency.code), at=self.now())

    # -- cards -------------------------------------------------------------------------------

    def unlock(self, card_serial: str) -> bool:
        """Record that a test card was unblocked (as after MOICA/GCA's unblock service).

        It clears both PIN ledgers — the agent's and the login service's — and cannot change a
        card: twcert never unblocks PINs.
        """
        if self.state.card(card_serial) is None:
            return False
        self.agent_guard.ledger.record_unblock(card_serial)
        record = self.state.login_service.stores.pin_record
        if record is not None:
            record.record_unblock(card_serial)
        return True

    def tries_left(self, card_serial: str) -> int | None:
        return self.agent_guard.status(card_serial).tries_left

    def insert(self, card_serial: str | None) -> bool:
        """Leave only this card in the agent's "reader" (``None``: every card, one per reader)."""
        if self.agent is None or (card_serial is not None and self.state.card(card_serial) is None):
            return False
        self.agent.config = dataclasses.replace(self.agent.config, card_serial=card_serial)
        return True

    def inserted(self) -> str | None:
        """The only card in the reader, or ``None`` when every card is."""
        return self.agent.config.card_serial if self.agent is not None else None


def cards_context(site: DemoSite, done: str | None, card: str | None) -> dict[str, Any]:
    """What the test-cards page shows (either framework); ``done`` names what was just done."""
    message = None
    if done == "unlocked" and card is not None and site.state.card(card) is not None:
        message = f"已記錄卡片 {card} 完成解鎖，PIN錯誤次數已歸零。"
    elif done == "inserted":
        message = "讀卡機已更新。"
    return {
        "cards": site.state.cards,
        "tries": site.tries_left,
        "inserted": site.inserted(),
        "done": message,
        "unblock_urls": (MOICA_UNBLOCK_URL, GCA_UNBLOCK_URL),
    }
