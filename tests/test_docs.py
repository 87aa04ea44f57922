"""The documentation shows what the code does: the error page and the guides' code."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CJK = re.compile(r"[\u4e00-\u9fff]")

# The packages that add errors to the catalogue (as the docs extension imports them).
_ERROR_MODULES = ("twcert", "twcert.card.errors", "twcert.agency.orglist", "twcert_vacancy.errors")


def _catalogue() -> dict[str, type]:
    for name in _ERROR_MODULES:
        importlib.import_module(name)
    from twcert.errors import catalogue

    return dict(catalogue())


def test_every_error_has_message_and_action_in_both_languages() -> None:
    for code, cls in _catalogue().items():
        for field in ("message_zh", "action_zh"):
            assert CJK.search(getattr(cls, field)), f"{code}.{field} needs Traditional Chinese text"
        for field in ("message_en", "action_en"):
            text = getattr(cls, field)
            assert text and not CJK.search(text), f"{code}.{field} needs English text"


def test_each_language_pair_is_defined_together() -> None:
    # A class that sets action_zh but inherits action_en would show two different actions.
    for code, cls in _catalogue().items():
        own = vars(cls)
        for zh, en in (("message_zh", "message_en"), ("action_zh", "action_en")):
            assert (zh in own) == (en in own), f"{code} defines only one of {zh}/{en}"


def _rendered_rows() -> list[list[str]]:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        twcert_docs = importlib.import_module("twcert_docs")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    directive = object.__new__(twcert_docs.ErrorCatalogue)  # run() needs no parser state
    (table,) = directive.run()
    rows = table.findall(lambda node: node.tagname == "row")
    return [[entry.astext() for entry in row.children] for row in rows]


def test_the_error_page_lists_every_code_with_both_actions() -> None:
    pytest.importorskip("docutils")
    header, *rows = _rendered_rows()
    assert header[:7] == [
        "Code",
        "Class",
        "Message (zh-TW)",
        "Message (English)",
        "Action (zh-TW)",
        "Action (English)",
        "HTTP",
    ]
    by_code = {row[0]: row for row in rows}
    for code, cls in _catalogue().items():
        row = by_code[code]
        assert row[2:6] == [cls.message_zh, cls.message_en, cls.action_zh, cls.action_en], code
    assert "twcert-errors" in (DOCS / "errors.md").read_text(encoding="utf-8")
