"""The same manual end to end with ``twcert demo --django``: the Django adapter's login page,
backend and views, the same cards, agent and vacancy pages, in headless Chromium."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import Demo, Screens
from .pages import ShownError, Site

MOICA_UNBLOCK = "http://moica.nat.gov.tw/html/unblockcard.htm#2"


class DjangoSite(Site):
    """The Django adapter's login page has no card list: the demo "inserts" one card instead."""

    def insert(self, name: str) -> None:
        self.open("/demo/cards")
        self.submit(f"#insert-{self.demo.serial(name)}", "#card-done")
        assert self.demo.serial(name) in self.text("#inserted")

    def login(
        self, name: str, pin: str | None = None, *, shot: str | None = None, account: str | None = None
    ) -> None:
        self.insert(name)
        self.open("/auth/")
        if account is not None:
            self._submit(self.demo.pin(name) if pin is None else pin)
            assert self.shown_error().code == "ACCOUNT_REQUIRED"
            self.find("#twcert-account").send_keys(account)
        self._submit(self.demo.pin(name) if pin is None else pin, shot=shot)

    def _submit(self, pin: str, *, shot: str | None = None) -> None:
        field = self.find("#twcert-pin")
        field.clear()
        field.send_keys(pin)
        if shot:
            self.shot(shot)
        self.driver.execute_script("document.getElementById('twcert-message').hidden = true")
        self.find("#twcert-submit").click()
        self.wait(lambda d: self.path != "/auth/" or self.find("#twcert-message").is_displayed())

    def shown_error(self) -> ShownError:
        box = self.find("#twcert-message")
        assert box.is_displayed()
        texts = [p.text for p in box.find_elements("css selector", "p")]
        links = box.find_elements("css selector", "a")
        return ShownError(
            code=str(box.get_attribute("data-code")),
            message_zh=texts[0],
            message_en=texts[1],
            action=" ".join(texts[2:]),
            link=(links[0].get_attribute("href") or "") if links else "",
        )

    def logout(self) -> None:
        self.find("#logout").click()
        self.wait(lambda d: self.path == "/auth/")


@pytest.fixture
def site(browser: Any, django_demo: Demo, django_screens: Screens) -> DjangoSite:
    page = DjangoSite(browser, django_demo, django_screens)
    page.fresh_session()
    return page


def test_citizen_first_use_then_pin_only(site: DjangoSite) -> None:
    site.login("citizen-wang", account="wang.xm", shot="first-use-account")
    assert site.path == "/apps" and "wang.xm" in site.text("#who")
    site.shot("apps-after-first-use")
    site.logout()
    site.login("citizen-wang")
    assert site.path == "/apps"


def test_three_wrong_pins_lock_the_card(site: DjangoSite) -> None:
    for pin, left in (("000000", "2"), ("000001", "1")):
        site.login("citizen-chen", pin=pin)
        error = site.shown_error()
        assert error.code == "PIN_INCORRECT" and f"尚可嘗試 {left} 次" in error.message_zh
    site.login("citizen-chen", pin="000002")
    locked = site.shown_error()
    assert locked.code == "PIN_LOCKED" and MOICA_UNBLOCK in locked.message_zh and locked.link == MOICA_UNBLOCK
    site.shot("card-locked")


@pytest.mark.parametrize(
    ("card", "code", "words"),
    [
        ("agency-test", "CERT_TEST", "請勿使用測試之機關憑證登入"),
        ("agency-unlisted", "AGENCY_CODE_UNKNOWN", "ZZ9990000X"),
    ],
)
def test_agency_refusals(site: DjangoSite, card: str, code: str, words: str) -> None:
    site.login(card)
    error = site.shown_error()
    assert error.code == code and words in error.message_zh and error.message_en
    site.shot(f"refused-{code.lower()}")


def test_agency_registers_and_the_public_list_follows_the_window(site: DjangoSite) -> None:
    today = dt.datetime.now(ZoneInfo("Asia/Taipei")).date()
    site.login("agency-dgpa")
    assert site.path == "/apps"
    site.find("#menu-D").click()
    site.find("#menu-DD").click()
    site.find("#menu-register").click()
    title_now, title_later = f"統計科員（Django {today}）", f"會計科員（Django 未來 {today}）"
    address = "臺北市中正區濟南路1段2-2號"
    site.fill_vacancy(title=title_now, agency_address=address, start=today, end=today + dt.timedelta(days=14))
    assert "已自動上網公告" in site.submit("#submit-vacancy", "#registered").text
    site.shot("registered-online")
    site.find("#go-register").click()
    later = today + dt.timedelta(days=10)
    site.fill_vacancy(
        title=title_later, agency_address=address, start=later, end=later + dt.timedelta(days=14)
    )
    assert "將於" in site.submit("#submit-vacancy", "#registered").text
    site.find("#go-mine").click()
    mine = site.text("table.vacancies tbody")
    assert title_now in mine and title_later not in mine
    site.logout()
    site.open("/jobs")
    public = site.text("table.vacancies tbody")
    assert title_now in public and title_later not in public
    site.shot("public-list")
