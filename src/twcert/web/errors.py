"""Errors only a web front end can hit, catalogued like the library's own (:mod:`twcert.errors`).

They join :func:`twcert.errors.catalogue` once this module is imported, with the same shape:
stable code, Traditional Chinese and English message, the user's action, the HTTP status.
"""

from __future__ import annotations

from twcert.errors import CardError, ChallengeError, TwcertError

__all__ = [
    "FirstUseExpiredError",
    "LoginRequiredError",
    "PopupBlockedError",
    "RequestForgeryError",
    "RequestTooLargeError",
    "UnexpectedError",
]


class RequestForgeryError(TwcertError):
    """A POST without this session's CSRF token, or from another site (Origin/Sec-Fetch-Site)."""

    code = "REQUEST_FORGERY"
    message_zh = "無法確認此請求來自本網站（可能為跨站請求偽造），已拒絕處理。"
    message_en = "This request could not be verified as coming from this site (possible cross-site forgery)."
    action_zh = "請重新整理頁面後再操作。"
    action_en = "Reload the page and try again."
    http_status = 403


class RequestTooLargeError(TwcertError):
    """A request body over the login endpoints' limit (refused before it is read)."""

    code = "REQUEST_TOO_LARGE"
    message_zh = "送出之資料過大，已拒絕處理。"
    message_en = "The request is too large and was refused."
    action_zh = "請重新整理登入頁後再試；若持續發生請洽系統管理者。"
    action_en = "Reload the login page and try again; contact the administrator if it persists."
    http_status = 413


class FirstUseExpiredError(ChallengeError):
    """The first-use step came too late, twice, or from a session that never started one."""

    code = "FIRST_USE_EXPIRED"
    message_zh = "首次使用之登入資料已逾時或已使用，請重新以憑證登入。"
    message_en = "The first-login step has expired or was already used; log in with your card again."
    action_zh = "請回到登入頁，重新插卡並輸入PIN碼。"
    action_en = "Go back to the login page and sign in with your card again."


class LoginRequiredError(TwcertError):
    """A page that needs a card login was opened without one."""

    code = "LOGIN_REQUIRED"
    message_zh = "請先以自然人憑證或機關憑證登入。"
    message_en = "Please log in with your citizen or agency card first."
    action_zh = "請至登入頁以憑證登入。"
    action_en = "Log in with your card on the login page."
    http_status = 401


class PopupBlockedError(CardError):
    """The browser refused to open the signing component's window (HiPKI's /popupForm)."""

    code = "POPUP_BLOCKED"
    message_zh = "瀏覽器封鎖了跨平台網頁元件之簽章視窗。"
    message_en = "The browser blocked the signing component's window."
    action_zh = "請允許本網站開啟彈出式視窗後再試。"
    action_en = "Allow pop-up windows for this site, then try again."


class UnexpectedError(TwcertError):
    """A failure the adapter did not foresee (logged by type; the user sees this, never a traceback)."""

    code = "INTERNAL_ERROR"
    message_zh = "系統發生錯誤，請稍後再試。"
    message_en = "An unexpected error occurred; please try again later."
    action_zh = "請稍後再試；若持續發生請洽系統管理者。"
    action_en = "Try again later; contact the administrator if it persists."
    http_status = 500
