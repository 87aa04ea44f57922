from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert_vacancy import WORK_PLACES, WorkPlace, parse_work_places, work_place
from twcert_vacancy.errors import WorkPlaceError
from twcert_vacancy.regions import HISTORIC_CODES, PlaceKind, format_work_places

# The table of docs/reference/dgpa.md, typed out again here on purpose.
REFERENCE = """
10 臺北市 63000 TW-TPE
23 新北市 65000 TW-NWT
33 桃園市 68000 TW-TAO
42 臺中市 66000 TW-TXG
72 臺南市 67000 TW-TNN
82 高雄市 64000 TW-KHH
20 基隆市 10017 TW-KEE
30 新竹市 10018 TW-HSZ
60 嘉義市 10020 TW-CYI
31 新竹縣 10004 TW-HSQ
35 苗栗縣 10005 TW-MIA
50 彰化縣 10007 TW-CHA
54 南投縣 10008 TW-NAN
63 雲林縣 10009 TW-YUN
61 嘉義縣 10010 TW-CYQ
90 屏東縣 10013 TW-PIF
26 宜蘭縣 10002 TW-ILA
97 花蓮縣 10015 TW-HUA
95 臺東縣 10014 TW-TTT
88 澎湖縣 10016 TW-PEN
89 金門縣 09020 TW-KIN
98 連江縣 09007 TW-LIE
"""
ROWS = [line.split() for line in REFERENCE.strip().splitlines()]


def test_the_22_counties_and_cities_match_the_reference() -> None:
    counties = [place for place in WORK_PLACES.values() if place.is_county]
    assert len(counties) == 22
    for code, name, moi, iso in ROWS:
        place = WORK_PLACES[int(code)]
        assert (place.name, place.moi_code, place.iso_code) == (name, moi, iso)
    assert sum(p.kind is PlaceKind.SPECIAL_MUNICIPALITY for p in counties) == 6
    assert sum(p.kind is PlaceKind.CITY for p in counties) == 3
    assert sum(p.kind is PlaceKind.COUNTY for p in counties) == 13


@pytest.mark.parametrize(
    ("given_value", "code"),
    [
        ("臺北市", 10),
        ("台北市", 10),  # 台/臺 alias
        ("台中市", 42),
        ("臺東縣", 95),
        ("台東縣", 95),
        (10, 10),
        ("10", 10),
        ("TW-TPE", 10),
        ("tw-khh", 82),
        ("63000", 10),
        ("09007", 98),
        ("32-桃園縣", 33),  # historic code
        (32, 33),
        ("桃園縣", 33),
        ("21-福建省連江縣", 98),  # the 2016 feed's spelling
        (21, 98),
        ("99-跨縣市", 99),
        ("101-中興新村", 101),
        ("30-新竹市", 30),
        ("30-新竹縣", 30),  # the code decides when code and name disagree
        ("77-新竹縣", 31),  # an unknown code with a known name
        (" 臺北市 ", 10),
        (b"\xe8\x87\xba\xe5\x8c\x97\xe5\xb8\x82", 10),
    ],
)
def test_lookup(given_value: object, code: int) -> None:
    assert work_place(given_value).dgpa_code == code  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "火星", "77", "100", "800-離島", 0, 32.0, True, b"\xff", "1" * 300])
def test_unknown_places_raise_the_library_error(bad: object) -> None:
    with pytest.raises(WorkPlaceError):
        work_place(bad)  # type: ignore[arg-type]


def test_historic_codes() -> None:
    assert dict(HISTORIC_CODES) == {32: 33, 21: 98}
    assert work_place(101).within == 54 and not work_place(101).is_county
    assert not work_place(99).is_county


def test_several_places_in_one_feed_value() -> None:
    places = parse_work_places(",30-新竹市,31-新竹縣")
    assert [p.dgpa_code for p in places] == [30, 31]
    assert format_work_places(places) == ",30-新竹市,31-新竹縣"
    # Repeats (here by a historic code) collapse; order is kept.
    assert [p.dgpa_code for p in parse_work_places(",33-桃園市,32-桃園縣,10-臺北市")] == [33, 10]
    with pytest.raises(WorkPlaceError):
        parse_work_places(",")


def test_places_compare_by_code() -> None:
    assert work_place("台北市") == work_place("TW-TPE") == work_place(10)
    assert isinstance(work_place(10), WorkPlace)
    assert work_place(10).label() == "10-臺北市"


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.binary(max_size=80))
def test_arbitrary_bytes(data: bytes) -> None:
    for parse in (work_place, parse_work_places):
        try:
            parse(data)
        except WorkPlaceError:
            pass


@settings(deadline=None)  # timing-free: the machine is shared
@given(st.text(max_size=80))
def test_arbitrary_text(text: str) -> None:
    for parse in (work_place, parse_work_places):
        try:
            parse(text)
        except WorkPlaceError:
            pass
