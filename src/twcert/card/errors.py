"""Catalogued errors of the card side (PC/SC, PKCS#11, the local signing agent, SoftHSM set-up).

They extend :mod:`twcert.errors`; failures the core catalogue already names (wrong PIN, locked
card, no card, no reader ...) are raised with those classes, not redefined here.
"""

from __future__ import annotations

from ..errors import CardError, ConfigurationError

__all__ = [
    "AgentRequestError",
    "AgentStartError",
    "CardCommunicationError",
    "CardExtraMissingError",
    "PcscUnavailableError",
    "PinFormatError",
    "Pkcs11ModuleError",
    "SigningKeyNotFoundError",
    "SoftHsmError",
]


class CardExtraMissingError(ConfigurationError):
    """An optional dependency of the card tools is not installed."""

    code = "CARD_EXTRA_MISSING"
    message_zh = "缺少卡片作業所需之套件（{module}），請執行 pip install 'twcert[{extra}]' 安裝。"
    message_en = "The card tools need {module}; install it with: pip install 'twcert[{extra}]'."
    action_zh = "請執行 pip install 'twcert[{extra}]' 後再試。"
    action_en = "Run pip install 'twcert[{extra}]' and try again."


class Pkcs11ModuleError(CardError):
    """The PKCS#11 module (HiCOS, SoftHSM ...) cannot be found or loaded."""

    code = "PKCS11_MODULE_UNAVAILABLE"
    message_zh = "無法載入IC卡函式庫（PKCS#11 模組），請確認已安裝 HiCOS 卡片管理工具。"
    message_en = (
        "The card's PKCS#11 module could not be loaded; make sure the HiCOS card software is installed."
    )
    action_zh = "請安裝 HiCOS 卡片管理工具，或以 --module 指定 PKCS#11 模組路徑。"
    action_en = "Install the HiCOS card software, or give the PKCS#11 module path with --module."
    http_status = 503


class PcscUnavailableError(CardError):
    """The PC/SC service (pcscd / Windows Smart Card service) cannot be reached."""

    code = "PCSC_UNAVAILABLE"
    message_zh = "無法連線至智慧卡服務（PC/SC），請確認讀卡機服務已啟動。"
    message_en = "The smart-card service (PC/SC) is not available; make sure it is running."
    action_zh = "請啟動智慧卡服務（Linux：pcscd）後再試。"
    action_en = "Start the smart-card service (pcscd on Linux) and try again."
    http_status = 503


class CardCommunicationError(CardError):
    """The card stopped answering in the middle of an operation (removed, reset, reader error)."""

    code = "CARD_COMMUNICATION"
    message_zh = "與IC卡通訊失敗，請確認卡片未被移除後重新操作。"
    message_en = "Communication with the card failed; make sure it was not removed and try again."
    action_zh = "請重新插入卡片後再試；PIN碼嘗試次數可能已被扣除。"
    action_en = "Re-insert the card and try again; the PIN try may have been counted."


class PinFormatError(CardError):
    """The PIN contains characters a card PIN cannot contain (checked before the card is asked)."""

    code = "PIN_FORMAT"
    message_zh = "輸入之PIN碼格式錯誤，PIN碼僅能包含英文字母與數字。"
    message_en = "The PIN has an invalid format; it may contain only letters and digits."
    action_zh = "請重新輸入PIN碼。"
    action_en = "Enter the PIN again."


class SigningKeyNotFoundError(CardError):
    """The token holds no signing certificate with a matching private key."""

    code = "CARD_SIGNING_KEY_NOT_FOUND"
    message_zh = "IC卡中找不到簽章用憑證或金鑰，請確認插入之卡片為自然人憑證或機關憑證。"
    message_en = "No signing certificate with its key was found on the card."
    action_zh = "請確認插入之卡片為自然人憑證或機關憑證。"
    action_en = "Make sure the inserted card is a citizen or agency card."


class AgentRequestError(CardError):
    """A request to the local signing agent is malformed or asks for something unsupported."""

    code = "AGENT_REQUEST_INVALID"
    message_zh = "簽章請求格式錯誤（錯誤碼 {ret_code}），請重新操作。"
    message_en = "The signing request is malformed or unsupported (error code {ret_code})."
    action_zh = "請重新整理網頁後再試；若持續發生請洽網站管理者。"
    action_en = "Reload the page and try again; contact the site's administrator if it persists."

    def __init__(self, detail: str = "", *, ret_code: int) -> None:
        super().__init__(detail, ret_code=f"0x{ret_code:08X}")
        #: The HiPKI ``ret_code`` the agent answers with.
        self.ret_code = ret_code


class AgentStartError(ConfigurationError):
    """The local signing agent could not start (port in use, bad configuration)."""

    code = "AGENT_START"
    message_zh = "本機簽章服務無法啟動：{reason}"
    message_en = "The local signing agent could not start: {reason}"
    action_zh = "請確認連接埠未被其他程式（例如跨平台網頁元件）占用，或改用其他連接埠。"
    action_en = "Make sure no other program (e.g. the HiPKI Local Server) uses the port, or choose another."


class SoftHsmError(ConfigurationError):
    """Provisioning SoftHSM test tokens failed."""

    code = "SOFTHSM_PROVISIONING"
    message_zh = "建立 SoftHSM 測試卡片失敗：{reason}"
    message_en = "Provisioning SoftHSM test tokens failed: {reason}"
    action_zh = "請確認已安裝 softhsm2 套件。"
    action_en = "Make sure the softhsm2 package is installed."
