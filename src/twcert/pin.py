"""One PIN-status model for every card source, and a ledger that enforces the 3-try lock.

Sources and what they say:

* ISO 7816 VERIFY status words: ``9000`` accepted, ``63Cx`` wrong with *x* tries left,
  ``6983``/``6984`` blocked, bare ``6300`` wrong with no counter given.
* PKCS#11: ``CKR_PIN_INCORRECT`` (0xA0), ``CKR_PIN_LEN_RANGE`` (0xA2), ``CKR_PIN_LOCKED``
  (0xA4), and token flags ``CKF_USER_PIN_COUNT_LOW``/``_FINAL_TRY``/``_LOCKED``.
* HiPKI Local Server: ``ret_code`` 0x76100006 (card login failed) with ``last_error`` 0xA0,
  0x80000002 (2 tries left), 0x80000001 (1 try left) or 0xA4 (locked).

Sources that report no counter (bare 6300, PKCS#11 modules without the flags, SoftHSM) are
counted by :class:`PinAttemptLedger`, keyed by card serial, so the card tools refuse the attempt
that would lock the card, and every attempt after a lock, until an unblock is recorded.

A web login keeps a :class:`PinRecord` instead: it is *advisory*. The card itself enforces the
lock (a card that produced a valid signature was not locked), and what a browser reports about
PIN failures is unsigned, so the record only decides what the login page shows (tries left,
then the unblock address) and never refuses a valid signature.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from .certificate import CAFamily
from .errors import (
    GCA_UNBLOCK_URL,
    MOICA_UNBLOCK_URL,
    CardError,
    FinalPinTryError,
    PinIncorrectError,
    PinLengthError,
    PinLockedError,
)

__all__ = [
    "CKF_USER_PIN_COUNT_LOW",
    "CKF_USER_PIN_FINAL_TRY",
    "CKF_USER_PIN_LOCKED",
    "CKR_PIN_INCORRECT",
    "CKR_PIN_LEN_RANGE",
    "CKR_PIN_LOCKED",
    "DEFAULT_PIN_TRIES",
    "PinAttemptLedger",
    "PinCounterStore",
    "PinOutcome",
    "PinRecord",
    "PinStatus",
    "from_hipki",
    "from_pkcs11",
    "from_status_word",
    "normalize_card",
    "unblock_address",
    "unblock_url",
]

#: GPKI cards lock after three consecutive wrong PINs.
DEFAULT_PIN_TRIES: Final = 3

CKR_PIN_INCORRECT: Final = 0xA0
CKR_PIN_INVALID: Final = 0xA1
CKR_PIN_LEN_RANGE: Final = 0xA2
CKR_PIN_EXPIRED: Final = 0xA3
CKR_PIN_LOCKED: Final = 0xA4
CKF_USER_PIN_COUNT_LOW: Final = 0x00010000
CKF_USER_PIN_FINAL_TRY: Final = 0x00020000
CKF_USER_PIN_LOCKED: Final = 0x00040000

HIPKI_LOGIN_FAILED: Final = 0x76100006
HIPKI_TWO_TRIES_LEFT: Final = 0x80000002
HIPKI_ONE_TRY_LEFT: Final = 0x80000001


class PinOutcome(enum.Enum):
    """What happened (or is known) about the PIN."""

    ACCEPTED = "accepted"
    INCORRECT = "incorrect"
    LOCKED = "locked"
    WRONG_LENGTH = "wrong_length"
    #: Nothing was attempted; ``tries_left`` tells the card's state (a status read).
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PinStatus:
    """The PIN state after (or before) one attempt.

    ``tries_left`` is ``None`` when the source gives no counter; the ledger then fills it in.
    """

    outcome: PinOutcome
    tries_left: int | None = None
    #: Which component said so: "iso7816", "pkcs11", "hipki" or "ledger".
    source: str = ""
    #: The token says its counter is low (PKCS#11 CKF_USER_PIN_COUNT_LOW).
    count_low: bool = False

    @property
    def locked(self) -> bool:
        return self.outcome is PinOutcome.LOCKED or self.tries_left == 0

    @property
    def final_try(self) -> bool:
        """Only one attempt is left: a wrong PIN now locks the card."""
        return not self.locked and self.tries_left == 1

    @property
    def accepted(self) -> bool:
        return self.outcome is PinOutcome.ACCEPTED

    def raise_for_status(self, family: CAFamily | None = None) -> None:
        """Raise the catalogued error for a failed or blocked PIN; return if accepted/unknown."""
        if self.locked:
            raise PinLockedError(f"PIN locked ({self.source})", unblock_url=unblock_url(family))
        if self.outcome is PinOutcome.INCORRECT:
            tries = self.tries_left if self.tries_left is not None else "?"
            raise PinIncorrectError(f"wrong PIN ({self.source})", tries_left=tries)
        if self.outcome is PinOutcome.WRONG_LENGTH:
            raise PinLengthError(f"PIN length out of range ({self.source})")


def unblock_url(family: CAFamily | None) -> str:
    """Where a locked card of ``family`` is unblocked (the manual's addresses; MOICA's when the
    family is unknown, as a single link)."""
    return GCA_UNBLOCK_URL if family is CAFamily.GCA else MOICA_UNBLOCK_URL


def unblock_address(family: CAFamily | None) -> str:
    """The unblock address to *show*: the family's, or with no family known both, the
    citizen-card address first, then the agency-card one."""
    if family is None:
        return f"{MOICA_UNBLOCK_URL} （自然人憑證 citizen card）、{GCA_UNBLOCK_URL} （機關憑證 agency card）"
    return unblock_url(family)


def normalize_card(card_serial: str) -> str:
    """A card number as the PIN records key it: no spaces, upper case."""
    return "".join(card_serial.split()).upper()


def from_status_word(sw1: int, sw2: int) -> PinStatus:
    """Map an ISO 7816 VERIFY answer."""
    sw = (sw1 << 8) | sw2
    if sw == 0x9000:
        return PinStatus(PinOutcome.ACCEPTED, source="iso7816")
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        tries = sw2 & 0x0F
        return PinStatus(PinOutcome.LOCKED if tries == 0 else PinOutcome.INCORRECT, tries, "iso7816")
    if sw == 0x6300:
        return PinStatus(PinOutcome.INCORRECT, None, "iso7816")
    if sw in (0x6983, 0x6984):
        return PinStatus(PinOutcome.LOCKED, 0, "iso7816")
    if sw in (0x6700,):
        return PinStatus(PinOutcome.WRONG_LENGTH, None, "iso7816")
    raise CardError(f"unexpected VERIFY status word {sw:04X}")


def from_pkcs11(return_code: int | None, token_flags: int = 0) -> PinStatus:
    """Map a PKCS#11 ``C_Login`` result (``None`` = CKR_OK) and the token's flags afterwards."""
    flags_locked = bool(token_flags & CKF_USER_PIN_LOCKED)
    final = bool(token_flags & CKF_USER_PIN_FINAL_TRY)
    low = bool(token_flags & CKF_USER_PIN_COUNT_LOW)
    tries = 0 if flags_locked else (1 if final else None)
    if return_code is None or return_code == 0:
        return PinStatus(PinOutcome.ACCEPTED, tries, "pkcs11", low)
    if return_code == CKR_PIN_LOCKED or flags_locked:
        return PinStatus(PinOutcome.LOCKED, 0, "pkcs11", low)
    if return_code in (CKR_PIN_INCORRECT, CKR_PIN_INVALID):
        return PinStatus(PinOutcome.INCORRECT, tries, "pkcs11", low)
    if return_code == CKR_PIN_LEN_RANGE:
        return PinStatus(PinOutcome.WRONG_LENGTH, tries, "pkcs11", low)
    raise CardError(f"unexpected PKCS#11 return code 0x{return_code:X}")


def from_hipki(ret_code: int, last_error: int | None) -> PinStatus | None:
    """Map a HiPKI ``ret_code``/``last_error`` pair; ``None`` if it is not about the PIN."""
    ret_code &= 0xFFFFFFFF  # JavaScript may hand over negative ints
    if ret_code == 0:
        return PinStatus(PinOutcome.ACCEPTED, source="hipki")
    if ret_code != HIPKI_LOGIN_FAILED:
        return None
    last = (last_error or 0) & 0xFFFFFFFF
    if last == HIPKI_TWO_TRIES_LEFT:
        return PinStatus(PinOutcome.INCORRECT, 2, "hipki")
    if last == HIPKI_ONE_TRY_LEFT:
        return PinStatus(PinOutcome.INCORRECT, 1, "hipki")
    if last == CKR_PIN_LOCKED:
        return PinStatus(PinOutcome.LOCKED, 0, "hipki")
    if last == CKR_PIN_LEN_RANGE:
        return PinStatus(PinOutcome.WRONG_LENGTH, None, "hipki")
    if last == CKR_PIN_INCORRECT:
        return PinStatus(PinOutcome.INCORRECT, None, "hipki")
    return PinStatus(PinOutcome.INCORRECT, None, "hipki")


@runtime_checkable
class PinCounterStore(Protocol):
    """Consecutive-failure counters by card serial. Every method must be atomic across
    processes (the same card may be tried from several web workers at once)."""

    def get(self, key: str) -> int: ...

    def increment(self, key: str) -> int:
        """Add one failure and return the new count."""
        ...

    def set(self, key: str, count: int) -> None: ...

    def raise_to(self, key: str, count: int) -> int:
        """Make the count at least ``count`` (never lower it); return the new count."""
        ...

    def reset(self, key: str) -> None: ...


class PinAttemptLedger:
    """Counts consecutive wrong PINs per card where the card itself reports no counter.

    Each method is atomic, but :meth:`check` followed by :meth:`record` is not: a client that
    sends PINs to a card must hold a per-card lock across both (``twcert.card.guard.PinGuard``
    does), or two processes could both pass the check before either records a failure.

    :param store: where counts live (memory, file, SQL or Redis; see :mod:`twcert.stores`).
    :param limit: tries before the card locks (3 for GPKI cards).
    """

    def __init__(self, store: PinCounterStore, *, limit: int = DEFAULT_PIN_TRIES) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.store = store
        self.limit = limit

    def status(self, card_serial: str) -> PinStatus:
        """What the ledger knows before an attempt (never touches the card)."""
        failures = self.store.get(card_serial)
        left = max(self.limit - failures, 0)
        return PinStatus(PinOutcome.LOCKED if left == 0 else PinOutcome.UNKNOWN, left, "ledger")

    def check(
        self, card_serial: str, family: CAFamily | None = None, *, confirm_final_try: bool = True
    ) -> PinStatus:
        """Refuse an attempt on a locked card (and, unless confirmed, on the final try)."""
        status = self.status(card_serial)
        if status.locked:
            raise PinLockedError("card locked per the PIN ledger", unblock_url=unblock_url(family))
        if status.final_try and not confirm_final_try:
            raise FinalPinTryError("one PIN try left; confirmation required")
        return status

    def record(self, card_serial: str, result: PinStatus) -> PinStatus:
        """Record one attempt's result and return the status with ``tries_left`` filled in."""
        if result.accepted:
            self.store.reset(card_serial)
            return PinStatus(PinOutcome.ACCEPTED, self.limit, result.source, result.count_low)
        if result.locked:
            self.store.set(card_serial, self.limit)
            return PinStatus(PinOutcome.LOCKED, 0, result.source)
        if result.outcome is PinOutcome.INCORRECT:
            if result.tries_left is not None:
                # The card's own counter wins; keep the ledger in step with it.
                self.store.set(card_serial, self.limit - result.tries_left)
                return result
            failures = self.store.increment(card_serial)
            left = max(self.limit - failures, 0)
            outcome = PinOutcome.LOCKED if left == 0 else PinOutcome.INCORRECT
            return PinStatus(outcome, left, result.source or "ledger")
        return result

    def record_unblock(self, card_serial: str) -> None:
        """The card was unblocked (MOICA/GCA unblock service): accept attempts again."""
        self.store.reset(card_serial)


class PinRecord:
    """The login flow's advisory record of wrong PINs, per card.

    Only signatures decide a login; this record only chooses what the page shows. Its verbs:

    * :meth:`report_failure` — an unsigned failure report (the caller has already consumed a live
      challenge of the reporting session for it). It can only move the card toward "locked":
      a count is never lowered by a report, a lock never lifted.
    * :meth:`clear` — a valid signature by a valid certificate proved ``key``'s card was not
      locked: its count ends.
    * :meth:`record_unblock` — an administrator records an unblock.

    Keys: a failure report that carries the card's certificate counts under the certificate
    (:meth:`certificate_key`), one with only a card number under that number (:meth:`card_key`).
    A valid signature clears its certificate's key and, when the card number is signed into the
    CMS, that number's key; a number merely written beside a signature clears nothing.
    """

    def __init__(self, store: PinCounterStore, *, limit: int = DEFAULT_PIN_TRIES) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.store = store
        self.limit = limit

    @staticmethod
    def card_key(card_serial: str) -> str:
        """The key of a card number (normalised: spaces, case)."""
        return normalize_card(card_serial)

    @staticmethod
    def certificate_key(certificate_sha256: str) -> str:
        """The key of a certificate (a certificate lives on exactly one card); 53 characters,
        so it fits the stores' 64-character card column."""
        return f"cert:{certificate_sha256[:48]}"

    def status(self, key: str) -> PinStatus:
        failures = self.store.get(key)
        left = max(self.limit - failures, 0)
        return PinStatus(PinOutcome.LOCKED if left == 0 else PinOutcome.UNKNOWN, left, "record")

    def report_failure(self, key: str, reported: PinStatus) -> PinStatus:
        """Count one reported failure; return what the page should show (tries left, or locked)."""
        if reported.locked:
            failures = self.store.raise_to(key, self.limit)
        elif reported.outcome is PinOutcome.INCORRECT and reported.tries_left is not None:
            failures = self.store.raise_to(key, self.limit - max(reported.tries_left, 0))
        elif reported.outcome is PinOutcome.INCORRECT:
            failures = self.store.increment(key)
        else:
            return reported  # wrong length, accepted, unknown: nothing counted
        left = max(self.limit - failures, 0)
        return PinStatus(PinOutcome.LOCKED if left == 0 else PinOutcome.INCORRECT, left, reported.source)

    def clear(self, *keys: str) -> None:
        """A valid signature proved this card unlocked: end its runs of failures (reads, and
        a write only where there was a run)."""
        for key in keys:
            if self.store.get(key):
                self.store.reset(key)

    def record_unblock(self, key: str) -> None:
        """The card was unblocked (MOICA/GCA unblock service)."""
        self.store.reset(normalize_card(key) if not key.startswith("cert:") else key)
