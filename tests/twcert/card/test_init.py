from __future__ import annotations

import subprocess
import sys

import pytest

import twcert.card
from twcert.card.pkcs11 import check_token_flags
from twcert.errors import FinalPinTryError, PinLockedError, catalogue


def test_exports_exist() -> None:
    for name in twcert.card.__all__:
        assert hasattr(twcert.card, name), name


def test_importing_the_package_needs_no_hardware_library() -> None:
    code = "import sys; import twcert.card, twcert.card.cli; print(sorted(m for m in ('pkcs11', 'smartcard') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"


def test_card_errors_are_catalogued() -> None:
    codes = catalogue()
    for code in (
        "CARD_EXTRA_MISSING",
        "PKCS11_MODULE_UNAVAILABLE",
        "PCSC_UNAVAILABLE",
        "CARD_COMMUNICATION",
        "PIN_FORMAT",
        "CARD_SIGNING_KEY_NOT_FOUND",
        "AGENT_REQUEST_INVALID",
        "AGENT_START",
        "SOFTHSM_PROVISIONING",
    ):
        cls = codes[code]
        assert cls.message_zh and cls.message_en and cls.action_zh and cls.action_en


def test_token_pin_flags_refuse_before_login() -> None:
    # PKCS#11 v2.40 CK_TOKEN_INFO flags (written out, not taken from the code under test).
    locked, final_try, count_low = 0x00040000, 0x00020000, 0x00010000
    with pytest.raises(PinLockedError):
        check_token_flags(locked | 0x400)
    with pytest.raises(PinLockedError):
        check_token_flags(locked, confirm_final_try=True)
    with pytest.raises(FinalPinTryError):
        check_token_flags(final_try | count_low)
    check_token_flags(final_try, confirm_final_try=True)
    check_token_flags(count_low)
    check_token_flags(0x40D)
