from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert.errors import ParseError
from twcert_vacancy import (
    DgpaFeedReader,
    Gender,
    Headcount,
    PersonKind,
    RankClass,
    RocDate,
    Vacancy,
    read_dgpa_xml,
    work_place,
    write_dgpa_xml,
)
from twcert_vacancy.errors import FeedMalformedError, FeedUnsafeError, VacancyParseError

LONG_QUALITY = "一、具公務人員任用資格。" + "資" * 740  # about the longest 2016 WORK_QUALITY (752)
LONG_ITEM = "辦理資訊業務。" * 166  # 1,162 characters
LONG_CONTACT = "聯絡人：林小姐，電話 (02)2345-6789 轉 123。" * 55


def _row(**fields: str) -> str:
    return (
        "<ROW>"
        + "".join(f"<{tag}>{value}</{tag}>" if value else f"<{tag} />" for tag, value in fields.items())
        + "</ROW>"
    )


def _url(work_id: str) -> str:
    return f"https://web3.dgpa.gov.tw/want03front/ap/wantf00001_1.aspx?work_id={work_id}"


# Every quirk listed in docs/reference/dgpa.md, one or more per row.
QUIRKS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<ROOT><ANNOUNCE_DATE>1050515</ANNOUNCE_DATE>\n'
    # 2016 schema: no ORG_ID, free-text NUMBER_OF, GENDER_TYPE copying PERSON_KIND, two places.
    + _row(
        ORG_NAME="新竹縣政府",
        PERSON_KIND="一般人員",
        RANK="委任第5職等或薦任第6職等至第7職等",
        TITLE="科員",
        SYSNAM="綜合行政",
        NUMBER_OF="正取1名，備取1名",
        GENDER_TYPE="一般人員",
        WORK_PLACE_TYPE=",30-新竹市,31-新竹縣",
        DATE_FROM="1050510",
        DATE_TO="1050521",  # a Saturday
        IS_HANDICAP="N",
        IS_ORIGINAL="Y",
        IS_LOCAL_ORIGINAL="N",
        IS_TRANING="N",
        TYPE="薦任,委任",
        VITAE_EMAIL="",
        WORK_QUALITY=LONG_QUALITY,
        WORK_ITEM=LONG_ITEM,
        WORK_ADDRESS="新竹縣竹北市光明六路10號",
        CONTACT_METHOD=LONG_CONTACT,
        URL_LINK="",
        VIEW_URL=_url("1050500001"),
    )
    + "\n"
    # 數名, historic 32-桃園縣, empty RANK/SYSNAM, a person kind outside the known list.
    + _row(
        ORG_NAME="桃園縣政府",
        PERSON_KIND="會計人員（非主辦）",
        RANK="",
        TITLE="會計佐理員",
        SYSNAM="",
        NUMBER_OF="數名",
        GENDER_TYPE="會計人員（非主辦）",
        WORK_PLACE_TYPE=",32-桃園縣",
        DATE_FROM="1050501",
        DATE_TO="1050531",
        IS_HANDICAP="Y",
        IS_ORIGINAL="N",
        IS_LOCAL_ORIGINAL="N",
        IS_TRANING="N",
        TYPE="其他",
        VITAE_EMAIL="acc@tycg.gov.tw",
        WORK_QUALITY="高中以上",
        WORK_ITEM="會計",
        WORK_ADDRESS="",
        CONTACT_METHOD="",
        URL_LINK="",
        VIEW_URL=_url("1050500002"),
    )
    + "\n"
    # 21-福建省連江縣 and 99-跨縣市, 1-2 and 280薪點, ROC year 99 (990101), a 926-day span.
    + _row(
        ORG_NAME="連江縣立醫院",
        PERSON_KIND="約僱人員",
        RANK="280薪點",
        TITLE="護理師",
        SYSNAM="",
        NUMBER_OF="1-2",
        GENDER_TYPE="約僱人員",
        WORK_PLACE_TYPE=",21-福建省連江縣,99-跨縣市",
        DATE_FROM="1031201",
        DATE_TO="1060614",
        IS_HANDICAP="N",
        IS_ORIGINAL="N",
        IS_LOCAL_ORIGINAL="Y",
        IS_TRANING="N",
        TYPE="",
        VITAE_EMAIL="",
        WORK_QUALITY="護理師證書",
        WORK_ITEM="護理 &amp; 照護 &lt;急診&gt;",
        WORK_ADDRESS="連江縣南竿鄉",
        CONTACT_METHOD="",
        URL_LINK="http://www.example.gov.tw/jobs",
        VIEW_URL=_url("0990100003"),
    )
    + "\n"
    # Later schema: ORG_ID, integer NUMBER_OF + RESERVE_NUM, IS_TRANSFER, Work_Type, 101-中興新村, empty gender.
    + _row(
        ORG_ID="A29000000G",
        ORG_NAME="數位發展部",
        PERSON_KIND="一般人員",
        RANK="薦任第7職等至第9職等",
        TITLE="技正",
        SYSNAM="資訊處理",
        NUMBER_OF="2",
        RESERVE_NUM="3",
        GENDER_TYPE="",
        WORK_PLACE_TYPE=",101-中興新村",
        DATE_FROM="1150801",
        DATE_TO="1150814",
        IS_HANDICAP="N",
        IS_ORIGINAL="N",
        IS_LOCAL_ORIGINAL="N",
        IS_TRANING="Y",
        IS_TRANSFER="Y",
        TYPE="薦任",
        VITAE_EMAIL="hr@moda.gov.tw",
        WORK_QUALITY="資訊處理職系",
        WORK_ITEM="  前後空白與\n換行保留  ",
        WORK_ADDRESS="南投縣南投市中興新村",
        CONTACT_METHOD="電話 02-2345-6789",
        URL_LINK="",
        VIEW_URL=_url("1150800004"),
        Work_Type="須具公務人員任用資格",
    )
    + "\n"
    # 若干名, 師(三)級, 無, a 0-reserve count in the newer column, gender 女.
    + _row(
        ORG_ID="376480000A",
        ORG_NAME="臺北市立大學",
        PERSON_KIND="教育人員",
        RANK="師(三)級",
        TITLE="講師",
        SYSNAM="無",
        NUMBER_OF="若干名",
        RESERVE_NUM="0",
        GENDER_TYPE="女",
        WORK_PLACE_TYPE=",10-台北市",
        DATE_FROM="1150801",
        DATE_TO="1151001",
        IS_HANDICAP="N",
        IS_ORIGINAL="N",
        IS_LOCAL_ORIGINAL="N",
        IS_TRANING="N",
        IS_TRANSFER="N",
        TYPE="其他",
        VITAE_EMAIL="",
        WORK_QUALITY="碩士以上",
        WORK_ITEM="教學",
        WORK_ADDRESS="臺北市中正區愛國西路1號",
        CONTACT_METHOD="",
        URL_LINK="",
        VIEW_URL=_url("1150800005"),
        Work_Type="不須具公務人員任用資格",
    )
    + "\n</ROOT>\n"
).encode("utf-8")


def test_every_quirk_is_read() -> None:
    snapshot = read_dgpa_xml(QUIRKS)
    assert snapshot.problems == ()
    assert snapshot.announce_date == RocDate(105, 5, 15)
    first, second, third, fourth, fifth = snapshot.vacancies

    assert first.work_id == "1050500001" and first.agency_code == "" and first.agency_name == "新竹縣政府"
    assert first.headcount == Headcount(1, 1, "正取1名，備取1名")
    assert first.gender is Gender.ANY  # the 2016 copy of PERSON_KIND means "no restriction"
    assert [p.dgpa_code for p in first.work_places] == [30, 31]
    assert first.period.start == dt.date(2016, 5, 10) and first.period.end == dt.date(2016, 5, 21)
    assert first.rank_classes == (RankClass.JUNIOR, RankClass.ELEMENTARY)
    assert (first.indigenous_eligible, first.disability_eligible, first.training, first.transfer) == (
        True,
        False,
        False,
        None,  # IS_TRANSFER did not exist in 2016
    )
    assert (
        first.qualifications == LONG_QUALITY
        and first.duties == LONG_ITEM
        and first.contact_method == LONG_CONTACT
    )
    assert first.rank == "委任第5職等或薦任第6職等至第7職等" and first.series == "綜合行政"

    assert second.headcount == Headcount(None, None, "數名")
    assert second.work_places == (work_place(33),) and second.work_places[0].name == "桃園市"
    assert second.person_kind == PersonKind("會計人員（非主辦）") and second.gender is Gender.ANY
    assert second.contact_email == "acc@tycg.gov.tw" and second.rank == "" and second.series == ""

    assert [p.dgpa_code for p in third.work_places] == [98, 99]
    assert third.headcount == Headcount(None, None, "1-2") and third.rank == "280薪點"
    assert third.period.days == 927 and third.work_id == "0990100003"
    assert third.duties == "護理 & 照護 <急診>" and third.related_url == "http://www.example.gov.tw/jobs"

    assert fourth.agency_code == "A29000000G" and fourth.headcount == Headcount(2, 3, "2")
    assert fourth.transfer is True and fourth.training is True
    assert fourth.job_category == "須具公務人員任用資格" and fourth.work_places[0].dgpa_code == 101
    assert fourth.duties == "  前後空白與\n換行保留  "

    assert fifth.headcount == Headcount(None, 0, "若干名") and fifth.gender is Gender.FEMALE
    assert fifth.work_places == (work_place(10),) and fifth.rank == "師(三)級" and fifth.series == "無"


def test_round_trip_loses_nothing() -> None:
    snapshot = read_dgpa_xml(QUIRKS)
    written = write_dgpa_xml(snapshot.vacancies, snapshot.announce_date, include_contact=True)
    again = read_dgpa_xml(written)
    assert again.problems == () and again.announce_date == snapshot.announce_date
    assert again.vacancies == snapshot.vacancies
    for before, after in zip(snapshot.vacancies, again.vacancies, strict=True):
        for field in dataclasses.fields(Vacancy):
            assert getattr(before, field.name) == getattr(after, field.name), field.name
        assert before.headcount.reserve == after.headcount.reserve
    assert write_dgpa_xml(again.vacancies, again.announce_date, include_contact=True) == written
    assert write_dgpa_xml(again.vacancies, dt.date(2016, 5, 15), include_contact=True) == written


def test_contact_fields_are_left_out_unless_asked() -> None:
    vacancies = read_dgpa_xml(QUIRKS).vacancies
    public = write_dgpa_xml(vacancies, None).decode()
    for secret in ("acc@tycg.gov.tw", "hr@moda.gov.tw", "林小姐", "02-2345-6789"):
        assert secret not in public
    assert "<VITAE_EMAIL />" in public and "<CONTACT_METHOD />" in public
    stripped = read_dgpa_xml(public.encode()).vacancies
    assert stripped == tuple(v.without_personal_data() for v in vacancies)


def test_written_vacancies_from_registration_round_trip() -> None:
    from .conftest import make_vacancy

    vacancy = make_vacancy(
        headcount=Headcount.of(2, 4), title="科員\r\n（第二行）", work_places=(work_place(10), work_place(82))
    )
    written = write_dgpa_xml([vacancy], RocDate(114, 3, 3), include_contact=True)
    (back,) = read_dgpa_xml(written).vacancies
    assert back == dataclasses.replace(
        vacancy,
        agency_address="",  # back-office fields are not part of the feed
        filler_name="",
        filler_phone="",
        detail_url=_url(vacancy.work_id),
    )


BAD_ROWS = [
    ("DATE_FROM", {"DATE_FROM": "1141301"}),
    ("WORK_PLACE_TYPE", {"WORK_PLACE_TYPE": ",77-火星"}),
    ("VIEW_URL", {"VIEW_URL": "https://web3.dgpa.gov.tw/"}),
    ("IS_HANDICAP", {"IS_HANDICAP": "maybe"}),
    ("RESERVE_NUM", {"RESERVE_NUM": "兩名"}),
    ("DATE_TO", {"DATE_TO": "1140101"}),
    ("GENDER_TYPE", {"GENDER_TYPE": "第三性別"}),
    ("TYPE", {"TYPE": "特任"}),
    ("TITLE", {"TITLE": ""}),
    ("NUMBER_OF", {"NUMBER_OF": ""}),
    ("NUMBER_OF", {"NUMBER_OF": "abc"}),
    ("NUMBER_OF", {"NUMBER_OF": "-3"}),
]


def _good(n: int, **overrides: str) -> str:
    fields = {
        "ORG_ID": "A29000000G",
        "ORG_NAME": "數位發展部",
        "PERSON_KIND": "一般人員",
        "TITLE": f"科員{n}",
        "NUMBER_OF": "1",
        "GENDER_TYPE": "",
        "WORK_PLACE_TYPE": ",10-臺北市",
        "DATE_FROM": "1140301",
        "DATE_TO": "1140314",
        "IS_HANDICAP": "N",
        "VIEW_URL": _url(f"11403{n:05d}"),
    }
    fields.update(overrides)
    return _row(**fields)


def test_bad_rows_are_reported_and_the_rest_load() -> None:
    rows = [_good(0)]
    for n, (_, overrides) in enumerate(BAD_ROWS, start=1):
        rows.extend([_good(100 + n, **overrides), _good(200 + n)])
    rows.append(_good(0))  # the same work_id again
    rows.append("<ROW><TITLE>x<b>y</b></TITLE></ROW>")
    document = ("<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>" + "".join(rows) + "</ROOT>").encode()
    snapshot = read_dgpa_xml(document)
    assert len(snapshot.vacancies) == 1 + len(BAD_ROWS)
    problems = snapshot.problems
    assert [(p.row, p.field) for p in problems[: len(BAD_ROWS)]] == [
        (2 * n, field) for n, (field, _) in enumerate(BAD_ROWS, start=1)
    ]
    assert problems[0].work_id == "1140300101" and "row 2" in str(problems[0])
    duplicate, markup = problems[len(BAD_ROWS) :]
    assert duplicate.row == 2 + 2 * len(BAD_ROWS) and "repeated" in duplicate.reason
    assert markup.field == "TITLE"
    assert all(p.code.startswith("VACANCY_") for p in problems)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("abc", "VACANCY_HEADCOUNT_FORMAT"),
        ("-3", "VACANCY_HEADCOUNT_INVALID"),
        ("0", "VACANCY_HEADCOUNT_INVALID"),
    ],
)
def test_a_headcount_the_model_refuses_is_a_row_problem(text: str, code: str) -> None:
    snapshot = read_dgpa_xml(
        f"<ROOT>{_good(1, NUMBER_OF=text)}{_good(2, NUMBER_OF='正1備5')}</ROOT>".encode()
    )
    assert [v.headcount for v in snapshot.vacancies] == [Headcount(1, 5, "正1備5")]
    assert [(p.row, p.field, p.code) for p in snapshot.problems] == [(1, "NUMBER_OF", code)]


def test_a_stored_headcount_the_model_now_refuses_is_still_exported() -> None:
    vacancy = read_dgpa_xml(f"<ROOT>{_good(1)}</ROOT>".encode()).vacancies[0]
    old = dataclasses.replace(vacancy, headcount=Headcount(None, None, "abc"))  # as read from storage
    assert b"<NUMBER_OF>abc</NUMBER_OF>" in write_dgpa_xml([old], None)


def test_bad_announce_date_is_a_problem_not_a_failure() -> None:
    snapshot = read_dgpa_xml(b"<ROOT><ANNOUNCE_DATE>soon</ANNOUNCE_DATE>" + _good(1).encode() + b"</ROOT>")
    assert snapshot.announce_date is None and len(snapshot.vacancies) == 1
    assert snapshot.problems[0].row == 0 and snapshot.problems[0].field == "ANNOUNCE_DATE"


def test_sources_path_bytes_and_file_objects(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(QUIRKS)
    expected = read_dgpa_xml(QUIRKS)
    assert read_dgpa_xml(path) == expected
    assert read_dgpa_xml(str(path)) == expected
    with path.open("rb") as handle:
        assert read_dgpa_xml(handle) == expected
        assert not handle.closed  # the caller's file stays the caller's
    assert read_dgpa_xml(io.BytesIO(QUIRKS)) == expected
    with pytest.raises(FeedMalformedError):
        read_dgpa_xml(tmp_path / "missing.xml")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE ROOT [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ROOT><ROW><TITLE>&lol3;</TITLE></ROW></ROOT>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ROOT [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ROOT><ROW><TITLE>&secret;</TITLE></ROW></ROOT>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        XXE,
        b'<!DOCTYPE ROOT SYSTEM "http://127.0.0.1:9/feed.dtd"><ROOT/>',
        b"<!DOCTYPE ROOT><ROOT/>",
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE ROOT [<!ENTITY a "b">]><ROOT/>'.encode("utf-16"),
    ],
)
def test_dtds_and_entities_are_refused(document: bytes) -> None:
    with pytest.raises(FeedUnsafeError) as info:
        read_dgpa_xml(document)
    assert info.value.code == "VACANCY_FEED_UNSAFE" and "DTD" in info.value.message


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml",
        b"<ROOT><ROW>",  # truncated
        b"<FEED><ROW/></FEED>",
        b"<ROOT><ROW><TITLE>&undefined;</TITLE></ROW></ROOT>",
        b'<?xml version="1.0" encoding="x-no-such-codec"?><ROOT/>',
        b"<ROOT></ROOT><ROOT></ROOT>",
    ],
)
def test_malformed_files(document: bytes) -> None:
    with pytest.raises(FeedMalformedError):
        read_dgpa_xml(document)


def test_other_encodings() -> None:
    body = f"<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>{_good(1)}</ROOT>"
    document = f'<?xml version="1.0" encoding="utf-16"?>{body}'.encode("utf-16")
    (vacancy,) = read_dgpa_xml(document).vacancies
    assert vacancy.agency_name == "數位發展部"
    # expat reads no multi-byte legacy encoding; the feed is UTF-8, so Big5 is refused cleanly.
    with pytest.raises(FeedMalformedError):
        read_dgpa_xml(f'<?xml version="1.0" encoding="big5"?>{body}'.encode("big5"))


class _GeneratedFeed(io.RawIOBase):
    """A feed of ``rows`` rows produced on demand: the whole file never exists in memory."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._next = 0
        self._buffer = b"<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>"
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        while len(self._buffer) < len(target) and self._next <= self._rows:
            if self._next == self._rows:
                self._buffer += b"</ROOT>"
            else:
                self._buffer += _good(self._next, WORK_ITEM="工作內容" * 300).encode()
            self._next += 1
        size = min(len(target), len(self._buffer))
        target[:size], self._buffer = self._buffer[:size], self._buffer[size:]
        self.produced += size
        return size


def test_reading_streams_in_bounded_memory() -> None:
    source = _GeneratedFeed(20_000)
    tracemalloc.start()
    count = 0
    for item in DgpaFeedReader(source):
        assert isinstance(item, Vacancy)
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert source.produced > 70_000_000  # a 70+ MB file ...
    # ... read in a few MB: a chunk's rows plus the set of work_ids seen (for repeats), ~100 B a row.
    assert peak < 7_000_000, peak


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_errors(data: bytes) -> None:
    try:
        read_dgpa_xml(data)
    except VacancyParseError:
        pass


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "TITLE",
                "NUMBER_OF",
                "WORK_PLACE_TYPE",
                "DATE_FROM",
                "GENDER_TYPE",
                "TYPE",
                "IS_ORIGINAL",
                "RESERVE_NUM",
                "VIEW_URL",
            ]
        ),
        _TEXT,
    )
)
def test_arbitrary_field_values_give_a_vacancy_or_a_problem(overrides: dict[str, str]) -> None:
    from xml.sax.saxutils import escape

    cleaned = {
        k: escape("".join(ch for ch in v if ch.isprintable() or ch in "\n\t")) for k, v in overrides.items()
    }
    document = f"<ROOT>{_good(1, **cleaned)}</ROOT>".encode()
    try:
        snapshot = read_dgpa_xml(document)
    except ParseError:
        return  # a value that is not XML-legal text
    assert len(snapshot.vacancies) + len(snapshot.problems) == 1
    if snapshot.vacancies:
        again = read_dgpa_xml(write_dgpa_xml(snapshot.vacancies, None, include_contact=True))
        assert again.vacancies == snapshot.vacancies


class _Trickle(io.RawIOBase):
    """A file object that hands out at most ``step`` bytes a read, so rows straddle reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        piece = self._data[self._at : self._at + min(len(target), self._step)]
        target[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)


def _without_the_event_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the reader take the public ``read_events()`` path (as on a Python without
    ``XMLPullParser._events_queue``)."""
    import types

    import twcert_vacancy.feed as feed_module

    class _NotADeque:
        pass

    monkeypatch.setattr(feed_module, "collections", types.SimpleNamespace(deque=_NotADeque))


@pytest.mark.parametrize("public_api", [False, True])
@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_rows_straddling_reads_are_read_whole(
    monkeypatch: pytest.MonkeyPatch, public_api: bool, step: int
) -> None:
    if public_api:
        _without_the_event_queue(monkeypatch)
    expected = read_dgpa_xml(QUIRKS)
    assert read_dgpa_xml(_Trickle(QUIRKS, step)) == expected
    long_rows = b"".join(_good(n, WORK_ITEM="工作內容" * 40).encode() for n in range(200))
    document = b"<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>" + long_rows + b"</ROOT>"
    snapshot = read_dgpa_xml(_Trickle(document, step) if step > 1 else document)
    assert [v.work_id for v in snapshot.vacancies] == [f"11403{n:05d}" for n in range(200)]
    assert snapshot.announce_date is not None and not snapshot.problems


@pytest.mark.parametrize("public_api", [False, True])
def test_rows_before_a_parse_error_are_read_then_it_is_raised(
    monkeypatch: pytest.MonkeyPatch, public_api: bool
) -> None:
    if public_api:
        _without_the_event_queue(monkeypatch)
    document = (
        "<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>"
        + "".join(_good(n) for n in range(3))
        + "<ROW><TITLE>x</ROW>"
        + _good(9)
        + "</ROOT>"
    ).encode()
    read: list[str] = []

    def read_all() -> None:
        for item in DgpaFeedReader(document):
            assert isinstance(item, Vacancy)
            read.append(item.work_id)

    with pytest.raises(FeedMalformedError):
        read_all()
    assert read == [f"11403{n:05d}" for n in range(3)]


def test_rows_inside_a_wrapper_element_are_still_read() -> None:
    document = (
        "<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE><DATA>"
        + _good(1)
        + _good(2)
        + "</DATA>"
        + _good(3)
        + "</ROOT>"
    ).encode()
    snapshot = read_dgpa_xml(document)
    assert [v.work_id for v in snapshot.vacancies] == ["1140300001", "1140300002", "1140300003"]
    assert not snapshot.problems


def test_deeply_nested_elements_are_no_crash() -> None:
    depth = 20_000  # far past Python's recursion limit
    document = (
        "<ROOT><ANNOUNCE_DATE>1140301</ANNOUNCE_DATE>"
        + "<A>" * depth
        + _good(1)
        + "</A>" * depth
        + _good(2)
        + "</ROOT>"
    ).encode()
    snapshot = read_dgpa_xml(document)
    assert [v.work_id for v in snapshot.vacancies] == ["1140300001", "1140300002"]
