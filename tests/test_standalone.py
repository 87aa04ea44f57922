"""The repository stands alone: no tracked file cites material that is not in it.

The facts the code relies on are restated, with their public sources, in ``docs/reference/``;
a citation must point there (or at another file of the repository), never at the research notes,
the design brief or the shared folder the project was started from.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"

# Written with escapes so that this file does not match itself.
_OUTSIDE = re.compile(r"\.\./shared|\bshared/(?:reference|fixtures|data)\b|\bDESIGN\.md\b")
# ``reference/<name>.md`` whatever the prefix; the name must be a page of docs/reference/.
_REFERENCE_PAGE = re.compile(r"\breference/([A-Za-z0-9_.-]+\.md)\b")


def _tracked_files() -> list[Path]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(
        [git, "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:  # listed by git but deleted in the work tree
        return None
    if b"\0" in data[:8192]:
        return None  # binary (DER, keys)
    return data.decode("utf-8", errors="replace")


def citations_outside(text: str) -> list[str]:
    """Every citation in ``text`` of a file the repository does not hold."""
    found = [match.group(0) for match in _OUTSIDE.finditer(text)]
    found += [
        match.group(0)
        for match in _REFERENCE_PAGE.finditer(text)
        if not (REFERENCE / match.group(1)).is_file()
    ]
    return found


def test_no_tracked_file_cites_material_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        text = _text(path)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            for cited in citations_outside(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {cited}")
    assert offenders == [], "cite docs/reference/ instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        # Split so that this file does not cite them itself.
        "# values (reference/" + "taiwan-gpki.md §6)",
        "see ``sha" + "red/fixtures/real-ca/SOURCES.md``",
        "copied from `../sha" + "red/data/`",
        "#: The form's required fields (DESIGN" + ".md step 5).",
        "facts are in docs/reference/" + "no-such-page.md",
    ],
)
def test_the_check_catches_each_kind_of_outside_citation(line: str) -> None:
    assert citations_outside(line) != []


@pytest.mark.parametrize(
    "line",
    [
        "# Codes of CHT's errorcode.js (docs/reference/hipki.md)",
        "see {doc}`reference/index`",
        "provenance in src/twcert/anchors/SOURCES.md",
    ],
)
def test_citations_inside_the_repository_pass(line: str) -> None:
    assert citations_outside(line) == []


def test_every_reference_page_is_in_the_toctree() -> None:
    index = (REFERENCE / "index.md").read_text(encoding="utf-8")
    pages = {path.stem for path in REFERENCE.glob("*.md")} - {"index"}
    assert pages, "docs/reference/ has no pages"
    listed = set(re.findall(r"^([a-z0-9-]+)$", index, flags=re.MULTILINE))
    assert pages <= listed
    assert "reference/index" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
