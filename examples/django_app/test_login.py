"""Card login through the project's URLs, with twcert's fake PKI and HiPKI answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from twcert.testing import FakeCard

pytestmark = pytest.mark.usefixtures("twcert_django_settings")


def test_citizen_card_logs_in_and_sees_the_protected_page(
    twcert_citizen_card: FakeCard, twcert_django_login: Callable[..., Any]
) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.get("/me/", secure=True).status_code == 302  # to the login page
    answer = twcert_django_login(client, twcert_citizen_card, account="wang.xm")
    assert answer.status_code == 200, answer.content
    assert client.get("/me/", secure=True).json() == {"username": "wang.xm"}


def test_agency_card_logs_in(twcert_agency_card: FakeCard, twcert_django_login: Callable[..., Any]) -> None:
    client = Client()
    assert twcert_django_login(client, twcert_agency_card).status_code == 200
    assert client.get("/me/", secure=True).json() == {"username": "agency-A09000000E"}


def test_wrong_pin_counts_down_then_the_card_locks(
    twcert_citizen_card: FakeCard, twcert_django_login: Callable[..., Any]
) -> None:
    client = Client()
    wrong = twcert_django_login(client, twcert_citizen_card, answer=twcert_citizen_card.wrong_pin(2))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "PIN_INCORRECT"
    assert wrong.json()["error"]["tries_left"] == 2
    locked = twcert_django_login(client, twcert_citizen_card, answer=twcert_citizen_card.locked())
    assert locked.status_code == 403
    assert locked.json()["error"]["code"] == "PIN_LOCKED"
    assert client.get("/me/", secure=True).status_code == 302


def test_cancelled_and_no_card(
    twcert_citizen_card: FakeCard, twcert_django_login: Callable[..., Any]
) -> None:
    client = Client()
    for answer, code in ((FakeCard.cancelled(), "USER_CANCELLED"), (FakeCard.no_card(), "CARD_ABSENT")):
        assert twcert_django_login(client, twcert_citizen_card, answer=answer).json()["error"]["code"] == code
