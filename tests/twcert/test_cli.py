from __future__ import annotations

import json
import re
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
    # Only the dates were checked, and the state says so.
    assert by_file["moica-g2-intermediate.pem"]["state"] == "dates ok (not validated)"
    assert not any(r["validated"] for r in records)


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


# --------------------------------------------------------------------------- inspect --validate

AT = "2026-06-01T09:00:00+00:00"  # the fixture PKI's clock (manifest "now")
CURRENT_CRLS = (
    "MOICA1-complete",
    "MOICA2-complete",
    "MOICA3-complete",
    "MOICA_EXPIRED-complete",
    "GCA-complete",
    "GTESTCA-complete",
    "MOEACA-complete",
    "XCA-complete",
    "GRCA1-arl",
    "GRCA2-arl",
    "GRCA3-arl",
)


def _genuine_cas(fixture_set, *, leave_out: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """--ca for every CA of the fixture PKI but the rogue chain (which copies MOICA's names)."""
    names = sorted(p for p in (fixture_set.directory / "ca").glob("*.pem") if not p.name.endswith(".key.pem"))
    chosen = [p for p in names if "ROGUE" not in p.name and p.name != leave_out]
    return [arg for path in chosen for arg in ("--ca", str(path))]


def _crls(fixture_set, names: tuple[str, ...] = CURRENT_CRLS) -> list[str]:  # type: ignore[no-untyped-def]
    return [arg for name in names for arg in ("--crl", str(fixture_set.directory / "crl" / f"{name}.crl"))]


def _ee(fixture_set, *names: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(fixture_set.directory / "ee" / f"{name}.pem") for name in names]


DISHONEST = ("citizen-revoked", "citizen-rogue-ca", "citizen-bad-signature", "citizen-test-policy")


def test_inspect_without_validate_never_says_valid(fixture_set, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", "--json", "--at", AT, *_ee(fixture_set, *DISHONEST)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in records] == ["dates ok (not validated)"] * len(DISHONEST)
    assert main(["inspect", "--at", AT, *_ee(fixture_set, "citizen-revoked")]) == 0
    table = capsys.readouterr().out
    assert "dates ok (not validated)" in table and re.search(r"\bvalid\b", table) is None


def test_inspect_validate_decides_as_the_manifest_says(
    fixture_set, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    certificates = fixture_set.manifest["certificates"]
    names = sorted(certificates)
    code = main(
        [
            "inspect",
            "--json",
            "--validate",
            "--at",
            AT,
            *_genuine_cas(fixture_set),
            *_crls(fixture_set),
            *_ee(fixture_set, *names),
        ]
    )
    assert code == 1  # some were refused
    records = json.loads(capsys.readouterr().out)
    assert len(records) == len(names)
    for name, record in zip(names, records, strict=True):
        expected = certificates[name]["expect"]
        assert record["validated"] is True, name
        if expected == "ok":
            assert (record["state"], record["error_code"]) == ("valid", None), name
            assert record["revocation"].startswith("good (CRL of 2026-"), name
        else:
            assert (record["state"], record["error_code"]) == (f"invalid ({expected})", expected), name
            assert record["error"], name


def test_inspect_validate_table_and_exit_status(fixture_set, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    args = ["inspect", "--validate", "--at", AT, *_genuine_cas(fixture_set), *_crls(fixture_set)]
    assert main([*args, *_ee(fixture_set, "citizen-wang", "agency-dgpa")]) == 0  # all valid
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split("2030-01-01")[-1].strip() for row in rows] == ["valid", "valid"]
    assert main([*args, *_ee(fixture_set, "citizen-wang", "citizen-revoked", "citizen-rogue-ca")]) == 1
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split("2030-01-01")[-1].strip() for row in rows] == [
        "valid",
        "invalid (CERT_REVOKED)",
        "invalid (CERT_UNTRUSTED)",
    ]


def test_inspect_validate_needs_the_crls_and_downloads_nothing(
    fixture_set, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    # No CRL given: revocation is unknown, which a login refuses (the URLs are never fetched).
    code = main(
        [
            "inspect",
            "--json",
            "--validate",
            "--at",
            AT,
            *_genuine_cas(fixture_set),
            *_ee(fixture_set, "citizen-wang"),
        ]
    )
    assert code == 1
    assert json.loads(capsys.readouterr().out)[0]["error_code"] == "REVOCATION_UNKNOWN"
    # The holder's CRL but not GRCA's ARL: the issuing CA itself cannot be checked.
    code = main(
        [
            "inspect",
            "--json",
            "--validate",
            "--at",
            AT,
            *_genuine_cas(fixture_set),
            *_crls(fixture_set, ("MOICA2-complete",)),
            *_ee(fixture_set, "citizen-wang"),
        ]
    )
    assert code == 1
    assert json.loads(capsys.readouterr().out)[0]["error_code"] == "REVOCATION_UNKNOWN"


def test_inspect_validate_reads_pem_crls(
    fixture_set, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem_args = []
    for name in ("MOICA2-complete", "GRCA2-arl"):
        der = (fixture_set.directory / "crl" / f"{name}.crl").read_bytes()
        path = tmp_path / f"{name}.pem"
        path.write_bytes(x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM))
        pem_args += ["--crl", str(path)]
    code = main(
        [
            "inspect",
            "--json",
            "--validate",
            "--at",
            AT,
            *_genuine_cas(fixture_set),
            *pem_args,
            *_ee(fixture_set, "citizen-revoked"),
        ]
    )
    assert code == 1
    assert json.loads(capsys.readouterr().out)[0]["error_code"] == "CERT_REVOKED"


def test_inspect_validate_refuses_crl_files_it_cannot_use(
    fixture_set, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.crl"
    junk.write_bytes(b"not a CRL")
    untrusted = fixture_set.directory / "crl" / "MOICA2-complete.crl"
    moica2_missing = _genuine_cas(fixture_set, leave_out="MOICA2.pem")
    for crl, cas in (
        (junk, _genuine_cas(fixture_set)),
        (tmp_path / "absent.crl", _genuine_cas(fixture_set)),
        (untrusted, moica2_missing),
    ):
        code = main(
            ["inspect", "--validate", "--at", AT, *cas, "--crl", str(crl), *_ee(fixture_set, "citizen-wang")]
        )
        captured = capsys.readouterr()
        assert code == 2 and captured.out == ""
        assert (
            captured.err.count("\n") == 1
            and "REVOCATION_DATA_INVALID" in captured.err
            and str(crl.name) in captured.err
        )


def test_crl_files_without_validate_are_refused(fixture_set, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code = main(
        [
            "inspect",
            "--at",
            AT,
            *_crls(fixture_set, ("MOICA2-complete",)),
            *_ee(fixture_set, "citizen-revoked"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "--validate" in captured.err


def test_inspect_validate_leaves_ca_certificates_at_their_dates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--bundled", "--validate", "--json", "--at", "2026-11-26"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["state"] for r in records} == {"dates ok (not validated)", "expired"}
    assert not any(r["validated"] for r in records)


def test_verbose_names_every_field_right(fixture_set, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", "-v", "--at", AT, *_ee(fixture_set, "agency-dgpa")]) == 0
    details = [line for line in capsys.readouterr().out.splitlines() if line.startswith("    ")]
    labels = {line.split(":", 1)[0].strip() for line in details}
    assert labels == {
        "subject_serial",
        "agency_oid",
        "serial_number",
        "sha256",
        "policy",
        "crl_url",
        "ocsp_url",
        "ca_issuers_url",
    }


# --------------------------------------------------------------------------- twcert crl


@pytest.fixture(scope="module")
def crl_server():  # type: ignore[no-untyped-def]
    import datetime as dt

    from twcert.testing.pki import FakeGPKI, KeyPool
    from twcert.testing.revocation import build_crl
    from twcert.testing.servers import RepositoryServer

    now = dt.datetime.now(dt.UTC)
    with RepositoryServer() as server:
        gpki = FakeGPKI(now=now, base_url=server.base_url, keys=KeyPool(reuse=True))
        day = dt.timedelta(days=1)
        server.files["/crl/GRCA2/complete.crl"] = build_crl(
            gpki["GRCA2"], [], this_update=now - day, next_update=now + 30 * day
        )
        server.files["/crl/MOICA2/complete.crl"] = build_crl(
            gpki["MOICA2"], [3, 4, 5], this_update=now - day, next_update=now + 6 * day, crl_number=42
        )
        server.files["/crl/GCA/complete.crl"] = build_crl(
            gpki["GCA"], [], this_update=now - 9 * day, next_update=now - 2 * day
        )
        yield server, gpki


def _crl_args(crl_server, tmp_path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    _, gpki = crl_server
    args = ["--dir", str(tmp_path / "crl"), "--no-bundled"]
    for label in ("GRCA2", "MOICA2", "GCA"):
        path = tmp_path / f"{label}.pem"
        path.write_bytes(gpki[label].pem)
        args += ["--ca", str(path)]
    return args


def test_crl_sync_then_status_all_fresh(
    crl_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    server, _ = crl_server
    moica = server.url("/crl/MOICA2/complete.crl")
    common = _crl_args(crl_server, tmp_path)
    assert main(["crl", "sync", *common, "--url", moica]) == 0
    out = capsys.readouterr()
    assert re.search(r"^updated\s+crl " + re.escape(moica) + r"\s+3 entries, #42", out.out, re.M)
    assert re.search(r"^updated\s+arl " + re.escape(server.url("/crl/GRCA2/complete.crl")), out.out, re.M)
    assert out.err == ""  # not a terminal: no progress bar
    assert main(["crl", "status", *common, "--json"]) == 0  # the MOICA CRL is now known: no --url
    lines = json.loads(capsys.readouterr().out)
    assert [(line["kind"], line["state"], line["entries"]) for line in lines] == [
        ("arl", "fresh", 0),
        ("crl", "fresh", 3),
    ]
    assert lines[1]["crl_number"] == "42" and lines[1]["origin"] == "learnt"
    assert main(["crl", "status", *common]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:8] == [
        "STATE",
        "KIND",
        "ISSUER",
        "NUMBER",
        "THISUPDATE",
        "NEXTUPDATE",
        "AGE",
        "ENTRIES",
    ]
    assert table[2].startswith("fresh") and "24.0h" in table[2] and moica in table[2]


def test_crl_status_exits_1_on_stale_or_missing(
    crl_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    server, _ = crl_server
    stale = server.url("/crl/GCA/complete.crl")
    absent = server.url("/crl/NONE/complete.crl")
    common = _crl_args(crl_server, tmp_path)
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text(f"# the CRLs we keep\n{stale}\n{absent}  # not published yet\n", encoding="utf-8")
    assert main(["crl", "sync", *common, "--urls-file", str(urls_file), "--quiet"]) == 1
    out = capsys.readouterr()
    assert out.out == ""  # --quiet: failures only, on stderr
    assert out.err.strip() == f"FAILED {absent}: HTTP 404 from {absent}"
    assert main(["crl", "status", *common, "--urls-file", str(urls_file), "--json"]) == 1
    states = {line["url"]: line["state"] for line in json.loads(capsys.readouterr().out)}
    assert states == {server.url("/crl/GRCA2/complete.crl"): "fresh", stale: "stale", absent: "missing"}


def test_crl_commands_need_a_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["crl", "status"])
    assert exit_info.value.code == 2
    assert "--dir" in capsys.readouterr().err


def test_crl_sync_draws_progress_on_a_terminal_only(  # type: ignore[no-untyped-def]
    crl_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    server, _ = crl_server
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    common = _crl_args(crl_server, tmp_path)
    assert main(["crl", "sync", *common, "--url", server.url("/crl/MOICA2/complete.crl")]) == 0
    drawn = terminal.getvalue()
    assert "CRL http://127.0.0.1" in drawn and "ARL http://127.0.0.1" in drawn
    assert "100%" in drawn  # the length from Content-Length, every byte counted
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["crl", "sync", *common, "--quiet"]) == 0
    assert quiet.getvalue() == ""
    assert capsys.readouterr().out.count("\n") == 2  # the first run's two summary lines only


def test_unbind_removes_an_accounts_bindings_and_audits_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import datetime as dt
    import logging

    from twcert.binding import Binding
    from twcert.stores.sql import SqlStores

    url = f"sqlite:///{tmp_path / 'twcert.db'}"
    stores = SqlStores(url)
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    stores.bindings.bind(Binding("MOICA:serial:1234567890123456", "A123456789", at, "a" * 64))
    stores.bindings.bind(Binding("MOICA:serial:6543210987654321", "lin.ym", at, "b" * 64))
    with caplog.at_level(logging.INFO, logger="twcert.audit"):
        assert main(["unbind", "A123456789", "--database", url, "--actor", "admin"]) == 0
    out = capsys.readouterr().out
    assert "a" * 64 in out and "A123456789" not in out
    assert stores.bindings.for_account("A123456789") == [] and stores.bindings.for_account("lin.ym")
    (record,) = [r for r in caplog.records if r.name == "twcert.audit"]
    assert record.twcert_event["event"] == "twcert.unbind"  # type: ignore[attr-defined]
    assert "A123456789" not in record.getMessage() + repr(record.twcert_event)  # type: ignore[attr-defined]
    assert main(["unbind", "A123456789", "--database", url]) == 1
    stores.dispose()


def test_crl_commands_use_the_deployment_key(  # type: ignore[no-untyped-def]
    crl_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from twcert.revocation import CRLCache

    server, _ = crl_server
    monkeypatch.delenv("TWCERT_CRL_KEY", raising=False)
    moica = server.url("/crl/MOICA2/complete.crl")
    common = _crl_args(crl_server, tmp_path)
    key_file = tmp_path / "crl.key"
    key_file.write_bytes(b"s3cret deployment key\n")
    assert main(["crl", "sync", *common, "--key-file", str(key_file), "--url", moica, "--quiet"]) == 0
    assert main(["crl", "status", *common, "--key-file", str(key_file), "--json"]) == 0
    assert {line["state"] for line in json.loads(capsys.readouterr().out)} == {"fresh"}
    # The workers' key opens the files (the trailing newline is no part of it) …
    worker = CRLCache(directory=tmp_path / "crl", key=b"s3cret deployment key")
    assert worker.load_directory() == 2
    # … and so does the same key from the environment.
    monkeypatch.setenv("TWCERT_CRL_KEY", "s3cret deployment key")
    assert main(["crl", "status", *common, "--json"]) == 0
    capsys.readouterr()
    # Without the key nothing written under it is trusted: everything missing, exit 1.
    monkeypatch.delenv("TWCERT_CRL_KEY")
    assert main(["crl", "status", *common, "--json"]) == 1
    assert {line["state"] for line in json.loads(capsys.readouterr().out)} == {"missing"}
    # An empty key is refused, not taken as "no key".
    key_file.write_bytes(b"\n")
    assert main(["crl", "status", *common, "--key-file", str(key_file)]) == 2
    assert "empty" in capsys.readouterr().err


def test_crl_commands_refuse_an_unsafe_directory(  # type: ignore[no-untyped-def]
    crl_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = _crl_args(crl_server, tmp_path)
    (tmp_path / "crl").mkdir(mode=0o700)
    (tmp_path / "crl").chmod(0o777)
    for command in ("sync", "status"):
        assert main(["crl", command, *common]) == 2
        assert "UNSAFE_DIRECTORY" in capsys.readouterr().err
    (tmp_path / "crl").chmod(0o700)
    (tmp_path / "crl" / "ca-crls").symlink_to(tmp_path)  # ARL copies written elsewhere
    assert main(["crl", "sync", *common]) == 2
    assert "UNSAFE_DIRECTORY" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.crl"))
