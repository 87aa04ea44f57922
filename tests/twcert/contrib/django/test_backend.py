"""TwcertBackend on its own: the twcert_token shape, PermissionDenied for locked cards, hooks,
async, signals, and what reaches logs and signal receivers (masked)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from twcert.contrib.django import signals
from twcert.contrib.django.backends import (
    TwcertBackend,
    TwcertLockedOut,
    get_principal,
    login_error,
    parse_token,
)
from twcert.contrib.django.service import get_service
from twcert.errors import ResponseParseError
from twcert.testing.fixtures import PEOPLE, FixtureSet
from twcert.web.security import session_id

from .cards import CKR_PIN_LOCKED, MOICA_UNBLOCK, TWO_TRIES_LEFT, signed, wrong_pin

ORIGIN = "http://testserver"


def card_request() -> Any:
    """A request with a saved session, as the login view gets it."""
    request = RequestFactory().post("/login/card/login/")
    request.session = SessionStore()
    request.session.save()
    return request


def token(
    fs: FixtureSet, request: Any, card: str, account: str | None = None, *, pin: int | None = None
) -> dict[str, Any]:
    challenge = get_service().issue_challenge(session_id(request.session), ORIGIN)
    response = signed(fs, card, challenge.tbs_text) if pin is None else wrong_pin(fs, card, pin)
    result: dict[str, Any] = {"challenge_id": challenge.id, "response": response}
    if account is not None:
        result["account"] = account
    return result


@pytest.fixture
def received() -> Iterator[dict[str, list[dict[str, Any]]]]:
    seen: dict[str, list[dict[str, Any]]] = {
        "succeeded": [],
        "failed": [],
        "locked": [],
        "audit": [],
        "django": [],
    }
    receivers = {
        "succeeded": signals.login_succeeded,
        "failed": signals.login_failed,
        "locked": signals.card_locked,
        "audit": signals.audit_event,
        "django": user_login_failed,
    }
    handlers = {}
    for name, signal in receivers.items():

        def handler(sender: Any, _name: str = name, **kwargs: Any) -> None:
            seen[_name].append(kwargs)

        handlers[name] = handler
        signal.connect(handler)
    yield seen
    for name, signal in receivers.items():
        signal.disconnect(handlers[name])


def test_a_valid_token_gives_the_user_and_the_principal(fixture_set: FixtureSet, received: Any) -> None:
    request = card_request()
    user = authenticate(request, twcert_token=token(fixture_set, request, "agency-dgpa"))
    assert user is not None and user.get_username() == "agency-A09000000E"
    assert user.backend == "twcert.contrib.django.backends.TwcertBackend"
    assert request.twcert_principal.agency_code == "A09000000E" and login_error(request) is None
    [event] = received["succeeded"]
    assert event["user"] == user and event["principal"].kind == "agency"
    assert [e["event"].outcome for e in received["audit"]] == ["success"]


def test_the_token_may_be_json_text(fixture_set: FixtureSet) -> None:
    request = card_request()
    user = TwcertBackend().authenticate(
        request, twcert_token=json.dumps(token(fixture_set, request, "agency-dgpa"))
    )
    assert user is not None


def test_a_locked_card_raises_permission_denied_and_stops_the_chain(
    fixture_set: FixtureSet, received: Any
) -> None:
    request = card_request()
    with pytest.raises(TwcertLockedOut) as info:
        TwcertBackend().authenticate(
            request, twcert_token=token(fixture_set, request, "citizen-wang", pin=CKR_PIN_LOCKED)
        )
    assert isinstance(info.value, PermissionDenied)
    assert info.value.error.code == "PIN_LOCKED" and info.value.error.action_url == MOICA_UNBLOCK
    # Through django.contrib.auth: PermissionDenied ends the chain; the error is on the request.
    request = card_request()
    assert (
        authenticate(request, twcert_token=token(fixture_set, request, "citizen-wang", pin=CKR_PIN_LOCKED))
        is None
    )
    error = login_error(request)
    assert error is not None and error.code == "PIN_LOCKED" and error.action_url == MOICA_UNBLOCK
    assert len(received["locked"]) == 2 and len(received["failed"]) == 2
    assert received["locked"][0]["event"].reason == "PIN_LOCKED"
    # Django's own failure signal gets the token masked.
    [django_failure] = received["django"]
    assert django_failure["credentials"] == {"twcert_token": "********************"}


def test_other_failures_return_none_with_the_catalogued_error(fixture_set: FixtureSet, received: Any) -> None:
    request = card_request()
    assert (
        TwcertBackend().authenticate(
            request, twcert_token=token(fixture_set, request, "citizen-wang", pin=TWO_TRIES_LEFT)
        )
        is None
    )
    error = login_error(request)
    assert error is not None and error.code == "PIN_INCORRECT" and error.params["tries_left"] == 2
    request = card_request()
    assert (
        TwcertBackend().authenticate(request, twcert_token=token(fixture_set, request, "citizen-wang"))
        is None
    )
    assert login_error(request).code == "ACCOUNT_REQUIRED"  # type: ignore[union-attr]
    assert [e["error"].code for e in received["failed"]] == ["PIN_INCORRECT", "ACCOUNT_REQUIRED"]
    assert [e["event"].reason for e in received["failed"]] == ["PIN_INCORRECT", "ACCOUNT_REQUIRED"]
    assert received["locked"] == [] and received["succeeded"] == []


def test_a_token_for_another_session_is_refused(fixture_set: FixtureSet) -> None:
    issued_to, other = card_request(), card_request()
    assert (
        TwcertBackend().authenticate(other, twcert_token=token(fixture_set, issued_to, "agency-dgpa")) is None
    )
    assert login_error(other).code == "CHALLENGE_MISMATCH"  # type: ignore[union-attr]


def test_not_a_twcert_login_is_none_and_other_backends_still_work() -> None:
    assert TwcertBackend().authenticate(card_request()) is None
    assert TwcertBackend().authenticate(None, twcert_token={"response": {}}) is None
    get_user_model().objects.create_user("admin", password="s3cret-pw")
    user = authenticate(card_request(), username="admin", password="s3cret-pw")
    assert user is not None and user.backend == "django.contrib.auth.backends.ModelBackend"


@pytest.mark.parametrize(
    "value",
    [
        "{not json",
        json.dumps(["a"]),
        {"challenge_id": "c"},
        {"challenge_id": "c", "response": 7},
        {"challenge_id": "", "response": {"ret_code": 0}},
        {"challenge_id": "c" * 65, "response": {"ret_code": 0}},
        {"challenge_id": "c", "response": {"ret_code": 0}, "account": 12},
    ],
)
def test_malformed_tokens(value: Any) -> None:
    with pytest.raises(ResponseParseError):
        parse_token(value)


def test_token_account_is_trimmed_and_optional() -> None:
    assert (
        parse_token({"challenge_id": "c", "response": {"ret_code": 0}, "account": "  wang.xm "}).account
        == "wang.xm"
    )
    assert parse_token({"challenge_id": "c", "response": "{}", "account": "  "}).account is None
    assert "wang" not in repr(parse_token({"challenge_id": "c", "response": {"x": 1}, "account": "wang.xm"}))


def test_inactive_users_cannot_log_in_and_get_user(fixture_set: FixtureSet) -> None:
    request = card_request()
    user = authenticate(request, twcert_token=token(fixture_set, request, "agency-dgpa"))
    backend = TwcertBackend()
    assert backend.get_user(user.pk) == user
    assert backend.get_user(10**9) is None
    user.is_active = False
    user.save()
    assert backend.get_user(user.pk) is None
    request = card_request()
    assert authenticate(request, twcert_token=token(fixture_set, request, "agency-dgpa")) is None
    assert login_error(request).code == "LOGIN_REFUSED"  # type: ignore[union-attr]


class NamedBackend(TwcertBackend):
    """A host project's hook: users get the holder's name."""

    def configure_user(self, request: Any, user: Any, principal: Any, *, created: bool) -> Any:
        user.first_name = principal.display_name or ""
        user.save()
        return user


def test_hooks_can_be_overridden(fixture_set: FixtureSet) -> None:
    request = card_request()
    user = NamedBackend().authenticate(
        request, twcert_token=token(fixture_set, request, "citizen-wang", "wang.xm")
    )
    wang = next(p for p in PEOPLE if p.account == "wang.xm")
    assert user is not None and user.first_name == wang.name
    assert user.has_usable_password()  # the override did not keep the default's unusable password


def test_aauthenticate(fixture_set: FixtureSet) -> None:
    request = card_request()
    issued = token(fixture_set, request, "agency-dgpa")
    user = asyncio.run(TwcertBackend().aauthenticate(request, twcert_token=issued))
    assert user is not None and user.get_username() == "agency-A09000000E"


def test_no_personal_data_in_logs_or_signals(
    fixture_set: FixtureSet, received: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wang = next(p for p in PEOPLE if p.account == "wang.xm")
    with caplog.at_level(logging.DEBUG):
        request = card_request()
        TwcertBackend().authenticate(
            request, twcert_token=token(fixture_set, request, "citizen-wang", wang.national_id)
        )
        request = card_request()
        TwcertBackend().authenticate(
            request, twcert_token=token(fixture_set, request, "citizen-chen", wang.national_id)
        )
    text = "\n".join(r.getMessage() + repr(getattr(r, "twcert_event", "")) for r in caplog.records)
    text += repr([e["event"] for e in received["audit"]])
    assert wang.national_id not in text and wang.name not in text and "TP00000000000001" not in text
    assert [e["event"].outcome for e in received["audit"]] == ["success", "failure"]


def test_the_session_keeps_the_principal_after_login(fixture_set: FixtureSet) -> None:
    from django.contrib.auth import login

    request = card_request()
    user = authenticate(request, twcert_token=token(fixture_set, request, "agency-dgpa"))
    login(request, user)
    principal = get_principal(request)
    assert (
        principal is not None and principal["agency_code"] == "A09000000E" and principal["kind"] == "agency"
    )
