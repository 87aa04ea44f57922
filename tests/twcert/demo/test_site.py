"""The demo's Flask pages through the test client, over a real built world (SoftHSM cards,
SQLite stores), without a browser: CSRF refusals, the window rule of the public pages,
the state directory's safety, and the command line."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from twcert.demo.cli import default_directory
from twcert.demo.flask_app import create_app
from twcert.demo.site import DemoSite, roc
from twcert.demo.state import MARKER, build_state
from twcert_vacancy import Actor, Headcount, PersonKind, Vacancy, ValidityPeriod, work_place

from .conftest import unavailable


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    if shutil.which("softhsm2-util") is None:
        unavailable("SoftHSM2 is not installed (Debian: softhsm2)")
    state = build_state(tmp_path_factory.mktemp("site") / "state", base_url="http://127.0.0.1:5000/pki")
    return DemoSite(state, agent_url="http://127.0.0.1:61161")


@pytest.fixture
def client(site: DemoSite) -> Iterator[FlaskClient]:
    with create_app(site, secret_key="k" * 32).test_client() as client:
        yield client


def _vacancy(site: DemoSite, title: str, start: dt.date, end: dt.date) -> Vacancy:
    vacancy = Vacancy(
        work_id=site._work_id(),
        agency_code="A09000000E",
        agency_name="行政院人事行政總處",
        title=title,
        person_kind=PersonKind.GENERAL,
        headcount=Headcount.of(1),
        work_places=(work_place(10),),
        period=ValidityPeriod(start, end),
        filler_name="張承辦",
        filler_phone="02-2397-9000",
    )
    return site.repository.add(vacancy, Actor("test", "A09000000E"), at=site.now())


def test_the_world_is_built_in_the_state_directory(site: DemoSite) -> None:
    root = site.state.directory
    for name in (MARKER, "cards.json", "twcert.db", "private/pki/cas.json", "hsm/softhsm2.conf"):
        assert (root / name).exists(), name
    cards = json.loads((root / "cards.json").read_text(encoding="utf-8"))["cards"]
    assert {c["name"] for c in cards} >= {"citizen-wang", "agency-dgpa", "agency-test", "agency-unlisted"}
    assert len({c["card_serial"] for c in cards}) == len(cards) == len(site.state.hsm.tokens)
    # Centred on now: the CRLs are current.
    crl = (root / "pki" / "crl" / "MOICA2" / "complete.crl").read_bytes()
    from cryptography import x509

    parsed = x509.load_der_x509_crl(crl)
    assert parsed.next_update_utc is not None and parsed.next_update_utc > dt.datetime.now(dt.UTC)


def test_a_directory_that_is_not_the_demos_is_never_emptied(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete", encoding="utf-8")
    with pytest.raises(FileExistsError):
        build_state(precious, base_url="http://127.0.0.1:5000/pki")
    assert (precious / "thesis.txt").exists()


def test_public_pages_follow_the_online_period(site: DemoSite, client: FlaskClient) -> None:
    today = site.today()
    online = _vacancy(site, "上網中職缺", today - dt.timedelta(days=1), today + dt.timedelta(days=5))
    later = _vacancy(site, "尚未上網職缺", today + dt.timedelta(days=3), today + dt.timedelta(days=9))
    ended = _vacancy(site, "已過期職缺", today - dt.timedelta(days=9), today - dt.timedelta(days=1))
    listing = client.get("/jobs").get_data(as_text=True)
    assert "上網中職缺" in listing and "尚未上網職缺" not in listing and "已過期職缺" not in listing
    assert f"{roc(online.period.start)}～{roc(online.period.end)}" in listing
    assert "張承辦" not in listing and "02-2397-9000" not in listing
    assert client.get(f"/jobs/{online.work_id}").status_code == 200
    for hidden in (later, ended):
        page = client.get(f"/jobs/{hidden.work_id}")
        assert page.status_code == 404 and "找不到網頁" in page.get_data(as_text=True)


def test_pages_behind_the_card_login_send_to_the_login_page(client: FlaskClient) -> None:
    for path in ("/apps", "/apps/D", "/vacancies", "/vacancies/new", "/vacancies/mine"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/auth/login?next="), path


@pytest.mark.parametrize("path", ["/demo/cards/TP00000000000101/unlock", "/demo/cards/all/insert"])
def test_demo_posts_need_the_csrf_token(client: FlaskClient, path: str) -> None:
    answer = client.post(path, headers={"Accept": "text/html"})
    assert answer.status_code == 403 and "REQUEST_FORGERY" in answer.get_data(as_text=True)


def test_unlock_clears_both_ledgers(site: DemoSite, client: FlaskClient) -> None:
    serial = "TP00000000000103"
    from twcert.pin import PinOutcome, PinStatus

    site.agent_guard.ledger.record(serial, PinStatus(PinOutcome.LOCKED, 0, "test"))
    ledger = site.state.login_service.stores.pin_record
    assert ledger is not None
    ledger.report_failure(serial, PinStatus(PinOutcome.LOCKED, 0, "test"))
    page = client.get("/demo/cards").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(f"/demo/cards/{serial}/unlock", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"done=unlocked&card={serial}")
    assert site.tries_left(serial) == 3 and ledger.status(serial).tries_left == 3
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"已記錄卡片 {serial} 完成解鎖" in shown
    # Only known cards, and only fixed texts: nothing from the URL is echoed.
    echoed = client.get("/demo/cards?done=unlocked&card=%E8%AB%8B%E5%8C%AF%E6%AC%BE").get_data(as_text=True)
    assert "請匯款" not in echoed
    unknown = client.post("/demo/cards/XX/unlock", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_the_certificates_crl_links_are_served(site: DemoSite, client: FlaskClient) -> None:
    url = site.state.pki.cas["MOICA2"].complete_crl_url
    path = url.split("127.0.0.1:5000", 1)[1]
    answer = client.get(path)
    assert answer.status_code == 200 and answer.data == (site.state.directory / path.lstrip("/")).read_bytes()


def test_pki_serves_ca_certificates_and_crls_only(site: DemoSite, client: FlaskClient) -> None:
    # The CA keys are not under the served directory at all, and /pki/ is an allow-list.
    assert not list((site.state.directory / "pki").rglob("*.key*"))
    assert list((site.state.directory / "private").rglob("*.key.pem"))
    for label, ca in site.state.pki.cas.items():
        assert client.get(f"/pki/ca/{label}.pem").data == ca.pem
        assert client.get(f"/pki/certs/{label}.cer").data == ca.der
        for name in (f"ca/{label}.key.pem", f"../private/pki/ca/{label}.key.pem", f"crl/{label}"):
            assert client.get(f"/pki/{name}").status_code == 404, name
    for name in ("cas.json", "../twcert.db", "../cards.json", "../agent-ledger.json"):
        assert client.get(f"/pki/{name}").status_code == 404, name


def test_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    from twcert.cli import main

    monkeypatch.setenv("TWCERT_DEMO_DIR", str(tmp_path / "d"))
    assert default_directory() == tmp_path / "d"
    monkeypatch.delenv("TWCERT_DEMO_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "twcert" / "demo"
    with pytest.raises(SystemExit) as info:
        main(["demo", "--help"])
    assert info.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--port", "--agent-port", "--dir", "--django"):
        assert option in shown


def test_an_unexpected_failure_is_a_catalogued_page_without_personal_data(
    site: DemoSite, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(page: int = 1) -> Any:
        raise RuntimeError("row of A123456789 王小明")

    monkeypatch.setattr(site, "public", broken)
    with caplog.at_level("ERROR"):
        answer = client.get("/jobs", headers={"Accept": "text/html"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 500 and "INTERNAL_ERROR" in text and "系統發生錯誤" in text
    assert "A123456789" not in text and "Traceback" not in text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "A123456789" not in logged


def test_command_line_refuses_a_foreign_state_directory(tmp_path: Path, capsys: Any) -> None:
    from twcert.cli import main

    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["demo", "--dir", str(tmp_path), "--port", "0", "--agent-port", "0"]) == 1
    assert "not a twcert demo directory" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").exists()


@pytest.mark.parametrize("which", ["--port", "--agent-port"])
def test_a_taken_port_is_named_before_anything_is_built(which: str, tmp_path: Path, capsys: Any) -> None:
    import socket

    from twcert.cli import main

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        other = "0"
        args = (
            ["--port", port, "--agent-port", other]
            if which == "--port"
            else ["--port", other, "--agent-port", port]
        )
        assert main(["demo", "--dir", str(tmp_path / "state"), *args]) == 1
    finally:
        taken.close()
    error = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in error and f"choose another with {which}" in error
    assert not (tmp_path / "state" / "private").exists() and not (tmp_path / "state" / "hsm").exists()


def test_django_flag_without_django_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    import importlib.util

    from twcert.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "django" else real(name, *a)
    )
    assert main(["demo", "--django", "--dir", str(tmp_path / "state")]) == 2
    assert "pip install 'twcert[django]'" in capsys.readouterr().err


def test_today_moves_the_board_not_the_logins(site: DemoSite) -> None:
    import datetime as dt

    moved = DemoSite(site.state, agent_url=site.agent_url, board_date=dt.date(2026, 12, 31))
    assert moved.today() == dt.date(2026, 12, 31)
    assert site.state.login_service.clock() - dt.datetime.now(dt.UTC) < dt.timedelta(minutes=1)
