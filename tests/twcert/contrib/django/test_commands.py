"""Management commands: twcert_inspect, twcert_load_orglist, twcert_purge."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from twcert.contrib.django import models
from twcert.contrib.django.service import get_service
from twcert.testing.fixtures import FixtureSet

from . import settings as test_settings
from .cards import Browser


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_inspect_the_configured_trust_store() -> None:
    out, _ = run("twcert_inspect", "--configured", "--json")
    records = json.loads(out)
    assert len(records) == len(test_settings.CA_FILES)
    families = {Path(r["file"]).stem: r["family"] for r in records}
    assert families["MOICA2"] == "MOICA" and families["GCA"] == "GCA" and families["GRCA2"] == "GRCA"
    assert all(r["is_ca"] for r in records)


def test_inspect_a_card_certificate_masks_the_holder(fixture_set: FixtureSet) -> None:
    path = fixture_set.directory / fixture_set.certificates["citizen-wang"]["file"]
    out, _ = run("twcert_inspect", str(path), "--at", test_settings.FIXTURE_NOW.isoformat())
    assert "MOICA" in out and "valid" in out
    assert "王小明" not in out and "王*明" in out


def test_inspect_needs_something_to_inspect() -> None:
    with pytest.raises(CommandError):
        run("twcert_inspect")
    with pytest.raises(CommandError):
        run("twcert_inspect", "/nonexistent/cert.pem")


def test_load_orglist_replaces_the_agency_table(fixture_set: FixtureSet, orglist_file: Path) -> None:
    models.Agency.objects.create(code="379000000A", name="臺北縣政府")
    out, err = run("twcert_load_orglist", str(orglist_file))
    assert "loaded 2 agencies" in out and "line 4" in err
    assert sorted(models.Agency.objects.values_list("code", flat=True)) == ["376610000A", "A09000000E"]
    dgpa = models.Agency.objects.get(code="A09000000E")
    assert dgpa.parent_name == "行政院" and dgpa.name_key == "行政院人事行政總處"
    # The loaded table is what agency logins are checked against.
    assert Browser(fixture_set).login("agency-dgpa").status_code == 200


def test_load_orglist_refuses_a_file_without_rows(tmp_path: Path) -> None:
    empty = tmp_path / "orglist.csv"
    empty.write_bytes("機關代碼,機關名稱\r\n".encode("cp950"))
    with pytest.raises(CommandError):
        run("twcert_load_orglist", str(empty))
    assert models.Agency.objects.count() == 2  # the fixture rows are still there


def test_purge_drops_expired_challenges(fixture_set: FixtureSet) -> None:
    Browser(fixture_set).challenge()
    test_settings.NOW[0] += dt.timedelta(hours=2)
    fresh = get_service().issue_challenge("session", "https://jobs.example.gov.tw")
    out, _ = run("twcert_purge")
    assert "purged 1" in out
    assert list(models.Challenge.objects.values_list("challenge_id", flat=True)) == [fresh.id]
