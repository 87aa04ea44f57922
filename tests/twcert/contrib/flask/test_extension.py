"""Extension rules: init_app, app.extensions, configuration keys, factories, several apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from twcert import LoginService
from twcert.contrib import flask as twcert_flask
from twcert.contrib.flask import (
    MemoryPendingStore,
    SqlPendingStore,
    TWCert,
    get_state,
)
from twcert.contrib.flask.settings import DEFAULTS
from twcert.errors import ConfigurationError, catalogue
from twcert.testing.fixtures import FixtureSet

from .conftest import Browser, Card, Clock, build_service, make_app


def _app(**config: Any) -> Flask:
    app = Flask("ext")
    app.config.update(SECRET_KEY="k" * 32, **config)
    return app


def test_state_lives_in_app_extensions_and_the_blueprint_is_registered(service: LoginService) -> None:
    app = _app()
    ext = TWCert(app, login_service=service)
    state = app.extensions["twcert"]
    assert state is get_state(app) and state.extension is ext and state.service is service
    assert not hasattr(ext, "app")
    assert {"twcert.login_page", "twcert.challenge", "twcert.login", "twcert.first_use"} <= set(
        app.view_functions
    )


def test_init_twice_is_refused(service: LoginService) -> None:
    app = _app()
    ext = TWCert(app, login_service=service)
    with pytest.raises(RuntimeError, match="already initialised"):
        ext.init_app(app)


def test_forgotten_init_app_is_named(service: LoginService) -> None:
    app = _app()
    with app.app_context(), pytest.raises(RuntimeError, match="did you forget"):
        get_state()


def test_one_extension_object_serves_an_app_factory_and_several_apps(
    fixture_set: FixtureSet, tmp_path: Path, cards: dict[str, Card]
) -> None:
    clock = Clock(fixture_set.now)
    ext = TWCert(login_service=lambda app: build_service(fixture_set, app.config["BACKEND"], tmp_path, clock))
    apps = []
    for backend in ("memory", "sqlite"):
        app = _app(BACKEND=backend, TWCERT_URL_PREFIX=f"/auth-{backend}")
        ext.init_app(app)
        apps.append(app)
    first, second = (get_state(app) for app in apps)
    assert first.service is not second.service
    assert isinstance(first.pending, MemoryPendingStore) and isinstance(second.pending, SqlPendingStore)
    for app, backend in zip(apps, ("memory", "sqlite"), strict=True):
        browser = Browser(app.test_client(), prefix=f"/auth-{backend}")
        assert browser.login(cards["agency-dgpa"]).status_code == 200
        assert app.test_client().get("/twcert/challenge").status_code == 404


def test_login_service_from_config(service: LoginService) -> None:
    app = _app(TWCERT_LOGIN_SERVICE=service)
    TWCert(app)
    assert get_state(app).service is service


def test_init_app_argument_wins_over_the_constructor(service: LoginService, fixture_set: FixtureSet) -> None:
    other = build_service(fixture_set, "memory", Path("."), Clock(fixture_set.now))
    ext = TWCert(login_service=other)
    app = _app()
    ext.init_app(app, login_service=service)
    assert get_state(app).service is service


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({}, "no login service"),
        ({"TWCERT_LOGIN_SERVICE": "not a service"}, "not a LoginService"),
        ({"TWCERT_LOGIN_SERVICE": lambda app: 42}, "returned int"),
        ({"TWCERT_ORIGIN": "jobs.example.gov.tw"}, "TWCERT_ORIGIN"),
        ({"TWCERT_ORIGIN": "https://jobs.example.gov.tw/path"}, "TWCERT_ORIGIN"),
        ({"TWCERT_URL_PREFIX": "twcert"}, "TWCERT_URL_PREFIX"),
        ({"TWCERT_PENDING_TTL": "soon"}, "TWCERT_PENDING_TTL"),
        ({"TWCERT_PENDING_TTL": 0}, "positive"),
        ({"TWCERT_USER_LOADER": "loader"}, "TWCERT_USER_LOADER"),
        ({"TWCERT_PENDING_STORE": 3.5}, "TWCERT_PENDING_STORE"),
    ],
)
def test_bad_configuration_is_refused_at_set_up(
    service: LoginService, config: dict[str, Any], match: str
) -> None:
    if "TWCERT_LOGIN_SERVICE" not in config and config:
        config = {"TWCERT_LOGIN_SERVICE": service, **config}
    with pytest.raises(ConfigurationError, match=match):
        TWCert(_app(**config))


def test_pending_store_from_a_url(service: LoginService, tmp_path: Path) -> None:
    app = _app(TWCERT_PENDING_STORE=f"sqlite:///{tmp_path / 'pending.db'}")
    TWCert(app, login_service=service)
    assert isinstance(get_state(app).pending, SqlPendingStore)


def test_every_config_key_is_documented_in_the_settings_module() -> None:
    from twcert.contrib.flask import settings

    assert settings.__doc__ is not None
    for key in DEFAULTS:
        assert key.startswith("TWCERT_") and f"``{key}``" in settings.__doc__


def test_template_helpers(app: Flask, browser: Browser, cards: dict[str, Card]) -> None:
    template = (
        "{{ twcert_csrf_field() }}|{{ twcert_principal().principal_id if twcert_principal() else '-' }}"
    )
    with app.test_request_context():
        from flask import session

        html = render_template_string(template)
        assert html.startswith('<input type="hidden" name="csrf_token" value="')
        assert session["_twcert_csrf"] in html and html.endswith("|-")


def test_url_prefix_setting(service: LoginService, cards: dict[str, Card]) -> None:
    app, _ = make_app(service, TWCERT_URL_PREFIX="/auth/card")
    browser = Browser(app.test_client(), prefix="/auth/card")
    assert browser.login(cards["agency-dgpa"]).status_code == 200
    assert app.test_client().get("/auth/card/assets/twcert-login.js").status_code == 200


def test_public_names_are_exact() -> None:
    public = {name for name in vars(twcert_flask) if not name.startswith("_")} - {"annotations"}
    modules = {
        "errors",
        "extension",
        "principal",
        "responses",
        "security",
        "settings",
        "signals",
        "state",
        "views",
    }
    assert set(twcert_flask.__all__) == public - modules


def test_adapter_errors_join_the_catalogue() -> None:
    codes = catalogue()
    for code in ("REQUEST_FORGERY", "FIRST_USE_EXPIRED", "LOGIN_REQUIRED", "POPUP_BLOCKED", "INTERNAL_ERROR"):
        cls = codes[code]
        assert cls.message_zh and cls.message_en and cls.action_zh and cls.action_en
