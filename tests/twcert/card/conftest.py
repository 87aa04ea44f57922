"""Real card components for the card tests: pcscd + vpcd + vicc, and SoftHSM2.

Nothing here is mocked. pcscd runs in the foreground as a child of pytest (or an already
running pcscd is reused); each test that needs a fresh card gets its own ``vicc -t iso7816``
process, so a card locked by one test never leaks into the next. SoftHSM gets its own
SOFTHSM2_CONF and token directory under pytest's tmp dir, provisioned once per session with the
fixture citizen and agency cards. Under scripts/test (TWCERT_REQUIRE_SERVICES=1) a missing
component fails the tests; elsewhere it skips them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import unavailable
from twcert.testing.fixtures import FixtureSet

VPCD_BASE_PORT = 0x8C7B  # /etc/reader.conf.d/vpcd: CHANNELID 0x8C7B → reader "Virtual PCD 00 00"
#: vsmartcard's iso7816 card: default PIN (virtualsmartcard/CardGenerator.py __generate_iso_card).
VICC_PIN = "1234"
VICC_PACKAGE_DIRS = ("/usr/lib/python3/site-packages/virtualsmartcard", "/usr/lib/python3/dist-packages")


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _stop(process: subprocess.Popen[bytes], timeout: float = 5) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


# ------------------------------------------------------------------------------------------ PC/SC


def _pcsc_readers() -> list[tuple[str, bool]] | None:
    """Readers and card presence, or None when pcscd does not answer."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult & 0xFFFFFFFF == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            return None
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names]
        )
        # As the library judges it: a card shown but still mute (no ATR yet) is not ready.
        return [
            (name, bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE)
            for name, state, _ in states
        ]
    finally:
        scard.SCardReleaseContext(context)


@dataclass
class Pcscd:
    reader: str
    port: int
    started_here: bool


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    try:
        import smartcard  # noqa: F401
    except ImportError:
        unavailable("pyscard is not installed (pip install 'twcert[pcsc]')")
    index = int(os.environ.get("TWCERT_VPCD_INDEX", "0"))
    reader_prefix = f"Virtual PCD 00 {index:02d}"
    process: subprocess.Popen[bytes] | None = None
    if _pcsc_readers() is None:
        binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
        if binary is None:
            unavailable("pcscd is not installed (Debian: pcscd vsmartcard-vpcd)")
        log = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [binary, "--foreground", "--info"], stdout=out, stderr=subprocess.STDOUT
            )
        # 30 s: generous for a slow CI machine; a healthy start takes well under a second.
        if not wait_until(lambda: process.poll() is not None or _pcsc_readers() is not None, 30):
            _stop(process)
            unavailable(f"pcscd did not start: {log.read_text(errors='replace')[-2000:]}")
        if process.poll() is not None:
            unavailable(f"pcscd exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
    try:
        if not wait_until(lambda: any(n.startswith(reader_prefix) for n, _ in _pcsc_readers() or []), 30):
            unavailable(f"pcscd has no {reader_prefix!r} reader: is vsmartcard-vpcd installed?")
        reader = next(n for n, _ in _pcsc_readers() or [] if n.startswith(reader_prefix))
        yield Pcscd(reader, VPCD_BASE_PORT + index, process is not None)
    finally:
        if process is not None:
            _stop(process)


def _vicc_python_path() -> str:
    for candidate in VICC_PACKAGE_DIRS:
        if (Path(candidate) / "virtualsmartcard" / "VirtualSmartcard.py").exists():
            return candidate
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        listing = subprocess.run(
            ["dpkg", "-L", "python3-virtualsmartcard"], check=True, capture_output=True, text=True
        ).stdout
        for line in listing.splitlines():
            if line.endswith("/virtualsmartcard/VirtualSmartcard.py"):
                return str(Path(line).parent.parent)
    unavailable("python3-virtualsmartcard is not installed")
    raise AssertionError("unreachable")


class VirtualCard:
    """One ``vicc -t iso7816`` process: a fresh card (PIN counter 3) each time it starts."""

    pin = VICC_PIN

    def __init__(self, pcscd: Pcscd, log_dir: Path) -> None:
        self.pcscd = pcscd
        self.reader = pcscd.reader
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        vicc = shutil.which("vicc")
        if vicc is None:
            unavailable("vicc is not installed (Debian: vsmartcard-vpicc)")
        # -vvv: the card logs every command APDU, so tests can count the VERIFYs it really received.
        self._command = [sys.executable, vicc, "--type", "iso7816", "--port", str(pcscd.port), "-vvv"]
        self._env = {**os.environ, "PYTHONPATH": _vicc_python_path()}
        check = subprocess.run(
            [sys.executable, "-c", "import Crypto, virtualsmartcard.VirtualSmartcard"],
            env=self._env,
            capture_output=True,
            text=True,
        )
        if check.returncode:
            unavailable(f"vicc cannot run under {sys.executable}: {check.stderr.strip()[-500:]}")

    def present(self) -> bool:
        return any(name == self.reader and present for name, present in _pcsc_readers() or [])

    def insert(self) -> None:
        assert self._process is None or self._process.poll() is not None, "card already inserted"
        log = open(self._log_dir / "vicc.log", "ab")  # noqa: SIM115 - closed with the process
        self._process = subprocess.Popen(self._command, env=self._env, stdout=log, stderr=log)
        log.close()
        if not wait_until(lambda: self.present() or self._process.poll() is not None, 30):  # type: ignore[union-attr]
            self.remove()
            pytest.fail("the virtual card did not appear in the reader")
        if not self.present():
            pytest.fail(f"vicc exited: {(self._log_dir / 'vicc.log').read_text(errors='replace')[-2000:]}")

    def commands(self) -> list[bytes]:
        """Every command APDU this card has received (from vicc's own log)."""
        path = self._log_dir / "vicc.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        found: list[bytes] = []
        for i, line in enumerate(lines):
            if "Command APDU" not in line:
                continue
            hex_text = ""
            for row in lines[i + 1 :]:
                # vicc's hexdump rows: "%04x:  " + 16 * "XX " (48 columns) + "  " + ASCII.
                head, sep, rest = row.strip().partition(":  ")
                if not sep or len(head) != 4:
                    break
                hex_text += rest[:48]
            found.append(bytes.fromhex(hex_text.replace(" ", "")))
        return found

    def verify_commands(self) -> int:
        """How many VERIFY (INS 20) APDUs the card received."""
        return sum(1 for apdu in self.commands() if len(apdu) >= 4 and apdu[1] == 0x20)

    def remove(self) -> None:
        if self._process is not None:
            _stop(self._process)
            self._process = None
        # A card still shown would make the next insert() return at once, with the old card.
        if not wait_until(lambda: not self.present(), 30):
            pytest.fail("the virtual card was not removed from the reader")


@pytest.fixture
def virtual_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[VirtualCard]:
    """A freshly inserted card (its PIN counter at 3) in the vpcd reader."""
    card = VirtualCard(pcscd, tmp_path)
    card.insert()
    try:
        yield card
    finally:
        card.remove()


# ---------------------------------------------------------------------------------------- SoftHSM


@pytest.fixture(scope="session")
def card_fixtures() -> FixtureSet:
    return FixtureSet.load(Path(__file__).resolve().parents[3] / "fixtures" / "gpki")


@dataclass(frozen=True)
class Card:
    """A provisioned SoftHSM card and the fixture entry it came from."""

    name: str
    card_serial: str
    pin: str
    label: str


#: The SoftHSM cards of the session: GPKI layout, and one with another middleware's labels.
SOFT_CARDS = {
    "citizen-wang": {"pin": "123456"},
    "agency-dgpa": {"pin": "24682468"},
    "citizen-chen": {
        "pin": "135790",
        "sign_id": b"\x01",
        "sign_label": "RSACert1",
        "keyx_id": b"\x02",
        "keyx_label": "RSACert2",
    },
}


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory, card_fixtures: FixtureSet) -> Iterator[object]:
    """SoftHSM2 with the fixture cards, visible to this process (SOFTHSM2_CONF set for the session)."""
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        unavailable("python-pkcs11 is not installed (pip install 'twcert[pkcs11]')")
    from twcert.card.errors import SoftHsmError
    from twcert.card.softhsm import SoftCard, provision

    cards = [SoftCard.from_fixture(card_fixtures, name, **options) for name, options in SOFT_CARDS.items()]
    try:
        hsm = provision(tmp_path_factory.mktemp("softhsm"), cards)
    except SoftHsmError as exc:
        unavailable(f"SoftHSM2 is not usable: {exc.detail}")
    previous = os.environ.get("SOFTHSM2_CONF")
    # SoftHSM reads SOFTHSM2_CONF when this process first loads the module (in the tests).
    os.environ.update(hsm.env)
    try:
        yield hsm
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def soft_cards(softhsm: object, card_fixtures: FixtureSet) -> dict[str, Card]:
    return {
        name: Card(
            name,
            str(card_fixtures.certificates[name]["card_serial"]),
            options["pin"],  # type: ignore[arg-type]
            str(card_fixtures.certificates[name]["card_serial"]),
        )
        for name, options in SOFT_CARDS.items()
    }
