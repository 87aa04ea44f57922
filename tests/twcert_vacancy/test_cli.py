from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
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


# --------------------------------------------------------------------------- databases

# Runs the twcert command with some packages refused by the import system, as on a machine
# where they are not installed: argv[1] is the comma-separated list, the rest the arguments.
BLOCKING_RUNNER = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Refuse())
from twcert.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _blocked(blocked: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKING_RUNNER, blocked, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["vacancy", "online", "--at", "1150805"],
        ["vacancy", "export", "--format", "atom"],
        ["vacancy", "import", "feed.xml"],
    ],
)
def test_no_command_makes_up_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "feed.xml").write_bytes(QUIRKS)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and "--db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "feed.xml"]  # no twcert-vacancy.sqlite3


@pytest.mark.parametrize("action", [["online"], ["export", "--format", "jsonld"]])
def test_reading_commands_refuse_a_database_that_is_not_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, action: list[str]
) -> None:
    missing = tmp_path / "typo.sqlite3"
    code, out, err = _run(capsys, "vacancy", *action, "--at", "1150805", "--db", f"sqlite:///{missing}")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "VACANCY_DATABASE_MISSING" in err and str(missing) in err
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite3"
    empty.touch()  # a file, but not a vacancy database
    code, _, err = _run(capsys, "vacancy", *action, "--at", "1150805", "--db", f"sqlite:///{empty}")
    assert code == 2 and "VACANCY_DATABASE_MISSING" in err
    assert empty.stat().st_size == 0  # and no tables were made in it


def test_without_sqlalchemy_the_commands_name_the_extra(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_bytes(QUIRKS)
    db = f"sqlite:///{tmp_path / 'v.sqlite3'}"
    for argv in (["vacancy", "import", "feed.xml", "--db", db], ["vacancy", "online", "--db", db]):
        result = _blocked("sqlalchemy", *argv, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "VACANCY_EXTRA_MISSING" in result.stderr and "pip install 'twcert[vacancy]'" in result.stderr
        assert "Traceback" not in result.stderr and "invalid choice" not in result.stderr
    assert not (tmp_path / "v.sqlite3").exists()


def test_without_phonenumbers_the_vacancy_command_names_the_extra(tmp_path: Path) -> None:
    result = _blocked("phonenumbers", "vacancy", "online", "--db", "sqlite:///v.sqlite3", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "twcert vacancy: phonenumbers is not installed; install it with: pip install 'twcert[vacancy]'"
    )


def test_without_psycopg_a_postgresql_url_names_the_extra(
    capsys: pytest.CaptureFixture[str], feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # "import psycopg" now fails as if absent
    code, _, err = _run(
        capsys, "vacancy", "import", str(feed), "--db", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    assert code == 1 and err.count("\n") == 1
    assert "VACANCY_EXTRA_MISSING" in err and "pip install 'twcert[postgres]'" in err


# --------------------------------------------------------------------------- progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("mode", ["--parallel", "--no-parallel"])
def test_import_shows_progress_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "big.xml"
    path.write_text(
        "<ROOT>" + "".join(_good(n) for n in range(1, 2001)) + "</ROOT>", encoding="utf-8"
    )  # 800 KB: several reads
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["vacancy", "import", str(path), "--db", f"sqlite:///{tmp_path / 'p.sqlite3'}", mode]) == 0
    shown = terminal.getvalue()
    assert "importing big.xml" in shown and "792k" in shown and ",000 rows" in shown and "\r" in shown
    assert "2000 rows (announced -): 2000 added" in capsys.readouterr().out


def test_quiet_or_not_a_terminal_means_no_progress(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, feed: Path, db: str
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["vacancy", "import", str(feed), "--db", db, "--quiet"]) == 0
    assert main(["vacancy", "export", "--format", "jsonld", "--at", "1150805", "--db", db, "-q"]) == 0
    assert terminal.getvalue() == ""
    monkeypatch.undo()
    code, _, err = _run(capsys, "vacancy", "import", str(feed), "--db", db)  # stderr is captured: no tty
    assert code == 0 and err == ""


def test_export_shows_progress_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, feed: Path, db: str, tmp_path: Path
) -> None:
    _run(capsys, "vacancy", "import", str(feed), "--db", db)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "out.jsonld"
    assert (
        main(["vacancy", "export", "--format", "jsonld", "--at", "1150805", "--db", db, "--out", str(out)])
        == 0
    )
    assert "reading vacancies" in terminal.getvalue() and "2/2" in terminal.getvalue()


def test_the_console_script_draws_progress_on_a_real_terminal(feed: Path, db: str) -> None:
    leader, follower = pty.openpty()
    # A terminal of 24 rows and 100 columns (a new pseudo-terminal has no size, so no room to draw).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    drawn = bytearray()

    def read_terminal() -> None:  # while the command runs: Linux drops what is unread at its exit
        with contextlib.suppress(OSError):  # EIO once the command has closed the terminal
            while chunk := os.read(leader, 4096):
                drawn.extend(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "twcert.cli", "vacancy", "import", str(feed), "--db", db],
            stdout=subprocess.PIPE,
            stderr=follower,
        )
        os.close(follower)
        out, _ = process.communicate(timeout=120)
        reader.join(30)
    finally:
        os.close(leader)
    assert process.returncode == 0 and b"5 added" in out
    assert b"importing feed.xml" in drawn
