"""CSRF refusal, replay refusal, session and origin binding, rotation, no tracebacks or PII leaks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from twcert import LoginService
from twcert.web.flow import PENDING_KEY

from .conftest import Browser, Card, make_app


def _signed_login_body(browser: Browser, card: Card) -> dict[str, Any]:
    challenge = browser.challenge()
    return {"challenge_id": challenge["challenge_id"], "response": card.sign(challenge["tbs"])}


# ------------------------------------------------------------------ CSRF


@pytest.mark.parametrize("path", ["/login", "/first-use", "/client-error", "/logout", "/challenge"])
def test_every_post_needs_the_session_token(browser: Browser, path: str) -> None:
    browser.challenge()
    for token in (None, "", "not-the-token"):
        headers = {} if token is None else {"X-CSRFToken": token}
        answer = browser.client.post(f"/twcert{path}", json={}, headers=headers)
        assert answer.status_code == 403, (path, token)
        assert answer.get_json()["error"]["code"] == "REQUEST_FORGERY"


def test_a_post_from_another_site_is_refused_even_with_the_token(
    browser: Browser, cards: dict[str, Card]
) -> None:
    body = _signed_login_body(browser, cards["agency-dgpa"])
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = browser.post("/login", body, **headers)
        assert answer.get_json()["error"]["code"] == "REQUEST_FORGERY", headers
    # The same request from this site's own page goes through (the challenge was not spent).
    ok = browser.post("/login", body, Origin="http://localhost", **{"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200


def test_cross_site_get_of_a_challenge_is_refused(browser: Browser) -> None:
    answer = browser.client.get("/twcert/challenge", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


def test_form_field_token_is_accepted(browser: Browser) -> None:
    browser.challenge()
    answer = browser.client.post(
        "/twcert/client-error",
        data={"client_error": "cancelled", "csrf_token": browser.csrf},
        headers={"Accept": "application/json"},
    )
    assert answer.get_json()["error"]["code"] == "USER_CANCELLED"


def test_tokens_and_session_id_change_after_login(browser: Browser, cards: dict[str, Card]) -> None:
    browser.challenge()
    with browser.client.session_transaction() as session:
        before = dict(session)
    old_csrf = browser.csrf
    browser.login(cards["agency-dgpa"])
    with browser.client.session_transaction() as session:
        assert session["_twcert_sid"] != before["_twcert_sid"]
        assert session["_twcert_csrf"] != before["_twcert_csrf"]
    refused = browser.client.post("/twcert/logout", json={}, headers={"X-CSRFToken": old_csrf})
    assert refused.get_json()["error"]["code"] == "REQUEST_FORGERY"


# ------------------------------------------------------------------ replay and binding


def test_a_signed_answer_is_accepted_once(browser: Browser, cards: dict[str, Card]) -> None:
    body = _signed_login_body(browser, cards["agency-dgpa"])
    assert browser.post("/login", body).status_code == 200
    browser.challenge()  # the new CSRF token after the login
    replay = browser.post("/login", body)
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "CHALLENGE_REPLAYED"


def test_a_refused_attempt_spends_its_challenge_too(browser: Browser, cards: dict[str, Card]) -> None:
    challenge = browser.challenge()
    wrong = {
        "challenge_id": challenge["challenge_id"],
        "response": cards["agency-dgpa"].wrong_pin(0x80000002),
    }
    assert browser.post("/login", wrong).get_json()["error"]["code"] == "PIN_INCORRECT"
    right = {
        "challenge_id": challenge["challenge_id"],
        "response": cards["agency-dgpa"].sign(challenge["tbs"]),
    }
    assert browser.post("/login", right).get_json()["error"]["code"] == "CHALLENGE_REPLAYED"


def test_a_challenge_belongs_to_its_browser_session(app: Flask, cards: dict[str, Card]) -> None:
    # Two browsers (no ``with``: two clients must not keep request contexts interleaved).
    alice, mallory = Browser(app.test_client()), Browser(app.test_client())
    body = _signed_login_body(alice, cards["agency-dgpa"])
    mallory.challenge()
    stolen = mallory.post("/login", body)
    assert stolen.get_json()["error"]["code"] == "CHALLENGE_MISMATCH"


def test_a_challenge_belongs_to_its_site(app: Flask, cards: dict[str, Card]) -> None:
    with app.test_client() as client:
        browser = Browser(client)
        body = _signed_login_body(browser, cards["agency-dgpa"])  # issued for http://localhost
        # Same browser session (cookies ignore ports), another site: http://localhost:8080.
        answer = client.post(
            "/twcert/login",
            json=body,
            headers={"X-CSRFToken": browser.csrf},
            base_url="http://localhost:8080",
        )
        assert answer.get_json()["error"]["code"] == "CHALLENGE_MISMATCH"


def test_configured_origin_is_what_challenges_and_origin_checks_use(
    service: LoginService, cards: dict[str, Card]
) -> None:
    app, _ = make_app(service, TWCERT_ORIGIN="https://jobs.example.gov.tw/")
    with app.test_client() as client:
        browser = Browser(client)
        challenge = browser.challenge()
        assert challenge["tbs"].split(" ")[1] == "https://jobs.example.gov.tw"
        body = {
            "challenge_id": challenge["challenge_id"],
            "response": cards["agency-dgpa"].sign(challenge["tbs"]),
        }
        assert browser.post("/login", body, Origin="http://localhost").status_code == 403
        assert browser.post("/login", body, Origin="https://jobs.example.gov.tw").status_code == 200


def test_a_pending_first_login_cannot_move_to_another_session(app: Flask, cards: dict[str, Card]) -> None:
    alice, mallory = Browser(app.test_client()), Browser(app.test_client())
    alice.login(cards["citizen-wang"])
    with alice.client.session_transaction() as session:
        key = session[PENDING_KEY]
    mallory.challenge()
    with mallory.client.session_transaction() as session:
        session[PENDING_KEY] = key
    stolen = mallory.first_use("wang.xm")
    assert stolen.get_json()["error"]["code"] == "CHALLENGE_MISMATCH"
    # And it was single-use: Alice has to sign again.
    assert alice.first_use("wang.xm").get_json()["error"]["code"] == "FIRST_USE_EXPIRED"


# ------------------------------------------------------------------ failures never leak


class _ExplodingNonces:
    def put(self, challenge: Any) -> None:
        raise RuntimeError("database said: row for A123456789 王小明")

    def consume(self, challenge_id: str, now: Any) -> Any:
        raise RuntimeError("database said: row for A123456789 王小明")

    def purge(self, now: Any) -> int:
        return 0


def test_unexpected_failures_show_a_catalogued_page_and_log_no_personal_data(
    service: LoginService, caplog: pytest.LogCaptureFixture
) -> None:
    service.nonces = _ExplodingNonces()
    app, _ = make_app(service, TWCERT_PENDING_STORE="memory")
    with app.test_client() as client, caplog.at_level(logging.ERROR, logger="twcert"):
        answer = client.get("/twcert/challenge", headers={"Accept": "text/html"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 500 and "INTERNAL_ERROR" in text
    assert "A123456789" not in text and "Traceback" not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "A123456789" not in logged and "王小明" not in logged


def test_http_errors_pass_through(browser: Browser) -> None:
    assert browser.client.put("/twcert/login").status_code == 405


def test_no_secret_key_is_a_configuration_error(service: LoginService) -> None:
    app = Flask("no_secret")
    from twcert.contrib.flask import TWCert

    TWCert(app, login_service=service)
    answer = app.test_client().get("/twcert/challenge", headers={"Accept": "application/json"})
    assert answer.status_code == 500 and answer.get_json()["error"]["code"] == "CONFIGURATION"


def test_login_page_is_never_framed_and_never_cached(browser: Browser) -> None:
    page = browser.client.get("/twcert/login?next=/private")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    # The PIN field has no name: a form submission can never carry it to the server.
    pin_input = html[html.index('id="twcert-pin"') - 30 : html.index('id="twcert-pin"') + 120]
    assert "name=" not in pin_input
    assert 'data-next="/private"' in html and 'data-agent-url="http://localhost:61161"' in html
