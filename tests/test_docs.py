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


def _block_after(page: str, marker: str) -> str:
    """The first fenced ``python`` block after the line containing ``marker`` in ``docs/<page>``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(marker)
    match = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(text, start)
    assert match is not None, f"no python block after {marker!r} in {page}"
    return match.group(1)


@pytest.mark.slow
def test_the_flask_guides_protected_view_passes_mypy_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = pytest.importorskip("mypy.api")
    pytest.importorskip("flask")
    source = _block_after("flask.md", "type-checked with mypy --strict")
    assert "get_principal()" in source and "login_required" in source
    (tmp_path / "guide_view.py").write_text(source, encoding="utf-8")
    # The check can fail: the same view reading current_principal without narrowing is refused.
    broken = source.replace(
        "SessionPrincipal, get_principal, login_required", "current_principal, login_required"
    )
    broken = re.sub(r"    principal: .*\n    if principal is None:.*\n        abort\(401\)\n", "", broken)
    broken = broken.replace("principal.", "current_principal.").replace("import Flask, abort", "import Flask")
    assert broken != source
    (tmp_path / "guide_view_broken.py").write_text(broken, encoding="utf-8")
    monkeypatch.setenv("MYPYPATH", str(ROOT / "src"))  # this checkout's twcert, as installed
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--config-file",
            "",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--follow-imports",
            "silent",
            str(tmp_path / "guide_view.py"),
            str(tmp_path / "guide_view_broken.py"),
        ]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert not [line for line in errors if "guide_view.py" in line], stdout + stderr
    assert status == 1 and any(
        "guide_view_broken.py" in line and 'Item "None" of "SessionPrincipal | None"' in line
        for line in errors
    ), stdout + stderr


def test_flask_login_view_from_the_guide_redirects_to_the_card_login(tmp_path: Path) -> None:
    flask_login = pytest.importorskip("flask_login")
    from twcert.testing.fixtures import FixtureSet

    from .twcert.contrib.flask.conftest import Clock, build_service, make_app

    fixtures = FixtureSet.load(ROOT / "fixtures" / "gpki")
    app, _ = make_app(build_service(fixtures, "memory", tmp_path, Clock(fixtures.now)))
    manager = flask_login.LoginManager(app)
    manager.user_loader(lambda user_id: None)

    @app.get("/reports")
    @flask_login.login_required
    def reports() -> str:
        return "reports"

    client = app.test_client()
    assert client.get("/reports").status_code == 401  # what a host app gets without login_view
    (endpoint,) = re.findall(r'login_view = "([^"]+)"', (DOCS / "flask.md").read_text(encoding="utf-8"))
    manager.login_view = endpoint
    answer = client.get("/reports")
    assert answer.status_code == 302
    assert answer.location.startswith("/twcert/login?") and "next=%2Freports" in answer.location
    page = client.get(answer.location)
    assert page.status_code == 200 and 'data-next="/reports"' in page.get_data(as_text=True)


def test_a_refused_error_class_does_not_break_the_catalogue() -> None:
    # A subclass without its own code is refused, but lives on in __subclasses__ until collected;
    # the catalogue (and so the error page) must not report it as a duplicate code.
    from twcert import errors

    with pytest.raises(TypeError) as refused:

        class Broken(errors.CardError):
            pass

    assert refused.value is not None
    catalogue = errors.catalogue()
    assert catalogue["CARD_ERROR"] is errors.CardError
