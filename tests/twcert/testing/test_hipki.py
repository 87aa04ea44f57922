"""The HiPKI /sign answers of the test kit: the component's field set and codes, and signatures
that verify independently of twcert's own verification code."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from twcert.errors import (
    CardAbsentError,
    PinIncorrectError,
    PinLockedError,
    PinMissingError,
    ReaderAbsentError,
    UserCancelledError,
)
from twcert.hipki import HipkiSignResponse
from twcert.testing import (
    FakeGPKI,
    Issued,
    cancelled_response,
    failure_response,
    locked_response,
    no_card_response,
    no_pin_response,
    no_reader_response,
    sign_response,
    wrong_pin_response,
)

# The fields of a HiPKI Local Server /sign answer (CHT's component, as documented publicly).
SIGN_FIELDS = {"func", "ret_code", "last_error", "signature", "certb64", "cardSN", "version", "message"}
TBS = b"twcert-login/1 https://app.test abc nonce"


@pytest.fixture(scope="module")
def signer(pki: FakeGPKI) -> Issued:
    return pki.issue_citizen("王小明", "A123456789")


def test_success_carries_a_cms_signature_over_the_tbs_and_the_certificate(signer: Issued) -> None:
    answer = sign_response(signer, TBS, card_serial="TP01")
    assert set(answer) == SIGN_FIELDS
    assert answer["func"] == "sign" and answer["ret_code"] == 0 and answer["cardSN"] == "TP01"
    assert base64.b64decode(answer["certb64"]) == signer.der
    cms = base64.b64decode(answer["signature"])
    # OpenSSL's CMS verification, not twcert's: content attached, signer certificate inside.
    certs = pkcs7.load_der_pkcs7_certificates(cms)
    assert [c.serial_number for c in certs] == [signer.serial_number]
    assert TBS in cms
    json.loads(json.dumps(answer))  # plain JSON, as posted by the page


def test_pkcs1_is_the_raw_rsa_signature(signer: Issued) -> None:
    answer = sign_response(signer, TBS.decode(), signature_type="PKCS1", hash_algorithm="sha384")
    raw = base64.b64decode(answer["signature"])
    signer.certificate.public_key().verify(raw, TBS, padding.PKCS1v15(), hashes.SHA384())
    with pytest.raises(InvalidSignature):
        signer.certificate.public_key().verify(raw, TBS + b"x", padding.PKCS1v15(), hashes.SHA384())


def test_success_without_the_certificate(signer: Issued) -> None:
    assert sign_response(signer, TBS, with_certificate=False)["certb64"] == ""


@pytest.mark.parametrize(("tries_left", "last_error"), [(2, 0x80000002), (1, 0x80000001), (None, 0xA0)])
def test_wrong_pin_codes(signer: Issued, tries_left: int | None, last_error: int) -> None:
    answer = wrong_pin_response(tries_left, certificate=signer, card_serial="TP01")
    assert set(answer) == SIGN_FIELDS
    assert answer["ret_code"] == 0x76100006 and answer["last_error"] == last_error
    assert answer["signature"] == "" and answer["message"] == "IC卡登入失敗"
    error = HipkiSignResponse.parse(json.dumps(answer)).error()
    assert isinstance(error, PinIncorrectError)
    if tries_left is not None:
        assert error.params["tries_left"] == tries_left


@pytest.mark.parametrize("tries_left", [0, 3, -1])
def test_wrong_pin_refuses_counts_hipki_never_reports(tries_left: int) -> None:
    with pytest.raises(ValueError, match="tries left"):
        wrong_pin_response(tries_left)


def test_locked(signer: Issued) -> None:
    answer = locked_response(certificate=signer)
    assert (answer["ret_code"], answer["last_error"]) == (0x76100006, 0xA4)
    assert isinstance(HipkiSignResponse.parse(answer).error(), PinLockedError)


@pytest.mark.parametrize(
    ("build", "ret_code", "message", "error"),
    [
        (cancelled_response, 0x76000999, "使用者已取消", UserCancelledError),
        (no_card_response, 0x76000006, "未插入IC卡", CardAbsentError),
        (no_reader_response, 0x76100003, "無可用讀卡機", ReaderAbsentError),
        (no_pin_response, 0x76000998, "未輸入PIN碼", PinMissingError),
    ],
)
def test_other_failures(
    build: Callable[[], dict[str, Any]], ret_code: int, message: str, error: type[Exception]
) -> None:
    answer = build()
    assert set(answer) == SIGN_FIELDS
    assert answer["ret_code"] == ret_code and answer["message"] == message
    assert answer["signature"] == answer["certb64"] == answer["cardSN"] == ""
    assert isinstance(HipkiSignResponse.parse(answer).error(), error)


def test_a_failure_needs_a_failure_code() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        failure_response(0)
    assert failure_response(0x7600000B)["message"] == "JSON格式錯誤"
