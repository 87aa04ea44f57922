from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from twcert.cli import main
from twcert_vacancy import read_dgpa_xml

from .test_feed import QUIRKS, _good


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.xml"
    path.write_bytes(QUIRKS)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_reimport(capsys: pytest.CaptureFixture[str], feed: Path, db: str) -> None:
    code, out, err = _run(capsys, "vacancy", "import", str(feed), "--db", db)
    assert code == 0 and err == ""
    assert "5 rows (announced 105/05/15): 5 added, 0 updated, 0 unchanged, 0 not loaded" in out
    code, out, _ = _run(capsys, "vacancy", "import", str(feed), "--db", db)
    assert code == 0 and "0 added, 0 updated, 5 unchanged" in out


@pytest.mark.parametrize("mode", ["--parallel", "--no-parallel"])
def test_import_in_a_worker_or_not_says_the_same(
    capsys: pytest.CaptureFixture[str], feed: Path, tmp_path: Path, mode: str
) -> None:
    db = f"sqlite:///{tmp_path / 'mode.sqlite3'}"
    code, out, err = _run(capsys, "vacancy", "import", str(feed), "--db", db, mode)
    assert code == 0 and err == ""
    assert "5 rows (announced 105/05/15): 5 added, 0 updated, 0 unchanged, 0 not loaded" in out


def test_import_reports_bad_rows_and_loads_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: str
) -> None:
    path = tmp_path / "partial.xml"
    path.write_text(f"<ROOT>{_good(1)}{_good(2, DATE_FROM='1141301')}{_good(3)}</ROOT>", encoding="utf-8")
    code, out, err = _run(capsys, "vacancy", "import", str(path), "--db", db)
    assert code == 2 and "2 added" in out and "1 not loaded" in out
    assert err.count("\n") == 1 and "row 2 (work_id 1140300002): DATE_FROM" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"<ROOT><ROW>", "VACANCY_FEED_MALFORMED"),
        (b"<!DOCTYPE x><ROOT/>", "VACANCY_FEED_UNSAFE"),
    ],
)
def test_import_bad_files_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.xml"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capsys, "vacancy", "import", str(path), "--db", db)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_online(capsys: pytest.CaptureFixture[str], feed: Path, db: str) -> None:
    _run(capsys, "vacancy", "import", str(feed), "--db", db)
    code, out, _ = _run(capsys, "vacancy", "online", "--at", "115/08/05", "--db", db, "--json")
    assert code == 0
    listing = json.loads(out)
    assert listing["total"] == 2 and {i["work_id"] for i in listing["items"]} == {"1150800004", "1150800005"}
    code, out, _ = _run(
        capsys, "vacancy", "online", "--at", "2026-08-05", "--county", "台北市", "--db", db, "--json"
    )
    assert [i["title"] for i in json.loads(out)["items"]] == ["講師"]
    code, out, _ = _run(capsys, "vacancy", "online", "--at", "1150805", "--db", db)
    assert code == 0 and "技正" in out and "2 online on 115/08/05 (page 1 of 1)" in out
    assert "hr@moda.gov.tw" not in out


def test_online_bad_input(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, _, err = _run(capsys, "vacancy", "online", "--at", "1150805", "--county", "火星", "--db", db)
    assert code == 2 and err.count("\n") == 1 and "VACANCY_WORK_PLACE_UNKNOWN" in err
    code, _, err = _run(capsys, "vacancy", "online", "--at", "1150805", "--per-page", "1000", "--db", db)
    assert code == 2 and "VACANCY_QUERY_INVALID" in err
    with pytest.raises(SystemExit) as info:
        main(["vacancy", "online", "--at", "yesterday", "--db", db])
    assert info.value.code == 2 and "not a date" in capsys.readouterr().err


def test_export_formats(capsys: pytest.CaptureFixture[str], feed: Path, db: str, tmp_path: Path) -> None:
    _run(capsys, "vacancy", "import", str(feed), "--db", db)
    out_file = tmp_path / "out.xml"
    code, _, err = _run(
        capsys,
        "vacancy",
        "export",
        "--format",
        "dgpa-xml",
        "--at",
        "1150805",
        "--db",
        db,
        "--out",
        str(out_file),
    )
    assert code == 0 and "2 vacancies written" in err
    snapshot = read_dgpa_xml(out_file)
    assert {v.work_id for v in snapshot.vacancies} == {"1150800004", "1150800005"}
    assert all(v.contact_email == "" and v.contact_method == "" for v in snapshot.vacancies)
    code, _, _ = _run(
        capsys,
        "vacancy",
        "export",
        "--format",
        "dgpa-xml",
        "--at",
        "1150805",
        "--db",
        db,
        "--out",
        str(out_file),
        "--include-contact",
    )
    assert "hr@moda.gov.tw" in out_file.read_text(encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "twcert.cli",
            "vacancy",
            "export",
            "--format",
            "jsonld",
            "--at",
            "1150805",
            "--db",
            db,
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    document = json.loads(proc.stdout)
    assert len(document["@graph"]) == 2 and b"hr@moda.gov.tw" not in proc.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "twcert.cli",
            "vacancy",
            "export",
            "--format",
            "atom",
            "--at",
            "1150805",
            "--db",
            db,
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert (
        proc.stdout.startswith(b"<?xml")
        and proc.stdout.count(b"<entry>") + proc.stdout.count(b"<ns0:entry>") == 2
    )


def test_vacancy_without_action_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "vacancy")
    assert code == 2 and "import" in err and "online" in err and "export" in err
