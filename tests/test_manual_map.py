"""docs/manual-map.md names only modules, functions, error codes and tests that exist."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from twcert.errors import catalogue

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "manual-map.md"

_TICKED = re.compile(r"`([^`]+)`")
_CODE = re.compile(r"[A-Z][A-Z0-9_]+")
# Packages that add their errors to the catalogue when imported.
_ERROR_MODULES = ("twcert.card.errors", "twcert.agency.orglist", "twcert_vacancy.errors")


def _rows() -> list[list[str]]:
    rows = []
    for line in MAP.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| Rule of the manual"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"a map row has rule | where | error code | tests: {line[:80]}"
        rows.append(cells)
    return rows


def _resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def _test_exists(node_id: str) -> bool:
    path, *names = node_id.split("::")
    file = ROOT / path
    if not file.is_file() or not names:
        return False
    scope: list[ast.stmt] = ast.parse(file.read_text(encoding="utf-8")).body
    for name in names:
        found = [
            node
            for node in scope
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name
        ]
        if not found:
            return False
        scope = found[0].body if isinstance(found[0], ast.ClassDef) else []
    return names[-1].startswith("test")


ROWS = _rows()


def test_the_map_covers_the_manuals_rules() -> None:
    text = MAP.read_text(encoding="utf-8")
    assert len(ROWS) >= 25
    for words in (
        "首次",
        "卸職",
        "測試之機關憑證",
        "應用系統",
        "DD:事求人機關徵才系統",
        "上網有效期間",
        "§48",
    ):
        assert words in text or words.replace("首次", "first use") in text, words


@pytest.mark.parametrize("row", ROWS, ids=[row[0][:40] for row in ROWS])
def test_every_name_in_a_row_exists(row: list[str]) -> None:
    _rule, where, codes, tests = row
    symbols = _TICKED.findall(where)
    assert symbols, "each rule names where the code enforces it"
    for dotted in symbols:
        assert dotted.startswith(("twcert.", "twcert_vacancy.")), dotted
        _resolve(dotted)  # raises if the module or attribute is gone

    for name in _ERROR_MODULES:
        importlib.import_module(name)
    known = catalogue()
    if codes != "—":
        listed = _TICKED.findall(codes)
        assert listed, "error codes are written `CODE`, or — when the rule refuses nothing"
        for code in listed:
            assert _CODE.fullmatch(code) and code in known, f"unknown error code {code}"

    node_ids = _TICKED.findall(tests)
    assert node_ids, "each rule names at least one test"
    for node_id in node_ids:
        assert _test_exists(node_id), f"no such test: {node_id}"


def test_the_checks_catch_what_is_gone() -> None:
    assert not _test_exists("tests/twcert/test_login.py::test_no_such_test")
    assert not _test_exists("tests/no_such_file.py::test_x")
    with pytest.raises(AttributeError):
        _resolve("twcert.login.LoginService.no_such_method")
    with pytest.raises(ModuleNotFoundError):
        _resolve("no_such_package.module")
    assert "NO_SUCH_CODE" not in catalogue()
