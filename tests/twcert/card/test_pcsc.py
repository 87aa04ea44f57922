"""PC/SC against a real pcscd + vpcd reader + vicc iso7816 card (see conftest.py).

The vicc card answers each of the first three wrong PINs with SW 6300 (no counter) and every
VERIFY after that with 6983; a correct PIN before the third failure resets it. Its default PIN
is 1234. Each test gets a freshly started card.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twcert.card.errors import PinFormatError
from twcert.card.guard import PinGuard
from twcert.card.pcsc import CardEventKind, CardProfile, CardWatcher, PcscCard, list_readers
from twcert.errors import (
    CardAbsentError,
    FinalPinTryError,
    PinLengthError,
    PinLockedError,
    PinMissingError,
    ReaderAbsentError,
)
from twcert.pin import PinOutcome

from .conftest import Pcscd, VirtualCard

WRONG = "9999"


def raw_verify(reader: str, pin: str) -> tuple[int, int]:
    """A VERIFY sent outside the library (plain pyscard), as another program would."""
    from smartcard.System import readers

    connection = next(r for r in readers() if str(r) == reader).createConnection()
    connection.connect()
    try:
        data = list(pin.encode())
        _, sw1, sw2 = connection.transmit([0x00, 0x20, 0x00, 0x80, len(data), *data])
        return sw1, sw2
    finally:
        connection.disconnect()


@pytest.fixture
def guard(tmp_path: Path) -> PinGuard:
    return PinGuard.from_file(tmp_path / "ledger.json")


def test_readers_list_the_virtual_reader_and_card(virtual_card: VirtualCard) -> None:
    states = {state.name: state for state in list_readers()}
    state = states[virtual_card.reader]
    assert state.card_present
    assert state.atr and state.atr[0] in (0x3B, 0x3F)  # ISO 7816-3 TS byte: direct or inverse convention


def test_watcher_sees_removal_and_insertion(virtual_card: VirtualCard) -> None:
    with CardWatcher([virtual_card.reader]) as watcher:
        assert watcher.readers[0].card_present
        assert watcher.wait(0.2) == []
        virtual_card.remove()
        removed = [e for e in watcher.events(2) if e.kind is CardEventKind.REMOVED]
        assert [e.reader for e in removed] == [virtual_card.reader]
        virtual_card.insert()
        inserted = [e for e in watcher.events(2) if e.kind is CardEventKind.INSERTED]
        assert [e.reader for e in inserted] == [virtual_card.reader]
        assert inserted[0].atr


def test_two_wrong_pins_then_the_right_one_resets(virtual_card: VirtualCard, guard: PinGuard) -> None:
    with PcscCard(virtual_card.reader, guard) as card:
        first = card.verify_pin(WRONG)
        assert (first.outcome, first.tries_left, first.source) == (PinOutcome.INCORRECT, 2, "iso7816")
        second = card.verify_pin(WRONG)
        assert (second.outcome, second.tries_left) == (PinOutcome.INCORRECT, 1)
        assert second.final_try
        # The final try is never spent without the caller's explicit confirmation.
        with pytest.raises(FinalPinTryError):
            card.verify_pin(virtual_card.pin)
        assert virtual_card.verify_commands() == 2
        accepted = card.verify_pin(virtual_card.pin, confirm_final_try=True)
        assert accepted.accepted and accepted.tries_left == 3
        assert guard.status(card.card_id).tries_left == 3
        # The card itself was reset too: two more wrong PINs still leave it usable.
        assert card.verify_pin(WRONG).tries_left == 2
        assert card.verify_pin(WRONG).tries_left == 1
        assert card.verify_pin(virtual_card.pin, confirm_final_try=True).accepted
    assert raw_verify(virtual_card.reader, virtual_card.pin) == (0x90, 0x00)
    assert virtual_card.verify_commands() == 7


def test_three_wrong_pins_block_and_no_fourth_verify_is_sent(
    virtual_card: VirtualCard, guard: PinGuard
) -> None:
    with PcscCard(virtual_card.reader, guard) as card:
        card.verify_pin(WRONG)
        card.verify_pin(WRONG)
        third = card.verify_pin(WRONG, confirm_final_try=True)
        assert third.locked and third.outcome is PinOutcome.LOCKED and third.tries_left == 0
        assert card.pin_status().locked
        with pytest.raises(PinLockedError) as refused:
            card.verify_pin(virtual_card.pin, confirm_final_try=True)
        assert refused.value.action_url  # the unblock address
        assert virtual_card.verify_commands() == 3
    # The ledger's lock matches the card's: a VERIFY sent outside the library is refused by the card.
    assert raw_verify(virtual_card.reader, virtual_card.pin) == (0x69, 0x83)
    # A new connection (another program run) reads the same ledger and still refuses.
    other_run = PinGuard.from_file(guard.ledger.store.path)  # type: ignore[attr-defined]
    with PcscCard(virtual_card.reader, other_run) as again, pytest.raises(PinLockedError):
        again.verify_pin(virtual_card.pin, confirm_final_try=True)
    assert virtual_card.verify_commands() == 4  # only the raw one


def test_pin_status_reads_the_ledger_without_touching_the_card(
    virtual_card: VirtualCard, guard: PinGuard
) -> None:
    with PcscCard(virtual_card.reader, guard) as card:
        assert card.pin_status().tries_left == 3
        card.verify_pin(WRONG)
        card.verify_pin(WRONG)
        for _ in range(5):
            status = card.pin_status()
            assert (status.tries_left, status.source) == (1, "ledger")
        assert virtual_card.verify_commands() == 2
        # Had a status read spent a try, the card would be blocked by now.
        assert card.verify_pin(virtual_card.pin, confirm_final_try=True).accepted


def test_a_card_that_counts_the_empty_verify_is_recorded(virtual_card: VirtualCard, guard: PinGuard) -> None:
    """A profile wrongly claiming the card answers an empty VERIFY with its counter: vicc answers
    6300 and spends a try, and the ledger counts it, so it stays in step with the card."""
    profile = CardProfile("claims-counter-query", counter_query=True)
    with PcscCard(virtual_card.reader, guard, profile=profile) as card:
        spent = card.pin_status()
        assert (spent.outcome, spent.tries_left) == (PinOutcome.INCORRECT, 2)
        assert virtual_card.commands()[-1] == bytes([0x00, 0x20, 0x00, 0x80])
        assert card.verify_pin(WRONG).tries_left == 1
        # On the final try the query is never sent.
        assert card.pin_status().tries_left == 1
        assert virtual_card.verify_commands() == 2
        assert card.verify_pin(WRONG, confirm_final_try=True).locked
    assert raw_verify(virtual_card.reader, virtual_card.pin) == (0x69, 0x83)


def test_malformed_pins_never_reach_the_card(virtual_card: VirtualCard, guard: PinGuard) -> None:
    with PcscCard(virtual_card.reader, guard) as card:
        with pytest.raises(PinMissingError):
            card.verify_pin("")
        with pytest.raises(PinLengthError):
            card.verify_pin("12")
        with pytest.raises(PinFormatError):
            card.verify_pin("12 34")
        with pytest.raises(PinFormatError):
            card.verify_pin("１２３４")  # full-width digits
        assert card.pin_status().tries_left == 3
    assert virtual_card.verify_commands() == 0


def test_absent_card_and_unknown_reader(pcscd: Pcscd, virtual_card: VirtualCard, guard: PinGuard) -> None:
    with pytest.raises(ReaderAbsentError):
        PcscCard("No Such Reader 00 00", guard)
    virtual_card.remove()
    with pytest.raises(CardAbsentError):
        PcscCard(virtual_card.reader, guard)
    assert not {s.name: s for s in list_readers()}[virtual_card.reader].card_present
