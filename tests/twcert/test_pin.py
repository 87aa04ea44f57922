from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from twcert import CAFamily
from twcert.errors import (
    GCA_UNBLOCK_URL,
    MOICA_UNBLOCK_URL,
    FinalPinTryError,
    PinIncorrectError,
    PinLockedError,
)
from twcert.pin import PinAttemptLedger, PinOutcome, PinStatus, from_hipki, from_pkcs11, from_status_word
from twcert.stores.file import FilePinCounterStore
from twcert.stores.memory import MemoryPinCounterStore


@pytest.mark.parametrize(
    ("sw", "outcome", "tries"),
    [
        (0x9000, PinOutcome.ACCEPTED, None),
        (0x63C2, PinOutcome.INCORRECT, 2),
        (0x63C1, PinOutcome.INCORRECT, 1),
        (0x63C0, PinOutcome.LOCKED, 0),
        (0x6300, PinOutcome.INCORRECT, None),
        (0x6983, PinOutcome.LOCKED, 0),
        (0x6984, PinOutcome.LOCKED, 0),
    ],
)
def test_status_words(sw: int, outcome: PinOutcome, tries: int | None) -> None:
    status = from_status_word(sw >> 8, sw & 0xFF)
    assert (status.outcome, status.tries_left) == (outcome, tries)


def test_pkcs11_codes_and_flags() -> None:
    assert from_pkcs11(None).accepted
    assert from_pkcs11(0xA0).outcome is PinOutcome.INCORRECT
    assert from_pkcs11(0xA0, 0x00020000).final_try
    assert from_pkcs11(0xA4).locked
    assert from_pkcs11(0xA0, 0x00040000).locked
    assert from_pkcs11(0xA2).outcome is PinOutcome.WRONG_LENGTH
    assert from_pkcs11(0xA0, 0x00010000).count_low


def test_hipki_codes() -> None:
    assert from_hipki(0x76100006, 0x80000002) == PinStatus(PinOutcome.INCORRECT, 2, "hipki")
    assert from_hipki(0x76100006, 0x80000001).final_try  # type: ignore[union-attr]
    assert from_hipki(0x76100006, 0xA4).locked  # type: ignore[union-attr]
    assert from_hipki(0x76100006 - 2**32, 0xA0).outcome is PinOutcome.INCORRECT  # type: ignore[union-attr]
    assert from_hipki(0x76000006, None) is None  # no card: not a PIN matter


def test_raise_for_status_gives_family_unblock_address() -> None:
    with pytest.raises(PinLockedError) as info:
        PinStatus(PinOutcome.LOCKED, 0).raise_for_status(CAFamily.GCA)
    assert info.value.action_url == GCA_UNBLOCK_URL
    with pytest.raises(PinLockedError) as info:
        PinStatus(PinOutcome.LOCKED, 0).raise_for_status(CAFamily.MOICA)
    assert info.value.action_url == MOICA_UNBLOCK_URL
    with pytest.raises(PinIncorrectError, match="2 tries left"):
        PinStatus(PinOutcome.INCORRECT, 2).raise_for_status()


def _ledgers(tmp_path: Path) -> list[PinAttemptLedger]:
    return [
        PinAttemptLedger(MemoryPinCounterStore()),
        PinAttemptLedger(FilePinCounterStore(tmp_path / "l.json")),
    ]


def test_ledger_counts_uncounted_failures_and_locks(tmp_path: Path) -> None:
    for ledger in _ledgers(tmp_path):
        card = "TP00000000000001"
        no_counter = PinStatus(PinOutcome.INCORRECT, None, "pkcs11")
        assert ledger.record(card, no_counter).tries_left == 2
        assert ledger.record(card, no_counter).tries_left == 1
        with pytest.raises(FinalPinTryError):
            ledger.check(card, confirm_final_try=False)
        after = ledger.record(card, no_counter)
        assert after.locked
        with pytest.raises(PinLockedError):
            ledger.check(card, CAFamily.MOICA)
        ledger.record_unblock(card)
        assert ledger.check(card).tries_left == 3


def test_ledger_success_resets_and_card_counter_wins(tmp_path: Path) -> None:
    for ledger in _ledgers(tmp_path):
        card = "TP00000000000002"
        ledger.record(card, PinStatus(PinOutcome.INCORRECT, None))
        ledger.record(card, PinStatus(PinOutcome.INCORRECT, None))
        assert ledger.record(card, PinStatus(PinOutcome.ACCEPTED)).accepted
        assert ledger.status(card).tries_left == 3
        ledger.record(card, PinStatus(PinOutcome.INCORRECT, 1, "iso7816"))
        assert ledger.status(card).tries_left == 1


def _fail_many(path: str, times: int) -> None:
    ledger = PinAttemptLedger(FilePinCounterStore(path), limit=1000)
    for _ in range(times):
        ledger.record("CARD", PinStatus(PinOutcome.INCORRECT, None))


def test_file_ledger_loses_no_count_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.json")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_fail_many, args=(path, 25)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    assert FilePinCounterStore(path).get("CARD") == 100


def test_corrupt_file_ledger_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="corrupt"):
        FilePinCounterStore(path).get("X")
