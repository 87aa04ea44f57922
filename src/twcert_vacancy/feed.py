"""The DGPA open-data feed (data.gov.tw dataset 7229): ``<ROOT><ANNOUNCE_DATE>…<ROW>…</ROOT>``.

Reading streams: the file is fed to the parser in chunks and every row is dropped from the tree
once it is turned into a :class:`~twcert_vacancy.model.Vacancy`, so a large file never sits in
memory. A DTD (and with it any entity declaration) is refused before the parser builds anything,
which rules out entity-expansion bombs and external entities. A row that cannot be read becomes a
:class:`FeedProblem` (its position and the reason) and the other rows still load.

Both schemas are read: the 2016 one (``NUMBER_OF`` as free text such as ``正取1名，備取1名``,
``GENDER_TYPE`` holding a copy of ``PERSON_KIND``, codes 21/32) and the later one (``ORG_ID``,
integer ``NUMBER_OF`` plus ``RESERVE_NUM``, ``IS_TRANSFER``, ``Work_Type``). ``IS_TRANING`` is
spelled as the feed spells it.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast
from xml.parsers import expat

from .errors import FeedMalformedError, FeedUnsafeError, VacancyError
from .model import Gender, Headcount, PersonKind, RankClass, Vacancy, ValidityPeriod
from .regions import format_work_places, parse_work_places
from .rocdate import RocDate

__all__ = [
    "FEED_FIELDS",
    "DgpaFeedReader",
    "FeedProblem",
    "FeedSnapshot",
    "FeedSource",
    "read_dgpa_xml",
    "write_dgpa_xml",
]

#: What a feed can be read from: a path, the bytes, or a binary file object.
FeedSource = str | os.PathLike[str] | bytes | bytearray | IO[bytes]

#: Row tags in the order the writer emits them (the feed's own order, later fields last).
FEED_FIELDS: Final = (
    "ORG_ID",
    "ORG_NAME",
    "PERSON_KIND",
    "RANK",
    "TITLE",
    "SYSNAM",
    "NUMBER_OF",
    "RESERVE_NUM",
    "GENDER_TYPE",
    "WORK_PLACE_TYPE",
    "DATE_FROM",
    "DATE_TO",
    "IS_HANDICAP",
    "IS_ORIGINAL",
    "IS_LOCAL_ORIGINAL",
    "IS_TRANING",
    "IS_TRANSFER",
    "TYPE",
    "VITAE_EMAIL",
    "WORK_QUALITY",
    "WORK_ITEM",
    "WORK_ADDRESS",
    "CONTACT_METHOD",
    "URL_LINK",
    "VIEW_URL",
    "Work_Type",
)
_CHUNK = 1 << 16
_TOP_LEVEL: Final = frozenset({"ROW", "ANNOUNCE_DATE"})
_FLAGS: Final = (
    ("IS_HANDICAP", "disability_eligible"),
    ("IS_ORIGINAL", "indigenous_eligible"),
    ("IS_LOCAL_ORIGINAL", "indigenous_area"),
    ("IS_TRANING", "training"),
    ("IS_TRANSFER", "transfer"),
)
_WORK_ID = re.compile(r"[?&]work_id=([0-9A-Za-z_\-]{1,20})(?:&|$)", re.ASCII | re.IGNORECASE)
_DETAIL_URL: Final = "https://web3.dgpa.gov.tw/want03front/ap/wantf00001_1.aspx?work_id={work_id}"
# XML 1.0 forbids these characters even as references; the writer drops them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class FeedProblem:
    """A row that was not loaded: 1-based ``row`` among the ``<ROW>`` elements, and why."""

    row: int
    reason: str
    code: str
    work_id: str = ""
    field: str = ""

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (work_id {self.work_id})" if self.work_id else "")
        return f"{where}: {self.field + ': ' if self.field else ''}{self.reason}"


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """A whole feed file: its announce date, the vacancies read and the rows that were not."""

    announce_date: RocDate | None
    vacancies: tuple[Vacancy, ...]
    problems: tuple[FeedProblem, ...]


class _RootReached(Exception):
    pass


class _RowError(Exception):
    def __init__(self, field: str, reason: str, code: str = "VACANCY_FEED_ROW_INVALID") -> None:
        super().__init__(reason)
        self.field, self.reason, self.code = field, reason, code


class _Prolog:
    """Watches the bytes before the root element with expat itself, so every encoding is covered."""

    def __init__(self) -> None:
        self.done = False
        self._parser = expat.ParserCreate()
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._parser.EntityDeclHandler = self._entity
        self._parser.StartElementHandler = self._root

    @staticmethod
    def _doctype(*_args: object) -> None:
        raise FeedUnsafeError("DOCTYPE declaration in feed")

    @staticmethod
    def _entity(*_args: object) -> None:
        raise FeedUnsafeError("ENTITY declaration in feed")

    def _root(self, name: str, *_args: object) -> None:
        self.done = True
        if name != "ROOT":
            raise FeedMalformedError(f"root element is <{name[:40]}>, not <ROOT>")
        raise _RootReached  # a DTD can only come before the root element: stop watching here

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.done:
            return
        try:
            self._parser.Parse(chunk, final)
        except _RootReached:
            self.done = True
        except (expat.ExpatError, ValueError, LookupError) as exc:
            raise FeedMalformedError(f"not XML: {exc}") from exc


class DgpaFeedReader:
    """Iterate over a feed file, yielding a :class:`Vacancy` or a :class:`FeedProblem` per row.

    :attr:`announce_date` is set once ``<ANNOUNCE_DATE>`` has been read. Rows are read lazily:
    this is what an importer uses to keep memory flat. :attr:`rows` and :attr:`bytes_read` say
    how far it has got (for a progress display).
    """

    def __init__(self, source: FeedSource) -> None:
        self._source = source
        self.announce_date: RocDate | None = None
        self.rows = 0
        #: Bytes of the feed read so far.
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Vacancy | FeedProblem]:
        with _open(self._source) as stream:
            yield from self._read(stream)

    def _read(self, stream: IO[bytes]) -> Iterator[Vacancy | FeedProblem]:
        prolog = _Prolog()
        # The first start event gives the root; after that the rows are read from the tree, not
        # from events (one per field: looping over them in Python cost a tenth of the reader's
        # time). After each chunk every child of the root but the last is complete: those are
        # handled and dropped from the tree, so memory stays flat.
        parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start",))
        root: ET.Element | None = None
        seen: set[str] = set()
        try:
            while True:
                chunk = stream.read(_CHUNK)
                self.bytes_read += len(chunk)
                final = not chunk
                error: BaseException | None = None
                if final:
                    prolog.feed(b"", final=True)
                    parser.close()
                else:
                    prolog.feed(chunk)
                    parser.feed(chunk)
                    if root is None:
                        events = cast("Iterator[tuple[str, ET.Element]]", parser.read_events())
                        root = next((element for _event, element in events), None)
                    error = _drop_events(parser)
                if root is not None:
                    complete = len(root) if final else len(root) - 1
                    if complete > 0:
                        done = root[:complete]
                        del root[:complete]
                        for element in done:
                            for found in _top_level_in(element):
                                yield from self._top_level(found, seen)
                if error is not None:
                    raise error
                if final:
                    break
        except ET.ParseError as exc:
            raise FeedMalformedError(f"not well-formed XML: {exc}") from exc
        except (OSError, ValueError, LookupError) as exc:
            raise FeedMalformedError(f"cannot read feed: {exc}") from exc

    def _top_level(self, element: ET.Element, seen: set[str]) -> Iterator[Vacancy | FeedProblem]:
        if element.tag == "ROW":
            self.rows += 1
            yield self._row(element, seen)
        else:
            yield from self._announce(element)

    def _announce(self, element: ET.Element) -> Iterator[FeedProblem]:
        try:
            self.announce_date = RocDate.parse(element.text or "")
        except VacancyError as exc:
            yield FeedProblem(
                0, f"ANNOUNCE_DATE is not an ROC date ({exc.detail})", exc.code, field="ANNOUNCE_DATE"
            )

    def _row(self, element: ET.Element, seen: set[str]) -> Vacancy | FeedProblem:
        if any(map(len, element)):  # a field with child elements (checked without a Python loop)
            field = next((child.tag for child in element if len(child)), "")
            return FeedProblem(
                self.rows, "unexpected markup inside a field", "VACANCY_FEED_ROW_INVALID", field=field
            )
        fields = {child.tag: child.text or "" for child in element}
        work_id = _work_id(fields)
        try:
            if not work_id:
                raise _RowError("VIEW_URL", "no work_id in VIEW_URL")
            if work_id in seen:
                raise _RowError("VIEW_URL", "work_id repeated in the same feed")
            vacancy = vacancy_from_fields(fields, work_id)
        except _RowError as exc:
            return FeedProblem(self.rows, exc.reason, exc.code, work_id, exc.field)
        seen.add(work_id)
        return vacancy


def _top_level_in(element: ET.Element) -> Iterator[ET.Element]:
    """``element`` if it is a row or the announce date, else those it wraps (as the feed's
    rows were read before: a wrapper such as ``<DATA>`` around them must not hide them)."""
    # A stack, not recursion: a hostile feed may nest elements thousands deep.
    stack = [element]
    while stack:
        current = stack.pop()
        if current.tag in _TOP_LEVEL:
            yield current
        else:
            stack.extend(reversed(current))


def _drop_events(parser: ET.XMLPullParser[ET.Element]) -> BaseException | None:
    """Discard the parser's queued events; return the parse error among them, if any.

    ``XMLPullParser.feed`` queues a parse error after the events it produced (so, draining after
    every ``feed``, only last), where ``read_events()`` would raise it. CPython keeps the queue
    in ``_events_queue``: clearing it at once saves a generator step per element. Elsewhere the
    public API drains it.
    """
    queue = getattr(parser, "_events_queue", None)
    if not isinstance(queue, collections.deque):
        try:
            for _event in parser.read_events():
                pass
        except ET.ParseError as exc:
            return exc
        return None
    error = queue[-1] if queue and isinstance(queue[-1], BaseException) else None
    queue.clear()
    return error


def _open(source: FeedSource) -> _SourceContext:
    return _SourceContext(source)


class _SourceContext:
    """A path is opened (and closed) here; bytes and caller-owned file objects are only read."""

    def __init__(self, source: FeedSource) -> None:
        self._source = source
        self._owned: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        source = self._source
        if isinstance(source, bytes | bytearray):
            return io.BytesIO(bytes(source))
        if isinstance(source, str | os.PathLike):
            try:
                self._owned = open(Path(source), "rb")
            except OSError as exc:
                raise FeedMalformedError(f"cannot open {source}: {exc.strerror}") from exc
            return self._owned
        if hasattr(source, "read"):
            return source
        raise FeedMalformedError(f"not a path, bytes or binary file: {type(source).__name__}")

    def __exit__(self, *_exc: object) -> None:
        if self._owned is not None:
            self._owned.close()


def _work_id(fields: dict[str, str]) -> str:
    explicit = fields.get("WORK_ID", "").strip()
    if explicit:
        return explicit
    match = _WORK_ID.search(fields.get("VIEW_URL", "").strip())
    return match.group(1) if match else ""


def _required(fields: dict[str, str], tag: str) -> str:
    value = fields.get(tag, "")
    if not value.strip():
        raise _RowError(tag, "required field is empty")
    return value


_FLAG_VALUES: Final = {"Y": True, "N": False, "y": True, "n": False, "": None}


def _flag(fields: dict[str, str], tag: str) -> bool | None:
    value = fields.get(tag)
    if value is None:
        return None
    try:
        return _FLAG_VALUES[value.strip()]
    except KeyError:
        raise _RowError(tag, f"flag must be Y or N, not {value[:10]!r}") from None


# The same few hundred dates, place lists and headcount texts repeat across a feed's rows.
_parse_date = functools.lru_cache(maxsize=4096)(RocDate.parse)
_parse_places = functools.lru_cache(maxsize=4096)(parse_work_places)
_parse_headcount = functools.lru_cache(maxsize=4096)(Headcount.parse)
_parse_classes = functools.lru_cache(maxsize=256)(RankClass.parse_set)
_parse_gender = functools.lru_cache(maxsize=256)(Gender.parse)
_person_kind = functools.lru_cache(maxsize=1024)(PersonKind)


@functools.lru_cache(maxsize=8192)
def _period_of(start: str, end: str) -> ValidityPeriod | None:
    first, last = _parse_date(start).to_date(), _parse_date(end).to_date()
    return ValidityPeriod(first, last) if first <= last else None


def _period(start: str, end: str) -> ValidityPeriod | None:
    """The row's window (value objects are immutable, so equal windows share one); ``None`` if reversed."""
    try:
        return _period_of(start, end)
    except VacancyError:
        # Name the field that is wrong.
        _date({"DATE_FROM": start}, "DATE_FROM")
        _date({"DATE_TO": end}, "DATE_TO")
        raise


def _date(fields: dict[str, str], tag: str) -> dt.date:
    try:
        return _parse_date(_required(fields, tag)).to_date()
    except VacancyError as exc:
        raise _RowError(tag, f"not an ROC date: {fields.get(tag, '')[:20]!r}", exc.code) from exc


def vacancy_from_fields(fields: dict[str, str], work_id: str) -> Vacancy:
    """One ``<ROW>`` (tag → text) as a vacancy; raises ``_RowError`` naming the bad field."""
    get = fields.get
    kind_text = _required(fields, "PERSON_KIND")
    try:
        reserve_text = get("RESERVE_NUM", "").strip()
        if reserve_text and not (reserve_text.isascii() and reserve_text.isdigit()):
            raise _RowError("RESERVE_NUM", f"not a whole number: {reserve_text[:10]!r}")
        headcount = _parse_headcount(
            _required(fields, "NUMBER_OF"), int(reserve_text) if reserve_text else None
        )
    except VacancyError as exc:
        raise _RowError("NUMBER_OF", exc.detail or exc.message_english, exc.code) from exc
    gender_text = get("GENDER_TYPE", "")
    try:
        # The 2016 feed copied PERSON_KIND into GENDER_TYPE on every row: that means "no restriction".
        gender = Gender.ANY if gender_text == kind_text else _parse_gender(gender_text)
    except VacancyError as exc:
        raise _RowError("GENDER_TYPE", f"not a gender: {gender_text[:10]!r}", exc.code) from exc
    try:
        places = _parse_places(_required(fields, "WORK_PLACE_TYPE"))
    except VacancyError as exc:
        raise _RowError("WORK_PLACE_TYPE", exc.detail or "unknown work place", exc.code) from exc
    try:
        rank_classes = _parse_classes(get("TYPE", ""))
    except VacancyError as exc:
        raise _RowError("TYPE", exc.detail, exc.code) from exc
    period = _period(get("DATE_FROM", ""), get("DATE_TO", ""))
    if period is None:
        start, end = _date(fields, "DATE_FROM"), _date(fields, "DATE_TO")
        raise _RowError("DATE_TO", f"DATE_TO {end} is before DATE_FROM {start}", "VACANCY_PERIOD_ORDER")
    return Vacancy(
        work_id=work_id,
        agency_code=get("ORG_ID", "").strip(),
        agency_name=_required(fields, "ORG_NAME"),
        title=_required(fields, "TITLE"),
        person_kind=_person_kind(kind_text.strip()),
        headcount=headcount,
        work_places=places,
        period=period,
        gender=gender,
        rank=get("RANK", ""),
        series=get("SYSNAM", ""),
        rank_classes=rank_classes,
        qualifications=get("WORK_QUALITY", ""),
        duties=get("WORK_ITEM", ""),
        work_address=get("WORK_ADDRESS", ""),
        contact_method=get("CONTACT_METHOD", ""),
        contact_email=get("VITAE_EMAIL", ""),
        disability_eligible=_flag(fields, "IS_HANDICAP"),
        indigenous_eligible=_flag(fields, "IS_ORIGINAL"),
        indigenous_area=_flag(fields, "IS_LOCAL_ORIGINAL"),
        training=_flag(fields, "IS_TRANING"),
        transfer=_flag(fields, "IS_TRANSFER"),
        job_category=get("Work_Type", get("WORK_TYPE", "")),
        related_url=get("URL_LINK", ""),
        detail_url=get("VIEW_URL", ""),
    )


def read_dgpa_xml(source: FeedSource) -> FeedSnapshot:
    """Read a whole feed file (a path, bytes or a binary file object)."""
    reader = DgpaFeedReader(source)
    vacancies: list[Vacancy] = []
    problems: list[FeedProblem] = []
    for item in reader:
        if isinstance(item, Vacancy):
            vacancies.append(item)
        else:
            problems.append(item)
    return FeedSnapshot(reader.announce_date, tuple(vacancies), tuple(problems))


# --------------------------------------------------------------------------- writing


def _escape(text: str) -> str:
    text = _XML_ILLEGAL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _flag_text(value: bool | None) -> str | None:
    return None if value is None else ("Y" if value else "N")


def _row_fields(vacancy: Vacancy, include_contact: bool) -> list[tuple[str, str | None]]:
    headcount = vacancy.headcount
    # RESERVE_NUM is written when the reserve count is not already stated in NUMBER_OF's text.
    try:
        stated = _parse_headcount(headcount.raw).reserve
    except VacancyError:
        stated = None  # a stored text the model would not accept now: export it as it is
    reserve = None if headcount.reserve is None or headcount.reserve == stated else str(headcount.reserve)
    flags = {tag: _flag_text(getattr(vacancy, name)) for tag, name in _FLAGS}
    detail_url = vacancy.detail_url or _DETAIL_URL.format(work_id=vacancy.work_id)
    return [
        ("ORG_ID", vacancy.agency_code or None),
        ("ORG_NAME", vacancy.agency_name),
        ("PERSON_KIND", vacancy.person_kind.value),
        ("RANK", vacancy.rank),
        ("TITLE", vacancy.title),
        ("SYSNAM", vacancy.series),
        ("NUMBER_OF", headcount.raw),
        ("RESERVE_NUM", reserve),
        ("GENDER_TYPE", vacancy.gender.value),
        ("WORK_PLACE_TYPE", format_work_places(vacancy.work_places)),
        ("DATE_FROM", RocDate.from_date(vacancy.period.start).compact()),
        ("DATE_TO", RocDate.from_date(vacancy.period.end).compact()),
        *flags.items(),
        ("TYPE", ",".join(r.value for r in vacancy.rank_classes)),
        ("VITAE_EMAIL", vacancy.contact_email if include_contact else ""),
        ("WORK_QUALITY", vacancy.qualifications),
        ("WORK_ITEM", vacancy.duties),
        ("WORK_ADDRESS", vacancy.work_address),
        ("CONTACT_METHOD", vacancy.contact_method if include_contact else ""),
        ("URL_LINK", vacancy.related_url),
        ("VIEW_URL", detail_url),
        ("Work_Type", vacancy.job_category or None),
    ]


def write_dgpa_xml(
    vacancies: Iterable[Vacancy], announce_date: RocDate | dt.date | None, *, include_contact: bool = False
) -> bytes:
    """The feed's XML for ``vacancies`` (UTF-8). Reading it back gives the same vacancies.

    聯絡方式 and 聯絡E-Mail are personal data and are left empty unless ``include_contact``; the
    filler's name and phone are never part of the feed.
    """
    if isinstance(announce_date, dt.date):
        announce_date = RocDate.from_date(announce_date)
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<ROOT>']
    if announce_date is not None:
        parts.append(f"<ANNOUNCE_DATE>{announce_date.compact()}</ANNOUNCE_DATE>")
    for vacancy in vacancies:
        parts.append("\n<ROW>")
        for tag, value in _row_fields(vacancy, include_contact):
            if value is None:
                continue
            parts.append(f"<{tag}>{_escape(value)}</{tag}>" if value else f"<{tag} />")
        parts.append("</ROW>")
    parts.append("\n</ROOT>\n")
    # A lone surrogate cannot come from a feed or pass the rules; if one slips in, it becomes "?".
    return "".join(parts).encode("utf-8", errors="replace")
