"""docs/testing.md: its complete host-app test runs as a host project would run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .runner import REPO, run_pytest

DOC = REPO / "docs" / "testing.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
FILE_MARK = re.compile(r"^# (\w+\.py)\n")


def _blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_doc_names_its_three_files() -> None:
    names = [m.group(1) for b in _blocks() if (m := FILE_MARK.match(b))]
    assert names == ["app.py", "conftest.py", "test_login.py"]


@pytest.mark.slow
def test_the_complete_host_app_test_passes(tmp_path: Path) -> None:
    for block in _blocks():
        mark = FILE_MARK.match(block)
        if mark:
            (tmp_path / mark.group(1)).write_text(block, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n", encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b5 passed\b", result.stdout), result.stdout[-2000:]


def test_the_example_without_pytest_runs() -> None:
    (code,) = [b for b in _blocks() if b.startswith("from twcert.testing import FreshPKI")]
    exec(compile(code, str(DOC), "exec"), {})


def test_the_plugin_does_nothing_until_opted_in(tmp_path: Path) -> None:
    (tmp_path / "test_host.py").write_text("def test_uses(twcert_pki):\n    pass\n", encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "fixture 'twcert_pki' not found" in result.stdout
