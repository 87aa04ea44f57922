"""One PIN attempt at a time, checked against and recorded in the PIN ledger.

Every card source (PC/SC VERIFY, PKCS#11 ``C_Login``, the local agent) goes through
:meth:`PinGuard.attempt`:

* the PIN's shape is checked first (:class:`PinPolicy`), so a PIN that cannot be right never
  costs a try;
* the ledger refuses a locked card, and the final try unless the caller confirmed it;
* the attempt holds an exclusive lock (a thread lock and, for file ledgers, an ``flock`` on a
  side file) from the ledger check to the recording of the card's answer, so two tools or two
  agent requests can never both spend "the last" try;
* if the PIN reached the card but no answer came back (card pulled, reader error), the try is
  counted: the card may have counted it, and over-counting only asks for confirmation earlier.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..certificate import CAFamily
from ..errors import PinLengthError, PinMissingError
from ..idnumber import mask_serial
from ..pin import DEFAULT_PIN_TRIES, PinAttemptLedger, PinOutcome, PinStatus
from ..stores.file import FilePinCounterStore, default_state_dir, exclusive_lock
from .errors import PinFormatError

__all__ = ["GPKI_PIN_POLICY", "PinAttempt", "PinGuard", "PinPolicy", "default_ledger_path"]

log = logging.getLogger("twcert.card")


@dataclass(frozen=True, slots=True)
class PinPolicy:
    """What a PIN may look like before it is sent to a card."""

    min_length: int = 6
    max_length: int = 8

    def encode(self, pin: str | None) -> bytes:
        """The PIN as the bytes a card expects; raises before any card is asked."""
        if not pin:
            raise PinMissingError("no PIN given")
        if not (pin.isascii() and pin.isalnum()):
            raise PinFormatError("PIN has characters other than ASCII letters and digits")
        if not self.min_length <= len(pin) <= self.max_length:
            raise PinLengthError(f"PIN length {len(pin)} outside {self.min_length}-{self.max_length}")
        return pin.encode("ascii")


#: MOICA and GCA cards: 6 to 8 letters and digits (docs/reference/gpki.md, cards and PINs).
GPKI_PIN_POLICY: Final = PinPolicy(6, 8)


def default_ledger_path() -> Path:
    """``$XDG_STATE_HOME/twcert/pin-ledger.json``: shared by the CLI and the agent."""
    return default_state_dir() / "pin-ledger.json"


class PinAttempt:
    """One attempt in progress; created by :meth:`PinGuard.attempt`."""

    def __init__(self, ledger: PinAttemptLedger, card_serial: str, before: PinStatus) -> None:
        self._ledger = ledger
        self._serial = card_serial
        #: What the ledger knew before this attempt.
        self.before = before
        self.sent = False
        self.result: PinStatus | None = None

    def sending(self) -> None:
        """Mark that the PIN is about to reach the card (from here on the try may count)."""
        self.sent = True

    def not_counted(self) -> None:
        """The card answered without checking the PIN: there is nothing to count."""
        self.sent = False

    def record(self, result: PinStatus) -> PinStatus:
        """Record the card's answer; returns it with ``tries_left`` filled in from the ledger."""
        if self.result is not None:
            raise RuntimeError("attempt already recorded")
        self.result = self._ledger.record(self._serial, result)
        log.info(
            "PIN attempt on card %s: %s (%s tries left, source %s)",
            mask_serial(self._serial),
            self.result.outcome.value,
            "?" if self.result.tries_left is None else self.result.tries_left,
            self.result.source,
        )
        return self.result


class PinGuard:
    """A :class:`~twcert.pin.PinAttemptLedger` plus the lock that makes check-try-record atomic.

    :param ledger: where failures are counted.
    :param lock_path: a file to ``flock``, so separate processes (CLI and agent) sharing the
        ledger file also take turns; ``None`` for an in-process ledger.
    """

    def __init__(self, ledger: PinAttemptLedger, lock_path: str | os.PathLike[str] | None = None) -> None:
        self.ledger = ledger
        self._lock_path = Path(lock_path) if lock_path is not None else None
        # Re-entrant: a token session (held exclusively) makes its PIN attempt inside it.
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._handle: contextlib.ExitStack | None = None

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str] | None = None, *, limit: int = DEFAULT_PIN_TRIES
    ) -> PinGuard:
        """A guard over a JSON ledger file (default :func:`default_ledger_path`)."""
        ledger_path = Path(path) if path is not None else default_ledger_path()
        store = FilePinCounterStore(ledger_path)
        return cls(PinAttemptLedger(store, limit=limit), ledger_path.with_name(ledger_path.name + ".attempt"))

    def status(self, card_serial: str) -> PinStatus:
        """What the ledger knows (never touches a card)."""
        return self.ledger.status(card_serial)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Exclusive use of the cards behind this ledger, across threads and processes.

        PIN attempts take it; :class:`~twcert.card.pkcs11.Pkcs11Module` also takes it for every
        token access, because a module shared by processes may not cope with one process
        reading a token while another logs in (SoftHSM rewrites its token file on a failed login
        and a concurrent ``C_GetTokenInfo`` then fails). Re-entrant within a thread.
        """
        with self._thread_lock:
            if self._depth == 0 and self._lock_path is not None:
                stack = contextlib.ExitStack()
                try:
                    handle = stack.enter_context(open(self._lock_path, "a+b"))  # noqa: SIM115 - held across the yield
                    stack.enter_context(exclusive_lock(handle))  # flock, or msvcrt on Windows
                except BaseException:
                    stack.close()
                    raise
                self._handle = stack
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._handle is not None:
                    held, self._handle = self._handle, None
                    held.close()

    @contextlib.contextmanager
    def attempt(
        self, card_serial: str, family: CAFamily | None = None, *, confirm_final_try: bool = False
    ) -> Iterator[PinAttempt]:
        """Hold the lock for one attempt; raises ``PinLockedError``/``FinalPinTryError`` first.

        The body must call :meth:`PinAttempt.sending` right before the PIN goes to the card and
        :meth:`PinAttempt.record` with the card's answer.
        """
        with self.exclusive():
            before = self.ledger.check(card_serial, family, confirm_final_try=confirm_final_try)
            attempt = PinAttempt(self.ledger, card_serial, before)
            try:
                yield attempt
            except BaseException:
                if attempt.sent and attempt.result is None:
                    # The PIN left, the answer did not come back: count the try to stay on the safe side.
                    attempt.record(PinStatus(PinOutcome.INCORRECT, None, "unanswered"))
                raise
