"""What the HiPKI Local Server answers a login page's ``/sign`` call, built from test keys.

The JSON has the component's field set (``func``, ``ret_code``, ``last_error``, ``signature``,
``certb64``, ``cardSN``, ``version``, ``message``) and its codes: success, wrong PIN with the
tries left (``ret_code`` 0x76100006 with ``last_error`` 0x80000002 / 0x80000001, or 0xA0
when the card gives no counter), locked (0xA4), cancelled, no PIN, no card, no reader.
Post the dict as the login page would; :class:`twcert.LoginService` must decide on it exactly
as on a real card's answer. The codes are those of :mod:`twcert.hipki` (CHT's
``errorcode.js`` of the component).
"""

from __future__ import annotations

import base64
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7

from .. import hipki, pin
from .pki import Issued

__all__ = [
    "DEFAULT_VERSION",
    "cancelled_response",
    "failure_response",
    "locked_response",
    "no_card_response",
    "no_pin_response",
    "no_reader_response",
    "sign_response",
    "wrong_pin_response",
]

#: What ``version`` says in built answers. The component's exact version string is not
#: confirmed by public sources (1.3.4.6 is a packaged macOS release); nothing checks it.
DEFAULT_VERSION: Final = "1.3.4.6"

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _cert_b64(certificate: Issued | None) -> str:
    return base64.b64encode(certificate.der).decode("ascii") if certificate is not None else ""


def _response(
    ret_code: int,
    *,
    last_error: int = 0,
    signature: bytes = b"",
    certificate: Issued | None = None,
    card_serial: str = "",
    version: str = DEFAULT_VERSION,
) -> dict[str, Any]:
    return {
        "func": "sign",
        "ret_code": ret_code,
        "last_error": last_error,
        "signature": base64.b64encode(signature).decode("ascii") if signature else "",
        "certb64": _cert_b64(certificate),
        "cardSN": card_serial,
        "version": version,
        "message": hipki.MESSAGES.get(ret_code, ""),
    }


def sign_response(
    signer: Issued,
    tbs: bytes | str,
    *,
    card_serial: str = "",
    signature_type: Literal["PKCS7", "PKCS1"] = "PKCS7",
    hash_algorithm: Literal["sha256", "sha384", "sha512"] = "sha256",
    with_certificate: bool = True,
    version: str = DEFAULT_VERSION,
) -> dict[str, Any]:
    """A successful ``/sign``: the card signed ``tbs`` with ``signer``'s key.

    ``PKCS7`` is CMS SignedData with the content attached and the certificate inside;
    ``PKCS1`` is the raw RSA PKCS#1 v1.5 signature (the certificate then only in ``certb64``).
    """
    data = tbs.encode("utf-8") if isinstance(tbs, str) else tbs
    algorithm = _HASHES[hash_algorithm]()
    if signature_type == "PKCS7":
        signature = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(data)
            .add_signer(signer.certificate, signer.key, algorithm)
            .sign(serialization.Encoding.DER, [])
        )
    elif signature_type == "PKCS1":
        signature = signer.key.sign(data, padding.PKCS1v15(), algorithm)
    else:
        raise ValueError(f"unknown signature type {signature_type!r}")
    return _response(
        hipki.RET_OK,
        signature=signature,
        certificate=signer if with_certificate else None,
        card_serial=card_serial,
        version=version,
    )


def failure_response(
    ret_code: int,
    *,
    last_error: int = 0,
    certificate: Issued | None = None,
    card_serial: str = "",
    version: str = DEFAULT_VERSION,
) -> dict[str, Any]:
    """Any failed ``/sign`` (no signature), for codes the helpers below do not name."""
    if ret_code == hipki.RET_OK:
        raise ValueError("a failure needs a non-zero ret_code")
    return _response(
        ret_code, last_error=last_error, certificate=certificate, card_serial=card_serial, version=version
    )


def wrong_pin_response(
    tries_left: int | None = 2, *, certificate: Issued | None = None, card_serial: str = ""
) -> dict[str, Any]:
    """The card refused the PIN. ``tries_left`` 2 or 1 as HiPKI reports it; ``None``: a card
    that gives no counter (plain CKR_PIN_INCORRECT). 0 is :func:`locked_response`."""
    codes = {2: pin.HIPKI_TWO_TRIES_LEFT, 1: pin.HIPKI_ONE_TRY_LEFT, None: pin.CKR_PIN_INCORRECT}
    if tries_left not in codes:
        raise ValueError("HiPKI reports 2 or 1 tries left (or no counter); use locked_response() for 0")
    return failure_response(
        hipki.RET_CARD_LOGIN_FAILED,
        last_error=codes[tries_left],
        certificate=certificate,
        card_serial=card_serial,
    )


def locked_response(*, certificate: Issued | None = None, card_serial: str = "") -> dict[str, Any]:
    """The PIN is locked (CKR_PIN_LOCKED): the holder must unblock the card."""
    return failure_response(
        hipki.RET_CARD_LOGIN_FAILED,
        last_error=pin.CKR_PIN_LOCKED,
        certificate=certificate,
        card_serial=card_serial,
    )


def cancelled_response() -> dict[str, Any]:
    """The holder closed the PIN dialog (使用者已取消)."""
    return failure_response(hipki.RET_CANCELLED)


def no_pin_response() -> dict[str, Any]:
    """The holder confirmed an empty PIN (未輸入PIN碼)."""
    return failure_response(hipki.RET_NO_PIN)


def no_card_response() -> dict[str, Any]:
    """No card in the reader (未插入IC卡)."""
    return failure_response(hipki.RET_NO_CARD)


def no_reader_response() -> dict[str, Any]:
    """No card reader attached (無可用讀卡機)."""
    return failure_response(hipki.RET_NO_READER)
