"""Every public module has an API reference page, and the docs build resolves every reference."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Modules that are programs, not API: documented as commands or apps on their own pages.
NOT_API = (
    re.compile(r"(^|[._])cli$"),  # command lines: see the CLI sections of the guides
    re.compile(r"^twcert\.demo(\.|$)"),  # the demo application: docs/demo.md
    re.compile(r"^twcert\.contrib\.django\.(migrations|management)(\.|$)"),  # Django plumbing
    re.compile(r"^twcert\.contrib\.django\.(apps|urls)$"),
)


def public_modules() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        name = ".".join(parts)
        if not any(rule.search(name) for rule in NOT_API):
            names.add(name)
    return names


def documented_modules() -> set[str]:
    pattern = re.compile(r"^\.\. automodule:: (\S+)", re.MULTILINE)
    return {
        name for page in (ROOT / "docs").rglob("*.md") for name in pattern.findall(page.read_text("utf-8"))
    }


def test_every_public_module_has_a_reference_entry() -> None:
    missing = sorted(public_modules() - documented_modules())
    assert not missing, f"modules without an automodule entry under docs/: {missing}"


def test_docs_build_is_nitpicky_and_suppresses_nothing() -> None:
    conf = (ROOT / "docs" / "conf.py").read_text("utf-8")
    assert re.search(r"^nitpicky = True$", conf, re.MULTILINE)
    assert "nitpick_ignore" not in conf
    assert not re.search(r"^suppress_warnings = \[.+\]", conf, re.MULTILINE)
