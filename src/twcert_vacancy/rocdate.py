"""ROC (民國) dates as the DGPA feed and its pages write them: ``1140131`` and ``114/01/31``."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from .errors import RocDateError

__all__ = ["ROC_YEAR_OFFSET", "RocDate", "parse_roc_or_iso"]

#: Gregorian year = ROC year + 1911.
ROC_YEAR_OFFSET = 1911

# The year is "all but the last four digits", so 99/12/31 (ROC 99 = 2010) still parses.
_COMPACT = re.compile(r"(\d{1,3})(\d{2})(\d{2})", re.ASCII)
_SLASHED = re.compile(r"(\d{1,3})[/.\-](\d{1,2})[/.\-](\d{1,2})", re.ASCII)
_WORDED = re.compile(r"(?:民國)?(\d{1,3})年(\d{1,2})月(\d{1,2})日", re.ASCII)
_MAX_TEXT = 32


@dataclass(frozen=True, slots=True, order=True)
class RocDate:
    """A calendar date with an ROC year (1 = 1912)."""

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        if self.year < 1:
            raise RocDateError(f"ROC year {self.year} is before ROC 1", value=str(self.year))
        try:
            dt.date(self.year + ROC_YEAR_OFFSET, self.month, self.day)
        except (ValueError, OverflowError) as exc:
            raise RocDateError(f"no such date: {self.year}/{self.month}/{self.day}") from exc

    @classmethod
    def parse(cls, text: str | bytes) -> RocDate:
        """Parse ``YYYMMDD``, ``YYY/MM/DD`` (also ``-`` or ``.``) or ``YYY年MM月DD日``.

        Full-width digits are accepted; anything else raises :class:`RocDateError`.
        """
        if type(text) is str and len(text) == 7 and text.isascii() and text.isdigit():
            # The feed's own form (YYYMMDD), on every row: skip normalisation and regexes.
            return cls(int(text[:3]), int(text[3:5]), int(text[5:]))
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RocDateError("ROC date bytes are not UTF-8") from exc
        if not isinstance(text, str):
            raise RocDateError(f"expected text, got {type(text).__name__}")
        if len(text) > _MAX_TEXT:
            raise RocDateError("ROC date text too long")
        value = unicodedata.normalize("NFKC", text).strip()
        for pattern in (_COMPACT, _SLASHED, _WORDED):
            match = pattern.fullmatch(value)
            if match:
                year, month, day = (int(group) for group in match.groups())
                return cls(year, month, day)
        raise RocDateError(f"not an ROC date: {value[:_MAX_TEXT]!r}")

    @classmethod
    def from_date(cls, value: dt.date) -> RocDate:
        if value.year <= ROC_YEAR_OFFSET:
            raise RocDateError(f"{value.isoformat()} is before the ROC calendar (1912)")
        return cls(value.year - ROC_YEAR_OFFSET, value.month, value.day)

    def to_date(self) -> dt.date:
        return dt.date(self.year + ROC_YEAR_OFFSET, self.month, self.day)

    def compact(self) -> str:
        """``1140131``: the feed's form (``991231`` for ROC 99: the feed's dates are integers)."""
        return f"{self.year}{self.month:02d}{self.day:02d}"

    def slashed(self) -> str:
        """``114/01/31``: the form the detail pages show."""
        return f"{self.year}/{self.month:02d}/{self.day:02d}"

    def __str__(self) -> str:
        return self.slashed()


def parse_roc_or_iso(text: str) -> dt.date:
    """A date typed by a person: ISO ``2025-01-31`` or any ROC form :meth:`RocDate.parse` reads."""
    value = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise RocDateError(f"no such date: {value}") from exc
    return RocDate.parse(value).to_date()
