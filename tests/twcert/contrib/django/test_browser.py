"""The shipped login page (twcert/login.html) in headless Chromium, against the Django views served
on loopback and the local signing agent (``twcert agent``) holding SoftHSM2 cards made from the
fixture PKI: the page's script, HiPKI's popup protocol, the real PIN countdown and lock.

Screenshots of each screen go to ``$TWCERT_ARTIFACTS/django-login`` (else the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections
from django.test import override_settings

from tests.services import unavailable
from twcert.testing.fixtures import FixtureSet

from . import settings as test_settings
from .cards import MOICA_UNBLOCK

PINS = {"citizen-wang": "123456", "agency-dgpa": "24682468"}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """The test project (its views, the SQLite file database) on a loopback port."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        connections.close_all()


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory, fixture_set: FixtureSet) -> Any:
    if shutil.which("softhsm2-util") is None:
        unavailable("softhsm2 is needed for the browser login test")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        unavailable("python-pkcs11 is not installed (pip install 'twcert[pkcs11]')")
    from twcert.card.softhsm import SoftCard, provision

    cards = [SoftCard.from_fixture(fixture_set, name, pin=pin) for name, pin in PINS.items()]
    return provision(tmp_path_factory.mktemp("softhsm"), cards)


class Agent:
    """``twcert agent`` in its own process (SoftHSM binds a process to one configuration)."""

    def __init__(self, hsm: Any, origin: str, card_serial: str, ledger: Path) -> None:
        command = [
            sys.executable, "-m", "twcert.cli", "agent", "--port", "0", "--module", hsm.module,
            "--allow-origin", origin, "--card-serial", card_serial, "--ledger", str(ledger),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=hsm.environ(), stderr=subprocess.PIPE, text=True)
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        if "listening on" not in line:
            self.stop()
            raise AssertionError(f"the agent did not start: {line}")
        self.url = line.split("listening on ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(self.url + "/pkcs11info", timeout=10) as response:
            assert json.load(response)["ret_code"] == 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        unavailable("chromium and chromium-driver are needed for the browser login test")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary  # type: ignore[assignment]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=zh-TW",
        "--window-size=1000,1000",
    ):
        options.add_argument(flag)
    # No --disable-popup-blocking: the page must open HiPKI's popup within the user's click.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    base = os.environ.get("TWCERT_ARTIFACTS")
    directory = Path(base) / "django-login" if base else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Page:
    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base
        self.shots = shots

    def open(self, path: str = "/login/card/?next=/home/") -> None:
        self.driver.delete_all_cookies()
        self.driver.get(self.base + path)

    def submit(self, pin: str, account: str | None = None) -> None:
        from selenium.webdriver.common.by import By

        main = self.driver.current_window_handle
        if account is not None:
            field = self.driver.find_element(By.ID, "twcert-account")
            field.clear()
            field.send_keys(account)
        self.driver.find_element(By.ID, "twcert-pin").send_keys(pin)
        self.driver.find_element(By.ID, "twcert-submit").click()
        self.driver.switch_to.window(main)

    def wait(self, condition: Any, timeout: float = 30) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition)

    def error(self) -> dict[str, str]:
        """The error box once it shows (code and text), after the popup has gone."""
        from selenium.webdriver.common.by import By

        box = self.wait(
            lambda d: (
                d.find_element(By.ID, "twcert-message")
                if d.find_element(By.ID, "twcert-message").is_displayed()
                else False
            )
        )
        self.wait(lambda d: len(d.window_handles) == 1)
        links = [a.get_attribute("href") for a in box.find_elements(By.TAG_NAME, "a")]
        return {"code": box.get_attribute("data-code"), "text": box.text, "link": links[0] if links else ""}

    def home(self) -> dict[str, Any]:
        from selenium.webdriver.common.by import By

        self.wait(lambda d: d.current_url == self.base + "/home/")
        return dict(json.loads(self.driver.find_element(By.TAG_NAME, "body").text))

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))


def test_the_login_page_in_a_browser(
    chromium: Any, live_server: str, hsm: Any, fixture_set: FixtureSet, tmp_path: Path, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = Page(chromium, live_server, shots)
    wang = Agent(
        hsm,
        live_server,
        str(fixture_set.certificates["citizen-wang"]["card_serial"]),
        tmp_path / "ledger.json",
    )
    try:
        twcert = {**test_settings.TWCERT, "HIPKI_URL": wang.url}
        with override_settings(TWCERT=twcert, ALLOWED_HOSTS=["127.0.0.1"]):
            # Citizen card, first use: the PIN, then the page asks for the account.
            page.open()
            page.shot("01-login")
            page.submit(PINS["citizen-wang"])
            first = page.error()
            assert first["code"] == "ACCOUNT_REQUIRED" and "首次" in first["text"]
            assert chromium.find_element(By.ID, "twcert-account").is_displayed()
            page.shot("02-first-use")
            page.submit(PINS["citizen-wang"], account="wang.xm")
            assert page.home()["username"] == "wang.xm"
            page.shot("03-logged-in")

            # Later: PIN only; a wrong PIN first shows the tries left.
            page.open()
            page.submit("000000")
            wrong = page.error()
            assert wrong["code"] == "PIN_INCORRECT" and "2" in wrong["text"]
            page.shot("04-wrong-pin")
            page.submit(PINS["citizen-wang"])
            assert page.home()["principal"]["account"] == "wang.xm"

            # Three wrong PINs: locked, with MOICA's unblock address as a link.
            page.open()
            codes = []
            for _ in range(3):
                page.submit("000000")
                codes.append(page.error())
            assert [c["code"] for c in codes] == ["PIN_INCORRECT", "PIN_INCORRECT", "PIN_LOCKED"]
            assert codes[2]["link"] == MOICA_UNBLOCK and "鎖" in codes[2]["text"]
            page.shot("05-locked")
    finally:
        wang.stop()

    dgpa = Agent(
        hsm,
        live_server,
        str(fixture_set.certificates["agency-dgpa"]["card_serial"]),
        tmp_path / "ledger.json",
    )
    try:
        with override_settings(
            TWCERT={**test_settings.TWCERT, "HIPKI_URL": dgpa.url}, ALLOWED_HOSTS=["127.0.0.1"]
        ):
            # The CSRF cookie expired while the page was open: Django's 403 is not ours; the page
            # shows the catalogued "reload and log in again".
            page.open()
            chromium.delete_cookie("csrftoken")
            page.submit(PINS["agency-dgpa"])
            stale = page.error()
            assert stale["code"] == "CHALLENGE_ERROR" and "重新" in stale["text"]
            page.shot("06-stale-page")
            page.open()
            page.submit(PINS["agency-dgpa"])
            home = page.home()
            assert (
                home["username"] == "agency-A09000000E" and home["principal"]["agency_code"] == "A09000000E"
            )
            page.shot("07-agency")
    finally:
        dgpa.stop()


def test_the_page_says_when_hipki_is_not_running(chromium: Any, live_server: str, shots: Path) -> None:
    page = Page(chromium, live_server, shots)
    # A port nothing listens on: the popup shows the browser's error page and is closed.
    twcert = {**test_settings.TWCERT, "HIPKI_URL": "http://127.0.0.1:9"}
    with override_settings(TWCERT=twcert, ALLOWED_HOSTS=["127.0.0.1"]):
        page.open()
        main = chromium.current_window_handle
        page.submit("123456")
        page.wait(lambda d: len(d.window_handles) == 2)
        popup = next(h for h in chromium.window_handles if h != main)
        time.sleep(0.5)
        chromium.switch_to.window(popup)
        chromium.close()
        chromium.switch_to.window(main)
        error = page.error()
        assert error["code"] == "LOCAL_SIGNER_UNAVAILABLE" and "跨平台網頁元件" in error["text"]
        page.shot("08-no-hipki")
