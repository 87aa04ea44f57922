"""The error catalogue: one exception tree, one class per failure a user can hit.

Every class carries a stable ``code`` (never reused or renamed once released), a
Traditional Chinese message in the wording of the manual 「以自然人憑證或機關憑證登載
『事求人機關徵才系統』職缺操作手冊」, an English message, and the action the user should
take. Messages are templates filled from the instance's ``params``; they never contain an
unmasked national ID or name (callers pass masked values).

::

    TwcertError
    ├── ConfigurationError
    │   ├── TrustAnchorPinError
    │   └── UnsafeDirectoryError
    ├── ParseError                               (bytes that are not what they claim to be)
    │   ├── CertificateParseError
    │   ├── SignatureParseError
    │   └── ResponseParseError
    ├── CertificateInvalidError                  (the manual's "憑證無效" family)
    │   ├── CertificateExpiredError
    │   ├── CertificateNotYetValidError
    │   ├── CertificateRevokedError
    │   ├── UntrustedCertificateError
    │   ├── RevocationUnavailableError
    │   ├── WrongCertificateUsageError
    │   ├── CertificatePolicyError
    │   ├── CertificateFamilyNotAcceptedError
    │   └── TestCertificateRefused
    ├── RevocationDataError                      (a CRL / OCSP answer that cannot be used)
    ├── CardError                                (reported by the card or its middleware)
    │   ├── PinIncorrectError
    │   ├── PinLockedError
    │   ├── PinLengthError
    │   ├── PinMissingError
    │   ├── FinalPinTryError
    │   ├── CardAbsentError
    │   ├── ReaderAbsentError
    │   ├── UserCancelledError
    │   ├── LocalSignerUnavailableError
    │   ├── LocalSignerDomainError
    │   └── CardOperationError
    ├── ChallengeError
    │   ├── ChallengeUnknownError
    │   ├── ChallengeExpiredError
    │   ├── ChallengeReplayedError
    │   ├── ChallengeBindingError
    │   └── SignatureMismatchError
    ├── LoginRefusedError
    │   ├── AccountRequired
    │   ├── AccountNotFound
    │   ├── NotInService
    │   ├── HolderMismatch
    │   ├── AgencyCodeUnknown
    │   ├── AgencyAbolished
    │   └── CertificateNotAccepted
    └── BackendUnavailableError
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

__all__ = [
    "GCA_UNBLOCK_URL",
    "MOICA_UNBLOCK_URL",
    "AccountAlreadyBound",
    "AccountNotFound",
    "AccountRequired",
    "AgencyAbolished",
    "AgencyCodeUnknown",
    "BackendUnavailableError",
    "CardAbsentError",
    "CardError",
    "CardOperationError",
    "CertificateExpiredError",
    "CertificateFamilyNotAcceptedError",
    "CertificateInvalidError",
    "CertificateNotAccepted",
    "CertificateNotYetValidError",
    "CertificateParseError",
    "CertificatePolicyError",
    "CertificatePurposeError",
    "CertificateRevokedError",
    "ChallengeBindingError",
    "ChallengeError",
    "ChallengeExpiredError",
    "ChallengeReplayedError",
    "ChallengeStoreFullError",
    "ChallengeUnknownError",
    "ConfigurationError",
    "FinalPinTryError",
    "HolderMismatch",
    "LocalSignerDomainError",
    "LocalSignerUnavailableError",
    "LoginRefusedError",
    "NotInService",
    "ParseError",
    "PinIncorrectError",
    "PinLengthError",
    "PinLockedError",
    "PinMissingError",
    "ReaderAbsentError",
    "ResponseParseError",
    "RevocationDataError",
    "RevocationUnavailableError",
    "SignatureMismatchError",
    "SignatureParseError",
    "TestCertificateRefused",
    "TrustAnchorPinError",
    "TwcertError",
    "UnsafeDirectoryError",
    "UntrustedCertificateError",
    "UserCancelledError",
    "WrongCertificateUsageError",
    "catalogue",
]

#: Where a locked citizen card (自然人憑證) is unblocked (the manual's address).
MOICA_UNBLOCK_URL = "http://moica.nat.gov.tw/html/unblockcard.htm#2"
#: Where a locked agency card (機關憑證) is unblocked (the manual's address).
GCA_UNBLOCK_URL = "https://gcaweb.nat.gov.tw/gcacms/04-04.html"

# The manual's own sentence for any certificate that fails verification.
_CARD_INVALID_ZH = "插入之自然人憑證或機關憑證無效，可能為憑證已過期、廢止…等情形，請確認所持憑證之有效性。"


class _SafeDict(dict[str, Any]):
    """Leaves unknown ``{placeholders}`` visible instead of raising while formatting."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class TwcertError(Exception):
    """Base of every error the library raises on purpose.

    :param detail: technical detail for logs and developers (English, never shown as the
        user-facing message; must not contain unmasked personal data).
    :param params: values for the message templates; kept on :attr:`params`.
    """

    #: Stable machine-readable code.
    code: ClassVar[str] = "TWCERT_ERROR"
    #: Traditional Chinese message (the manual's wording where it has one).
    message_zh: ClassVar[str] = "系統發生錯誤，請稍後再試。"
    #: English message.
    message_en: ClassVar[str] = "An unexpected error occurred; please try again later."
    #: What the user should do, in Traditional Chinese and English.
    action_zh: ClassVar[str] = "請稍後再試；若持續發生請洽系統管理者。"
    action_en: ClassVar[str] = "Try again later; contact the administrator if it persists."
    #: HTTP status a web adapter should answer with.
    http_status: ClassVar[int] = 400

    def __init__(self, detail: str = "", **params: Any) -> None:
        self.detail = detail
        self.params: dict[str, Any] = params
        super().__init__(self._english_with_detail())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define its own stable `code`")

    def _fill(self, template: str) -> str:
        return template.format_map(_SafeDict(self._template_values()))

    def _template_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in self.params.items():
            if isinstance(value, _dt.datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
            values[key] = value
        return values

    @property
    def message(self) -> str:
        """The Traditional Chinese message (what the manual shows the user)."""
        return self._fill(self.message_zh)

    @property
    def message_english(self) -> str:
        return self._fill(self.message_en)

    @property
    def action(self) -> str:
        return self._fill(self.action_zh)

    @property
    def action_english(self) -> str:
        return self._fill(self.action_en)

    @property
    def action_url(self) -> str | None:
        """A page the user should visit (e.g. the card unblock page), if any."""
        url = self.params.get("unblock_url")
        return str(url) if url else None

    def _english_with_detail(self) -> str:
        text = f"[{self.code}] {self._fill(self.message_en)}"
        return f"{text} ({self.detail})" if self.detail else text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view for APIs and audit events (no traceback, no raw input)."""
        return {
            "code": self.code,
            "message_zh": self.message,
            "message_en": self.message_english,
            "action_zh": self.action,
            "action_en": self.action_english,
            "action_url": self.action_url,
        }


# --------------------------------------------------------------------------- configuration


class ConfigurationError(TwcertError):
    """The library was configured in a way that cannot work (raised at set-up, not login)."""

    code = "CONFIGURATION"
    message_zh = "系統設定錯誤，請洽系統管理者。"
    message_en = "The authentication service is misconfigured; contact the system administrator."
    action_zh = "請洽系統管理者。"
    action_en = "Contact the system administrator."
    http_status = 500


class TrustAnchorPinError(ConfigurationError):
    """A CA certificate does not match the SHA-256 pin it was configured with."""

    code = "TRUST_PIN_MISMATCH"
    message_zh = "信任之憑證機構憑證與設定之指紋不符，請洽系統管理者。"
    message_en = "A trusted CA certificate does not match its configured SHA-256 pin ({sha256})."


class UnsafeDirectoryError(ConfigurationError):
    """A directory the library shares between processes (the CRL index directory) could be
    written by someone other than the service's user, who could then tamper with its files."""

    code = "UNSAFE_DIRECTORY"
    message_zh = "共用目錄 {directory} 不安全（{reason}），請洽系統管理者。"
    message_en = "The shared directory {directory} is unsafe: {reason}."
    action_zh = (
        "請由執行服務之使用者擁有該目錄並限制權限：chown 服務使用者 {directory} && chmod 700 {directory}。"
    )
    action_en = (
        "Make the directory owned by the user the service runs as and closed to others: "
        "chown <service user> {directory} && chmod 700 {directory}."
    )


class BackendUnavailableError(TwcertError):
    """A store or directory backend (database, Redis, HTTP) could not be reached."""

    code = "BACKEND_UNAVAILABLE"
    message_zh = "系統暫時無法提供服務，請稍後再試。"
    message_en = "A backend service is unavailable; please try again later."
    action_zh = "請稍後再試；若持續發生請洽系統管理者。"
    action_en = "Try again later; contact the administrator if it persists."
    http_status = 503


class ChallengeStoreFullError(TwcertError):
    """The in-memory challenge store holds its maximum of unexpired challenges."""

    code = "CHALLENGE_STORE_FULL"
    message_zh = "目前登入人數過多，請稍後再試。"
    message_en = "Too many logins are pending; please try again shortly."
    action_zh = "請稍後再試；若持續發生請洽系統管理者。"
    action_en = "Try again in a moment; contact the administrator if it persists."
    http_status = 503


# --------------------------------------------------------------------------- certificates


class ParseError(TwcertError):
    """Input bytes are not a well-formed instance of the structure expected."""

    code = "PARSE_ERROR"
    message_zh = "資料格式錯誤，請重新操作。"
    message_en = "The data received is malformed; please try again."
    action_zh = "請重新操作；若持續發生請洽系統管理者。"
    action_en = "Try again; contact the administrator if it persists."


class CertificateParseError(ParseError):
    """The bytes given are not a well-formed X.509 certificate (or other expected structure)."""

    code = "CERT_PARSE"
    message_zh = "無法讀取憑證內容，請確認插入之卡片為自然人憑證或機關憑證。"
    message_en = "The certificate could not be read; make sure the inserted card is a citizen or agency card."
    action_zh = "請重新插入卡片後再試。"
    action_en = "Re-insert the card and try again."


class CertificateInvalidError(TwcertError):
    """Base of every "certificate is not valid for login" refusal (the manual's one text)."""

    code = "CERT_INVALID"
    message_zh = _CARD_INVALID_ZH
    message_en = (
        "The inserted citizen or agency certificate is not valid (for example expired or revoked); "
        "please check the validity of your certificate."
    )
    action_zh = "請確認所持憑證之有效性，或向發卡機構辦理展期、換發。"
    action_en = "Check your certificate's validity, or renew/replace it with the issuing CA."
    http_status = 403


class CertificateExpiredError(CertificateInvalidError):
    code = "CERT_EXPIRED"
    message_zh = _CARD_INVALID_ZH + "（憑證已於 {expired_at} 過期）"
    message_en = "The certificate expired on {expired_at}."
    action_zh = "請辦理憑證展期或換發後再登入。"
    action_en = "Renew or replace the certificate, then log in again."


class CertificateNotYetValidError(CertificateInvalidError):
    code = "CERT_NOT_YET_VALID"
    message_zh = _CARD_INVALID_ZH + "（憑證自 {valid_from} 起才生效）"
    message_en = "The certificate is not valid before {valid_from}."
    action_zh = "請於憑證生效後再登入，或確認電腦時間正確。"
    action_en = "Log in once the certificate is valid, or check the computer's clock."


class CertificateRevokedError(CertificateInvalidError):
    code = "CERT_REVOKED"
    message_zh = _CARD_INVALID_ZH + "（憑證已於 {revoked_at} 廢止或停用，原因：{reason}）"
    message_en = "The certificate was revoked or suspended on {revoked_at} (reason: {reason})."
    action_zh = "請向發卡機構確認憑證狀態，或申請新憑證。"
    action_en = "Check the certificate's status with the issuing CA, or apply for a new one."


class UntrustedCertificateError(CertificateInvalidError):
    code = "CERT_UNTRUSTED"
    message_zh = _CARD_INVALID_ZH + "（無法驗證憑證之簽發機構）"
    message_en = "The certificate does not chain to a trusted Government Root CA issuer."
    action_zh = "請使用內政部憑證管理中心或政府憑證管理中心簽發之有效憑證。"
    action_en = "Use a valid certificate issued by MOICA or GCA under the Government Root CA."


class RevocationUnavailableError(CertificateInvalidError):
    code = "REVOCATION_UNKNOWN"
    message_zh = _CARD_INVALID_ZH + "（目前無法確認憑證是否已廢止）"
    message_en = "The certificate's revocation status could not be determined, so login is refused."
    action_zh = "請稍後再試；若持續發生請洽系統管理者。"
    action_en = "Try again later; contact the administrator if it persists."
    http_status = 503


class WrongCertificateUsageError(CertificateInvalidError):
    code = "CERT_WRONG_USAGE"
    message_zh = _CARD_INVALID_ZH + "（所提供者非簽章用憑證）"
    message_en = (
        "The certificate is not a signing certificate (usage: {usage}); "
        "the card's signing certificate is required."
    )
    action_zh = "請以卡片中之簽章憑證登入。"
    action_en = "Log in with the card's signing certificate."


class CertificatePurposeError(WrongCertificateUsageError):
    """extendedKeyUsage (of the certificate or a CA above it) allows no login purpose."""

    code = "CERT_PURPOSE"
    message_zh = _CARD_INVALID_ZH + "（憑證之延伸金鑰用途不允許登入）"
    message_en = "The certificate's extended key usage does not allow it to be used for login."
    action_zh = "請以卡片中供身分識別之簽章憑證登入；若確為正確憑證，請洽系統管理者。"
    action_en = (
        "Log in with the card's signing certificate; if it is the right one, contact the administrator."
    )


class CertificatePolicyError(CertificateInvalidError):
    code = "CERT_POLICY"
    message_zh = _CARD_INVALID_ZH + "（憑證政策不符）"
    message_en = "The certificate does not carry an accepted certificate policy."
    action_zh = "請使用政府憑證管理中心體系之正式憑證。"
    action_en = "Use a production certificate of the Government PKI."


class CertificateFamilyNotAcceptedError(CertificateInvalidError):
    code = "CERT_FAMILY_NOT_ACCEPTED"
    message_zh = "本系統不接受此類憑證（{family}），請以自然人憑證或機關憑證登入。"
    message_en = "This system does not accept {family} certificates; log in with a citizen or agency card."
    action_zh = "請改用自然人憑證或機關憑證。"
    action_en = "Use a citizen (MOICA) or agency (GCA) card instead."


class TestCertificateRefused(CertificateInvalidError):
    __test__ = False  # not a pytest test class, despite the name

    code = "CERT_TEST"
    message_zh = "請勿使用測試之機關憑證登入。"
    message_en = "Do not log in with a test certificate: it cannot represent a real agency or person."
    action_zh = "請使用正式之機關憑證或自然人憑證。"
    action_en = "Use a production agency or citizen certificate."


class RevocationDataError(TwcertError):
    """A CRL or OCSP answer is malformed, wrongly signed or from the wrong issuer."""

    code = "REVOCATION_DATA_INVALID"
    message_zh = "憑證廢止清冊或線上狀態回應無法使用，請洽系統管理者。"
    message_en = "A CRL or OCSP response could not be used ({detail_short})."
    action_zh = "請洽系統管理者。"
    action_en = "Contact the system administrator."
    http_status = 503

    def __init__(self, detail: str = "", **params: Any) -> None:
        params.setdefault("detail_short", detail or "invalid")
        super().__init__(detail, **params)


# --------------------------------------------------------------------------- card / PIN


class CardError(TwcertError):
    """Something the card or its local middleware (HiPKI, PKCS#11, PC/SC) reported."""

    code = "CARD_ERROR"
    message_zh = "讀取卡片時發生錯誤，請確認卡片已正確插入讀卡機。"
    message_en = "The card could not be used; make sure it is inserted in the reader."
    action_zh = "請重新插入卡片後再試。"
    action_en = "Re-insert the card and try again."


class PinIncorrectError(CardError):
    code = "PIN_INCORRECT"
    message_zh = "PIN碼錯誤，尚可嘗試 {tries_left} 次；連續錯誤3次將鎖卡。"
    message_en = "Wrong PIN; {tries_left} {tries} left. Three consecutive wrong PINs lock the card."
    action_zh = "請確認PIN碼後重新輸入。"
    action_en = "Check the PIN and enter it again."
    http_status = 401

    def _template_values(self) -> dict[str, Any]:
        values = super()._template_values()
        values["tries"] = "try" if values.get("tries_left") == 1 else "tries"  # "1 try left"
        return values


class PinLockedError(CardError):
    code = "PIN_LOCKED"
    message_zh = "PIN碼連續錯誤3次，卡片已鎖定，請至 {unblock_url} 辦理解鎖。"
    message_en = "The PIN was entered wrongly 3 times and the card is locked; unblock it at {unblock_url}."
    action_zh = "請至 {unblock_url} 辦理鎖卡解碼。"
    action_en = "Unblock the card at {unblock_url}."
    http_status = 403

    @property
    def action_url(self) -> str | None:
        """The unblock page as one link (``unblock_link`` when the message names two)."""
        link = self.params.get("unblock_link") or self.params.get("unblock_url")
        return str(link) if link else None


class FinalPinTryError(CardError):
    code = "PIN_FINAL_TRY"
    message_zh = "此為最後一次PIN碼嘗試機會，再錯誤一次卡片將鎖定。"
    message_en = "This is the last PIN try; one more wrong PIN locks the card."
    action_zh = "請確認PIN碼無誤後，明確確認再送出。"
    action_en = "Make sure the PIN is right and confirm explicitly before trying."
    http_status = 409


class PinLengthError(CardError):
    code = "PIN_LENGTH"
    message_zh = "PIN碼長度不符，請輸入6至8碼。"
    message_en = "The PIN has the wrong length; enter 6 to 8 characters."
    action_zh = "請重新輸入PIN碼。"
    action_en = "Enter the PIN again."


class PinMissingError(CardError):
    code = "PIN_MISSING"
    message_zh = "未輸入PIN碼。"
    message_en = "No PIN was entered."
    action_zh = "請輸入PIN碼。"
    action_en = "Enter the PIN."


class CardAbsentError(CardError):
    code = "CARD_ABSENT"
    message_zh = "未插入IC卡，請插入自然人憑證或機關憑證。"
    message_en = "No card is inserted; insert a citizen or agency card."
    action_zh = "請插入卡片後再試。"
    action_en = "Insert the card and try again."


class ReaderAbsentError(CardError):
    code = "READER_ABSENT"
    message_zh = "無可用讀卡機，請確認讀卡機已連接。"
    message_en = "No card reader is available; connect a reader."
    action_zh = "請連接讀卡機並安裝驅動程式後再試。"
    action_en = "Connect a card reader (and its driver) and try again."


class UserCancelledError(CardError):
    code = "USER_CANCELLED"
    message_zh = "使用者已取消。"
    message_en = "The user cancelled."
    action_zh = "如需登入請重新操作。"
    action_en = "Start again to log in."


class LocalSignerUnavailableError(CardError):
    code = "LOCAL_SIGNER_UNAVAILABLE"
    message_zh = "無法連線至跨平台網頁元件，請確認已安裝並啟動。"
    message_en = "The local signing component (HiPKI Local Server) could not be reached."
    action_zh = "請安裝並啟動跨平台網頁元件後再試。"
    action_en = "Install and start the HiPKI Local Server, then try again."
    http_status = 503


class LocalSignerDomainError(CardError):
    code = "LOCAL_SIGNER_DOMAIN"
    message_zh = "本網站未列於跨平台網頁元件之信任網域，請將本網站加入信任網域後再試。"
    message_en = "This site is not in the local signing component's trusted-domain list."
    action_zh = "請於跨平台網頁元件中將本網站加入信任網域。"
    action_en = "Add this site to the component's trusted domains."
    http_status = 403


class CardOperationError(CardError):
    code = "CARD_OPERATION"
    message_zh = "卡片作業失敗（錯誤碼 {ret_code}），請重新操作。"
    message_en = "The card operation failed (error code {ret_code})."


# --------------------------------------------------------------------------- challenge


class ChallengeError(TwcertError):
    code = "CHALLENGE_ERROR"
    message_zh = "登入驗證資料無效，請重新登入。"
    message_en = "The login challenge is not valid; please start the login again."
    action_zh = "請重新整理頁面後再登入。"
    action_en = "Reload the page and log in again."
    http_status = 401


class ChallengeUnknownError(ChallengeError):
    code = "CHALLENGE_UNKNOWN"


class ChallengeExpiredError(ChallengeError):
    code = "CHALLENGE_EXPIRED"
    message_zh = "登入驗證已逾時，請重新登入。"
    message_en = "The login challenge has expired; please log in again."


class ChallengeReplayedError(ChallengeError):
    code = "CHALLENGE_REPLAYED"
    message_zh = "此登入驗證資料已使用過，請重新登入。"
    message_en = "This login challenge was already used; please log in again."


class ChallengeBindingError(ChallengeError):
    code = "CHALLENGE_MISMATCH"
    message_zh = "登入驗證資料與目前連線不符，請重新登入。"
    message_en = "The login challenge belongs to another session or site; please log in again."


class SignatureParseError(ParseError):
    """The signature is not well-formed CMS SignedData or PKCS#1 (before any verification)."""

    code = "SIGNATURE_MALFORMED"
    message_zh = "簽章資料格式錯誤，請重新登入。"
    message_en = "The signature data is malformed; please log in again."


class ResponseParseError(ParseError):
    """A response from the local signing component (HiPKI) is not of the documented shape."""

    code = "RESPONSE_MALFORMED"
    message_zh = "跨平台網頁元件回應格式錯誤，請重新操作。"
    message_en = "The local signing component's response is malformed."


class SignatureMismatchError(ChallengeError):
    code = "SIGNATURE_INVALID"
    message_zh = "簽章驗證錯誤，請重新登入。"
    message_en = "The signature over the login challenge did not verify."


# --------------------------------------------------------------------------- login rules


class LoginRefusedError(TwcertError):
    code = "LOGIN_REFUSED"
    message_zh = "登入失敗。"
    message_en = "Login refused."
    action_zh = "請洽系統管理者確認登入資格。"
    action_en = "Ask the system administrator to check your access."
    http_status = 403


class AccountRequired(LoginRefusedError):
    code = "ACCOUNT_REQUIRED"
    message_zh = "首次使用自然人憑證登入，請輸入自訂帳號或身分證統一編號。"
    message_en = "First login with this citizen card: enter your account or national ID number."
    action_zh = "請輸入自訂帳號或身分證統一編號後再登入。"
    action_en = "Enter your account or national ID, then log in again."
    http_status = 401


class AccountNotFound(LoginRefusedError):
    code = "ACCOUNT_NOT_FOUND"
    message_zh = "您輸入的帳號或身分證統一編號不存在人事資料庫中，無法登入。"
    message_en = "The account or national ID entered is not in the personnel database."
    action_zh = "請確認輸入之帳號或身分證統一編號，或洽貴機關人事單位。"
    action_en = "Check what you entered, or ask your agency's personnel office."


class NotInService(LoginRefusedError):
    code = "NOT_IN_SERVICE"
    message_zh = "您已卸職，僅現職人員得登入本系統。"
    message_en = "You have left the service; only serving civil servants may log in."
    action_zh = "如有疑義請洽貴機關人事單位。"
    action_en = "Ask your agency's personnel office if this is wrong."


class HolderMismatch(LoginRefusedError):
    code = "HOLDER_MISMATCH"
    message_zh = "您輸入的帳號與自然人憑證持有人非同一人，無法登入。"
    message_en = "The account entered and the citizen card's holder are not the same person."
    action_zh = "請輸入本人之帳號或身分證統一編號。"
    action_en = "Enter your own account or national ID."


class AccountAlreadyBound(LoginRefusedError):
    code = "ACCOUNT_ALREADY_BOUND"
    message_zh = "此帳號已綁定另一張自然人憑證，無法以本憑證首次登入。"
    message_en = "This account is already bound to another citizen card; this card cannot be bound to it."
    action_zh = "如已換發新卡，請洽系統管理者解除原綁定後再登入。"
    action_en = (
        "If you have a new card, ask the administrator to re-bind (remove the old binding), then log in."
    )


class AgencyCodeUnknown(LoginRefusedError):
    code = "AGENCY_CODE_UNKNOWN"
    message_zh = "機關憑證驗證回傳之機關代碼（{agency_code}）不存在機關代碼檔中，無法登入。"
    message_en = "The agency code returned by verification ({agency_code}) is not in the agency-code file."
    action_zh = "請洽行政院人事行政總處確認機關代碼。"
    action_en = "Ask the DGPA to check the agency code."


class AgencyAbolished(LoginRefusedError):
    code = "AGENCY_ABOLISHED"
    message_zh = "機關代碼（{agency_code}）之機關已裁撤，無法登入。"
    message_en = "The agency with code {agency_code} has been abolished."
    action_zh = "請改用新機關之機關憑證登入。"
    action_en = "Log in with the successor agency's card."


class CertificateNotAccepted(LoginRefusedError):
    code = "CERT_NOT_ACCEPTED_FOR_LOGIN"
    message_zh = "本系統僅接受自然人憑證或機關憑證登入。"
    message_en = "Only citizen (MOICA) or agency (GCA) certificates can log in here."
    action_zh = "請改用自然人憑證或機關憑證。"
    action_en = "Use a citizen or agency card."


def _walk(cls: type[TwcertError]) -> Iterator[type[TwcertError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _walk(sub)


def catalogue() -> Mapping[str, type[TwcertError]]:
    """Every error class by code, including subclasses defined by other modules (e.g. vacancy)."""
    found: dict[str, type[TwcertError]] = {}
    for cls in _walk(TwcertError):
        if "code" not in vars(cls):
            continue  # refused by __init_subclass__ but not yet garbage-collected
        if cls.code in found and found[cls.code] is not cls:
            raise RuntimeError(f"duplicate error code {cls.code}: {found[cls.code]!r} and {cls!r}")
        found[cls.code] = cls
    return dict(sorted(found.items()))
