"""The /popupForm postMessage exchange in a real browser (headless Chromium via chromedriver).

A login page on one loopback origin opens the agent's popup on another, answers its
``{"func":"getTbs"}`` with the tbsPackage, and receives the signature — the flow of CHT's own
sample pages. A page from an origin the agent does not allow gets 0x7600000F instead.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from twcert.card.agent import AgentConfig, LocalAgent
from twcert.card.guard import PinGuard
from twcert.card.pkcs11 import Pkcs11Module
from twcert.hipki import HipkiSignResponse
from twcert.signature import verify_cms

from .conftest import Card, unavailable

PAGE = """<!doctype html><meta charset="utf-8"><title>login</title>
<button id="go">sign</button><pre id="out"></pre>
<script>
var AGENT = %(agent)s, PACKAGE = %(package)s, popup = null;
document.getElementById("go").onclick = function () {
  popup = window.open(AGENT + "/popupForm", "signing", "width=300,height=200");
};
window.addEventListener("message", function (event) {
  if (event.origin !== AGENT) { return; }
  var message = JSON.parse(event.data);
  if (message.func === "getTbs") { popup.postMessage(JSON.stringify(PACKAGE), "*"); }
  else { document.getElementById("out").textContent = event.data; }
});
</script>"""


class PageServer(ThreadingHTTPServer):
    """A login page on its own loopback origin."""

    body = b""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        threading.Thread(target=self.serve_forever, args=(0.1,), daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def show(self, agent: LocalAgent, package: dict[str, Any]) -> PageServer:
        self.body = (PAGE % {"agent": json.dumps(agent.url), "package": json.dumps(package)}).encode()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Page(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        unavailable("chromium and chromium-driver are needed for the popup test")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium  # type: ignore[assignment]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-popup-blocking",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def popup_result(browser: Any, page: PageServer) -> dict[str, Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.origin + "/")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "out").text.strip())
    text = browser.find_element(By.ID, "out").text
    # The popup closes itself after answering.
    WebDriverWait(browser, 10).until(lambda d: len(d.window_handles) == 1)
    return json.loads(text)  # type: ignore[no-any-return]


def test_popup_flow_signs_for_an_allowed_page(
    browser: Any, softhsm, soft_cards: dict[str, Card], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    card = soft_cards["citizen-wang"]
    module = Pkcs11Module(softhsm.module, guard=PinGuard.from_file(tmp_path / "ledger.json"))
    slot = module.token(card_serial=card.card_serial).info.slot_description
    tbs = "e2e-challenge+/="
    package = {
        "func": "MakeSignature",
        "tbs": tbs,
        "hashAlgorithm": "SHA256",
        "signatureType": "PKCS7",
        "pin": card.pin,
        "slotDescription": slot,
        "withCardSN": True,
    }
    page = PageServer()
    try:
        with LocalAgent(module, AgentConfig.with_origins([page.origin], port=0)) as agent:
            answer = popup_result(browser, page.show(agent, package))
            response = HipkiSignResponse.parse(answer)
            assert response.ok, answer
            assert response.card_serial == card.card_serial and response.signature is not None
            verified = verify_cms(response.signature, tbs.encode(), now=dt.datetime.now(dt.UTC))
            assert verified.card_serial == card.card_serial

            wrong = popup_result(browser, page.show(agent, {**package, "pin": "000000"}))
            assert (wrong["ret_code"], wrong["last_error"]) == (0x76100006, 0x80000002)
    finally:
        page.close()


def test_popup_refuses_a_page_from_another_origin(
    browser: Any, softhsm, soft_cards: dict[str, Card], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    card = soft_cards["citizen-wang"]
    guard = PinGuard.from_file(tmp_path / "ledger.json")
    module = Pkcs11Module(softhsm.module, guard=guard)
    package = {"func": "MakeSignature", "tbs": "x", "pin": "000000"}
    page = PageServer()
    try:
        with LocalAgent(module, AgentConfig.with_origins(["https://login.example.gov.tw"], port=0)) as agent:
            answer = popup_result(browser, page.show(agent, package))
    finally:
        page.close()
    assert answer["ret_code"] == 0x7600000F
    assert guard.status(card.card_serial).tries_left == 3  # nothing reached a card
