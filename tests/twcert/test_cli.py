from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from twcert.cli import main

from .test_certificate import REAL_CAS


def test_inspect_bundled_json_classifies_real_cas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--bundled", "--json", "--at", "2026-11-26"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 8
    by_file = {Path(r["file"]).name: r for r in records}
    for name, (family, generation, not_before, not_after) in REAL_CAS.items():
        record = by_file[name]
        assert (record["family"], record["generation"]) == (family.value, generation)
        assert record["not_before"].startswith(not_before) and record["not_after"].startswith(not_after)
    assert by_file["moica-g1-intermediate-expired-2023.pem"]["state"] == "expired"
    assert by_file["moica-g2-intermediate.pem"]["state"] == "valid"


def test_inspect_real_ca_files_table(real_ca_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in real_ca_dir.glob("*.pem"))
    assert main(["inspect", "--at", "2026-11-26", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["FILE", "FAMILY", "GEN"]
    rows = {Path(line.split()[0]).name: line.split() for line in out[1:]}
    for name, (family, generation, _, not_after) in REAL_CAS.items():
        assert rows[name][1:3] == [family.value, generation]
        assert not_after in rows[name]


def test_inspect_masks_personal_fields(fixture_set, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path = str(fixture_set.directory / "ee" / "citizen-wang.pem")
    assert main(["inspect", "--json", "-v", path]) == 0
    out = capsys.readouterr().out
    assert "王小明" not in out and "王*明" in out
    record = json.loads(out)[0]
    assert record["id_tail"] == "**89"
    assert "*" in record["subject_serial"]


def test_bad_files_give_one_line_each_and_exit_2(
    tmp_path: Path, fixture_set, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    good = str(fixture_set.directory / "ee" / "citizen-wang.pem")
    code = main(["inspect", str(junk), str(tmp_path / "missing.pem"), good])
    captured = capsys.readouterr()
    assert code == 2
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(str(junk)) and "CERT_PARSE" in errors[0]
    assert errors[1].startswith(str(tmp_path / "missing.pem"))
    assert "citizen-wang.pem" in captured.out  # the good file is still shown


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twcert.cli", "inspect", "--bundled"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "MOICA" in result.stdout
    assert "Traceback" not in result.stderr
