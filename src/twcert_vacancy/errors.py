"""The vacancy board's error catalogue, a branch of :mod:`twcert.errors`.

Every class has a stable ``code`` (prefix ``VACANCY_``), a Traditional Chinese message that
names the field in the form's wording (「職稱」為必填欄位) and an English message. Field errors
carry ``field`` (the form label, zh-TW) and ``field_en`` in :attr:`~twcert.errors.TwcertError.params`.

::

    VacancyError
    ├── VacancyFieldError                        (one field of one vacancy is not acceptable)
    │   ├── FieldRequiredError
    │   ├── FieldTooLongError
    │   ├── FieldFormatError
    │   ├── FieldReadOnlyError
    │   ├── AgencyCodeError
    │   ├── PhoneNumberError
    │   ├── EmailAddressError
    │   ├── HeadcountError
    │   ├── HeadcountFormatError
    │   ├── ReserveLimitError
    │   ├── GenderError
    │   ├── RankClassError
    │   ├── PeriodOrderError
    │   ├── PeriodEndedError
    │   ├── StartInPastError
    │   ├── PeriodTooShortError
    │   └── PeriodTooLongError
    ├── VacancyInvalidError                      (several field errors at once: ``.problems``)
    ├── VacancyParseError (also a twcert ParseError)
    │   ├── RocDateError
    │   ├── WorkPlaceError
    │   ├── HeadcountTextError
    │   ├── FeedMalformedError
    │   └── FeedUnsafeError
    ├── HolidayCalendarError (also a ConfigurationError)
    │   └── CalendarCoverageError
    ├── VacancyNotFoundError
    ├── VacancyExistsError
    ├── VacancyNotOwnerError
    ├── VacancyConflictError
    ├── VacancyWithdrawnError
    ├── VacancyQueryError
    ├── FeedImportWorkerError
    ├── VacancyExtraMissingError (also a ConfigurationError and an ImportError)
    ├── VacancyDatabaseMissingError
    └── VacancyStorageError (also a BackendUnavailableError)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twcert.errors import BackendUnavailableError, ConfigurationError, ParseError, TwcertError

__all__ = [
    "AgencyCodeError",
    "CalendarCoverageError",
    "EmailAddressError",
    "FeedImportWorkerError",
    "FeedMalformedError",
    "FeedUnsafeError",
    "FieldFormatError",
    "FieldReadOnlyError",
    "FieldRequiredError",
    "FieldTooLongError",
    "GenderError",
    "HeadcountError",
    "HeadcountFormatError",
    "HeadcountTextError",
    "HolidayCalendarError",
    "PeriodEndedError",
    "PeriodOrderError",
    "PeriodTooLongError",
    "PeriodTooShortError",
    "PhoneNumberError",
    "RankClassError",
    "ReserveLimitError",
    "RocDateError",
    "StartInPastError",
    "VacancyConflictError",
    "VacancyDatabaseMissingError",
    "VacancyError",
    "VacancyExistsError",
    "VacancyExtraMissingError",
    "VacancyFieldError",
    "VacancyInvalidError",
    "VacancyNotFoundError",
    "VacancyNotOwnerError",
    "VacancyParseError",
    "VacancyQueryError",
    "VacancyStorageError",
    "VacancyWithdrawnError",
    "WorkPlaceError",
]


class VacancyError(TwcertError):
    """Base of every error of the vacancy board."""

    code = "VACANCY_ERROR"
    message_zh = "職缺資料處理失敗，請重新操作。"
    message_en = "The vacancy could not be processed; please try again."
    action_zh = "請檢查輸入之職缺資料後重新送出。"
    action_en = "Check the vacancy data and submit again."


# --------------------------------------------------------------------------- fields


class VacancyFieldError(VacancyError):
    """A field of a vacancy is not acceptable; ``params`` has ``field`` and ``field_en``."""

    code = "VACANCY_FIELD_INVALID"
    message_zh = "「{field}」欄位內容不正確。"
    message_en = "The field {field_en} is not valid."
    action_zh = "請修正「{field}」後重新送出。"
    action_en = "Correct {field_en} and submit again."
    http_status = 422

    @property
    def field(self) -> str:
        return str(self.params.get("field", ""))


class FieldRequiredError(VacancyFieldError):
    code = "VACANCY_FIELD_REQUIRED"
    message_zh = "「{field}」為必填欄位。"
    message_en = "{field_en} is required."
    action_zh = "請填寫「{field}」。"
    action_en = "Fill in {field_en}."


class FieldTooLongError(VacancyFieldError):
    code = "VACANCY_FIELD_TOO_LONG"
    message_zh = "「{field}」不得超過 {max_length} 字。"
    message_en = "{field_en} must not be longer than {max_length} characters."


class FieldFormatError(VacancyFieldError):
    code = "VACANCY_FIELD_FORMAT"
    message_zh = "「{field}」含有不允許之字元或格式不正確。"
    message_en = "{field_en} contains characters that are not allowed or is malformed."


class FieldReadOnlyError(VacancyFieldError):
    code = "VACANCY_FIELD_READ_ONLY"
    message_zh = "「{field}」登載後不得修改。"
    message_en = "{field_en} cannot be changed once the vacancy is registered."
    action_zh = "如需變更，請撤銷本職缺後重新登載。"
    action_en = "Withdraw the vacancy and register a new one instead."


class AgencyCodeError(VacancyFieldError):
    code = "VACANCY_AGENCY_CODE_INVALID"
    message_zh = "「{field}」之機關代碼格式不正確（應為10碼英數字）。"
    message_en = "{field_en}: the agency code must be 10 letters or digits."


class PhoneNumberError(VacancyFieldError):
    code = "VACANCY_PHONE_INVALID"
    message_zh = "「{field}」不是有效之電話號碼。"
    message_en = "{field_en} is not a valid Taiwan phone number."
    action_zh = "請輸入含區碼之電話號碼，例如 02-2345-6789 或 0912345678。"
    action_en = "Enter a number with its area code, e.g. 02-2345-6789 or 0912345678."


class EmailAddressError(VacancyFieldError):
    code = "VACANCY_EMAIL_INVALID"
    message_zh = "「{field}」不是有效之電子郵件地址。"
    message_en = "{field_en} is not a valid e-mail address."


class HeadcountError(VacancyFieldError):
    code = "VACANCY_HEADCOUNT_INVALID"
    message_zh = "「{field}」之名額至少為1名。"
    message_en = "{field_en}: at least one opening is required."


class HeadcountFormatError(VacancyFieldError):
    code = "VACANCY_HEADCOUNT_FORMAT"
    message_zh = (
        "「{field}」應為名額數（例如 1 或 1名），或「正取1名，備取1名」、「數名」、「若干名」等寫法。"
    )
    message_en = (
        "{field_en} must be a number of openings (e.g. 1), a range (1-2), openings and reserves "
        "labelled as on the DGPA board, or the board's words for 'several'."
    )
    action_zh = "請以數字填寫「{field}」，例如 1 或「正取1名，備取1名」。"
    action_en = "Enter {field_en} as a number of openings, e.g. 1."


class ReserveLimitError(VacancyFieldError):
    code = "VACANCY_RESERVE_EXCEEDS_LIMIT"
    message_zh = "「{field}」之備取（候補）人數 {reserve} 名超過正取名額 {regular} 名之2倍。"
    message_en = "{field_en}: {reserve} reserves exceed twice the {regular} openings."
    action_zh = "依公務人員陞遷法施行細則，候補人數不得超過職缺數之2倍，請調整備取名額。"
    action_en = "Reserves may not exceed twice the openings; lower the reserve count."


class GenderError(VacancyFieldError):
    code = "VACANCY_GENDER_INVALID"
    message_zh = "「{field}」僅得為男、女或不拘。"
    message_en = "{field_en} must be male, female or any."


class RankClassError(VacancyFieldError):
    code = "VACANCY_RANK_CLASS_INVALID"
    message_zh = "「{field}」僅得為簡任、薦任、委任或其他。"
    message_en = "{field_en} must be a combination of the four rank classes."


class PeriodOrderError(VacancyFieldError):
    code = "VACANCY_PERIOD_ORDER"
    message_zh = "「{field}」之結束日期（{end}）早於開始日期（{start}）。"
    message_en = "{field_en}: the end date {end} is before the start date {start}."


class PeriodEndedError(VacancyFieldError):
    code = "VACANCY_PERIOD_ENDED"
    message_zh = "「{field}」之結束日期（{end}）已過，無法登載。"
    message_en = "{field_en}: the end date {end} is already past."


class StartInPastError(VacancyFieldError):
    code = "VACANCY_START_IN_PAST"
    message_zh = "「{field}」之開始日期（{start}）早於今日（{today}）。"
    message_en = "{field_en}: the start date {start} is before today ({today})."


class PeriodTooShortError(VacancyFieldError):
    code = "VACANCY_PERIOD_TOO_SHORT"
    message_zh = (
        "「{field}」至少須公告 {minimum_days} 日（依行政程序法第48條計算，結束日期不得早於 {earliest_end}）。"
    )
    message_en = (
        "{field_en} must run at least {minimum_days} days counted under Administrative Procedure "
        "Act art. 48: the end date may not be before {earliest_end}."
    )


class PeriodTooLongError(VacancyFieldError):
    code = "VACANCY_PERIOD_TOO_LONG"
    message_zh = "「{field}」不得超過 {maximum_days} 日。"
    message_en = "{field_en} may not be longer than {maximum_days} days."


class VacancyInvalidError(VacancyError):
    """Several fields failed at once; :attr:`problems` lists each field error."""

    code = "VACANCY_INVALID"
    message_zh = "職缺資料有 {count} 處錯誤：{fields}。"
    message_en = "The vacancy has {count} invalid fields: {fields_en}."
    http_status = 422

    def __init__(self, problems: Sequence[VacancyFieldError], detail: str = "") -> None:
        self.problems: tuple[VacancyFieldError, ...] = tuple(problems)
        super().__init__(
            detail or "; ".join(p.code for p in self.problems),
            count=len(self.problems),
            fields="、".join(dict.fromkeys(p.field for p in self.problems)),
            fields_en=", ".join(dict.fromkeys(str(p.params.get("field_en", "")) for p in self.problems)),
        )

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["problems"] = [dict(p.as_dict(), field=p.field) for p in self.problems]
        return data


# --------------------------------------------------------------------------- parsing


class VacancyParseError(VacancyError, ParseError):
    """Text or bytes that are not what they claim to be (dates, places, feed files)."""

    code = "VACANCY_PARSE_ERROR"
    message_zh = "職缺資料格式錯誤。"
    message_en = "The vacancy data is malformed."


class RocDateError(VacancyParseError):
    code = "VACANCY_ROC_DATE_INVALID"
    message_zh = "民國日期格式錯誤（應為 YYYMMDD 或 YYY/MM/DD）。"
    message_en = "Not a valid ROC (Minguo) date; expected YYYMMDD or YYY/MM/DD."


class WorkPlaceError(VacancyParseError):
    code = "VACANCY_WORK_PLACE_UNKNOWN"
    message_zh = "無法辨識之工作地點。"
    message_en = "Unknown work place (not a Taiwan county or city, nor a DGPA place code)."
    action_zh = "請選擇臺灣之縣市作為工作地點。"
    action_en = "Choose a Taiwan county or city as the work place."


class HeadcountTextError(VacancyParseError):
    code = "VACANCY_HEADCOUNT_UNREADABLE"
    message_zh = "名額欄位無法讀取。"
    message_en = "The headcount text cannot be read."


class FeedMalformedError(VacancyParseError):
    code = "VACANCY_FEED_MALFORMED"
    message_zh = "事求人職缺資料檔格式錯誤，無法讀取。"
    message_en = "The DGPA vacancy feed file is malformed and cannot be read."
    action_zh = "請確認檔案為人事行政總處事求人機關徵才資料之 XML 檔。"
    action_en = "Make sure the file is the DGPA vacancy open-data XML."


class FeedUnsafeError(VacancyParseError):
    code = "VACANCY_FEED_UNSAFE"
    message_zh = "事求人職缺資料檔含有不允許之 DTD 或實體宣告，拒絕讀取。"
    message_en = "The feed file contains a DTD or entity declaration, which is refused for safety."
    action_zh = "請使用人事行政總處提供之原始檔案。"
    action_en = "Use the original file published by the DGPA."


# --------------------------------------------------------------------------- configuration


class HolidayCalendarError(VacancyError, ConfigurationError):
    code = "VACANCY_CALENDAR_INVALID"
    message_zh = "辦公日曆表格式錯誤，請洽系統管理者。"
    message_en = "The office calendar file is malformed; contact the system administrator."
    action_zh = "請提供人事行政總處公告之辦公日曆表（CSV）。"
    action_en = "Provide the DGPA office calendar CSV."
    http_status = 500


class CalendarCoverageError(HolidayCalendarError):
    code = "VACANCY_CALENDAR_NOT_COVERED"
    message_zh = "辦公日曆表未涵蓋 {date}，無法計算公告期間，請洽系統管理者。"
    message_en = "The office calendar does not cover {date}, so the period cannot be counted."
    action_zh = "請載入該年度之辦公日曆表。"
    action_en = "Load that year's DGPA office calendar."


# --------------------------------------------------------------------------- repository


class VacancyNotFoundError(VacancyError):
    code = "VACANCY_NOT_FOUND"
    message_zh = "查無此職缺（{work_id}）。"
    message_en = "No vacancy with id {work_id}."
    http_status = 404


class VacancyExistsError(VacancyError):
    code = "VACANCY_DUPLICATE"
    message_zh = "職缺編號（{work_id}）已存在。"
    message_en = "A vacancy with id {work_id} already exists."
    http_status = 409


class VacancyNotOwnerError(VacancyError):
    code = "VACANCY_NOT_OWNER"
    message_zh = "僅徵才機關得修改或撤銷本職缺。"
    message_en = "Only the recruiting agency may change or withdraw this vacancy."
    action_zh = "請以徵才機關之憑證登入後再操作。"
    action_en = "Log in with the recruiting agency's certificate."
    http_status = 403


class VacancyConflictError(VacancyError):
    code = "VACANCY_CONFLICT"
    message_zh = "職缺已被他人修改，請重新載入後再修改。"
    message_en = "The vacancy was changed by someone else; reload it and try again."
    action_zh = "請重新載入職缺資料。"
    action_en = "Reload the vacancy."
    http_status = 409


class VacancyWithdrawnError(VacancyError):
    code = "VACANCY_WITHDRAWN"
    message_zh = "職缺（{work_id}）已撤銷，不得再修改。"
    message_en = "Vacancy {work_id} has been withdrawn and cannot be changed."
    http_status = 409


class VacancyQueryError(VacancyError):
    code = "VACANCY_QUERY_INVALID"
    message_zh = "查詢條件不正確：{reason_zh}。"
    message_en = "Invalid query: {reason}."


class FeedImportWorkerError(VacancyError):
    """The process reading the feed for a parallel import stopped without finishing."""

    code = "VACANCY_IMPORT_WORKER_FAILED"
    message_zh = "職缺匯入程序異常中止，本次未匯入任何資料。"
    message_en = "The feed import worker stopped unexpectedly; nothing was imported."
    action_zh = "請重新匯入；如仍發生，請改用非平行匯入（--no-parallel）並通知系統管理者。"
    action_en = "Import again; if it happens again, import with --no-parallel and tell the administrator."
    http_status = 500


class VacancyExtraMissingError(VacancyError, ConfigurationError, ImportError):
    """A package the vacancy database needs is not installed (an ``ImportError`` too, so
    ``from twcert_vacancy import SqlVacancyRepository`` fails the usual way)."""

    code = "VACANCY_EXTRA_MISSING"
    message_zh = "職缺資料庫功能需要 {module} 套件，請執行 pip install 'twcert[{extra}]' 安裝。"
    message_en = "The vacancy database needs {module}; install it with: pip install 'twcert[{extra}]'."
    action_zh = "請執行 pip install 'twcert[{extra}]' 後再試。"
    action_en = "Run pip install 'twcert[{extra}]' and try again."


class VacancyDatabaseMissingError(VacancyError):
    """A command that reads the vacancy database was pointed at one that does not exist."""

    code = "VACANCY_DATABASE_MISSING"
    message_zh = "找不到職缺資料庫（{database}）。"
    message_en = "There is no vacancy database at {database}."
    action_zh = "請以 --db 指定既有之資料庫，或先以 twcert vacancy import 匯入職缺資料。"
    action_en = "Give an existing database with --db, or import a feed first with twcert vacancy import."
    http_status = 500


class VacancyStorageError(VacancyError, BackendUnavailableError):
    code = "VACANCY_STORAGE_UNAVAILABLE"
    message_zh = "職缺資料庫暫時無法使用，請稍後再試。"
    message_en = "The vacancy database is unavailable; please try again later."
    http_status = 503
