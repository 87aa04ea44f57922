"""The manual's login flows through Django's test client: the page's requests, real CMS signatures
from the fixture PKI's card keys, the Django ORM stores (and once each Redis and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from twcert.contrib.django import models
from twcert.testing.fixtures import PEOPLE, FixtureSet

from . import settings as test_settings
from .cards import (
    CKR_PIN_INCORRECT,
    CKR_PIN_LOCKED,
    GCA_UNBLOCK,
    MOICA_UNBLOCK,
    ONE_TRY_LEFT,
    TWO_TRIES_LEFT,
    Browser,
    signed,
)

WANG_CARD = "TP00000000000001"


def wang_record_key(fs: FixtureSet) -> str:
    """Where the PIN record counts reports that carry 王小明's certificate."""
    from twcert import PinRecord, load_certificate

    return PinRecord.certificate_key(load_certificate(fs.issued("citizen-wang").der).sha256)


@pytest.fixture
def browser(fixture_set: FixtureSet) -> Browser:
    return Browser(fixture_set)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["status"] in ("error", "account_required")
    return dict(body["error"])


def assert_logged_out(browser: Browser) -> None:
    response = browser.home()
    assert response.status_code == 302 and response["Location"].startswith("/login/card/")


# ------------------------------------------------------------------ the page and the challenge


def test_login_page_is_traditional_chinese_and_sets_the_csrf_cookie(browser: Browser) -> None:
    response = browser.open_page()
    html = response.content.decode()
    assert "憑證登入" in html and "PIN碼" in html and 'lang="zh-Hant"' in html
    # The Flask adapter's page: card type, card choice, the one shared script.
    assert 'name="kind" value="citizen"' in html and 'name="kind" value="agency"' in html
    assert 'id="twcert-card"' in html and 'src="/login/card/assets/twcert-login.js"' in html
    assert 'data-challenge-url="/login/card/challenge"' in html
    assert 'data-login-url="/login/card/login"' in html
    assert 'data-client-error-url="/login/card/client-error"' in html
    assert 'data-agent-url="http://localhost:61161"' in html
    script = browser.client.get("/login/card/assets/twcert-login.js", secure=True)
    assert script.status_code == 200 and script["Content-Type"].startswith("text/javascript")


def test_challenge_creates_the_session_and_is_bound_to_it_and_the_origin(browser: Browser) -> None:
    issued = browser.challenge()
    session_key = browser.client.session["_twcert_sid"]
    assert session_key
    assert issued["tbs"].split(" ")[:3] == [
        "twcert-login/1",
        "https://jobs.example.gov.tw",
        issued["challenge_id"],
    ]
    assert issued["signature_type"] == "PKCS7" and issued["hash_algorithm"] == "SHA256"
    expires = dt.datetime.fromisoformat(issued["expires_at"])
    assert expires - test_settings.FIXTURE_NOW == dt.timedelta(minutes=5)
    row = models.Challenge.objects.get(challenge_id=issued["challenge_id"])
    # Only a hash of the session id is stored.
    assert row.session_hash == hashlib.sha256(session_key.encode()).hexdigest()
    assert session_key not in (row.session_hash, row.origin) and row.used_at is None
    assert row.origin == "https://jobs.example.gov.tw"


# ------------------------------------------------------------------ citizen cards


def test_citizen_first_use_with_account_then_pin_only(browser: Browser, fixture_set: FixtureSet) -> None:
    first = browser.login("citizen-wang")
    assert first.status_code == 401
    error = error_of(first)
    assert error["code"] == "ACCOUNT_REQUIRED"
    assert "首次" in error["message_zh"] and "身分證統一編號" in error["message_zh"]
    assert error["message_en"] and error["action_zh"] and error["action_en"]
    assert first.json()["status"] == "account_required"
    assert first.json()["first_use_url"] == "/login/card/first-use"
    assert_logged_out(browser)

    form = browser.client.get("/login/card/first-use", secure=True)
    assert form.status_code == 200
    assert 'id="twcert-account"' in form.content.decode()

    # No second signature: only the account goes to the first-use step.
    done = browser.post_json("/login/card/first-use", {"account": "wang.xm"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "ok" and body["redirect"] == "/home/"
    shown = {k: body["principal"][k] for k in ("kind", "principal_id", "account", "agency_code", "first_use")}
    assert shown == {
        "kind": "citizen",
        "principal_id": "wang.xm",
        "account": "wang.xm",
        "agency_code": "A09000000E",
        "first_use": True,
    }
    assert "display_name" not in body["principal"], "no holder name in the JSON"
    home = browser.home()
    assert home.status_code == 200
    assert home.json()["username"] == "wang.xm"
    assert home.json()["principal"]["kind"] == "citizen" and home.json()["principal"]["account"] == "wang.xm"
    binding = models.Binding.objects.get()
    assert binding.account == "wang.xm" and binding.identity.startswith("MOICA:serial:")
    user = get_user_model().objects.get(username="wang.xm")
    assert not user.has_usable_password()

    # Later: a new browser session, the PIN only (a signature), no account.
    later = Browser(fixture_set)
    again = later.login("citizen-wang")
    assert again.status_code == 200, again.content
    assert again.json()["principal"]["first_use"] is False
    assert later.home().json()["username"] == "wang.xm"
    assert get_user_model().objects.count() == 1


def test_first_use_with_the_national_id_instead_of_the_account(browser: Browser) -> None:
    chen = next(p for p in PEOPLE if p.account == "chen.ml")
    response = browser.login("citizen-chen", account=chen.national_id.lower(), step="first-use")
    assert response.status_code == 200, response.content
    assert response.json()["principal"]["account"] == "chen.ml"


def test_first_use_step_without_an_account_asks_for_it(browser: Browser) -> None:
    response = browser.login("citizen-wang", account="  ", step="first-use")
    assert response.status_code == 401 and error_of(response)["code"] == "ACCOUNT_REQUIRED"
    assert_logged_out(browser)


@pytest.mark.parametrize(
    ("card", "account", "code", "text"),
    [
        (
            "citizen-wang",
            "nobody",
            "ACCOUNT_NOT_FOUND",
            "您輸入的帳號或身分證統一編號不存在人事資料庫中，無法登入。",
        ),
        ("citizen-lin-left-service", "lin.zh", "NOT_IN_SERVICE", "卸職"),
        ("citizen-wang", "chen.ml", "HOLDER_MISMATCH", "您輸入的帳號與自然人憑證持有人非同一人，無法登入。"),
    ],
)
def test_first_use_refusals(browser: Browser, card: str, account: str, code: str, text: str) -> None:
    response = browser.login(card, account=account, step="first-use")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == code and text in error["message_zh"]
    assert error["message_en"] and error["action_zh"]
    assert not models.Binding.objects.exists()
    assert_logged_out(browser)


def test_revoked_certificate_is_refused_with_the_manual_sentence(browser: Browser) -> None:
    response = browser.login("citizen-revoked", account="wang.xm")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "CERT_REVOKED"
    assert error["message_zh"].startswith("插入之自然人憑證或機關憑證無效")


# ------------------------------------------------------------------ agency cards


def test_agency_card_logs_in_as_its_agency(browser: Browser) -> None:
    response = browser.login("agency-dgpa")
    assert response.status_code == 200, response.content
    principal = response.json()["principal"]
    assert principal["kind"] == "agency" and principal["agency_code"] == "A09000000E"
    assert principal["agency_name"] == "行政院人事行政總處" and principal["account"] is None
    home = browser.home().json()
    assert home["username"] == "agency-A09000000E" and home["principal"]["agency_code"] == "A09000000E"


def test_test_agency_card_is_refused(browser: Browser) -> None:
    response = browser.login("agency-test")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "CERT_TEST" and error["message_zh"] == "請勿使用測試之機關憑證登入。"
    assert_logged_out(browser)


def test_agency_code_not_in_the_table_is_refused(browser: Browser) -> None:
    response = browser.login("agency-unlisted")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "AGENCY_CODE_UNKNOWN"
    assert "ZZ9990000X" in error["message_zh"] and "不存在機關代碼檔中" in error["message_zh"]
    assert_logged_out(browser)


# ------------------------------------------------------------------ PIN tries and the lock


def test_wrong_pins_count_down_then_the_card_locks_with_the_moica_unblock_address(
    browser: Browser, fixture_set: FixtureSet
) -> None:
    first = browser.wrong_pin("citizen-wang", TWO_TRIES_LEFT)
    assert first.status_code == 401
    assert error_of(first)["code"] == "PIN_INCORRECT" and first.json()["error"]["tries_left"] == 2
    assert "2" in error_of(first)["message_zh"] and "3次將鎖卡" in error_of(first)["message_zh"]
    second = browser.wrong_pin("citizen-wang", ONE_TRY_LEFT)
    assert second.status_code == 401 and second.json()["error"]["tries_left"] == 1
    third = browser.wrong_pin("citizen-wang", CKR_PIN_LOCKED)
    assert third.status_code == 403
    locked = error_of(third)
    assert locked["code"] == "PIN_LOCKED" and locked["action_url"] == MOICA_UNBLOCK
    assert MOICA_UNBLOCK in locked["message_zh"] and "鎖" in locked["message_zh"]
    assert MOICA_UNBLOCK in locked["action_zh"]
    assert models.PinFailure.objects.get(card=wang_record_key(fixture_set)).failures == 3
    # The PIN record is advisory: a card that signs was not locked, so a correct PIN logs in.
    assert browser.login("citizen-wang", account="wang.xm").status_code == 200


def test_ledger_counts_wrong_pins_without_a_counter_and_an_unblock_reopens_the_card(
    browser: Browser, fixture_set: FixtureSet
) -> None:
    tries = [browser.wrong_pin("citizen-wang", CKR_PIN_INCORRECT) for _ in range(3)]
    assert [t.json()["error"].get("tries_left") for t in tries[:2]] == [2, 1]
    assert tries[2].status_code == 403 and error_of(tries[2])["code"] == "PIN_LOCKED"
    # The admin's "unblocked at MOICA" action deletes the record.
    assert models.PinFailure.objects.filter(card=wang_record_key(fixture_set)).delete()[0] == 1
    assert browser.login("citizen-wang", account="wang.xm").status_code == 200


def test_a_right_pin_after_wrong_ones_resets_the_count(browser: Browser, fixture_set: FixtureSet) -> None:
    browser.wrong_pin("citizen-wang", CKR_PIN_INCORRECT)
    browser.wrong_pin("citizen-wang", CKR_PIN_INCORRECT)
    assert browser.login("citizen-wang", account="wang.xm").status_code == 200
    assert not models.PinFailure.objects.filter(card=wang_record_key(fixture_set)).exists()
    again = Browser(fixture_set).wrong_pin("citizen-wang", CKR_PIN_INCORRECT)
    assert again.json()["error"]["tries_left"] == 2


def test_locked_agency_card_points_to_the_gca_unblock_page(browser: Browser) -> None:
    response = browser.wrong_pin("agency-dgpa", CKR_PIN_LOCKED)
    assert response.status_code == 403 and error_of(response)["action_url"] == GCA_UNBLOCK


# ------------------------------------------------------------------ CSRF, replay, session and origin binding


def test_posts_without_the_csrf_token_are_refused(browser: Browser, fixture_set: FixtureSet) -> None:
    browser.open_page()
    no_token = {"HTTP_ORIGIN": browser.origin}
    assert browser.client.post("/login/card/challenge", secure=True, **no_token).status_code == 403
    forged = browser.client.post("/login/card/challenge", secure=True, HTTP_SEC_FETCH_SITE="cross-site")
    assert forged.status_code == 403
    issued = browser.challenge()
    body = json.dumps(
        {
            "challenge_id": issued["challenge_id"],
            "response": signed(fixture_set, "agency-dgpa", issued["tbs"]),
        }
    )
    refused = browser.client.post(
        "/login/card/login", body, content_type="application/json", secure=True, **no_token
    )
    assert refused.status_code == 403
    wrong = browser.client.post(
        "/login/card/login",
        body,
        content_type="application/json",
        secure=True,
        HTTP_X_CSRFTOKEN="x" * 32,
        **no_token,
    )
    assert wrong.status_code == 403
    # A cross-site page's POST (foreign Origin) is refused even with the token.
    foreign = browser.post_json("/login/card/login", json.loads(body), HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403
    assert_logged_out(browser)
    # The challenge was never consumed by the refused requests.
    assert browser.post_json("/login/card/login", json.loads(body)).status_code == 200


def test_a_replayed_challenge_is_refused(browser: Browser, fixture_set: FixtureSet) -> None:
    issued = browser.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "agency-dgpa", issued["tbs"]),
    }
    assert browser.post_json("/login/card/login", body).status_code == 200
    replay = browser.post_json("/login/card/login", body)
    assert replay.status_code == 401
    error = error_of(replay)
    assert error["code"] == "CHALLENGE_REPLAYED" and "已使用過" in error["message_zh"]


def test_a_challenge_completed_from_another_session_is_refused(fixture_set: FixtureSet) -> None:
    victim, attacker = Browser(fixture_set), Browser(fixture_set)
    issued = victim.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "agency-dgpa", issued["tbs"]),
    }
    response = attacker.post_json("/login/card/login", body)
    assert response.status_code == 401 and error_of(response)["code"] == "CHALLENGE_MISMATCH"
    assert_logged_out(attacker)
    assert victim.post_json("/login/card/login", body).status_code == 401  # consumed: single use


def test_a_challenge_completed_on_another_site_is_refused(browser: Browser, fixture_set: FixtureSet) -> None:
    issued = browser.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "agency-dgpa", issued["tbs"]),
    }
    other = "https://other.example.gov.tw"
    response = browser.post_json(
        "/login/card/login", body, HTTP_HOST="other.example.gov.tw", HTTP_ORIGIN=other
    )
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "CHALLENGE_MISMATCH" and "不符" in error["message_zh"]


def test_an_expired_challenge_is_refused(browser: Browser, fixture_set: FixtureSet) -> None:
    issued = browser.challenge()
    test_settings.NOW[0] += dt.timedelta(minutes=6)
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "agency-dgpa", issued["tbs"]),
    }
    response = browser.post_json("/login/card/login", body)
    assert response.status_code == 401 and error_of(response)["code"] == "CHALLENGE_EXPIRED"
    assert "逾時" in error_of(response)["message_zh"]


def test_a_signature_over_another_challenge_is_refused(browser: Browser, fixture_set: FixtureSet) -> None:
    issued = browser.challenge()
    other = browser.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "agency-dgpa", other["tbs"]),
    }
    response = browser.post_json("/login/card/login", body)
    assert response.status_code == 401 and error_of(response)["code"] == "SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"challenge_id": "CID"}),
        json.dumps({"challenge_id": "CID", "response": {"no": "ret_code"}}),
        json.dumps({"challenge_id": "CID", "response": {"ret_code": 0, "signature": 5}}),
    ],
)
def test_malformed_posts_get_the_catalogued_error_not_a_traceback(browser: Browser, body: str) -> None:
    issued = browser.challenge()
    response = browser.client.post(
        "/login/card/login",
        body.replace("CID", issued["challenge_id"]),
        content_type="application/json",
        secure=True,
        HTTP_X_CSRFTOKEN=browser.csrf(),
        HTTP_ORIGIN=browser.origin,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "RESPONSE_MALFORMED"
    assert "Traceback" not in response.content.decode()


def test_without_the_backend_the_view_reports_a_configuration_error(browser: Browser) -> None:
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        response = browser.login("agency-dgpa")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "CONFIGURATION" and error["message_zh"] == "系統設定錯誤，請洽系統管理者。"
    assert_logged_out(browser)


def test_methods_are_those_of_the_flask_blueprint(browser: Browser) -> None:
    assert browser.client.get("/login/card/login", secure=True).status_code == 200
    assert browser.client.get("/login/card/logout", secure=True).status_code == 405
    assert browser.client.get("/login/card/client-error", secure=True).status_code == 405
    # A first-use page without a pending first login: the catalogued error, not a form.
    assert browser.client.get("/login/card/first-use", secure=True).status_code == 401


def test_a_host_view_of_its_own_uses_the_backend_and_render_error(
    browser: Browser, fixture_set: FixtureSet
) -> None:
    issued = browser.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "citizen-wang", issued["tbs"]),
    }
    # The host's view is CSRF-protected by Django's middleware (not by twcert's token).
    browser.client.handler.enforce_csrf_checks = False
    refused = browser.post_json("/accounts/card/", body)
    assert refused.status_code == 401 and error_of(refused)["code"] == "ACCOUNT_REQUIRED"
    issued = browser.challenge()
    body = {
        "challenge_id": issued["challenge_id"],
        "response": signed(fixture_set, "citizen-wang", issued["tbs"]),
        "account": "wang.xm",
    }
    done = browser.post_json("/accounts/card/", body)
    assert done.status_code == 200 and done.json() == {"username": "wang.xm"}
    assert browser.home().json()["principal"]["account"] == "wang.xm"


# ------------------------------------------------------------------ the HTML (form POST) variant


def _form_post(browser: Browser, card: str, **extra: str) -> Any:
    issued = browser.challenge()
    data = {
        "csrf_token": browser.csrf(),
        "challenge_id": issued["challenge_id"],
        "response": json.dumps(signed(browser.fs, card, issued["tbs"])),
        **extra,
    }
    return browser.client.post(
        "/login/card/login",
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        secure=True,
        HTTP_ORIGIN=browser.origin,
    )


def test_form_post_renders_the_error_page_in_chinese(browser: Browser) -> None:
    response = _form_post(browser, "agency-test")
    assert response.status_code == 403
    html = response.content.decode()
    assert "請勿使用測試之機關憑證登入。" in html and "CERT_TEST" in html and 'lang="en"' in html
    assert "Traceback" not in html


def test_form_post_first_use_goes_to_the_first_use_page(browser: Browser) -> None:
    response = _form_post(browser, "citizen-wang")
    assert response.status_code == 303 and response["Location"] == "/login/card/first-use"


def test_form_post_redirects_to_a_safe_next_only(browser: Browser) -> None:
    assert _form_post(browser, "agency-dgpa", next="/home/?tab=1")["Location"] == "/home/?tab=1"
    browser.token = None  # the login rotated the session's token; the page shows the new one
    assert _form_post(browser, "agency-dgpa", next="https://evil.example/")["Location"] == "/home/"


# ------------------------------------------------------------------ other stores


def test_login_flow_with_redis_nonce_and_pin_stores(fixture_set: FixtureSet, redis_url: str) -> None:
    import redis

    prefix = f"twcert-django-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_url)
    try:
        with override_settings(
            TWCERT={
                **test_settings.TWCERT,
                "NONCE_STORE": redis_url,
                "PIN_STORE": redis_url,
                "REDIS_PREFIX": prefix,
            }
        ):
            browser = Browser(fixture_set)
            issued = browser.challenge()
            assert client.exists(f"{prefix}challenge:{issued['challenge_id']}")
            assert not models.Challenge.objects.exists()
            body = {
                "challenge_id": issued["challenge_id"],
                "response": signed(fixture_set, "citizen-wang", issued["tbs"]),
            }
            assert error_of(browser.post_json("/login/card/login", body))["code"] == "ACCOUNT_REQUIRED"
            assert error_of(browser.post_json("/login/card/login", body))["code"] == "CHALLENGE_REPLAYED"
            assert browser.login("citizen-wang", account="wang.xm", step="first-use").status_code == 200
            other = Browser(fixture_set)
            assert other.wrong_pin("citizen-wang", CKR_PIN_INCORRECT).json()["error"]["tries_left"] == 2
            assert int(client.get(f"{prefix}pin-failures:{wang_record_key(fixture_set)}") or 0) == 1
            assert not models.PinFailure.objects.exists()
            other.wrong_pin("citizen-wang", CKR_PIN_INCORRECT)
            locked = other.wrong_pin("citizen-wang", CKR_PIN_INCORRECT)
            assert (
                error_of(locked)["code"] == "PIN_LOCKED" and error_of(locked)["action_url"] == MOICA_UNBLOCK
            )
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_login_flow_with_the_stores_in_postgresql(fixture_set: FixtureSet, pg_clean: str) -> None:
    with override_settings(TWCERT={**test_settings.TWCERT, "DATABASE": pg_clean}):
        browser = Browser(fixture_set)
        assert error_of(browser.login("citizen-wang"))["code"] == "ACCOUNT_REQUIRED"
        assert browser.login("citizen-wang", account="wang.xm", step="first-use").status_code == 200
        assert models.Binding.objects.using(pg_clean).get().account == "wang.xm"
        assert not models.Binding.objects.using("default").exists()
        assert Browser(fixture_set).login("citizen-wang").status_code == 200
        assert error_of(Browser(fixture_set).login("agency-unlisted"))["code"] == "AGENCY_CODE_UNKNOWN"
        assert (
            Browser(fixture_set).wrong_pin("agency-dgpa", CKR_PIN_INCORRECT).json()["error"]["tries_left"]
            == 2
        )
        assert models.PinFailure.objects.using(pg_clean).get().failures == 1
