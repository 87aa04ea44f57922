"""Run a host project's own pytest in a child process, on this checkout's sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run_pytest(directory: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``pytest`` in ``directory`` as the host app runs it (its own rootdir and conftest)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # ours must not leak into the host project
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
