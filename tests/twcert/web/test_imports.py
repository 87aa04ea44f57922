"""The web layer and both adapters import without cycles, and each module imports on its own."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
PACKAGES = ("twcert/web", "twcert/contrib/flask", "twcert/contrib/django", "twcert/demo")


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (SRC / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module(path)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``name`` imports, at any depth of the file (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycles_between_modules() -> None:
    modules = _modules()
    # A package's __init__ importing its own submodules is not a cycle of design: leave it out.
    graph = {
        name: {t for t in _imports(name, path, set(modules)) if not name.startswith(t + ".")}
        for name, path in modules.items()
        if path.name != "__init__.py"
    }
    graph = {name: {t for t in targets if t in graph} for name, targets in graph.items()}
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


_FRESH = """
import importlib, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages",
                    "twcert.contrib.django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
""".strip()


@pytest.mark.parametrize("package", ["twcert.web", "twcert.contrib.flask", "twcert.contrib.django"])
def test_each_module_imports_in_a_fresh_interpreter(package: str) -> None:
    names = sorted(n for n in _modules() if n == package or n.startswith(package + "."))
    if package.endswith("django"):
        pytest.importorskip("django")
    pytest.importorskip("flask") if package.endswith("flask") else None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    for name in names:
        prelude = _FRESH if package.endswith("django") and name != package else ""
        code = f"{prelude}\nimport importlib\nimportlib.import_module({name!r})"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
