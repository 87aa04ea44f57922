from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from twcert_vacancy import HolidayCalendar
from twcert_vacancy.errors import CalendarCoverageError, HolidayCalendarError

from .conftest import CALENDAR_114

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "twcert_vacancy" / "data" / CALENDAR_114.name


def _file_days() -> dict[dt.date, bool]:
    """An independent reading of the real DGPA file: date → day off."""
    text = CALENDAR_114.read_bytes().decode("big5")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["西元日期", "星期", "是否放假"]
    return {dt.datetime.strptime(r[0], "%Y%m%d").date(): r[2] == "2" for r in rows[1:] if r}


def test_shipped_default_is_the_real_file() -> None:
    assert SHIPPED.read_bytes() == CALENDAR_114.read_bytes()


def test_default_calendar_agrees_with_the_file_on_every_day() -> None:
    calendar = HolidayCalendar.default()
    days = _file_days()
    assert len(days) == 365
    for day, off in days.items():
        assert calendar.is_day_off(day) is off, day


def test_known_days_of_roc_114() -> None:
    calendar = HolidayCalendar.default()
    assert calendar.is_day_off(dt.date(2025, 1, 1)) and calendar.note(dt.date(2025, 1, 1)) == "開國紀念日"
    # A make-up working Saturday is a working day (法務部 99.02.03 函).
    assert dt.date(2025, 2, 8).weekday() == 5 and calendar.is_working_day(dt.date(2025, 2, 8))
    assert calendar.note(dt.date(2025, 2, 8)) == "補行上班"
    assert calendar.is_day_off(dt.date(2025, 10, 10))
    assert calendar.next_working_day(dt.date(2025, 1, 25)) == dt.date(2025, 2, 3)
    assert calendar.years == (2025,)


def test_outside_the_file_weekends_or_strict() -> None:
    lenient = HolidayCalendar.default()
    assert lenient.is_day_off(dt.date(2026, 1, 3))  # a Saturday
    assert lenient.is_working_day(dt.date(2026, 1, 5))
    strict = HolidayCalendar.default(strict=True)
    with pytest.raises(CalendarCoverageError) as info:
        strict.is_day_off(dt.date(2026, 1, 5))
    assert "2026-01-05" in info.value.message


def test_utf8_files_and_merge() -> None:
    utf8 = "西元日期,星期,是否放假,備註\n20260101,四,2,開國紀念日\n20260102,五,0,\n".encode()
    next_year = HolidayCalendar.from_csv(utf8)
    merged = HolidayCalendar.merge([HolidayCalendar.default(), next_year])
    assert merged.years == (2025, 2026)
    assert merged.is_day_off(dt.date(2026, 1, 1)) and merged.is_working_day(dt.date(2026, 1, 2))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"date,off\n20250101,2\n",
        "西元日期,星期,是否放假\n2025-01-01,三,2\n".encode(),
        "西元日期,星期,是否放假\n20250101,三,1\n".encode(),
        "西元日期,星期,是否放假\n20250101,三,2\n20250101,三,2\n".encode(),
        "西元日期,星期,是否放假\n".encode(),
        b"\xff\xfe\x00\x00garbage",
        "西元日期,星期,是否放假\n2025\x000101,三,2\n".encode(),
    ],
)
def test_malformed_calendars_raise_the_library_error(data: bytes) -> None:
    with pytest.raises(HolidayCalendarError):
        HolidayCalendar.from_csv(data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HolidayCalendarError):
        HolidayCalendar.from_csv(tmp_path / "none.csv")
