"""The manual's login steps through the Flask blueprint, on memory and SQLite stores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from twcert import LoginService
from twcert.contrib.flask import twcert_auth_failed, twcert_authenticated, twcert_locked_out
from twcert.web.flow import PENDING_KEY

from .conftest import Browser, Card, Clock, make_app

MOICA_UNBLOCK = "http://moica.nat.gov.tw/html/unblockcard.htm#2"  # the manual's address
GCA_UNBLOCK = "https://gcaweb.nat.gov.tw/gcacms/04-04.html"


def _principal(browser: Browser) -> Any:
    answer = browser.client.get("/private", headers={"Accept": "application/json"})
    return answer.get_json() if answer.status_code == 200 else None


# ------------------------------------------------------------------ citizen card, first use


def test_first_use_asks_the_account_then_later_logins_need_only_the_pin(
    browser: Browser, cards: dict[str, Card]
) -> None:
    answer = browser.login(cards["citizen-wang"])
    assert answer.status_code == 401
    body = answer.get_json()
    assert body["status"] == "account_required" and body["error"]["code"] == "ACCOUNT_REQUIRED"
    assert "自訂帳號或身分證統一編號" in body["error"]["message_zh"]
    assert _principal(browser) is None

    page = browser.client.get(body["first_use_url"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="account"' in html and 'name="csrf_token"' in html and 'lang="zh-Hant"' in html

    done = browser.first_use("wang.xm")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["principal"]["account"] == "wang.xm"
    assert _principal(browser) == {"principal_id": "wang.xm", "kind": "citizen"}

    # Later: PIN only (the card's signature), no account.
    again = browser.login(cards["citizen-wang"])
    assert again.status_code == 200 and again.get_json()["status"] == "ok"


def test_first_use_by_national_id(browser: Browser, cards: dict[str, Card]) -> None:
    browser.login(cards["citizen-wang"])
    assert browser.first_use("a123456789").get_json()["principal"]["account"] == "wang.xm"


def test_account_given_with_the_login_skips_the_first_use_page(
    browser: Browser, cards: dict[str, Card]
) -> None:
    answer = browser.login(cards["citizen-wang"], account="wang.xm")
    assert answer.status_code == 200 and answer.get_json()["principal"]["principal_id"] == "wang.xm"


@pytest.mark.parametrize(
    ("card", "account", "code", "text"),
    [
        ("citizen-wang", "nobody", "ACCOUNT_NOT_FOUND", "不存在人事資料庫"),
        ("citizen-wang", "chen.ml", "HOLDER_MISMATCH", "非同一人"),
        ("citizen-lin-left-service", "lin.zh", "NOT_IN_SERVICE", "卸職"),
    ],
)
def test_first_use_refusals_of_the_manual(
    browser: Browser, cards: dict[str, Card], card: str, account: str, code: str, text: str
) -> None:
    browser.login(cards[card])
    refused = browser.first_use(account)
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == code and text in error["message_zh"] and error["message_en"]
    assert _principal(browser) is None
    # One try per signature: the pending login is spent.
    again = browser.first_use("wang.xm")
    assert again.get_json()["error"]["code"] == "FIRST_USE_EXPIRED"


def test_empty_account_keeps_the_pending_login(browser: Browser, cards: dict[str, Card]) -> None:
    browser.login(cards["citizen-wang"])
    empty = browser.client.post(
        "/twcert/first-use",
        data={"account": "  ", "csrf_token": browser.csrf},
        headers={"Accept": "text/html"},
    )
    assert empty.status_code == 401
    assert "ACCOUNT_REQUIRED" in empty.get_data(as_text=True)
    assert browser.first_use("wang.xm").status_code == 200


def test_first_use_expires(browser: Browser, cards: dict[str, Card], clock: Clock) -> None:
    browser.login(cards["citizen-wang"])
    clock.now += dt.timedelta(seconds=601)  # TWCERT_PENDING_TTL defaults to 600 s
    answer = browser.first_use("wang.xm")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "FIRST_USE_EXPIRED"


def test_first_use_may_outlast_the_challenge_within_its_own_ttl(
    browser: Browser, cards: dict[str, Card], clock: Clock
) -> None:
    browser.login(cards["citizen-wang"])
    clock.now += dt.timedelta(minutes=8)  # the challenge (5 min) is past, the pending step is not
    assert browser.first_use("wang.xm").status_code == 200


def test_first_use_page_without_a_pending_login(browser: Browser) -> None:
    page = browser.client.get("/twcert/first-use", headers={"Accept": "text/html"})
    assert page.status_code == 401
    assert "FIRST_USE_EXPIRED" in page.get_data(as_text=True)


# ------------------------------------------------------------------ agency cards


def test_agency_card_logs_in_as_its_agency(browser: Browser, cards: dict[str, Card]) -> None:
    answer = browser.login(cards["agency-dgpa"])
    principal = answer.get_json()["principal"]
    assert principal["kind"] == "agency" and principal["agency_code"] == "A09000000E"
    assert principal["agency_name"] == "行政院人事行政總處"
    assert _principal(browser) == {"principal_id": "A09000000E", "kind": "agency"}


def test_test_agency_card_is_refused(browser: Browser, cards: dict[str, Card]) -> None:
    error = browser.login(cards["agency-test"]).get_json()["error"]
    assert error["code"] == "CERT_TEST" and error["message_zh"] == "請勿使用測試之機關憑證登入。"


def test_agency_code_not_in_the_file(browser: Browser, cards: dict[str, Card]) -> None:
    error = browser.login(cards["agency-unlisted"]).get_json()["error"]
    assert error["code"] == "AGENCY_CODE_UNKNOWN" and "ZZ9990000X" in error["message_zh"]


def test_revoked_card_is_invalid(browser: Browser, cards: dict[str, Card]) -> None:
    error = browser.login(cards["citizen-revoked"]).get_json()["error"]
    assert error["code"] == "CERT_REVOKED"
    assert error["message_zh"].startswith("插入之自然人憑證或機關憑證無效")


# ------------------------------------------------------------------ PIN retries and lock


def _wrong_pin(browser: Browser, card: Card, last_error: int) -> Any:
    challenge = browser.challenge()
    return browser.post(
        "/login", {"challenge_id": challenge["challenge_id"], "response": card.wrong_pin(last_error)}
    )


def test_wrong_pins_count_down_then_lock_with_the_unblock_address(
    app: Flask, browser: Browser, cards: dict[str, Card]
) -> None:
    failed: list[str] = []
    locked: list[Any] = []

    def on_failed(sender: Flask, error: Any, **extra: Any) -> None:
        failed.append(error.code)

    def on_locked(sender: Flask, error: Any, **extra: Any) -> None:
        locked.append(error)

    with twcert_auth_failed.connected_to(on_failed, app), twcert_locked_out.connected_to(on_locked, app):
        first = _wrong_pin(browser, cards["citizen-wang"], 0x80000002).get_json()
        second = _wrong_pin(browser, cards["citizen-wang"], 0x80000001).get_json()
        third = _wrong_pin(browser, cards["citizen-wang"], 0xA4)
    assert first["error"]["code"] == "PIN_INCORRECT" and first["error"]["tries_left"] == 2
    assert "2" in first["error"]["message_zh"]
    assert second["error"]["tries_left"] == 1
    assert third.status_code == 403
    error = third.get_json()["error"]
    assert error["code"] == "PIN_LOCKED" and error["action_url"] == MOICA_UNBLOCK
    assert MOICA_UNBLOCK in error["message_zh"]
    assert failed == ["PIN_INCORRECT", "PIN_INCORRECT", "PIN_LOCKED"]
    assert len(locked) == 1
    # The PIN record is advisory: a card that signs was not locked, so a correct PIN logs in.
    assert browser.login(cards["citizen-wang"], account="wang.xm").status_code == 200


def test_locked_agency_card_points_to_gca(browser: Browser, cards: dict[str, Card]) -> None:
    error = _wrong_pin(browser, cards["agency-dgpa"], 0xA4).get_json()["error"]
    assert error["action_url"] == GCA_UNBLOCK


def test_a_right_pin_after_two_wrong_ones_logs_in(browser: Browser, cards: dict[str, Card]) -> None:
    _wrong_pin(browser, cards["agency-dgpa"], 0x80000002)
    _wrong_pin(browser, cards["agency-dgpa"], 0x80000001)
    assert browser.login(cards["agency-dgpa"]).status_code == 200


def test_locked_page_for_a_browser_shows_the_unblock_link(browser: Browser, cards: dict[str, Card]) -> None:
    challenge = browser.challenge()
    page = browser.client.post(
        "/twcert/login",
        data={
            "challenge_id": challenge["challenge_id"],
            "response": __import__("json").dumps(cards["citizen-wang"].wrong_pin(0xA4)),
            "csrf_token": browser.csrf,
        },
        headers={"Accept": "text/html"},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "PIN_LOCKED" in html and f'href="{MOICA_UNBLOCK}"' in html and 'lang="en"' in html
    assert "Traceback" not in html


# ------------------------------------------------------------------ HTML form posts, next, logout


def test_form_posts_redirect(browser: Browser, cards: dict[str, Card]) -> None:
    challenge = browser.challenge()
    import json

    first = browser.client.post(
        "/twcert/login",
        data={
            "challenge_id": challenge["challenge_id"],
            "response": json.dumps(cards["citizen-wang"].sign(challenge["tbs"])),
            "csrf_token": browser.csrf,
            "next": "/private",
        },
        headers={"Accept": "text/html"},
    )
    assert first.status_code == 303 and first.headers["Location"].endswith("/twcert/first-use")
    done = browser.client.post(
        "/twcert/first-use",
        data={"account": "wang.xm", "csrf_token": browser.csrf},
        headers={"Accept": "text/html"},
    )
    # The next page named at the login survives the first-use step.
    assert done.status_code == 303 and done.headers["Location"] == "/private"


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/private?x=1", "/private?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("private", "/"),
    ],
)
def test_only_same_site_paths_are_followed(
    browser: Browser, cards: dict[str, Card], next_url: str, expected: str
) -> None:
    answer = browser.login(cards["agency-dgpa"], next=next_url)
    assert answer.get_json()["redirect"] == expected


def test_login_redirect_setting(service: LoginService, cards: dict[str, Card]) -> None:
    app, _ = make_app(service, TWCERT_LOGIN_REDIRECT="/home")
    with app.test_client() as client:
        assert Browser(client).login(cards["agency-dgpa"]).get_json()["redirect"] == "/home"


def test_logout(browser: Browser, cards: dict[str, Card]) -> None:
    browser.login(cards["agency-dgpa"])
    browser.challenge()  # the page after login has the new CSRF token
    answer = browser.post("/logout", {})
    assert answer.get_json() == {"status": "ok", "redirect": "/twcert/login"}
    assert _principal(browser) is None


def test_login_required_pages(browser: Browser) -> None:
    page = browser.client.get("/private?tab=2", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["Location"] == "/twcert/login?next=/private?tab%3D2"
    api = browser.client.get("/private", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "LOGIN_REQUIRED"


# ------------------------------------------------------------------ signals


def test_authenticated_signal_carries_the_principal(
    app: Flask, browser: Browser, cards: dict[str, Card]
) -> None:
    seen: list[tuple[str, Any]] = []
    failed: list[str] = []

    def on_login(sender: Flask, principal: Any, user: Any, **extra: Any) -> None:
        seen.append((principal.principal_id, user))

    def on_failed(sender: Flask, error: Any, **extra: Any) -> None:
        failed.append(error.code)

    with twcert_authenticated.connected_to(on_login, app), twcert_auth_failed.connected_to(on_failed, app):
        browser.login(cards["citizen-wang"])
        browser.first_use("wang.xm")
    assert seen == [("wang.xm", None)]
    assert failed == []  # the first-use prompt is a step, not a failure


# ------------------------------------------------------------------ client-side failures


@pytest.mark.parametrize(
    ("report", "code", "status"),
    [
        ({"client_error": "agent_unreachable"}, "LOCAL_SIGNER_UNAVAILABLE", 503),
        ({"client_error": "cancelled"}, "USER_CANCELLED", 400),
        ({"client_error": "popup_blocked"}, "POPUP_BLOCKED", 400),
        ({"ret_code": 0x76000006, "last_error": 0}, "CARD_ABSENT", 400),
        ({"ret_code": 0x76100003}, "READER_ABSENT", 400),
        ({"ret_code": 0x7600000F}, "LOCAL_SIGNER_DOMAIN", 403),
        ({"ret_code": 0}, "RESPONSE_MALFORMED", 400),
        ({"client_error": "something else"}, "RESPONSE_MALFORMED", 400),
    ],
)
def test_client_errors_are_explained(
    browser: Browser, report: dict[str, Any], code: str, status: int
) -> None:
    browser.challenge()
    answer = browser.post("/client-error", report)
    assert answer.status_code == status
    error = answer.get_json()["error"]
    assert error["code"] == code and error["message_zh"] and error["message_en"] and error["action_zh"]


# ------------------------------------------------------------------ malformed requests


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"response": {"ret_code": 0}}, "CHALLENGE_UNKNOWN"),
        ({"challenge_id": "", "response": {}}, "CHALLENGE_UNKNOWN"),
        ({"challenge_id": "x"}, "RESPONSE_MALFORMED"),
        ({"challenge_id": "x", "response": 5}, "RESPONSE_MALFORMED"),
        ({"challenge_id": "x", "response": {}, "account": 7}, "ACCOUNT_NOT_FOUND"),
        ({"challenge_id": "x", "response": {}, "account": "a" * 65}, "ACCOUNT_NOT_FOUND"),
        ({"challenge_id": "no-such", "response": {"ret_code": 0}}, "CHALLENGE_UNKNOWN"),
    ],
)
def test_malformed_login_requests(browser: Browser, body: dict[str, Any], code: str) -> None:
    browser.challenge()
    answer = browser.post("/login", body)
    assert answer.get_json()["error"]["code"] == code


def test_login_body_that_is_not_an_object(browser: Browser) -> None:
    browser.challenge()
    answer = browser.client.post(
        "/twcert/login",
        data="[1, 2]",
        headers={"Content-Type": "application/json", "X-CSRFToken": browser.csrf},
    )
    assert answer.get_json()["error"]["code"] == "RESPONSE_MALFORMED"


def test_sign_response_given_as_json_text(browser: Browser, cards: dict[str, Card]) -> None:
    import json

    challenge = browser.challenge()
    response = json.dumps(cards["citizen-wang"].sign(challenge["tbs"]))
    answer = browser.post("/login", {"challenge_id": challenge["challenge_id"], "response": response})
    assert answer.get_json()["status"] == "account_required"
    assert browser.first_use("wang.xm").status_code == 200


def test_pending_key_lives_in_the_session_only_while_pending(
    browser: Browser, cards: dict[str, Card]
) -> None:
    browser.login(cards["citizen-wang"])
    with browser.client.session_transaction() as session:
        assert isinstance(session.get(PENDING_KEY), str)
    browser.first_use("wang.xm")
    with browser.client.session_transaction() as session:
        assert PENDING_KEY not in session


def test_challenge_by_post_as_the_login_page_asks_for_it(browser: Browser, cards: dict[str, Card]) -> None:
    browser.challenge()  # the page was rendered: the session has its token
    issued = browser.post("/challenge", {}).get_json()
    assert (
        issued["status"] == "ok"
        and issued["signature_type"] == "PKCS7"
        and issued["hash_algorithm"] == "SHA256"
    )
    origin, challenge_id = issued["tbs"].split(" ")[1:3]
    assert origin == "http://localhost" and challenge_id == issued["challenge_id"]
    signed = {"challenge_id": issued["challenge_id"], "response": cards["agency-dgpa"].sign(issued["tbs"])}
    assert browser.post("/login", signed).status_code == 200


def test_first_use_posted_empty_by_a_script(browser: Browser, cards: dict[str, Card]) -> None:
    browser.login(cards["citizen-wang"])
    empty = browser.first_use("")
    assert empty.status_code == 401 and empty.get_json()["error"]["code"] == "ACCOUNT_REQUIRED"
    assert browser.first_use("wang.xm").status_code == 200


def test_logout_from_a_page_redirects(browser: Browser, cards: dict[str, Card]) -> None:
    browser.login(cards["agency-dgpa"])
    browser.challenge()
    answer = browser.client.post(
        "/twcert/logout",
        data={"csrf_token": browser.csrf, "next": "/private"},
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/private"
    assert _principal(browser) is None


def test_next_with_control_characters_is_not_followed(browser: Browser, cards: dict[str, Card]) -> None:
    assert (
        browser.login(cards["agency-dgpa"], next="/private\r\nSet-Cookie: x=1").get_json()["redirect"] == "/"
    )
