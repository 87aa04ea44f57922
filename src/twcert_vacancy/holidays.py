"""Working days and days off from the DGPA office calendar (辦公日曆表).

The DGPA publishes one CSV a year (Big5; columns 西元日期,星期,是否放假,備註; 是否放假 0 = working
day, 2 = day off). A make-up working Saturday (補行上班) is a 0 row and so a working day, which is
what 行政程序法 §48 needs (法務部 99.02.03 函: such a Saturday is not a rest day).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Final

from .errors import CalendarCoverageError, HolidayCalendarError

__all__ = ["DEFAULT_CALENDAR_FILES", "HolidayCalendar"]

#: Calendars shipped in ``twcert_vacancy/data`` (ROC 114 = 2025 only; configure later years).
DEFAULT_CALENDAR_FILES: Final = ("dgpa-office-calendar-114-big5.csv",)

_DATE_COLUMN = "西元日期"
_OFF_COLUMN = "是否放假"
_NOTE_COLUMN = "備註"
_WORKING, _OFF = "0", "2"
# Long holidays (春節) are at most about 10 days; a run of days off longer than this means a broken file.
_MAX_DAYS_OFF_IN_A_ROW = 30


class HolidayCalendar:
    """Which days are working days.

    Days the loaded files do not cover fall back to the weekly rule (Saturday and Sunday off),
    or raise :class:`CalendarCoverageError` when the calendar is ``strict``.
    """

    __slots__ = ("_days_off", "_notes", "strict")

    def __init__(
        self,
        days_off: Mapping[dt.date, bool],
        *,
        notes: Mapping[dt.date, str] | None = None,
        strict: bool = False,
    ) -> None:
        self._days_off: Mapping[dt.date, bool] = MappingProxyType(dict(days_off))
        self._notes: Mapping[dt.date, str] = MappingProxyType(dict(notes or {}))
        self.strict = strict

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_csv(cls, source: str | os.PathLike[str] | bytes, *, strict: bool = False) -> HolidayCalendar:
        """Load a DGPA office-calendar CSV (a path or its bytes; Big5/CP950 or UTF-8)."""
        if isinstance(source, bytes | bytearray):
            data = bytes(source)
        else:
            try:
                with open(source, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise HolidayCalendarError(f"cannot read calendar {source}: {exc.strerror}") from exc
        days_off, notes = _parse(data)
        return cls(days_off, notes=notes, strict=strict)

    @classmethod
    def default(cls, *, strict: bool = False) -> HolidayCalendar:
        """The calendars shipped with the package (:data:`DEFAULT_CALENDAR_FILES`)."""
        folder = resources.files("twcert_vacancy") / "data"
        return cls.merge(
            [cls.from_csv((folder / name).read_bytes()) for name in DEFAULT_CALENDAR_FILES], strict=strict
        )

    @classmethod
    def weekends_only(cls) -> HolidayCalendar:
        """No holidays at all: only Saturdays and Sundays are off (for tests and rough counts)."""
        return cls({})

    @classmethod
    def merge(cls, calendars: Iterable[HolidayCalendar], *, strict: bool = False) -> HolidayCalendar:
        """One calendar from several years' files (a later file wins on a day both list)."""
        days: dict[dt.date, bool] = {}
        notes: dict[dt.date, str] = {}
        for calendar in calendars:
            days.update(calendar._days_off)
            notes.update(calendar._notes)
        return cls(days, notes=notes, strict=strict)

    # ------------------------------------------------------------------ queries

    def covers(self, day: dt.date) -> bool:
        return day in self._days_off

    def is_day_off(self, day: dt.date) -> bool:
        """A Sunday, a Saturday that is not a make-up working day, or a holiday."""
        listed = self._days_off.get(day)
        if listed is not None:
            return listed
        if self.strict:
            raise CalendarCoverageError(f"calendar does not cover {day}", date=day.isoformat())
        return day.weekday() >= 5

    def is_working_day(self, day: dt.date) -> bool:
        return not self.is_day_off(day)

    def note(self, day: dt.date) -> str:
        """The calendar's remark for the day (開國紀念日, 補行上班 …), or ``""``."""
        return self._notes.get(day, "")

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself if it is a working day, else the first working day after it."""
        current = day
        for _ in range(_MAX_DAYS_OFF_IN_A_ROW + 1):
            if not self.is_day_off(current):
                return current
            current += dt.timedelta(days=1)
        raise HolidayCalendarError(f"more than {_MAX_DAYS_OFF_IN_A_ROW} days off in a row after {day}")

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({day.year for day in self._days_off}))

    def __repr__(self) -> str:
        return f"HolidayCalendar(years={self.years}, strict={self.strict})"


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # CP950 is Big5 as Windows (and the DGPA) writes it: a superset of plain Big5.
        return data.decode("cp950")
    except UnicodeDecodeError as exc:
        raise HolidayCalendarError("calendar is neither UTF-8 nor Big5 text") from exc


def _parse(data: bytes) -> tuple[dict[dt.date, bool], dict[dt.date, str]]:
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:  # a BOM followed by non-UTF-8 bytes
        raise HolidayCalendarError("calendar is not valid UTF-8 after its BOM") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise HolidayCalendarError("calendar file is empty") from None
    except csv.Error as exc:
        raise HolidayCalendarError(f"calendar header is not CSV: {exc}") from exc
    try:
        date_at, off_at = header.index(_DATE_COLUMN), header.index(_OFF_COLUMN)
    except ValueError:
        raise HolidayCalendarError(
            f"calendar header lacks {_DATE_COLUMN}/{_OFF_COLUMN}: {header[:6]}"
        ) from None
    note_at = header.index(_NOTE_COLUMN) if _NOTE_COLUMN in header else None
    days: dict[dt.date, bool] = {}
    notes: dict[dt.date, str] = {}
    try:
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                day = dt.datetime.strptime(row[date_at].strip(), "%Y%m%d").date()
                flag = row[off_at].strip()
            except (IndexError, ValueError) as exc:
                raise HolidayCalendarError(f"calendar line {line}: bad date or missing column") from exc
            if flag not in (_WORKING, _OFF):
                raise HolidayCalendarError(f"calendar line {line}: 是否放假 must be 0 or 2, not {flag[:5]!r}")
            if day in days:
                raise HolidayCalendarError(f"calendar line {line}: {day} listed twice")
            days[day] = flag == _OFF
            if note_at is not None and note_at < len(row) and row[note_at].strip():
                notes[day] = row[note_at].strip()
    except csv.Error as exc:
        raise HolidayCalendarError(f"calendar is not CSV: {exc}") from exc
    if not days:
        raise HolidayCalendarError("calendar lists no days")
    return days, notes
