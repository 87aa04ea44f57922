"""``twcert card …`` and ``twcert agent`` against the real components (SoftHSM, pcscd + vicc).

Commands that hold a PIN run as subprocesses, as a user would run them, with the SoftHSM
environment of the session.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from twcert.card.guard import PinGuard
from twcert.certificate import load_certificate
from twcert.cli import main
from twcert.signature import verify_cms, verify_pkcs1
from twcert.testing.fixtures import FixtureSet

from .conftest import Card, VirtualCard

FIXTURES = str(Path(__file__).resolve().parents[3] / "fixtures" / "gpki")
TWCERT = [sys.executable, "-c", "import sys; from twcert.cli import main; sys.exit(main(sys.argv[1:]))"]


def run(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TWCERT, *args], input=stdin, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def env(softhsm) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return softhsm.environ()


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.json")


def test_status_lists_cards_without_a_pin(
    softhsm, ledger: str, soft_cards: dict[str, Card], capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    assert (
        main(["card", "status", "--module", softhsm.module, "--ledger", ledger, "--pki", FIXTURES, "--json"])
        == 0
    )
    records = {r["card_serial"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(records) == {card.card_serial for card in soft_cards.values()}
    wang = records["TP00000000000001"]
    assert wang["pin"] == {"tries_left": 3, "locked": False, "source": "ledger"}
    labels = {c["label"]: c for c in wang["certificates"]}
    assert labels["SIGN"]["usage"] == "signing" and labels["KEYX"]["usage"] == "encryption"
    assert labels["SIGN"]["holder_name"] == "王*明"  # masked
    agency = {c["label"]: c for c in records["GC00000000000001"]["certificates"]}
    assert agency["SIGN"]["family"] == "GCA" and agency["ROOT CA Cert"]["is_ca"]
    assert (
        main(
            [
                "card",
                "status",
                "--module",
                softhsm.module,
                "--ledger",
                ledger,
                "--card-serial",
                "TP00000000000001",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "card TP00000000000001" in text and "3 tries left" in text and "王*明" in text


def test_sign_with_the_pin_on_stdin(
    softhsm,
    env: dict[str, str],
    ledger: str,
    soft_cards: dict[str, Card],
    card_fixtures: FixtureSet,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    card = soft_cards["agency-dgpa"]
    base = [
        "card",
        "sign",
        "--module",
        softhsm.module,
        "--ledger",
        ledger,
        "--card-serial",
        card.card_serial,
        "--pin-stdin",
    ]
    done = run([*base, "--data", "挑戰 challenge", "--card-sn", "--json"], env, card.pin + "\n")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["cardSN"] == "GC00000000000001"
    certificate = load_certificate(answer["certb64"])
    assert certificate.der == card_fixtures.issued("agency-dgpa").der
    verified = verify_cms(
        base64.b64decode(answer["signature"]),
        "挑戰 challenge".encode(),
        certificate=certificate,
        now=dt.datetime.now(dt.UTC),
    )
    assert verified.card_serial == "GC00000000000001"
    assert card.pin not in done.stdout + done.stderr
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(range(256)))
    out = tmp_path / "sig.bin"
    done = run(
        [*base, "--in", str(data), "--type", "pkcs1", "--hash", "sha512", "--out", str(out)],
        env,
        card.pin + "\n",
    )
    assert done.returncode == 0, done.stderr
    verify_pkcs1(out.read_bytes(), data.read_bytes(), certificate, hash_algorithm="sha512")


def test_wrong_pins_then_lock_through_the_cli(
    softhsm, env: dict[str, str], ledger: str, soft_cards: dict[str, Card]
) -> None:  # type: ignore[no-untyped-def]
    card = soft_cards["citizen-chen"]
    base = [
        "card",
        "sign",
        "--module",
        softhsm.module,
        "--ledger",
        ledger,
        "--card-serial",
        card.card_serial,
        "--pin-stdin",
        "--data",
        "x",
    ]
    first = run(base, env, "000000\n")
    assert first.returncode == 1 and "PIN_INCORRECT" in first.stderr and "2 tries left" in first.stderr
    assert "Traceback" not in first.stderr
    second = run(base, env, "000000\n")
    assert second.returncode == 1 and "1 try left" in second.stderr
    unconfirmed = run(base, env, "000000\n")
    assert unconfirmed.returncode == 1 and "PIN_FINAL_TRY" in unconfirmed.stderr
    third = run([*base, "--confirm-final-try"], env, "000000\n")
    assert third.returncode == 1 and "PIN_LOCKED" in third.stderr
    right = run([*base, "--confirm-final-try"], env, card.pin + "\n")
    assert right.returncode == 1 and "PIN_LOCKED" in right.stderr
    status = run(
        [
            "card",
            "status",
            "--module",
            softhsm.module,
            "--ledger",
            ledger,
            "--card-serial",
            card.card_serial,
            "--json",
        ],
        env,
    )
    assert json.loads(status.stdout)[0]["pin"]["locked"] is True
    reset = run(["card", "ledger-reset", "--ledger", ledger, "--card-serial", card.card_serial], env)
    assert reset.returncode == 0 and "tries left 3" in reset.stdout
    assert run(base, env, card.pin + "\n").returncode == 0


def test_two_processes_with_wrong_pins_are_both_counted(
    softhsm, env: dict[str, str], ledger: str, soft_cards: dict[str, Card]
) -> None:  # type: ignore[no-untyped-def]
    card = soft_cards["citizen-wang"]
    args = [
        "card",
        "sign",
        "--module",
        softhsm.module,
        "--ledger",
        ledger,
        "--card-serial",
        card.card_serial,
        "--pin-stdin",
        "--data",
        "x",
    ]
    processes = [
        subprocess.Popen(
            [*TWCERT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate("000000\n", timeout=60) for p in processes]
    errors = [err for _, err in outputs]
    assert [p.returncode for p in processes] == [1, 1], errors
    assert sorted("2 tries left" in err for err in errors) == [False, True], errors
    assert sorted("1 try left" in err for err in errors) == [False, True], errors
    assert PinGuard.from_file(ledger).status(card.card_serial).tries_left == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_agent_command_serves_and_stops_on_sigterm(
    softhsm, env: dict[str, str], ledger: str, soft_cards: dict[str, Card]
) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    args = [
        "agent",
        "--module",
        softhsm.module,
        "--port",
        str(port),
        "--ledger",
        ledger,
        "--allow-origin",
        "https://login.example.gov.tw",
    ]
    process = subprocess.Popen(
        [*TWCERT, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        info: dict[str, Any] | None = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                info = requests.get(
                    f"http://127.0.0.1:{port}/pkcs11info",
                    headers={"Origin": "https://login.example.gov.tw"},
                    timeout=10,
                ).json()
                break
            except requests.RequestException:  # not listening yet, or slow to answer its first call
                time.sleep(0.1)
        assert info is not None, process.stderr.read() if process.stderr else ""
        assert info["ret_code"] == 0
        assert {s["token"]["serialNumber"] for s in info["slots"]} == {
            c.card_serial for c in soft_cards.values()
        }
        refused = requests.get(
            f"http://127.0.0.1:{port}/pkcs11info", headers={"Origin": "https://evil.example"}, timeout=5
        )
        assert refused.json()["ret_code"] == 0x7600000F
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"listening on http://127.0.0.1:{port}" in err and "https://login.example.gov.tw" in err
    assert "Traceback" not in err


def test_agent_refuses_a_port_in_use(softhsm, env: dict[str, str], ledger: str) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(
            ["agent", "--module", softhsm.module, "--port", str(port), "--ledger", ledger], env, timeout=30
        )
    assert done.returncode == 1 and "AGENT_START" in done.stderr and "Traceback" not in done.stderr
    bad_origin = run(
        ["agent", "--module", softhsm.module, "--allow-origin", "not an origin", "--ledger", ledger], env
    )
    assert bad_origin.returncode == 2 and "not an origin" in bad_origin.stderr


def test_readers_command_with_the_virtual_card(
    virtual_card: VirtualCard, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["card", "readers", "--json"]) == 0
    rows = {row["reader"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[virtual_card.reader]["card_present"] is True and rows[virtual_card.reader]["atr"]
    assert main(["card", "readers"]) == 0
    assert f"{virtual_card.reader}: card present" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("blocked", "command", "extra"),
    [
        ("smartcard", ["card", "readers"], "pcsc"),
        ("pkcs11", ["card", "status"], "pkcs11"),
        ("pkcs11", ["card", "sign", "--data", "x"], "pkcs11"),
        ("pkcs11", ["agent"], "pkcs11"),
    ],
)
def test_missing_extras_are_named_without_a_traceback(blocked: str, command: list[str], extra: str) -> None:
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    code = f"import sys; sys.modules[{blocked!r}] = None; from twcert.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )
    assert done.returncode == 2, done.stderr
    assert f"pip install 'twcert[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_softhsm_init_prints_what_the_agent_needs(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "TWCERT_PKCS11_MODULE")}
    directory = tmp_path / "hsm"
    done = run(
        ["card", "softhsm-init", str(directory), "--fixtures", FIXTURES, "--card", "agency-dgpa:24682468"],
        base,
    )
    assert done.returncode == 0, done.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    assert exports["SOFTHSM2_CONF"] == str(directory / "softhsm2.conf")
    assert "card GC00000000000001" in done.stderr and "PIN 24682468" in done.stderr
    status = run(["card", "status", "--json", "--ledger", str(tmp_path / "l.json")], {**base, **exports})
    assert status.returncode == 0, status.stderr
    assert [r["card_serial"] for r in json.loads(status.stdout)] == ["GC00000000000001"]
    again = run(["card", "softhsm-init", str(directory), "--fixtures", FIXTURES], base)
    assert again.returncode == 1 and "SOFTHSM_PROVISIONING" in again.stderr
    unknown = run(
        ["card", "softhsm-init", str(tmp_path / "other"), "--fixtures", FIXTURES, "--card", "nobody"], base
    )
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
