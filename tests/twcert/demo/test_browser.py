"""The manual, end to end, in headless Chromium against the running demo — on both adapters.

The same test code walks the Flask demo and the Django demo (``--django``): both serve the same
login page and script (:mod:`twcert.web`), endpoints and pages. Steps 1–5: card type and card
choice, PIN retries and the lock with the right CA's unblock address, first use with each
refusal and then the binding, later logins with the PIN only, the agency refusals, then an
agency registers vacancies (bad and good input) that the public list shows only inside their
online period. Every screen is saved to artifacts/screenshots/ (…/django/ for Django).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import Demo, Screens
from .pages import Site

# The manual's unblock addresses (docs/reference/gpki.md, unblocking).
MOICA_UNBLOCK = "http://moica.nat.gov.tw/html/unblockcard.htm#2"
GCA_UNBLOCK = "https://gcaweb.nat.gov.tw/gcacms/04-04.html"
# The manual's sentence for an invalid card.
CARD_INVALID = "插入之自然人憑證或機關憑證無效"


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Taipei")).date()


@pytest.fixture(scope="session", params=["flask", "django"])
def adapter(request: pytest.FixtureRequest) -> tuple[Demo, Screens]:
    """The running demo with one adapter, and where its screenshots go."""
    if request.param == "flask":
        return request.getfixturevalue("demo"), request.getfixturevalue("screens")
    return request.getfixturevalue("django_demo"), request.getfixturevalue("django_screens")


@pytest.fixture
def site(browser: Any, adapter: tuple[Demo, Screens]) -> Site:
    page = Site(browser, *adapter)
    page.fresh_session()
    return page


def test_home_and_the_public_list(site: Site) -> None:
    site.open("/")
    assert site.find("html").get_attribute("lang") == "zh-Hant"
    assert "事求人機關徵才系統" in site.text("h1")
    site.shot("home")
    site.find("#start-login").click()
    assert site.path == "/auth/login"
    site.shot("login-page")


def test_citizen_first_use_with_account_then_pin_only(site: Site) -> None:
    site.open("/auth/login")
    site.login("citizen-wang", shot="login-citizen-card-and-pin")
    # First use: the manual asks for the custom account or national ID.
    assert site.path == "/auth/first-use"
    assert "首次使用自然人憑證登入" in site.text("main")
    site.first_use("wang.xm", shot="first-use-account")
    assert site.path == "/apps"
    # The header names the holder (from the personnel data), then the account.
    assert "王小明" in site.text("#who") and "wang.xm" in site.text("#who")
    site.shot("apps-after-first-use")

    site.logout()
    site.login("citizen-wang")
    assert site.path == "/apps", "a bound card needs only the PIN"
    site.shot("apps-pin-only")


def test_wrong_pin_twice_then_right(site: Site) -> None:
    site.open("/auth/login")
    site.login("citizen-wang", pin="000000")
    first = site.shown_error()
    assert first.code == "PIN_INCORRECT" and "尚可嘗試 2 次" in first.message_zh and first.message_en
    site.shot("wrong-pin-2-left")
    site.login("citizen-wang", pin="000001")
    second = site.shown_error()
    assert second.code == "PIN_INCORRECT" and "尚可嘗試 1 次" in second.message_zh
    assert "1 try left" in second.message_en
    site.shot("wrong-pin-1-left")
    site.login("citizen-wang")
    assert site.path == "/apps"


def test_three_wrong_pins_lock_the_card_with_the_unblock_address(site: Site) -> None:
    demo = site.demo
    site.open("/auth/login")
    for pin in ("000000", "000001"):
        site.login("citizen-chen", pin=pin)
        assert site.shown_error().code == "PIN_INCORRECT"
    site.login("citizen-chen", pin="000002")
    locked = site.shown_error()
    assert locked.code == "PIN_LOCKED"
    assert MOICA_UNBLOCK in locked.message_zh and locked.link == MOICA_UNBLOCK
    site.shot("card-locked")
    # Locked means locked: the right PIN does not reach the card any more.
    site.login("citizen-chen")
    assert site.shown_error().code == "PIN_LOCKED"
    site.open("/auth/login")

    # The demo's cards page records the unblock (as after MOICA's service).
    site.open("/demo/cards")
    row = site.find(f"tr[data-card='{demo.serial('citizen-chen')}']")
    assert row.find_elements("css selector", "td")[4].text == "0"
    done = site.submit(f"#unlock-{demo.serial('citizen-chen')}", "#card-done")
    assert "完成解鎖" in done.text
    site.shot("cards-unlocked")
    site.open("/auth/login")
    site.login("citizen-chen", pin="000000")
    assert site.shown_error().code == "PIN_INCORRECT", "tries start again at 3 after the unblock"
    site.login("citizen-chen")  # a right PIN ends the run of wrong ones


def test_card_type_and_card_choice(site: Site, adapter: tuple[Demo, Screens]) -> None:
    demo = adapter[0]
    site.open("/auth/login")
    site.read_cards("citizen")
    offered = [o.text for o in site.finds("#twcert-card option")]
    assert any(o.startswith(demo.holder("citizen-wang") + "（") for o in offered)
    assert not any(o.startswith(demo.holder("agency-dgpa") + "（") for o in offered), offered
    site.find("input[name=kind][value=agency]").click()
    offered = [o.text for o in site.finds("#twcert-card option")]
    assert any(o.startswith(demo.holder("agency-dgpa") + "（") for o in offered), offered
    assert not any(o.startswith(demo.holder("citizen-wang") + "（") for o in offered), offered
    site.choose_card("agency-tainan")
    site.shot("card-type-and-choice")
    # The chosen card type and card survive a page load (e.g. back from an error page).
    site.open("/auth/login")
    assert site.find("input[name=kind][value=agency]").is_selected()
    site.read_cards("agency")
    assert site.find("#twcert-card option:checked").text.startswith(demo.holder("agency-tainan") + "（")


def test_a_locked_agency_card_is_sent_to_the_gca_unblock_page(site: Site) -> None:
    site.open("/auth/login")
    for pin in ("00000000", "00000001"):
        site.login("agency-tainan", pin=pin)
        assert site.shown_error().code == "PIN_INCORRECT"
    site.login("agency-tainan", pin="00000002")
    locked = site.shown_error()
    assert locked.code == "PIN_LOCKED" and locked.link == GCA_UNBLOCK and GCA_UNBLOCK in locked.message_zh
    site.shot("agency-card-locked")


def test_first_use_refusals_then_the_binding_then_pin_only(site: Site) -> None:
    site.open("/auth/login")
    for account, code in (("nobody", "ACCOUNT_NOT_FOUND"), ("wang.xm", "HOLDER_MISMATCH")):
        site.login("citizen-chen")
        site.first_use(account)
        assert site.shown_error().code == code
    site.open("/auth/login")
    site.login("citizen-chen")
    site.first_use("chen.ml")
    assert site.path == "/apps" and "陳美玲" in site.text("#who")
    site.logout()
    site.login("citizen-chen")
    assert site.path == "/apps", "bound: the PIN only"
    site.shot("chen-bound-pin-only")


def test_test_agency_card_is_refused(site: Site) -> None:
    site.open("/auth/login")
    site.login("agency-test")
    error = site.shown_error()
    assert error.code == "CERT_TEST" and "請勿使用測試之機關憑證登入" in error.message_zh
    site.shot("test-agency-card-refused")


def test_agency_card_whose_code_is_not_in_the_file_is_refused(site: Site) -> None:
    site.open("/auth/login")
    site.login("agency-unlisted")
    error = site.shown_error()
    assert error.code == "AGENCY_CODE_UNKNOWN"
    assert "ZZ9990000X" in error.message_zh and "機關代碼檔" in error.message_zh
    site.shot("agency-code-not-in-file")


@pytest.mark.parametrize(
    ("card", "account", "code", "words"),
    [
        ("citizen-expired", None, "CERT_EXPIRED", CARD_INVALID),
        ("citizen-revoked", None, "CERT_REVOKED", CARD_INVALID),
        ("citizen-lin", "lin.zh", "NOT_IN_SERVICE", "卸職"),
    ],
)
def test_other_refusals_of_the_manual(
    site: Site, card: str, account: str | None, code: str, words: str
) -> None:
    site.open("/auth/login")
    site.login(card)
    if account is not None:
        site.first_use(account)
    error = site.shown_error()
    assert error.code == code and words in error.message_zh and error.message_en and error.action
    site.shot(f"refused-{code.lower()}")


def test_agency_registers_vacancies_shown_only_inside_their_window(site: Site) -> None:
    today = _today()
    site.open("/auth/login")
    site.login("agency-dgpa")
    assert site.path == "/apps"
    site.find("#menu-D").click()
    site.shot("menu-D")
    site.find("#menu-DD").click()
    site.shot("menu-DD")
    site.find("#menu-register").click()
    # 徵才機關 is the logged-in agency's name from the agency-code file, not an input.
    agency = site.find("#field-agency_name")
    assert agency.get_attribute("value") == "行政院人事行政總處" and agency.get_attribute("readonly")
    assert not agency.get_attribute("name"), "not a form field: never posted"
    site.shot("register-form")

    # Required fields left empty: each one is named, with its text.
    site.find("#field-agency_address").clear()
    site.submit("#submit-vacancy", "#form-errors")
    problems = [li.text for li in site.finds("#form-errors .problems li")]
    for label in ("機關地址", "填寫人姓名", "填寫人電話", "人員區分", "職稱", "名額", "性別", "工作地"):
        assert any(f"「{label}」為必填欄位" in text for text in problems), (label, problems)
    assert site.find("#field-title").get_attribute("aria-invalid") == "true"
    site.shot("register-errors")

    # 名額 that is not a count (nor the feed's 數名/正取…備取… forms) is refused on its field.
    site.fill_vacancy(
        title="名額錯誤",
        agency_address="臺北市",
        start=today,
        end=today + dt.timedelta(days=14),
        headcount="abc",
    )
    site.submit("#submit-vacancy", "#form-errors")
    problems = [li.text for li in site.finds("#form-errors .problems li")]
    assert any("名額" in text for text in problems), problems
    assert not any("VACANCY_" in text for text in problems), "no raw code in the sentence"
    assert site.find("#field-headcount").get_attribute("aria-invalid") == "true"

    now_title = f"資訊處理科員（E2E {today.isoformat()}）"
    site.fill_vacancy(
        title=now_title,
        agency_address="臺北市中正區濟南路1段2-2號",
        start=today,
        end=today + dt.timedelta(days=14),
    )
    registered = site.submit("#submit-vacancy", "#registered")
    assert "已自動上網公告" in registered.text
    site.shot("registered-online")

    later_title = f"法制科員（E2E 未來 {today.isoformat()}）"
    later_start = today + dt.timedelta(days=10)
    site.find("#go-register").click()
    site.fill_vacancy(
        title=later_title,
        agency_address="臺北市中正區濟南路1段2-2號",
        start=later_start,
        end=later_start + dt.timedelta(days=14),
    )
    assert "將於" in site.submit("#submit-vacancy", "#registered").text
    site.shot("registered-scheduled")

    # The agency's query screen: today's window lists the first, not the one starting later.
    site.find("#go-mine").click()
    listed = site.text("table.vacancies tbody")
    assert now_title in listed and later_title not in listed
    site.shot("agency-query-today")
    query = site.find("#query-date")
    later_roc = f"{later_start.year - 1911}/{later_start.month:02d}/{later_start.day:02d}"
    query.clear()
    query.send_keys(later_roc)
    # The answer page shows the queried date in the field's value attribute.
    site.submit("#query-submit", f"#query-date[value='{later_roc}']")
    listed = site.text("table.vacancies tbody")
    assert later_title in listed and now_title in listed  # both windows contain that day
    site.shot("agency-query-later-day")

    # The public list (no login needed) shows only what is online today.
    site.logout()
    site.open("/jobs")
    public = site.text("table.vacancies tbody")
    assert now_title in public and later_title not in public
    assert "張承辦" not in site.text("main"), "the filler's name is not public"
    site.shot("public-list")
