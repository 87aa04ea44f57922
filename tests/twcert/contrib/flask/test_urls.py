"""The blueprint's addresses: built once per app and script root, right under any mount point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from twcert.contrib.flask import views
from twcert.testing.fixtures import FixtureSet

from .conftest import Clock, build_service, make_app


@pytest.fixture
def fresh_app(fixture_set: FixtureSet, tmp_path: Path) -> Flask:
    return make_app(build_service(fixture_set, "memory", tmp_path, Clock(fixture_set.now)))[0]


def test_url_for_runs_once_per_app_not_per_request(fresh_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = views.url_for

    def counting(endpoint: str, **values: Any) -> str:
        calls.append(endpoint)
        return real(endpoint, **values)

    monkeypatch.setattr(views, "url_for", counting)
    client = fresh_app.test_client()
    for _ in range(3):
        answer = client.get("/twcert/challenge", headers={"Accept": "application/json"})
        assert answer.status_code == 200
        assert answer.get_json()["status"] == "ok"
    # The six addresses of the flow, once.
    assert len(calls) == 6


def test_each_mount_point_gets_its_own_addresses(fresh_app: Flask) -> None:
    client = fresh_app.test_client()
    plain = client.get("/twcert/login").get_data(as_text=True)
    mounted = client.get("/twcert/login", base_url="http://localhost/jobs").get_data(as_text=True)
    again = client.get("/twcert/login").get_data(as_text=True)
    assert "/jobs/twcert/challenge" in mounted
    assert "/jobs/twcert/" not in plain
    assert "/twcert/challenge" in plain
    assert "/jobs/twcert/" not in again


def test_each_app_gets_its_own_addresses(fixture_set: FixtureSet, tmp_path: Path) -> None:
    service = build_service(fixture_set, "memory", tmp_path, Clock(fixture_set.now))
    first = make_app(service)[0]
    other = make_app(service, TWCERT_URL_PREFIX="/card")[0]
    assert "/twcert/challenge" in first.test_client().get("/twcert/login").get_data(as_text=True)
    page = other.test_client().get("/card/login").get_data(as_text=True)
    assert "/card/challenge" in page
    assert "/twcert/challenge" not in page
