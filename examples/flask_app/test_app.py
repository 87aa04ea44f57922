"""Card login through the app, with twcert's fake PKI and HiPKI answers (no card, no network)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app import create_app
from flask import Flask

from twcert.testing import FakeCard, FreshPKI


def test_citizen_card_logs_in_and_sees_the_protected_page(
    app: Flask, twcert_citizen_card: FakeCard, twcert_flask_login: Callable[..., Any]
) -> None:
    client = app.test_client()
    assert client.get("/me", headers={"Accept": "application/json"}).status_code == 401
    answer = twcert_flask_login(client, twcert_citizen_card, account="wang.xm")
    assert answer.status_code == 200, answer.get_json()
    assert client.get("/me").get_json() == {"id": "wang.xm", "kind": "citizen", "agency": "A09000000E"}


def test_agency_card_logs_in_as_its_agency(
    app: Flask, twcert_agency_card: FakeCard, twcert_flask_login: Callable[..., Any]
) -> None:
    client = app.test_client()
    assert twcert_flask_login(client, twcert_agency_card).status_code == 200
    assert client.get("/me").get_json()["id"] == "A09000000E"


def test_wrong_pin_then_locked_card(
    app: Flask, twcert_citizen_card: FakeCard, twcert_flask_login: Callable[..., Any]
) -> None:
    client = app.test_client()
    wrong = twcert_flask_login(client, twcert_citizen_card, answer=twcert_citizen_card.wrong_pin(1))
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "PIN_INCORRECT"
    assert wrong.get_json()["error"]["tries_left"] == 1
    locked = twcert_flask_login(client, twcert_citizen_card, answer=twcert_citizen_card.locked())
    assert locked.get_json()["error"]["code"] == "PIN_LOCKED"
    assert client.get("/me", headers={"Accept": "application/json"}).status_code == 401


def test_cancelled_and_no_card(
    app: Flask, twcert_citizen_card: FakeCard, twcert_flask_login: Callable[..., Any]
) -> None:
    client = app.test_client()
    for answer, code in ((FakeCard.cancelled(), "USER_CANCELLED"), (FakeCard.no_card(), "CARD_ABSENT")):
        refused = twcert_flask_login(client, twcert_citizen_card, answer=answer)
        assert refused.get_json()["error"]["code"] == code


def test_revoked_card_is_refused(twcert_pki: FreshPKI, twcert_flask_login: Callable[..., Any]) -> None:
    card = twcert_pki.citizen_card("林小華", account="lin.xh")
    twcert_pki.revoke(card)
    app = create_app(twcert_pki.login_service(), TESTING=True)  # built after the revocation
    refused = twcert_flask_login(app.test_client(), card, account="lin.xh")
    assert refused.get_json()["error"]["code"] == "CERT_REVOKED"
