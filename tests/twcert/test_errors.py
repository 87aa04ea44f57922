from __future__ import annotations

import re

import pytest

from twcert import errors

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_catalogue_codes_are_unique_and_complete() -> None:
    catalogue = errors.catalogue()
    assert len(catalogue) >= 40
    for code, cls in catalogue.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", code), code
        assert CJK.search(cls.message_zh), f"{code} needs a Traditional Chinese message"
        assert cls.message_en and not CJK.search(cls.message_en), code


def test_every_exported_error_is_a_twcert_error() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert issubclass(value, errors.TwcertError), name


def test_manual_wording_for_an_invalid_card() -> None:
    text = "插入之自然人憑證或機關憑證無效，可能為憑證已過期、廢止…等情形，請確認所持憑證之有效性。"
    for cls in (
        errors.CertificateInvalidError,
        errors.CertificateExpiredError,
        errors.CertificateRevokedError,
        errors.UntrustedCertificateError,
        errors.RevocationUnavailableError,
    ):
        assert cls.message_zh.startswith(text)
    assert errors.TestCertificateRefused.message_zh == "請勿使用測試之機關憑證登入。"


def test_messages_are_filled_and_serialisable() -> None:
    exc = errors.PinLockedError("card TP00********0001 locked", unblock_url=errors.MOICA_UNBLOCK_URL)
    assert errors.MOICA_UNBLOCK_URL in exc.message and exc.action_url == errors.MOICA_UNBLOCK_URL
    assert exc.as_dict()["code"] == "PIN_LOCKED"
    assert str(exc).startswith("[PIN_LOCKED]")
    incorrect = errors.PinIncorrectError(tries_left=2)
    assert "2" in incorrect.message and "2" in incorrect.message_english
    # A missing parameter stays visible instead of crashing the error page.
    assert "{tries_left}" in errors.PinIncorrectError().message


def test_subclass_must_define_its_own_code() -> None:
    with pytest.raises(TypeError):

        class Broken(errors.CardError):
            pass
