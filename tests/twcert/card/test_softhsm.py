"""SoftHSM provisioning, checked with an independent PKCS#11 client (OpenSC's pkcs11-tool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from twcert.card.errors import SoftHsmError
from twcert.card.softhsm import SoftCard, SoftHsm, provision
from twcert.testing.fixtures import FixtureSet


def pkcs11_tool(hsm: SoftHsm, *args: str) -> str:
    tool = shutil.which("pkcs11-tool")
    assert tool, "pkcs11-tool (Debian: opensc) is needed for this check"
    done = subprocess.run(
        [tool, "--module", hsm.module, *args],
        env=hsm.environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def hsm(softhsm, card_fixtures: FixtureSet, tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:  # type: ignore[no-untyped-def]
    # ``softhsm`` first: this process stays bound to the session's SoftHSM configuration.
    card = SoftCard.from_fixture(card_fixtures, "citizen-wang", pin="112233", label="王小明的卡")
    return provision(tmp_path_factory.mktemp("provision"), [card])


def test_the_card_layout_as_another_client_sees_it(hsm: SoftHsm) -> None:
    token = hsm.tokens[0]
    assert (token.card_serial, token.label, token.pin) == ("TP00000000000001", "王小明的卡", "112233")
    public = pkcs11_tool(hsm, "--token-label", token.label, "--list-objects")
    certificates = {
        block.split("label:")[1].split("\n")[0].strip(): block
        for block in public.split("Certificate Object")[1:]
    }
    assert set(certificates) == {"SIGN", "KEYX", "CA Cert", "ROOT CA Cert"}
    assert "ID:         5349474e" in certificates["SIGN"] and "ID:         4b455958" in certificates["KEYX"]
    assert "Private Key Object" not in public  # private keys are private objects
    serial = pkcs11_tool(
        hsm, "--token-label", token.label, "--read-object", "--type", "data", "--label", "CardSN"
    )
    assert serial == "TP00000000000001"
    private = pkcs11_tool(
        hsm,
        "--token-label",
        token.label,
        "--login",
        "--pin",
        token.pin,
        "--list-objects",
        "--type",
        "privkey",
    )
    keys = private.split("Private Key Object")[1:]
    assert len(keys) == 2
    sign_key = next(k for k in keys if "5349474e" in k)
    keyx_key = next(k for k in keys if "4b455958" in k)
    assert "Usage:      sign" in sign_key and "decrypt" not in sign_key
    assert "decrypt" in keyx_key and "sign" not in keyx_key.split("Usage:")[1].split("\n")[0]
    assert "sensitive" in sign_key and "extractable" not in sign_key.replace("never extractable", "")


def test_reload_and_refusals(
    hsm: SoftHsm, card_fixtures: FixtureSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    again = SoftHsm.load(hsm.directory)
    assert again == hsm and again.token("TP00000000000001").so_pin == "87654321"
    card = SoftCard.from_fixture(card_fixtures, "agency-dgpa", pin="123456")
    with pytest.raises(SoftHsmError, match="already"):
        provision(hsm.directory, [card])
    with pytest.raises(SoftHsmError, match="duplicate"):
        provision(tmp_path / "dup", [card, card])
    with pytest.raises(SoftHsmError, match="too long"):
        provision(
            tmp_path / "long",
            [SoftCard.from_fixture(card_fixtures, "agency-dgpa", pin="123456", label="機" * 11)],
        )
    with pytest.raises(SoftHsmError, match="not a card"):
        SoftCard.from_fixture(card_fixtures, "citizen-expired", pin="123456")
    with pytest.raises(SoftHsmError):
        SoftHsm.load(tmp_path)
    monkeypatch.setenv("TWCERT_SOFTHSM_MODULE", str(tmp_path / "nope.so"))
    with pytest.raises(SoftHsmError) as raised:
        provision(tmp_path / "nomodule", [card])
    assert raised.value.code == "SOFTHSM_PROVISIONING" and "softhsm2" in raised.value.action_english


def test_provisioning_leaves_this_process_alone(hsm: SoftHsm, softhsm) -> None:  # type: ignore[no-untyped-def]
    """Tokens are created by child processes: this process still sees only the session's tokens."""
    from twcert.card.guard import PinGuard
    from twcert.card.pkcs11 import Pkcs11Module

    module = Pkcs11Module(softhsm.module, guard=PinGuard.from_file(hsm.directory / "ledger.json"))
    labels = {token.info.label for token in module.tokens()}
    assert "王小明的卡" not in labels and "TP00000000000001" in labels
