"""Card readers over PC/SC (pyscard, extra ``pcsc``): readers, insert/removal, PIN VERIFY.

A VERIFY costs a try when the PIN is wrong, so this module never probes: :meth:`PcscCard.verify_pin`
sends the one PIN it is given, once, and reports the card's answer as a
:class:`~twcert.pin.PinStatus` (``63Cx`` = *x* tries left, ``6983``/``6984`` = blocked, bare
``6300`` = wrong with no counter, counted by the ledger). Every attempt goes through a
:class:`~twcert.card.guard.PinGuard`, which refuses a card the ledger knows is locked, and the
final try unless the caller confirms it.

The tries left are read without a VERIFY (:meth:`PcscCard.pin_status` consults the ledger),
unless the card's :class:`CardProfile` says it answers an *empty* VERIFY with its counter
(ISO 7816-4 §11.5.6). Cards that treat the empty VERIFY as a wrong PIN exist — vsmartcard's
``iso7816`` card does, answering ``6300`` and spending a try — so the query is off by default,
and if a profile turns out to be wrong the spent try is recorded.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from smartcard import scard

from ..errors import CardAbsentError, CardError, ReaderAbsentError
from ..pin import PinOutcome, PinStatus, from_status_word
from .errors import CardCommunicationError, PcscUnavailableError
from .guard import PinGuard, PinPolicy

__all__ = [
    "GENERIC_ISO7816",
    "CardEvent",
    "CardEventKind",
    "CardProfile",
    "CardWatcher",
    "PcscCard",
    "ReaderState",
    "list_readers",
]

_VERIFY: Final = 0x20
_SERVICE_DOWN: Final = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
# pcsc-lite keeps an event counter in the upper 16 bits of the state word.
_STATE_MASK: Final = 0xFFFF


def _rc(value: int) -> int:
    return value & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class CardProfile:
    """How to talk PIN to one kind of card.

    :param counter_query: the card answers a VERIFY without data with ``63Cx`` (or ``9000``)
        without spending a try. Set it only for cards known to do so.
    """

    name: str
    cla: int = 0x00
    #: VERIFY P2: the PIN reference (0x80 = specific reference data, PIN 0).
    pin_reference: int = 0x80
    counter_query: bool = False
    pin_policy: PinPolicy = field(default_factory=lambda: PinPolicy(4, 16))


#: A plain ISO 7816-4 card whose behaviour on an empty VERIFY is unknown (so never sent).
GENERIC_ISO7816: Final = CardProfile("iso7816")


@dataclass(frozen=True, slots=True)
class ReaderState:
    """A reader and whether a card is in it."""

    name: str
    card_present: bool
    atr: bytes | None = None


class CardEventKind(enum.Enum):
    INSERTED = "inserted"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class CardEvent:
    reader: str
    kind: CardEventKind
    atr: bytes | None = None


class _Context:
    """An established PC/SC context (released on close)."""

    def __init__(self) -> None:
        hresult, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if _rc(hresult) != scard.SCARD_S_SUCCESS:
            raise PcscUnavailableError(f"SCardEstablishContext: {scard.SCardGetErrorMessage(hresult)}")
        self.handle: Any = handle

    def reader_names(self) -> list[str]:
        hresult, names = scard.SCardListReaders(self.handle, [])
        code = _rc(hresult)
        if code == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if code in _SERVICE_DOWN:
            raise PcscUnavailableError(f"SCardListReaders: {scard.SCardGetErrorMessage(hresult)}")
        if code != scard.SCARD_S_SUCCESS:
            raise CardError(f"SCardListReaders: {scard.SCardGetErrorMessage(hresult)}")
        return list(names)

    def states(
        self, known: Sequence[tuple[str, int]], timeout_ms: int
    ) -> list[tuple[str, int, bytes | None]] | None:
        """``SCardGetStatusChange``; ``None`` on timeout."""
        hresult, states = scard.SCardGetStatusChange(self.handle, timeout_ms, list(known))
        code = _rc(hresult)
        if code == scard.SCARD_E_TIMEOUT:
            return None
        if code in _SERVICE_DOWN:
            raise PcscUnavailableError(f"SCardGetStatusChange: {scard.SCardGetErrorMessage(hresult)}")
        if code != scard.SCARD_S_SUCCESS:
            raise CardError(f"SCardGetStatusChange: {scard.SCardGetErrorMessage(hresult)}")
        return [(name, state, bytes(atr) if atr else None) for name, state, atr in states]

    def close(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None


def _present(state: int) -> bool:
    return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE


def list_readers() -> list[ReaderState]:
    """Every reader PC/SC knows, with card presence and ATR (never talks to a card)."""
    context = _Context()
    try:
        names = context.reader_names()
        if not names:
            return []
        states = context.states([(name, scard.SCARD_STATE_UNAWARE) for name in names], 0) or []
        return [
            ReaderState(name, _present(state), atr if _present(state) else None)
            for name, state, atr in states
        ]
    finally:
        context.close()


class CardWatcher:
    """Reports cards inserted and removed since the last call (``SCardGetStatusChange``)."""

    def __init__(self, readers: Sequence[str] | None = None) -> None:
        self._context = _Context()
        names = list(readers) if readers is not None else self._context.reader_names()
        if not names:
            self._context.close()
            raise ReaderAbsentError("no PC/SC reader")
        initial = self._context.states([(name, scard.SCARD_STATE_UNAWARE) for name in names], 0) or []
        self._known: dict[str, int] = {
            name: state & _STATE_MASK & ~scard.SCARD_STATE_CHANGED for name, state, _ in initial
        }
        self._present: dict[str, bool] = {name: _present(state) for name, state, _ in initial}

    @property
    def readers(self) -> list[ReaderState]:
        return [ReaderState(name, present) for name, present in self._present.items()]

    def wait(self, timeout: float) -> list[CardEvent]:
        """Block up to ``timeout`` seconds for a change; return the insertions/removals seen."""
        states = self._context.states(list(self._known.items()), max(int(timeout * 1000), 0))
        if states is None:
            return []
        events: list[CardEvent] = []
        for name, state, atr in states:
            self._known[name] = state & _STATE_MASK & ~scard.SCARD_STATE_CHANGED
            present = _present(state)
            if present != self._present.get(name, False):
                kind = CardEventKind.INSERTED if present else CardEventKind.REMOVED
                events.append(CardEvent(name, kind, atr if present else None))
            self._present[name] = present
        return events

    def events(self, timeout: float) -> Iterator[CardEvent]:
        """Yield events until one wait of ``timeout`` seconds passes without any."""
        while batch := self.wait(timeout):
            yield from batch

    def close(self) -> None:
        self._context.close()

    def __enter__(self) -> CardWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcscCard:
    """A connection to the card in ``reader`` (shared mode), with guarded PIN verification.

    :param guard: the PIN ledger and attempt lock (:meth:`PinGuard.from_file` for the user's
        ledger file).
    :param card_id: the ledger key. Pass the card's serial when known (e.g. from PKCS#11);
        the default, reader name + ATR, is shared by every card of one model in one reader,
        which errs on the safe side (a fresh card may be asked to confirm its final try early).
    """

    def __init__(
        self,
        reader: str,
        guard: PinGuard,
        *,
        profile: CardProfile = GENERIC_ISO7816,
        card_id: str | None = None,
    ) -> None:
        self.reader = reader
        self.guard = guard
        self.profile = profile
        self._context = _Context()
        try:
            if reader not in self._context.reader_names():
                raise ReaderAbsentError(f"no reader named {reader!r}")
            hresult, card, protocol = scard.SCardConnect(
                self._context.handle,
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            code = _rc(hresult)
            if code in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD):
                raise CardAbsentError(f"no card in {reader!r}")
            if code != scard.SCARD_S_SUCCESS:
                raise CardCommunicationError(f"SCardConnect: {scard.SCardGetErrorMessage(hresult)}")
            self._card: Any = card
            self._protocol: Any = protocol
            hresult, _, _, _, atr = scard.SCardStatus(card)
            if _rc(hresult) != scard.SCARD_S_SUCCESS:
                raise CardCommunicationError(f"SCardStatus: {scard.SCardGetErrorMessage(hresult)}")
        except BaseException:
            self._context.close()
            raise
        self.atr = bytes(atr)
        digest = hashlib.sha256(f"{reader}\0{self.atr.hex()}".encode()).hexdigest()[:16]
        self.card_id = card_id or f"pcsc-{digest}"

    def transmit(self, apdu: Sequence[int]) -> tuple[bytes, int, int]:
        """Send one APDU; ``(data, sw1, sw2)``. Raises :class:`CardCommunicationError`."""
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        code = _rc(hresult)
        if code in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD):
            raise CardAbsentError("card removed during the operation")
        if code != scard.SCARD_S_SUCCESS or len(response) < 2:
            raise CardCommunicationError(f"SCardTransmit: {scard.SCardGetErrorMessage(hresult)}")
        return bytes(response[:-2]), response[-2], response[-1]

    def pin_status(self) -> PinStatus:
        """Tries left, without spending one.

        Asks the card (empty VERIFY) only when the profile says the card answers it with its
        counter, and never on the ledger's final try; otherwise the ledger's count.
        """
        ledger_status = self.guard.status(self.card_id)
        if (
            not self.profile.counter_query
            or ledger_status.tries_left is None
            or ledger_status.tries_left <= 1
        ):
            return ledger_status
        with self.guard.attempt(self.card_id, confirm_final_try=False) as attempt:
            attempt.sending()
            _, sw1, sw2 = self.transmit([self.profile.cla, _VERIFY, 0x00, self.profile.pin_reference])
            if (sw1, sw2) == (0x90, 0x00):
                # Already verified in this card session: no counter given, nothing spent.
                attempt.not_counted()
                return ledger_status
            status = from_status_word(sw1, sw2)
            if status.outcome is PinOutcome.INCORRECT and status.tries_left is not None:
                # 63Cx is the counter, not a failed attempt: store it without logging a failure.
                self.guard.ledger.store.set(self.card_id, self.guard.ledger.limit - status.tries_left)
                attempt.not_counted()
                return PinStatus(PinOutcome.UNKNOWN, status.tries_left, "iso7816")
            # 6300 (no counter) or blocked: the card took the empty VERIFY as an attempt.
            return attempt.record(status)

    def verify_pin(self, pin: str, *, confirm_final_try: bool = False) -> PinStatus:
        """Send one VERIFY with ``pin`` and return the card's answer (ledger-completed).

        :raises PinLockedError: the ledger knows the card is locked (nothing is sent).
        :raises FinalPinTryError: one try is left and ``confirm_final_try`` is false (nothing sent).
        :raises PinMissingError, PinLengthError, PinFormatError: the PIN cannot be right (nothing sent).
        """
        data = self.profile.pin_policy.encode(pin)
        with self.guard.attempt(self.card_id, confirm_final_try=confirm_final_try) as attempt:
            apdu = [self.profile.cla, _VERIFY, 0x00, self.profile.pin_reference, len(data), *data]
            attempt.sending()
            _, sw1, sw2 = self.transmit(apdu)
            try:
                status = from_status_word(sw1, sw2)
            except CardError:
                # A status word about something else (e.g. 6A88 no such PIN): the PIN was not checked.
                attempt.not_counted()
                raise
            return attempt.record(status)

    def close(self) -> None:
        if getattr(self, "_card", None) is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        self._context.close()

    def __enter__(self) -> PcscCard:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
