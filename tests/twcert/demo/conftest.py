"""The demo as a user meets it: ``python -m twcert.demo`` in its own process on loopback (real
SoftHSM2 cards, the real local signing agent, SQLite), driven by headless Chromium.

Nothing is mocked and nothing downloads a browser: Debian's ``chromium`` and ``chromedriver``.
Under scripts/test (``TWCERT_REQUIRE_SERVICES=1``) a missing component fails the tests.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
_START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Demo:
    url: str
    agent_url: str
    directory: Path
    cards: dict[str, dict[str, Any]]

    def pin(self, name: str) -> str:
        return str(self.cards[name]["pin"])

    def holder(self, name: str) -> str:
        return str(self.cards[name]["holder"])

    def serial(self, name: str) -> str:
        return str(self.cards[name]["card_serial"])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def start_demo(directory: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Demo]:
    """Start ``python -m twcert.demo`` on free ports; return once it serves."""
    if shutil.which("softhsm2-util") is None:
        unavailable("SoftHSM2 is not installed (Debian: softhsm2)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        unavailable("python-pkcs11 is not installed (pip install 'twcert[pkcs11]')")
    log = directory.parent / f"{directory.name}.log"
    command = [
        sys.executable,
        "-m",
        "twcert.demo",
        "--dir",
        str(directory),
        "--port",
        "0",
        "--agent-port",
        "0",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen([*command, *extra], stdout=out, stderr=subprocess.STDOUT)
    run_file = directory / "run.json"
    deadline = time.monotonic() + _START_TIMEOUT
    while not run_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            output = log.read_text(errors="replace")[-3000:]
            if "SoftHSM" in output or "libsofthsm2" in output:
                unavailable(f"SoftHSM2 is not usable: {output}")
            pytest.fail(f"the demo did not start:\n{output}")
        time.sleep(0.2)
    info = json.loads(run_file.read_text(encoding="utf-8"))
    cards = json.loads((directory / "cards.json").read_text(encoding="utf-8"))["cards"]
    return process, Demo(info["url"], info["agent_url"], directory, {c["name"]: c for c in cards})


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    process, running = start_demo(tmp_path_factory.mktemp("demo") / "state")
    try:
        yield running
    finally:
        _stop(process)


def chromium(user_data_dir: Path) -> Any:
    """Headless Debian Chromium through chromedriver, with the flags CI needs."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        unavailable("chromium and chromium-driver are needed for the demo's browser tests")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1100",
        "--lang=zh-TW",
        f"--user-data-dir={user_data_dir}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


class Screens:
    """Saves a screenshot of each screen, numbered in the order the tests reach them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.png"):
            old.unlink()

    def shot(self, driver: Any, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        # The whole page, not just the window.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, max(1100, min(int(height) + 140, 4000)))
        assert driver.save_screenshot(str(path)), path
        driver.set_window_size(1280, 1100)
        return path


@pytest.fixture(scope="session")
def screens() -> Screens:
    return Screens(SCREENSHOTS)


@pytest.fixture(scope="session")
def django_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The same demo served with Django (``--django``)."""
    try:
        import django  # noqa: F401
    except ImportError:
        unavailable("Django is not installed (pip install 'twcert[django]')")
    process, running = start_demo(tmp_path_factory.mktemp("demo-django") / "state", "--django")
    try:
        yield running
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def django_screens() -> Screens:
    return Screens(SCREENSHOTS / "django")
