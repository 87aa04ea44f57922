"""The test kit ships in the wheel and needs nothing else from the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from .runner import REPO

KIT = REPO / "src" / "twcert" / "testing"
SNIPPET = """
from twcert.testing import FreshPKI
pki = FreshPKI()
card = pki.citizen_card("王小明", "A123456789", account="wang.xm")
service = pki.login_service()
c = service.issue_challenge("s", "https://app.test")
p = service.complete(c.id, card.sign(c.tbs), "wang.xm", session_id="s", origin="https://app.test")
print(p.principal_id)
"""


def test_the_wheel_packages_include_the_kit() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "src/twcert" in packages
    for module in ("kit", "hipki", "clients", "pytest_plugin"):
        assert (KIT / f"{module}.py").is_file()


def test_the_kit_runs_from_the_package_alone(tmp_path: Path) -> None:
    # Only what the wheel holds (the twcert package): no tests/, no fixtures/, no checkout.
    site = str(tmp_path / "site")
    shutil.copytree(REPO / "src" / "twcert", tmp_path / "site" / "twcert")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {site!r})\n{SNIPPET}\nimport twcert; print(twcert.__file__)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    principal, package = result.stdout.split()
    assert principal == "wang.xm"
    assert package.startswith(site)
