"""System checks: each fires in its bad configuration and stays silent in the good one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from twcert.contrib.django.backends import TwcertBackend

from . import settings as test_settings

GOOD = test_settings.TWCERT
GPKI = test_settings.GPKI


class SiteBackend(TwcertBackend):
    """A host project's subclass (hooks overridden) counts as the twcert backend."""


def twcert_ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return sorted({m.id for m in run_checks() if m.id and m.id.startswith("twcert.")})


def test_the_good_configuration_is_silent() -> None:
    assert twcert_ids() == []


def test_bundled_anchors_alone_are_a_good_configuration() -> None:
    assert twcert_ids(TWCERT={}) == []


@pytest.mark.parametrize(
    "twcert",
    [
        {"REVOCATON_POLICY": "hard-fail"},  # a typo must not be ignored silently
        {"PIN_LIMIT": 0},
        {"REVOCATION_POLICY": "sometimes"},
        {"CHALLENGE_TTL": "5 minutes"},
        {"NONCE_STORE": None},
        {"ORIGIN": "https://jobs.example.gov.tw/login"},
        {"USERNAME_FORMATS": {"agency": "agency-{code}"}},
        {"CA_FILES": [{"path": "x.pem", "pin": "typo"}]},
        {"CLOCK": "tests.twcert.contrib.django.no_such_module.clock"},
    ],
)
def test_e001_invalid_setting(twcert: dict[str, Any]) -> None:
    assert twcert_ids(TWCERT={**GOOD, **twcert}) == ["twcert.E001"]


@pytest.mark.parametrize(
    "twcert",
    [
        {"TRUST_BUNDLED": False, "CA_FILES": []},
        {"TRUST_BUNDLED": False, "CA_FILES": [{"path": str(GPKI / "ca" / "MOICA2.pem"), "family": "MOICA"}]},
        {"CA_FILES": [{"path": str(GPKI / "ca" / "GCA.pem"), "pins": ["00" * 32]}]},
        {"CA_FILES": ["/nonexistent/GCA.pem"]},
    ],
    ids=["empty", "no-root", "pin-mismatch", "unreadable"],
)
def test_e002_no_trust_anchors(twcert: dict[str, Any]) -> None:
    ids = twcert_ids(TWCERT={**GOOD, **twcert})
    assert "twcert.E002" in ids and "twcert.E001" not in ids


def test_e003_backend_missing() -> None:
    assert twcert_ids(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]) == [
        "twcert.E003"
    ]
    subclass = f"{__name__}.SiteBackend"
    assert twcert_ids(AUTHENTICATION_BACKENDS=[subclass]) == []


def test_w007_popup_cut_off_by_coop() -> None:
    security = ["django.middleware.security.SecurityMiddleware", *test_settings.MIDDLEWARE]
    assert twcert_ids(MIDDLEWARE=security) == ["twcert.W007"]  # Django's default COOP
    assert twcert_ids(MIDDLEWARE=security, SECURE_CROSS_ORIGIN_OPENER_POLICY="same-origin-allow-popups") == []


def test_login_page_never_posts_the_pin() -> None:
    from pathlib import Path

    import twcert.contrib.django as app

    template = (Path(app.__file__).parent / "templates" / "twcert" / "login.html").read_text(encoding="utf-8")
    pin_input = next(line for line in template.splitlines() if 'id="twcert-pin"' in line)
    # A field without a name is never submitted, even if the page script fails to stop the form.
    assert "name=" not in pin_input


def test_e004_signed_cookie_sessions() -> None:
    ids = twcert_ids(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
    assert ids == ["twcert.E004"]
    assert twcert_ids(SESSION_ENGINE="django.contrib.sessions.backends.cached_db") == []


@pytest.mark.parametrize(
    "twcert",
    [
        {"DATABASE": "no-such-alias"},
        {"AGENCIES": "/nonexistent/orglist.csv"},
        {"NONCE_STORE": "tests.twcert.contrib.django.no_such_module.Store"},
        {"PERSONNEL": "tests.twcert.contrib.django.settings.NoSuchDirectory"},
    ],
)
def test_e005_misconfigured_store(twcert: dict[str, Any]) -> None:
    assert twcert_ids(TWCERT={**GOOD, **twcert}) == ["twcert.E005"]


def test_e006_revocation_off_in_production_only() -> None:
    off = {**GOOD, "REVOCATION_POLICY": "off"}
    assert twcert_ids(TWCERT=off) == ["twcert.E006"]
    assert twcert_ids(TWCERT=off, DEBUG=True) == []


def test_e007_unusable_crl_file(tmp_path: Path) -> None:
    not_a_crl = GPKI / "ca" / "GCA.pem"
    assert twcert_ids(TWCERT={**GOOD, "CRL_FILES": [str(tmp_path / "missing.crl")]}) == ["twcert.E007"]
    assert twcert_ids(TWCERT={**GOOD, "CA_CRL_FILES": [str(not_a_crl)]}) == ["twcert.E007"]


def test_w001_soft_fail_in_production_only() -> None:
    soft = {**GOOD, "REVOCATION_POLICY": "SOFT_FAIL"}
    assert twcert_ids(TWCERT=soft) == ["twcert.W001"]
    assert twcert_ids(TWCERT=soft, DEBUG=True) == []


def test_w002_test_certificates_in_production_only() -> None:
    test_cards = {**GOOD, "ALLOW_TEST": True}
    assert twcert_ids(TWCERT=test_cards) == ["twcert.W002"]
    assert twcert_ids(TWCERT=test_cards, DEBUG=True) == []


def test_w003_memory_stores_in_production_only() -> None:
    memory = {**GOOD, "NONCE_STORE": "memory", "PIN_STORE": "memory"}
    with override_settings(TWCERT=memory):
        messages = [m for m in run_checks() if m.id == "twcert.W003"]
    assert len(messages) == 2 and {"NONCE_STORE", "PIN_STORE"} == {
        key for m in messages for key in ("NONCE_STORE", "PIN_STORE") if key in m.msg
    }
    assert twcert_ids(TWCERT=memory, DEBUG=True) == []
    assert twcert_ids(TWCERT={**GOOD, "BINDING_STORE": "memory"}) == []


def test_w004_unpinned_ca_file() -> None:
    unpinned = [{k: v for k, v in entry.items() if k != "pins"} for entry in test_settings.CA_FILES]
    with override_settings(TWCERT={**GOOD, "CA_FILES": unpinned}):
        messages = [m for m in run_checks() if m.id and m.id.startswith("twcert.")]
    assert {m.id for m in messages} == {"twcert.W004"} and len(messages) == len(unpinned)


def test_w005_w006_a_card_kind_without_its_directory() -> None:
    assert twcert_ids(TWCERT={**GOOD, "PERSONNEL": None}) == ["twcert.W005"]
    assert twcert_ids(TWCERT={**GOOD, "BINDING_STORE": None}) == ["twcert.W005"]
    assert twcert_ids(TWCERT={**GOOD, "PERSONNEL": None, "ACCEPTED_FAMILIES": ["GCA"]}) == []
    assert twcert_ids(TWCERT={**GOOD, "AGENCIES": None}) == ["twcert.W006"]
    assert twcert_ids(TWCERT={**GOOD, "AGENCIES": None, "ACCEPTED_FAMILIES": ["MOICA"]}) == []


def test_manage_py_check_fails_on_a_twcert_error() -> None:
    only_model_backend = override_settings(
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]
    )
    with only_model_backend, pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert "twcert.E003" in str(info.value)
    call_command("check")  # and passes again with the good settings
