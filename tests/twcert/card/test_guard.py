"""The PIN guard: shape checks, ledger refusals, counting unanswered tries, cross-process lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from twcert.card.errors import PinFormatError
from twcert.card.guard import GPKI_PIN_POLICY, PinGuard, PinPolicy
from twcert.certificate import CAFamily
from twcert.errors import FinalPinTryError, PinLengthError, PinLockedError, PinMissingError
from twcert.pin import PinAttemptLedger, PinOutcome, PinStatus
from twcert.stores.memory import MemoryPinCounterStore

SERIAL = "TP00000000000009"


def memory_guard() -> PinGuard:
    return PinGuard(PinAttemptLedger(MemoryPinCounterStore()))


def test_pin_policy() -> None:
    assert GPKI_PIN_POLICY.encode("A1b2C3") == b"A1b2C3"
    assert PinPolicy(4, 16).encode("1234") == b"1234"
    for pin, error in (
        ("", PinMissingError),
        (None, PinMissingError),
        ("12345", PinLengthError),
        ("123456789", PinLengthError),
        ("12345 ", PinFormatError),
        ("12345\x00", PinFormatError),
        ("１２３４５６", PinFormatError),
        ("ab-cde", PinFormatError),
    ):
        with pytest.raises(error):
            GPKI_PIN_POLICY.encode(pin)


def fail_during(guard: PinGuard, error: Exception, *, sent: bool = True, counted: bool = True) -> None:
    with guard.attempt(SERIAL) as attempt:
        if sent:
            attempt.sending()
        if not counted:
            attempt.not_counted()
        raise error


def test_a_try_that_got_no_answer_is_counted() -> None:
    guard = memory_guard()
    with pytest.raises(ConnectionError):
        fail_during(guard, ConnectionError("reader unplugged"))
    assert guard.status(SERIAL).tries_left == 2
    # Failing before the PIN left, or an answer that did not check the PIN, costs nothing.
    with pytest.raises(ConnectionError):
        fail_during(guard, ConnectionError("before sending"), sent=False)
    with pytest.raises(ValueError):
        fail_during(guard, ValueError("6A88: no such PIN reference"), counted=False)
    assert guard.status(SERIAL).tries_left == 2


def test_refusals_before_the_card() -> None:
    guard = memory_guard()
    for _ in range(2):
        with guard.attempt(SERIAL) as attempt:
            attempt.sending()
            attempt.record(PinStatus(PinOutcome.INCORRECT, None, "iso7816"))
    with pytest.raises(FinalPinTryError), guard.attempt(SERIAL):
        pass
    with guard.attempt(SERIAL, confirm_final_try=True) as attempt:
        attempt.sending()
        final = attempt.record(PinStatus(PinOutcome.INCORRECT, None, "iso7816"))
    assert final.locked
    with pytest.raises(PinLockedError) as locked, guard.attempt(SERIAL, CAFamily.GCA, confirm_final_try=True):
        pass
    assert locked.value.action_url == "https://gcaweb.nat.gov.tw/gcacms/04-04.html"


def test_attempts_take_turns_across_guards_on_one_file(tmp_path: Path) -> None:
    """Two guards (as two processes would have) over one ledger file never overlap."""
    path = tmp_path / "ledger.json"
    first, second = PinGuard.from_file(path), PinGuard.from_file(path)
    inside = threading.Event()
    spans: dict[str, tuple[float, float]] = {}

    def hold() -> None:
        with first.attempt(SERIAL) as attempt:
            start = time.monotonic()
            inside.set()
            time.sleep(0.4)
            attempt.sending()
            attempt.record(PinStatus(PinOutcome.INCORRECT, None, "test"))
            spans["first"] = (start, time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    with second.attempt(SERIAL) as attempt:
        spans["second"] = (time.monotonic(), time.monotonic())
        # It saw the first attempt's result: the check happened after the first one finished.
        assert attempt.before.tries_left == 2
    thread.join(5)
    assert spans["second"][0] >= spans["first"][1]


def test_the_lock_is_held_against_another_process(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    guard = PinGuard.from_file(path)
    # The child reports when it got the lock on the system-wide monotonic clock, so a pause of
    # either process anywhere cannot make the check pass or fail by itself.
    script = (
        "import sys, time; from twcert.card.guard import PinGuard; g = PinGuard.from_file(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "with g.attempt('X'): print(time.monotonic(), flush=True)"
    )
    with guard.attempt("X"):
        child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.6)  # time for the child to try: without the lock it would get in now
        released = time.monotonic()
    acquired = float(child.communicate(timeout=60)[0])
    assert acquired >= released  # it had to wait for this process's attempt to end
