"""Work places (工作地): Taiwan's 22 counties and cities with their DGPA, MOI and ISO codes.

The DGPA codes are those of the 事求人 search form and feed (``WORK_PLACE_TYPE`` such as
``,30-新竹市,31-新竹縣``). Codes have changed over time, so the historic ones still resolve:
32 桃園縣 → 33 桃園市, 21 福建省連江縣 → 98 連江縣. 99 跨縣市 and 101 中興新村 are places of the
feed that are not counties.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .errors import WorkPlaceError

__all__ = [
    "HISTORIC_CODES",
    "WORK_PLACES",
    "PlaceKind",
    "WorkPlace",
    "format_work_places",
    "parse_work_places",
    "work_place",
]


class PlaceKind(StrEnum):
    SPECIAL_MUNICIPALITY = "直轄市"
    CITY = "市"
    COUNTY = "縣"
    OTHER = "其他"  # 跨縣市, 中興新村: places of the feed that are not first-level divisions


@dataclass(frozen=True, slots=True)
class WorkPlace:
    """One place of the DGPA code list; equal places have equal DGPA codes."""

    dgpa_code: int
    name: str
    kind: PlaceKind
    #: MOI 5-digit 縣市代碼 (``None`` for places that are not counties or cities).
    moi_code: str | None = field(default=None, compare=False)
    #: ISO 3166-2 code such as ``TW-TPE`` (``None`` for places that are not counties or cities).
    iso_code: str | None = field(default=None, compare=False)
    #: The county a sub-county place lies in (101 中興新村 → 54 南投縣).
    within: int | None = field(default=None, compare=False)

    @property
    def is_county(self) -> bool:
        return self.kind is not PlaceKind.OTHER

    def label(self) -> str:
        """``30-新竹市``: the form used inside ``WORK_PLACE_TYPE``."""
        return f"{self.dgpa_code}-{self.name}"

    def __str__(self) -> str:
        return self.name


_S, _C, _K, _O = PlaceKind.SPECIAL_MUNICIPALITY, PlaceKind.CITY, PlaceKind.COUNTY, PlaceKind.OTHER

# (DGPA code, official name, kind, MOI code, ISO 3166-2) — docs/reference/dgpa.md, work-place codes.
_TABLE: Final = (
    (10, "臺北市", _S, "63000", "TW-TPE"),
    (23, "新北市", _S, "65000", "TW-NWT"),
    (33, "桃園市", _S, "68000", "TW-TAO"),
    (42, "臺中市", _S, "66000", "TW-TXG"),
    (72, "臺南市", _S, "67000", "TW-TNN"),
    (82, "高雄市", _S, "64000", "TW-KHH"),
    (20, "基隆市", _C, "10017", "TW-KEE"),
    (30, "新竹市", _C, "10018", "TW-HSZ"),
    (60, "嘉義市", _C, "10020", "TW-CYI"),
    (31, "新竹縣", _K, "10004", "TW-HSQ"),
    (35, "苗栗縣", _K, "10005", "TW-MIA"),
    (50, "彰化縣", _K, "10007", "TW-CHA"),
    (54, "南投縣", _K, "10008", "TW-NAN"),
    (63, "雲林縣", _K, "10009", "TW-YUN"),
    (61, "嘉義縣", _K, "10010", "TW-CYQ"),
    (90, "屏東縣", _K, "10013", "TW-PIF"),
    (26, "宜蘭縣", _K, "10002", "TW-ILA"),
    (97, "花蓮縣", _K, "10015", "TW-HUA"),
    (95, "臺東縣", _K, "10014", "TW-TTT"),
    (88, "澎湖縣", _K, "10016", "TW-PEN"),
    (89, "金門縣", _K, "09020", "TW-KIN"),
    (98, "連江縣", _K, "09007", "TW-LIE"),
)

#: Every place by current DGPA code: the 22 counties and cities, then 99 跨縣市 and 101 中興新村.
WORK_PLACES: Final[MappingProxyType[int, WorkPlace]] = MappingProxyType(
    {code: WorkPlace(code, name, kind, moi, iso) for code, name, kind, moi, iso in _TABLE}
    | {99: WorkPlace(99, "跨縣市", _O), 101: WorkPlace(101, "中興新村", _O, within=54)}
)

#: Codes that the DGPA used before and that now mean another code.
HISTORIC_CODES: Final[MappingProxyType[int, int]] = MappingProxyType({32: 33, 21: 98})

_HISTORIC_NAMES = {"桃園縣": 33, "福建省連江縣": 98, "連江縣馬祖": 98, "馬祖": 98}


def _fold(name: str) -> str:
    # 台 is the common variant of 臺 in place names; full-width and spaces are typing noise.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).replace("台", "臺")


_BY_NAME: Final = {_fold(place.name): code for code, place in WORK_PLACES.items()} | {
    _fold(name): code for name, code in _HISTORIC_NAMES.items()
}
_BY_MOI: Final = {place.moi_code: code for code, place in WORK_PLACES.items() if place.moi_code}
_BY_ISO: Final = {place.iso_code: code for code, place in WORK_PLACES.items() if place.iso_code}
_LABEL = re.compile(r"(\d{1,3})\s*-\s*(.*)", re.ASCII | re.DOTALL)
_MAX_TEXT = 64


def _by_code(code: int) -> WorkPlace | None:
    return WORK_PLACES.get(HISTORIC_CODES.get(code, code))


def work_place(value: WorkPlace | int | str | bytes) -> WorkPlace:
    """Resolve a place given as a :class:`WorkPlace`, DGPA code, name (臺/台 both), MOI or ISO code,
    or a feed label such as ``32-桃園縣``. Historic codes resolve to today's place.

    Raises :class:`WorkPlaceError` for anything else.
    """
    if isinstance(value, WorkPlace):
        return value
    if isinstance(value, bool):
        raise WorkPlaceError(f"not a place: {value!r}")
    if isinstance(value, int):
        found = _by_code(value)
        if found is None:
            raise WorkPlaceError(f"unknown DGPA place code {value}")
        return found
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkPlaceError("work-place bytes are not UTF-8") from exc
    if not isinstance(value, str):
        raise WorkPlaceError(f"not a place: {type(value).__name__}")
    if len(value) > _MAX_TEXT * 4:
        raise WorkPlaceError("overlong work-place text")
    text = _fold(value)
    if not text or len(text) > _MAX_TEXT:
        raise WorkPlaceError("empty or overlong work-place text")
    if text.isascii() and text.isdigit():
        if len(text) == 5 and text in _BY_MOI:
            return WORK_PLACES[_BY_MOI[text]]
        found = _by_code(int(text)) if len(text) <= 3 else None
        if found is None:
            raise WorkPlaceError(f"unknown place code {text}")
        return found
    if text.upper() in _BY_ISO:
        return WORK_PLACES[_BY_ISO[text.upper()]]
    if text in _BY_NAME:
        return WORK_PLACES[_BY_NAME[text]]
    label = _LABEL.fullmatch(text)
    if label:
        by_code = _by_code(int(label.group(1)))
        if by_code is not None:
            return by_code
        if label.group(2) in _BY_NAME:
            return WORK_PLACES[_BY_NAME[label.group(2)]]
    raise WorkPlaceError(f"unknown work place {text[:_MAX_TEXT]!r}")


def parse_work_places(text: str | bytes) -> tuple[WorkPlace, ...]:
    """Parse ``WORK_PLACE_TYPE``: ``,30-新竹市,31-新竹縣`` (leading comma, several places).

    Order is kept and repeats are dropped; an empty list raises :class:`WorkPlaceError`.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkPlaceError("work-place bytes are not UTF-8") from exc
    if not isinstance(text, str):
        raise WorkPlaceError(f"not work-place text: {type(text).__name__}")
    parts = [part for part in re.split(r"[,，、]", text) if part.strip()]
    if not parts:
        raise WorkPlaceError("no work place given")
    if len(parts) > len(WORK_PLACES) + len(HISTORIC_CODES):
        raise WorkPlaceError("too many work places")
    return tuple(dict.fromkeys(work_place(part) for part in parts))


def format_work_places(places: tuple[WorkPlace, ...]) -> str:
    """The feed's form: a leading comma before each ``CODE-NAME``."""
    return "".join("," + place.label() for place in places)
