"""Optional Flask-Login integration: the principal → user loader, login_user(fresh=True), logout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_login import LoginManager, current_user, login_fresh  # type: ignore[import-untyped]

from twcert import LoginService, Principal
from twcert.contrib.flask import TWCert, twcert_authenticated

from .conftest import Browser, Card


@dataclass
class User:
    id: str
    active: bool = True

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self.id


USERS = {
    "wang.xm": User("wang.xm"),
    "A09000000E": User("A09000000E"),
    "chen.ml": User("chen.ml", active=False),
}


def _app(service: LoginService, *, with_manager: bool = True, **config: Any) -> tuple[Flask, TWCert]:
    app = Flask("flask_login_tests")
    app.config.update(SECRET_KEY="s" * 32, **config)
    if with_manager:
        manager = LoginManager(app)
        manager.user_loader(USERS.get)
    ext = TWCert(app, login_service=service)

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {
            "user": current_user.get_id() if current_user.is_authenticated else None,
            "fresh": login_fresh(),
        }

    return app, ext


def test_login_user_is_called_fresh_with_the_loaded_user(
    service: LoginService, cards: dict[str, Card]
) -> None:
    app, ext = _app(service)
    loaded: list[Principal] = []

    @ext.user_loader
    def load(principal: Principal) -> User | None:
        loaded.append(principal)
        return USERS.get(principal.principal_id)

    seen: list[Any] = []

    def on_login(sender: Flask, principal: Any, user: Any, **extra: Any) -> None:
        seen.append(user)

    browser = Browser(app.test_client())
    with twcert_authenticated.connected_to(on_login, app):
        assert browser.login(cards["citizen-wang"], account="wang.xm").status_code == 200
    assert browser.client.get("/me").get_json() == {"user": "wang.xm", "fresh": True}
    assert [p.principal_id for p in loaded] == ["wang.xm"] and isinstance(loaded[0], Principal)
    assert seen == [USERS["wang.xm"]]

    browser.challenge()
    browser.post("/logout", {})
    assert browser.client.get("/me").get_json()["user"] is None


def test_no_user_for_the_principal_refuses_the_login(service: LoginService, cards: dict[str, Card]) -> None:
    app, ext = _app(service)
    ext.user_loader(lambda principal: None)
    browser = Browser(app.test_client())
    answer = browser.login(cards["agency-dgpa"])
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "LOGIN_REFUSED"
    assert browser.client.get("/me").get_json()["user"] is None
    with browser.client.session_transaction() as session:
        assert "twcert_principal" not in session


def test_inactive_user_is_refused(service: LoginService, cards: dict[str, Card]) -> None:
    app, ext = _app(service)
    ext.user_loader(lambda principal: USERS.get(principal.principal_id))
    answer = Browser(app.test_client()).login(cards["citizen-chen"], account="chen.ml")
    assert answer.get_json()["error"]["code"] == "LOGIN_REFUSED"


def test_config_loader_overrides_the_decorated_one(service: LoginService, cards: dict[str, Card]) -> None:
    app, ext = _app(service, TWCERT_USER_LOADER=lambda principal: USERS["A09000000E"])
    ext.user_loader(lambda principal: None)
    browser = Browser(app.test_client())
    assert browser.login(cards["agency-dgpa"]).status_code == 200
    assert browser.client.get("/me").get_json()["user"] == "A09000000E"


def test_loader_without_login_manager_is_a_configuration_error(
    service: LoginService, cards: dict[str, Card]
) -> None:
    app, ext = _app(service, with_manager=False)
    ext.user_loader(lambda principal: USERS["A09000000E"])
    answer = Browser(app.test_client()).login(cards["agency-dgpa"])
    assert answer.status_code == 500 and answer.get_json()["error"]["code"] == "CONFIGURATION"


def test_without_a_loader_flask_login_is_left_alone(service: LoginService, cards: dict[str, Card]) -> None:
    app, _ = _app(service)
    browser = Browser(app.test_client())
    assert browser.login(cards["agency-dgpa"]).status_code == 200
    assert browser.client.get("/me").get_json()["user"] is None
    with browser.client.session_transaction() as session:
        assert session["twcert_principal"]["principal_id"] == "A09000000E"


def test_first_use_step_logs_the_user_in_too(service: LoginService, cards: dict[str, Card]) -> None:
    app, ext = _app(service)
    ext.user_loader(lambda principal: USERS.get(principal.principal_id))
    browser = Browser(app.test_client())
    browser.login(cards["citizen-wang"])
    assert browser.first_use("wang.xm").status_code == 200
    assert browser.client.get("/me").get_json() == {"user": "wang.xm", "fresh": True}
