"""The example apps under examples/ pass their own tests, each run as its own pytest project."""

from __future__ import annotations

import re

import pytest

from ..twcert.testing.runner import REPO, run_pytest

EXAMPLES = REPO / "examples"


def _app_lines(directory: str) -> int:
    """Lines of app code (not tests, not the test set-up)."""
    files = [
        p
        for p in (EXAMPLES / directory).rglob("*.py")
        if not p.name.startswith(("test_", "conftest")) and p.name != "__init__.py"
    ]
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)


@pytest.mark.slow
@pytest.mark.parametrize(("directory", "tests"), [("flask_app", 5), ("django_app", 4)])
def test_example_passes_its_own_tests(directory: str, tests: int) -> None:
    result = run_pytest(EXAMPLES / directory)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(rf"\b{tests} passed\b", result.stdout), result.stdout[-2000:]


@pytest.mark.parametrize("directory", ["flask_app", "django_app"])
def test_example_app_stays_small(directory: str) -> None:
    assert 0 < _app_lines(directory) <= 40
