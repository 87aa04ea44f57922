"""The vacancy and its value types: what an agency registers and what the DGPA feed carries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Final, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from .errors import (
    FieldRequiredError,
    GenderError,
    HeadcountError,
    HeadcountFormatError,
    HeadcountTextError,
    PeriodOrderError,
    RankClassError,
)
from .regions import WorkPlace

__all__ = [
    "FIELD_LABELS",
    "KNOWN_PERSON_KINDS",
    "PERSONAL_FIELDS",
    "TAIPEI",
    "Actor",
    "AuditRecord",
    "Gender",
    "Headcount",
    "PersonKind",
    "RankClass",
    "Vacancy",
    "VacancyActor",
    "VacancyStatus",
    "ValidityPeriod",
    "aware",
    "taipei_date",
]

#: Every date of the board is a date in Taiwan.
TAIPEI: Final = ZoneInfo("Asia/Taipei")


def taipei_date(at: dt.datetime | dt.date) -> dt.date:
    """The calendar date in Taipei at ``at``; a naive datetime is read as Taipei wall-clock time."""
    if isinstance(at, dt.datetime):
        return (at.astimezone(TAIPEI) if at.tzinfo else at).date()
    return at


class VacancyActor(Protocol):
    """Who acts on a vacancy: twcert's ``Principal`` has exactly these attributes.

    ``agency_code`` is the agency the person or agency card acts for; ``None`` for system actors
    (e.g. the feed importer), which may add but never change an agency's vacancy.
    """

    @property
    def principal_id(self) -> str: ...

    @property
    def agency_code(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """A plain :class:`VacancyActor` for scripts, imports and tests."""

    principal_id: str
    agency_code: str | None = None


class Gender(StrEnum):
    """性別 of the registration form; the feed leaves it empty for 不拘."""

    MALE = "男"
    FEMALE = "女"
    ANY = "不拘"

    @classmethod
    def parse(cls, text: str) -> Gender:
        """``男``/``女``/``不拘`` and their common spellings (``限男性``, ``男女不拘``); empty is 不拘."""
        value = unicodedata.normalize("NFKC", text).strip().removeprefix("限").removesuffix("性")
        if value in ("", "不拘", "男女不拘", "男女", "不限"):
            return cls.ANY
        if value in ("男", "女"):
            return cls(value)
        raise GenderError(f"not a gender value: {text[:20]!r}", field="性別", field_en="gender")


class RankClass(StrEnum):
    """官等 (the feed's ``TYPE`` set)."""

    SENIOR = "簡任"
    JUNIOR = "薦任"
    ELEMENTARY = "委任"
    OTHER = "其他"

    @classmethod
    def parse_set(cls, text: str) -> tuple[RankClass, ...]:
        """``薦任,委任`` → the classes in the order given (repeats dropped)."""
        tokens = [t.strip() for t in re.split(r"[,，、]", unicodedata.normalize("NFKC", text)) if t.strip()]
        try:
            return tuple(dict.fromkeys(cls(token) for token in tokens))
        except ValueError as exc:
            raise RankClassError(
                f"unknown rank class in {text[:40]!r}", field="官等", field_en="rank class"
            ) from exc


@dataclass(frozen=True, slots=True)
class PersonKind:
    """人員區分: a known value or any other text the feed carries (kept verbatim)."""

    value: str

    GENERAL: ClassVar[PersonKind]
    OTHER: ClassVar[PersonKind]
    CONTRACT: ClassVar[PersonKind]
    WORKER: ClassVar[PersonKind]
    EDUCATION: ClassVar[PersonKind]
    APPOINTED: ClassVar[PersonKind]
    DRIVER: ClassVar[PersonKind]
    TECHNICIAN: ClassVar[PersonKind]

    @property
    def is_known(self) -> bool:
        return self.value in KNOWN_PERSON_KINDS

    def __str__(self) -> str:
        return self.value


#: 人員區分 values seen in the feed (docs/reference/dgpa.md), most frequent first.
KNOWN_PERSON_KINDS: Final = (
    "其他人員",
    "一般人員",
    "約僱人員",
    "工友",
    "教育人員",
    "聘用人員",
    "駕駛",
    "技工",
    "人事人員",
    "審計人員",
    "交通事業人員",
    "駐衛警",
    "代理教師",
    "實習老師",
    "兼任教師",
    "警察人員",
    "會計人員（非主辦）",
)

PersonKind.GENERAL = PersonKind("一般人員")
PersonKind.OTHER = PersonKind("其他人員")
PersonKind.CONTRACT = PersonKind("約僱人員")
PersonKind.WORKER = PersonKind("工友")
PersonKind.EDUCATION = PersonKind("教育人員")
PersonKind.APPOINTED = PersonKind("聘用人員")
PersonKind.DRIVER = PersonKind("駕駛")
PersonKind.TECHNICIAN = PersonKind("技工")

_CN_DIGITS: Final = {"一": 1, "二": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# The forms 名額 takes in the feed and on the registration form (after NFKC, trimmed):
#   a count            1 / 1名 / 3 人 / 十二名            a range       1-2 / 1~2名 / 1至2名
#   unstated           數名 / 若干名 / 若干
#   labelled counts    正取1名，備取1名 / 正取2名、候補4名 / 正1備5 / 正取若干名，備取2名
# each optionally followed by one note in brackets: 1名（身心障礙者）.
_COUNT = r"(?:\d{1,6}|[一二兩三四五六七八九十]{1,3})"
_UNIT = r"\s*[名人位員]?"
_NOTE = r"(?:\s*[(（][^()（）]{0,60}[)）])?"
_PLAIN = re.compile(rf"({_COUNT}){_UNIT}{_NOTE}", re.ASCII)
_RANGE = re.compile(rf"({_COUNT}){_UNIT}\s*[-~～至到]\s*({_COUNT}){_UNIT}{_NOTE}", re.ASCII)
_UNSTATED = re.compile(rf"(?:數|若干){_UNIT}{_NOTE}")
_LABEL_REGULAR = r"正取|錄取|缺額|職缺|正"
_LABEL_RESERVE = r"備取|候補|備"
_PART = rf"({_LABEL_REGULAR}|{_LABEL_RESERVE})\s*[:：]?\s*({_COUNT}|數|若干){_UNIT}"
_LABELLED = re.compile(rf"{_PART}(?:\s*[,、;；及和]?\s*{_PART})?{_NOTE}", re.ASCII)
_NEGATIVE = re.compile(rf"[-−]\s*{_COUNT}{_UNIT}{_NOTE}", re.ASCII)


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    # 十 forms: 十 = 10, 十二 = 12, 二十 = 20, 二十三 = 23.
    if token == "十":
        return 10
    if "十" in token:
        tens, _, units = token.partition("十")
        if len(tens) > 1 or len(units) > 1:
            return None
        return _CN_DIGITS.get(tens, 1 if not tens else 0) * 10 + _CN_DIGITS.get(units, 0)
    return _CN_DIGITS.get(token) if len(token) == 1 else None


class _Reading(NamedTuple):
    """What a 名額 text says: the counts it states, or why it is not a 名額."""

    regular: int | None
    reserve: int | None
    problem: str = ""  # "", "empty", "zero" (no opening), "format"


@functools.lru_cache(maxsize=4096)  # a feed repeats a few dozen texts over thousands of rows
def _read_headcount(text: str) -> _Reading:
    value = unicodedata.normalize("NFKC", text).strip()
    if not value:
        return _Reading(None, None, "empty")
    plain = _PLAIN.fullmatch(value)
    if plain:
        count = _number(plain.group(1))
        if count is None:
            return _Reading(None, None, "format")
        return _Reading(count, None, "" if count >= 1 else "zero")
    ranged = _RANGE.fullmatch(value)
    if ranged:
        low, high = _number(ranged.group(1)), _number(ranged.group(2))
        if low is None or high is None or high < low:
            return _Reading(None, None, "format")
        return _Reading(None, None, "" if low >= 1 else "zero")  # a range states no single count
    if _UNSTATED.fullmatch(value):
        return _Reading(None, None)
    labelled = _LABELLED.fullmatch(value)
    if labelled:
        return _read_labelled(labelled.groups())
    if _NEGATIVE.fullmatch(value):
        return _Reading(None, None, "zero")
    return _Reading(None, None, "format")


def _read_labelled(groups: tuple[str | None, ...]) -> _Reading:
    counts: dict[str, int | None] = {}
    for label, count in zip(groups[0::2], groups[1::2], strict=True):
        if label is None or count is None:
            continue
        kind = "reserve" if label[0] in "備候" else "regular"
        if kind in counts:  # 正取1名正取2名: which one?
            return _Reading(None, None, "format")
        number = None if count in ("數", "若干") else _number(count)
        if number is None and count not in ("數", "若干"):
            return _Reading(None, None, "format")
        counts[kind] = number
    if "regular" not in counts:  # reserves only: no opening is offered
        return _Reading(None, counts.get("reserve"), "zero")
    regular = counts["regular"]
    return _Reading(regular, counts.get("reserve"), "zero" if regular is not None and regular < 1 else "")


_HEADCOUNT_LABELS: Final = {"field": "名額", "field_en": "headcount"}


@dataclass(frozen=True, slots=True)
class Headcount:
    """名額: openings (正取) and reserves (備取/候補) where the text states them.

    ``raw`` is what was entered or published, kept verbatim (``數名``, ``正取1名，備取1名``, ``1-2``);
    ``regular``/``reserve`` are ``None`` when the text does not state a number.

    :meth:`parse` and :meth:`of` check what they are given: a positive count, a range, 數名 or
    若干, or counts labelled 正取/備取 (``正取1名，備取1名``, ``正1備5``), optionally with a note in
    brackets. Anything else raises a field error naming 名額. The constructor itself takes the
    values as stored (a repository reading its rows back) and checks nothing.
    """

    regular: int | None
    reserve: int | None
    raw: str

    @classmethod
    def of(cls, regular: int, reserve: int | None = None) -> Headcount:
        """``regular`` openings (at least 1) and optionally ``reserve`` reserves (0 or more)."""
        if isinstance(regular, bool) or not isinstance(regular, int) or regular < 1:
            raise HeadcountError(f"regular={regular!r}", **_HEADCOUNT_LABELS)
        if reserve is not None and (isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0):
            raise HeadcountError(f"reserve={reserve!r}", **_HEADCOUNT_LABELS)
        return cls(regular, reserve, str(regular))

    @classmethod
    def parse(cls, text: str | bytes, reserve: int | None = None) -> Headcount:
        """Read the text of ``NUMBER_OF`` or of the form; ``reserve`` is the newer feed's ``RESERVE_NUM``.

        :raises ~twcert_vacancy.errors.FieldRequiredError: the text is empty.
        :raises ~twcert_vacancy.errors.HeadcountError: it offers no opening (``0``, ``-3``,
            ``備取2名`` alone), or ``reserve`` is negative.
        :raises ~twcert_vacancy.errors.HeadcountFormatError: it is not one of the forms above (``abc``).
        :raises ~twcert_vacancy.errors.HeadcountTextError: bytes that are not UTF-8, or not text at all.
        """
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HeadcountTextError("headcount bytes are not UTF-8") from exc
        if not isinstance(text, str):
            raise HeadcountTextError(f"headcount is not text: {type(text).__name__}")
        reading = _read_headcount(text)
        if reading.problem == "empty":
            raise FieldRequiredError("headcount is empty", **_HEADCOUNT_LABELS)
        if reading.problem == "zero":
            raise HeadcountError(f"no opening in {text[:20]!r}", **_HEADCOUNT_LABELS)
        if reading.problem:
            raise HeadcountFormatError(f"not a headcount: {text[:20]!r}", **_HEADCOUNT_LABELS)
        if reserve is not None and reserve < 0:
            raise HeadcountError(f"reserve={reserve}", **_HEADCOUNT_LABELS)
        return cls(reading.regular, reserve if reserve is not None else reading.reserve, text)

    @staticmethod
    def problem_of(text: str) -> str:
        """``""`` if ``text`` is a 名額 :meth:`parse` accepts, else ``"empty"``, ``"zero"`` or
        ``"format"`` (for rules that check a stored value without raising)."""
        return _read_headcount(text).problem

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True, slots=True)
class ValidityPeriod:
    """上網有效期間: both days included, in the Taipei calendar."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodOrderError(
                f"period ends {self.end} before it starts {self.start}",
                field="上網有效期間",
                field_en="online validity period",
                start=self.start.isoformat(),
                end=self.end.isoformat(),
            )

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        """Days online, both ends included."""
        return (self.end - self.start).days + 1


class VacancyStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Vacancy:
    """One vacancy (職缺). Personal fields are left out of ``repr`` so they never reach logs."""

    work_id: str
    agency_code: str
    agency_name: str
    title: str
    person_kind: PersonKind
    headcount: Headcount
    work_places: tuple[WorkPlace, ...]
    period: ValidityPeriod
    gender: Gender = Gender.ANY
    agency_address: str = ""
    filler_name: str = field(default="", repr=False)
    filler_phone: str = field(default="", repr=False)
    rank: str = ""
    series: str = ""
    rank_classes: tuple[RankClass, ...] = ()
    qualifications: str = field(default="", repr=False)
    duties: str = field(default="", repr=False)
    work_address: str = ""
    contact_method: str = field(default="", repr=False)
    contact_email: str = field(default="", repr=False)
    disability_eligible: bool | None = None
    indigenous_eligible: bool | None = None
    indigenous_area: bool | None = None
    training: bool | None = None
    transfer: bool | None = None
    job_category: str = ""
    related_url: str = ""
    detail_url: str = ""
    withdrawn_at: dt.datetime | None = None
    #: Incremented by the repository on every stored change (optimistic concurrency).
    revision: int = field(default=0, compare=False)

    def status(self, at: dt.datetime | dt.date) -> VacancyStatus:
        """Scheduled, published or expired by the Taipei date at ``at``; withdrawn once withdrawn."""
        if self.withdrawn_at is not None and (
            not isinstance(at, dt.datetime) or self.withdrawn_at <= aware(at)
        ):
            return VacancyStatus.WITHDRAWN
        day = taipei_date(at)
        if day < self.period.start:
            return VacancyStatus.SCHEDULED
        if day > self.period.end:
            return VacancyStatus.EXPIRED
        return VacancyStatus.PUBLISHED

    def is_online(self, at: dt.datetime | dt.date) -> bool:
        return self.status(at) is VacancyStatus.PUBLISHED

    def without_personal_data(self) -> Vacancy:
        """A copy with 填寫人姓名/電話, 聯絡方式 and 聯絡E-Mail blanked (for export and display)."""
        return dataclasses.replace(self, filler_name="", filler_phone="", contact_method="", contact_email="")

    @property
    def counties(self) -> tuple[int, ...]:
        return tuple(place.dgpa_code for place in self.work_places)


def aware(at: dt.datetime) -> dt.datetime:
    """``at`` with a time zone: a naive datetime is read as Taipei wall-clock time."""
    return at if at.tzinfo else at.replace(tzinfo=TAIPEI)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change: who (principal id), when, which field, old → new (personal values masked)."""

    work_id: str
    who: str
    when: dt.datetime
    field: str
    old: str
    new: str


#: Fields that hold personal data: never logged unmasked, never exported unless asked for.
PERSONAL_FIELDS: Final = ("filler_name", "filler_phone", "contact_method", "contact_email")

#: Form label (zh-TW) and English name of each field, for messages.
FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "work_id": ("職缺編號", "vacancy id"),
    "agency_code": ("徵才機關代碼", "agency code"),
    "agency_name": ("徵才機關", "recruiting agency"),
    "title": ("職稱", "title"),
    "person_kind": ("人員區分", "person kind"),
    "headcount": ("名額", "headcount"),
    "work_places": ("工作地", "work place"),
    "period": ("上網有效期間", "online validity period"),
    "gender": ("性別", "gender"),
    "agency_address": ("機關地址", "agency address"),
    "filler_name": ("填寫人姓名", "filler's name"),
    "filler_phone": ("填寫人電話", "filler's phone"),
    "rank": ("官職等", "rank and grade"),
    "series": ("職系", "job series"),
    "rank_classes": ("官等", "rank class"),
    "qualifications": ("資格條件", "qualifications"),
    "duties": ("工作項目", "duties"),
    "work_address": ("工作地址", "work address"),
    "contact_method": ("聯絡方式", "contact method"),
    "contact_email": ("聯絡E-Mail", "contact e-mail"),
    "disability_eligible": ("身心障礙者可應徵", "open to people with disabilities"),
    "indigenous_eligible": ("原住民可應徵", "open to indigenous people"),
    "indigenous_area": ("限原住民族地區", "indigenous-area post"),
    "training": ("考試錄取待訓", "for trainees"),
    "transfer": ("商調", "transfer"),
    "job_category": ("職缺類別", "vacancy category"),
    "related_url": ("相關連結", "related link"),
    "detail_url": ("詳細資料網址", "detail page"),
    "withdrawn_at": ("撤銷時間", "withdrawn at"),
}
