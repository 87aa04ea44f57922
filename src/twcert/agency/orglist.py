"""Load the DGPA open-data agency-code file ``orglist.csv`` (data.gov.tw dataset 7307).

The file is Big5 (CP950) with 15 columns: 機關代碼, 機關名稱, 機關英文名稱, 郵遞區號, 機關地址,
機關電話, 主管機關代碼, 主管機關名稱, 傳真, 機關生效日期, 機關裁撤日期, 機關層級, 裁撤註記,
新機關代碼, 新機關名稱. A malformed row is reported with its line number and the reason; the
other rows still load, and nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from ..errors import ParseError
from .directory import Agency, MemoryAgencyDirectory

__all__ = [
    "CODE_SHAPE",
    "COLUMNS",
    "OrgListError",
    "OrgListProblem",
    "OrgListResult",
    "load_orglist",
    "read_orglist",
]

COLUMNS: Final = (
    "機關代碼", "機關名稱", "機關英文名稱", "郵遞區號", "機關地址", "機關電話", "主管機關代碼",
    "主管機關名稱", "傳真", "機關生效日期", "機關裁撤日期", "機關層級", "裁撤註記", "新機關代碼",
    "新機關名稱",
)  # fmt: skip
#: 10 characters: 9 hierarchical positions and a trailing letter (e.g. A07000000E, 397000000A).
CODE_SHAPE: Final = re.compile(r"[0-9A-Z]{9}[A-Z]")
_MAX_BYTES: Final = 64 * 1024 * 1024


class OrgListError(ParseError):
    """The file as a whole cannot be read as the agency-code file."""

    code = "ORGLIST_INVALID"
    message_zh = "機關代碼檔格式錯誤，無法讀取。"
    message_en = "The agency-code file (orglist.csv) cannot be read."


@dataclass(frozen=True, slots=True)
class OrgListProblem:
    line: int
    reason: str
    raw: str = ""


@dataclass(frozen=True, slots=True)
class OrgListResult:
    directory: MemoryAgencyDirectory
    rows: int
    problems: tuple[OrgListProblem, ...]


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OrgListError(f"UTF-8 byte-order mark but not UTF-8 (byte {exc.start + 3})") from None
    try:
        return data.decode("cp950")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OrgListError(f"neither Big5/CP950 nor UTF-8 (byte {exc.start})") from None


def _read(source: object) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    read = getattr(source, "read", None)
    if not callable(read):
        raise TypeError(f"orglist source must be bytes, a path or a binary file, not {type(source).__name__}")
    data = read(_MAX_BYTES + 1)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"orglist file must be opened in binary mode (read() gave {type(data).__name__})")
    return bytes(data)


def read_orglist(source: str | os.PathLike[str] | bytes | BinaryIO) -> Iterator[Agency | OrgListProblem]:
    """Yield an :class:`Agency` per good row and an :class:`OrgListProblem` per bad one.

    :raises OrgListError: the bytes are not a readable agency-code file.
    :raises TypeError: ``source`` is not bytes, a path or a binary file.
    """
    data = _read(source)
    if len(data) > _MAX_BYTES:
        raise OrgListError(f"file of {len(data)} bytes is larger than {_MAX_BYTES}")
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    seen: set[str] = set()
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            cells = [cell.strip() for cell in row]
            if cells[0].lstrip("\ufeff") == COLUMNS[0]:
                continue  # header
            if len(cells) != len(COLUMNS):
                yield OrgListProblem(
                    line, f"expected {len(COLUMNS)} columns, found {len(cells)}", ",".join(row)[:200]
                )
                continue
            code = cells[0].upper()
            if not CODE_SHAPE.fullmatch(code):
                yield OrgListProblem(line, f"agency code {cells[0]!r} is not 10 characters of the DGPA shape")
                continue
            if not cells[1]:
                yield OrgListProblem(line, f"agency {code} has no name")
                continue
            if code in seen:
                yield OrgListProblem(line, f"agency code {code} appears twice (the later row wins)")
            seen.add(code)
            yield Agency(code, *cells[1:])
    except csv.Error as exc:
        yield OrgListProblem(reader.line_num, f"CSV syntax: {exc}")


def load_orglist(source: str | os.PathLike[str] | bytes | BinaryIO) -> OrgListResult:
    """Read the whole file into a :class:`MemoryAgencyDirectory`, with every problem found."""
    directory = MemoryAgencyDirectory()
    problems: list[OrgListProblem] = []
    rows = 0
    for item in read_orglist(source):
        if isinstance(item, OrgListProblem):
            problems.append(item)
        else:
            directory.add(item)
            rows += 1
    return OrgListResult(directory, rows, tuple(problems))
