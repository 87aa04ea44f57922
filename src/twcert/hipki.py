"""The HiPKI Local Server (跨平台網頁元件) protocol: response parsing and its error codes.

Shared by the server side (:class:`twcert.LoginService` accepts a sign response as posted by
the login page) and the local signing agent (:mod:`twcert.card.agent`), which must answer with
the same fields and codes. Codes follow CHT's ``errorcode.js`` (docs/reference/hipki.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import idnumber
from .certificate import CAFamily
from .errors import (
    CardAbsentError,
    CardOperationError,
    CertificateExpiredError,
    CertificateNotAccepted,
    CertificateNotYetValidError,
    HolderMismatch,
    LocalSignerDomainError,
    PinMissingError,
    ReaderAbsentError,
    ResponseParseError,
    SignatureMismatchError,
    TwcertError,
    UserCancelledError,
)
from .pin import from_hipki

__all__ = [
    "MESSAGES",
    "RET_CANCELLED",
    "RET_CARD_LOGIN_FAILED",
    "RET_CERT_EXPIRED",
    "RET_CERT_NOT_FOUND",
    "RET_CERT_NOT_YET_VALID",
    "RET_DOMAIN_FORBIDDEN",
    "RET_GET_CERT_FAILED",
    "RET_ID_MISMATCH",
    "RET_NO_CARD",
    "RET_NO_PIN",
    "RET_NO_READER",
    "RET_OK",
    "RET_SIGNATURE_FAILED",
    "RET_UNTRUSTED_SITE",
    "RET_WRONG_CARD_MOICA",
    "HipkiSignResponse",
    "error_for",
]

RET_OK: Final = 0
RET_NO_CARD: Final = 0x76000006  #: 未插入IC卡
RET_NO_READER: Final = 0x76100003  #: 無可用讀卡機
RET_CARD_LOGIN_FAILED: Final = 0x76100006  #: IC卡登入失敗 (see last_error)
RET_NO_PIN: Final = 0x76000998  #: 未輸入PIN碼
RET_CANCELLED: Final = 0x76000999  #: 使用者已取消
RET_DOMAIN_FORBIDDEN: Final = 0x7600000F  #: 禁止存取的網域
RET_UNTRUSTED_SITE: Final = 0x76000031  #: 未授權/非信任網站
RET_GET_CERT_FAILED: Final = 0x76100009  #: 取得憑證失敗
RET_CERT_NOT_FOUND: Final = 0x7610000C  #: 找不到指定憑證
RET_CERT_NOT_YET_VALID: Final = 0x76500001  #: 憑證尚未生效
RET_CERT_EXPIRED: Final = 0x76500002  #: 憑證已逾期
RET_ID_MISMATCH: Final = 0x76210001  #: 身分證字號或外僑號碼比對錯誤
RET_WRONG_CARD_MOICA: Final = 0x83000101  #: …0x83000104: wrong card type (MOICA/MOEACA/GCA/XCA)
RET_SIGNATURE_FAILED: Final = 0x76300008  #: 簽章驗證錯誤

#: The component's own texts for its codes (CHT errorcode.js), for display next to ours.
MESSAGES: Final[Mapping[int, str]] = {
    RET_OK: "成功",
    RET_NO_CARD: "未插入IC卡",
    RET_NO_READER: "無可用讀卡機",
    RET_CARD_LOGIN_FAILED: "IC卡登入失敗",
    RET_NO_PIN: "未輸入PIN碼",
    RET_CANCELLED: "使用者已取消",
    RET_DOMAIN_FORBIDDEN: "禁止存取的網域",
    RET_UNTRUSTED_SITE: "未授權的網站",
    RET_GET_CERT_FAILED: "取得憑證失敗",
    RET_CERT_NOT_FOUND: "找不到指定憑證",
    RET_CERT_NOT_YET_VALID: "憑證尚未生效",
    RET_CERT_EXPIRED: "憑證已逾期",
    RET_ID_MISMATCH: "身分證字號或外僑號碼比對錯誤",
    RET_SIGNATURE_FAILED: "簽章驗證錯誤",
    # The rest of CHT's errorcode.js (no PIN involved; they map to CardOperationError).
    0x76000003: "未輸入待簽訊息",
    0x76000008: "型態錯誤",
    0x7600000A: "檔案過大",
    0x7600000B: "JSON格式錯誤",
    0x7600000C: "參數錯誤",
    0x7600000D: "執行檔錯誤或逾時",
    0x7600000E: "不支援的方法",
    0x76100001: "無法載入IC卡函式庫檔案",
    0x76100009: "取得憑證失敗",
    0x7610000C: "找不到指定憑證",
    0x76300002: "簽章型別錯誤",
    0x76300004: "簽章執行錯誤",
    0x76600002: "Base64解碼錯誤",
}

_SIMPLE: Final[Mapping[int, Callable[[str], TwcertError]]] = {
    RET_NO_CARD: CardAbsentError,
    RET_NO_READER: ReaderAbsentError,
    RET_NO_PIN: PinMissingError,
    RET_CANCELLED: UserCancelledError,
    RET_DOMAIN_FORBIDDEN: LocalSignerDomainError,
    RET_UNTRUSTED_SITE: LocalSignerDomainError,
    RET_CERT_NOT_YET_VALID: lambda d: CertificateNotYetValidError(d, valid_from="?"),
    RET_CERT_EXPIRED: lambda d: CertificateExpiredError(d, expired_at="?"),
    RET_ID_MISMATCH: HolderMismatch,
    RET_SIGNATURE_FAILED: SignatureMismatchError,
}


def _as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise ResponseParseError(f"{field} is a boolean")
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16 if text.lower().startswith("0x") else 10) & 0xFFFFFFFF
        except ValueError:
            raise ResponseParseError(f"{field} is not a number: {text[:20]!r}") from None
    raise ResponseParseError(f"{field} has type {type(value).__name__}")


def error_for(
    ret_code: int, last_error: int | None = None, family: CAFamily | None = None
) -> TwcertError | None:
    """The catalogued error for a HiPKI ``ret_code`` (``None`` for success)."""
    ret_code &= 0xFFFFFFFF
    if ret_code == RET_OK:
        return None
    detail = f"HiPKI ret_code 0x{ret_code:08X}" + (f" last_error 0x{last_error:X}" if last_error else "")
    if ret_code == RET_CARD_LOGIN_FAILED:
        status = from_hipki(ret_code, last_error)
        if status is not None:
            try:
                status.raise_for_status(family)
            except TwcertError as exc:
                return exc
    if 0x83000101 <= ret_code <= 0x83000104:
        return CertificateNotAccepted(detail)
    factory = _SIMPLE.get(ret_code)
    if factory is not None:
        return factory(detail)
    known = MESSAGES.get(ret_code)
    return CardOperationError(f"{detail} ({known})" if known else detail, ret_code=f"0x{ret_code:08X}")


@dataclass(frozen=True, slots=True)
class HipkiSignResponse:
    """A ``/sign`` response: ``{func, ret_code, last_error, signature, certb64, cardSN, ...}``."""

    ret_code: int
    last_error: int | None
    signature: bytes | None
    certb64: str | None
    card_serial: str | None
    func: str = "sign"
    message: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | str | bytes) -> HipkiSignResponse:
        """Parse a response given as a dict or its JSON text.

        :raises ResponseParseError: the text or mapping is not a ``/sign`` response.
        :raises TypeError: ``data`` is neither text, bytes nor a mapping.
        """
        if isinstance(data, str | bytes | bytearray):
            if len(data) > 256 * 1024:
                raise ResponseParseError("response too large")
            try:
                data = json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ResponseParseError(f"response is not JSON: {exc}") from None
            except RecursionError:  # "[" * 100000: the decoder recurses per nesting level
                raise ResponseParseError("response is not JSON: nested too deeply") from None
        elif not isinstance(data, Mapping):
            raise TypeError(f"a HiPKI response must be JSON text or a mapping, not {type(data).__name__}")
        if not isinstance(data, Mapping):
            raise ResponseParseError("response is not a JSON object")
        if "ret_code" not in data:
            raise ResponseParseError("response has no ret_code")
        ret_code = _as_int(data["ret_code"], "ret_code")
        last_error = (
            _as_int(data["last_error"], "last_error") if data.get("last_error") not in (None, "") else None
        )
        signature = None
        raw_sig = data.get("signature")
        if raw_sig not in (None, ""):
            if not isinstance(raw_sig, str):
                raise ResponseParseError("signature is not a base64 string")
            if "-" in raw_sig or "_" in raw_sig:  # the URL-safe alphabet
                raw_sig = raw_sig.replace("-", "+").replace("_", "/")
            try:
                signature = base64.b64decode(raw_sig, validate=False)
            except (binascii.Error, ValueError):
                raise ResponseParseError("signature is not valid base64") from None
        certb64 = data.get("certb64")
        if certb64 is not None and not isinstance(certb64, str):
            raise ResponseParseError("certb64 is not a string")
        card_serial = data.get("cardSN")
        if card_serial is not None and not isinstance(card_serial, str):
            raise ResponseParseError("cardSN is not a string")
        func = data.get("func", "sign")
        if not isinstance(func, str):
            raise ResponseParseError("func is not a string")
        message = data.get("message")
        return cls(
            ret_code=ret_code,
            last_error=last_error,
            signature=signature,
            certb64=certb64 or None,
            card_serial=card_serial or None,
            func=func,
            message=message if isinstance(message, str) else None,
        )

    def __repr__(self) -> str:
        # The card number masked; the signature and certificate only by size (the certificate
        # names its holder).
        card = idnumber.mask_serial(self.card_serial) if self.card_serial else None
        signature = f"<{len(self.signature)} bytes>" if self.signature is not None else None
        certb64 = f"<{len(self.certb64)} chars>" if self.certb64 is not None else None
        return (
            f"HipkiSignResponse(ret_code=0x{self.ret_code & 0xFFFFFFFF:08X}, last_error={self.last_error!r}, "
            f"signature={signature}, certb64={certb64}, card_serial={card!r}, func={self.func!r})"
        )

    @property
    def ok(self) -> bool:
        return self.ret_code == RET_OK

    def error(self, family: CAFamily | None = None) -> TwcertError | None:
        return error_for(self.ret_code, self.last_error, family)

    def to_dict(self) -> dict[str, Any]:
        """The response as the component sends it (for the local agent)."""
        return {
            "func": self.func,
            "ret_code": self.ret_code,
            "last_error": self.last_error or 0,
            "signature": base64.b64encode(self.signature).decode() if self.signature else "",
            "certb64": self.certb64 or "",
            "cardSN": self.card_serial or "",
            "message": self.message or MESSAGES.get(self.ret_code, ""),
        }
