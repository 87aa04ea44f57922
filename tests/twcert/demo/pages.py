"""What a user does on the demo's pages, as Selenium steps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .conftest import Demo, Screens

WAIT = 60


@dataclass(frozen=True)
class ShownError:
    code: str
    message_zh: str
    message_en: str
    action: str
    link: str


class Site:
    def __init__(self, driver: Any, demo: Demo, screens: Screens) -> None:
        self.driver = driver
        self.demo = demo
        self.screens = screens

    # -- plumbing ------------------------------------------------------------------------------

    def wait(self, condition: Any, timeout: float = WAIT) -> Any:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # Pages navigate while we look: an element that vanished (stale, not found, or a DOM
        # node "not belonging to the document" any more) means "not yet"; a real failure still
        # ends in the timeout.
        ignored = (WebDriverException,)
        return WebDriverWait(self.driver, timeout, ignored_exceptions=ignored).until(condition)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def open(self, path: str) -> None:
        self.driver.get(self.demo.url + path)

    @property
    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    def shot(self, name: str) -> None:
        self.screens.shot(self.driver, name)

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def submit(self, button_css: str, expect_css: str) -> Any:
        """Click a button that posts a form; return the element the next page must show."""
        self.find(button_css).click()
        return self.wait(lambda d: (self.finds(expect_css) or [None])[0])

    def fresh_session(self) -> None:
        self.open("/")
        self.driver.delete_all_cookies()

    # -- login ---------------------------------------------------------------------------------

    def read_cards(self, kind: str) -> None:
        self.find(f"input[name=kind][value={kind}]").click()
        self.find("#twcert-read-cards").click()
        self.wait(
            lambda d: "讀到" in self.text("#twcert-status") or self.find("#twcert-error").is_displayed()
        )

    def choose_card(self, name: str) -> None:
        from selenium.webdriver.support.ui import Select

        holder = self.demo.holder(name)
        select = Select(self.find("#twcert-card"))
        for option in select.options:
            if option.text.startswith(holder + "（"):
                select.select_by_visible_text(option.text)
                return
        raise AssertionError(f"card {name} not offered: {[o.text for o in select.options]}")

    def login(self, name: str, pin: str | None = None, *, shot: str | None = None) -> None:
        """From the login page: read the cards, choose one, type the PIN, log in; wait for the outcome."""
        kind = "agency" if name.startswith("agency") else "citizen"
        if self.path != "/auth/login":
            self.open("/auth/login")
        self.read_cards(kind)
        self.choose_card(name)
        field = self.find("#twcert-pin")
        field.clear()
        field.send_keys(self.demo.pin(name) if pin is None else pin)
        if shot:
            self.shot(shot)
        self.find("#twcert-submit").click()
        self.wait(lambda d: self.path != "/auth/login" or self.find("#twcert-error").is_displayed())

    def shown_error(self) -> ShownError:
        box = self.find("#twcert-error") if self.path == "/auth/login" else self.find(".twcert-error")
        assert box.is_displayed()
        link = self.finds(".twcert-error-link a")
        return ShownError(
            code=box.find_element("css selector", "code").text,
            message_zh=box.find_element("css selector", ".twcert-error-zh").text,
            message_en=box.find_element("css selector", ".twcert-error-en").text,
            action=box.find_element("css selector", ".twcert-error-action").text,
            link=link[0].get_attribute("href") or "" if link else "",
        )

    def first_use(self, account: str, *, shot: str | None = None) -> None:
        assert self.path == "/auth/first-use", self.driver.current_url
        self.find("#twcert-account").send_keys(account)
        if shot:
            self.shot(shot)
        self.find("#twcert-first-use-submit").click()
        self.wait(lambda d: self.path != "/auth/first-use" or self.finds(".twcert-error"))

    def logout(self) -> None:
        self.find("#logout").click()
        self.wait(lambda d: self.path == "/auth/login")

    # -- vacancies -----------------------------------------------------------------------------

    def fill_vacancy(self, *, title: str, start: dt.date, end: dt.date, **values: str) -> None:
        from selenium.webdriver.support.ui import Select

        def roc(day: dt.date) -> str:
            return f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"

        fields = {
            "filler_name": "張承辦",
            "filler_phone": "02-2397-9000",
            "title": title,
            "headcount": "1",
            **values,
        }
        for name, value in fields.items():
            element = self.find(f"#field-{name}")
            element.clear()
            element.send_keys(value)
        Select(self.find("#field-person_kind")).select_by_visible_text("一般人員")
        self.find("input[name=gender][value='不拘']").click()
        places = Select(self.find("#field-work_places"))
        places.deselect_all()
        places.select_by_visible_text("臺北市")
        for name, day in (("period_start", start), ("period_end", end)):
            element = self.find(f"#field-{name}")
            element.clear()
            element.send_keys(roc(day))
