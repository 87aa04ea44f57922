"""The TWCERT setting: defaults, parsing, store specs, and the service rebuilt on override_settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from sqlalchemy import create_engine, text

from twcert.certificate import CAFamily
from twcert.contrib.django import conf, models, service
from twcert.revocation import RevocationPolicy, RevocationSources
from twcert.testing.fixtures import FixtureSet

from . import settings as test_settings
from .cards import Browser

GOOD = test_settings.TWCERT


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_defaults_are_the_safe_ones() -> None:
    parsed = conf.TwcertSettings.from_dict({})
    assert parsed.revocation_policy is RevocationPolicy.HARD_FAIL
    assert parsed.revocation_sources is RevocationSources.CRL_THEN_OCSP
    assert parsed.accepted_families == {CAFamily.MOICA, CAFamily.GCA}
    assert parsed.allow_test is False and parsed.trust_bundled is True
    assert parsed.pin_limit == 3 and parsed.challenge_ttl == dt.timedelta(minutes=5)
    assert {s.kind for s in (parsed.nonce_store, parsed.pin_store, parsed.binding_store)} == {"django"}
    assert parsed.personnel.kind == parsed.agencies.kind == "django"
    assert parsed.signature_type == "PKCS7" and parsed.binding_key == "subject_serial"
    assert parsed.username_formats == {"citizen": "{account}", "agency": "agency-{agency_code}"}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("django", "django"),
        ("memory", "memory"),
        ("redis://:secret@127.0.0.1:6379/15", "redis"),
        ("rediss://cache.example.gov.tw/0", "redis"),
        ("postgresql+psycopg://twcert:secret@db.example.gov.tw/twcert", "sql"),
        ("sqlite:////var/lib/twcert/stores.db", "sql"),
        ("twcert.stores.memory.MemoryNonceStore", "object"),
    ],
)
def test_store_specs(value: str, kind: str) -> None:
    spec = conf.TwcertSettings.from_dict({"NONCE_STORE": value}).nonce_store
    assert spec.kind == kind
    assert "secret" not in spec.describe()


def test_agencies_accept_an_orglist_path_and_nothing_else_accepts_one() -> None:
    assert conf.TwcertSettings.from_dict({"AGENCIES": "/data/orglist.csv"}).agencies.kind == "orglist"
    assert conf.TwcertSettings.from_dict({"AGENCIES": Path("/data/orglist.csv")}).agencies.kind == "orglist"
    with pytest.raises(ImproperlyConfigured, match="PERSONNEL"):
        conf.TwcertSettings.from_dict({"PERSONNEL": "/data/orglist.csv"})
    with pytest.raises(ImproperlyConfigured, match="BINDING_STORE"):
        conf.TwcertSettings.from_dict({"BINDING_STORE": "redis://127.0.0.1/0"})


def test_values_are_normalised() -> None:
    parsed = conf.TwcertSettings.from_dict(
        {
            "REVOCATION_POLICY": "SOFT_FAIL",
            "REVOCATION_SOURCES": "ocsp,crl",
            "ACCEPTED_FAMILIES": ["gca"],
            "CHALLENGE_TTL": dt.timedelta(seconds=90),
            "CA_FILES": [{"path": Path("/ca/GCA.pem"), "pins": "AB:CD", "family": "gca", "generation": "G2"}],
            "CRL_FILES": ["/crl/a.crl", {"path": "/crl/b.crl", "url": "http://x/b.crl"}],
        }
    )
    assert parsed.revocation_policy is RevocationPolicy.SOFT_FAIL
    assert parsed.revocation_sources is RevocationSources.OCSP_THEN_CRL
    assert parsed.accepted_families == {CAFamily.GCA} and parsed.challenge_ttl.total_seconds() == 90
    assert parsed.ca_files == (conf.CAFileSpec("/ca/GCA.pem", ("AB:CD",), CAFamily.GCA, "G2"),)
    assert parsed.crl_files == (
        conf.CRLFileSpec("/crl/a.crl"),
        conf.CRLFileSpec("/crl/b.crl", "http://x/b.crl"),
    )


def test_the_service_is_rebuilt_when_the_setting_changes(fixture_set: FixtureSet) -> None:
    before = service.get_service()
    assert service.get_service() is before
    with override_settings(TWCERT={**GOOD, "CHALLENGE_TTL": 60}):
        inside = service.get_service()
        assert inside is not before and inside.policy.challenge_ttl == dt.timedelta(seconds=60)
        issued = Browser(fixture_set).challenge()
        assert dt.datetime.fromisoformat(issued["expires_at"]) - test_settings.FIXTURE_NOW == dt.timedelta(
            seconds=60
        )
    assert service.get_service() is not inside
    assert service.get_service().policy.challenge_ttl == dt.timedelta(minutes=5)


def test_a_bad_pin_stops_the_service_from_being_built() -> None:
    entry = {**test_settings.CA_FILES[0], "pins": ["ab" * 32]}
    bad_pin = override_settings(TWCERT={**GOOD, "CA_FILES": [entry, *test_settings.CA_FILES[1:]]})
    with bad_pin, pytest.raises(ImproperlyConfigured, match="TRUST_PIN_MISMATCH"):
        service.get_service()


def test_a_store_object_that_is_not_a_store_is_refused() -> None:
    not_a_nonce_store = override_settings(
        TWCERT={**GOOD, "NONCE_STORE": "twcert.stores.memory.MemoryPinCounterStore"}
    )
    with not_a_nonce_store, pytest.raises(ImproperlyConfigured, match="NonceStore"):
        service.get_service()


def test_dotted_path_stores_and_audit_sink(fixture_set: FixtureSet) -> None:
    twcert = {
        **GOOD,
        "NONCE_STORE": "twcert.stores.memory.MemoryNonceStore",
        "AUDIT_SINK": "twcert.audit.MemoryAuditSink",
    }
    with override_settings(TWCERT=twcert):
        assert Browser(fixture_set).login("agency-dgpa").status_code == 200
        assert not models.Challenge.objects.exists()
        events = service.get_service().audit.inner.events  # type: ignore[attr-defined]
        assert [(e.outcome, e.agency_code) for e in events] == [("success", "A09000000E")]


def test_sqlalchemy_url_stores(fixture_set: FixtureSet, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stores.db'}"
    twcert = {**GOOD, "NONCE_STORE": url, "PIN_STORE": url, "BINDING_STORE": url}
    with override_settings(TWCERT=twcert):
        browser = Browser(fixture_set)
        assert browser.login("citizen-wang", account="wang.xm", step="first-use").status_code == 200
        assert not models.Binding.objects.exists() and not models.Challenge.objects.exists()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT account FROM twcert_bindings")).scalars().all() == ["wang.xm"]
        assert connection.execute(text("SELECT count(*) FROM twcert_challenges")).scalar() == 1
    engine.dispose()


def test_agency_codes_from_an_orglist_file(fixture_set: FixtureSet, orglist_file: Path) -> None:
    models.Agency.objects.all().delete()  # the file, not the table, must answer
    with override_settings(TWCERT={**GOOD, "AGENCIES": str(orglist_file)}):
        response = Browser(fixture_set).login("agency-dgpa")
        assert (
            response.status_code == 200
            and response.json()["principal"]["agency_name"] == "行政院人事行政總處"
        )
        assert error_code(Browser(fixture_set).login("agency-unlisted")) == "AGENCY_CODE_UNKNOWN"


def test_crl_files_feed_hard_fail(fixture_set: FixtureSet) -> None:
    without_moica2 = [c for c in test_settings.CRL_FILES if "MOICA2" not in str(c["path"])]
    with override_settings(TWCERT={**GOOD, "CRL_FILES": without_moica2}):
        response = Browser(fixture_set).login("citizen-wang", account="wang.xm")
        assert response.status_code == 503 and error_code(response) == "REVOCATION_UNKNOWN"
    soft = {**GOOD, "CRL_FILES": without_moica2, "REVOCATION_POLICY": "soft-fail"}
    with override_settings(TWCERT=soft):
        assert Browser(fixture_set).login("citizen-wang", account="wang.xm").status_code == 200


def test_allow_test_lets_a_test_card_past_the_test_check(fixture_set: FixtureSet) -> None:
    with override_settings(TWCERT={**GOOD, "ALLOW_TEST": True}):
        # Past CERT_TEST, the test agency's code is in no agency-code file.
        assert error_code(Browser(fixture_set).login("agency-test")) == "AGENCY_CODE_UNKNOWN"


def test_username_formats_and_create_unknown_user(fixture_set: FixtureSet) -> None:
    with override_settings(TWCERT={**GOOD, "USERNAME_FORMATS": {"agency": "gca-{agency_code}"}}):
        assert Browser(fixture_set).login("agency-dgpa").status_code == 200
        assert get_user_model().objects.filter(username="gca-A09000000E").exists()
    with override_settings(TWCERT={**GOOD, "CREATE_UNKNOWN_USER": False}):
        refused = Browser(fixture_set).login("agency-tainan")
        assert refused.status_code == 403 and error_code(refused) == "LOGIN_REFUSED"
        assert refused.json()["error"]["message_zh"] == "登入失敗。"
        assert Browser(fixture_set).login("agency-dgpa").status_code == 403  # "gca-…" exists, "agency-…" not
        get_user_model().objects.create(username="agency-A09000000E")
        assert Browser(fixture_set).login("agency-dgpa").status_code == 200


def test_a_configured_origin_is_what_challenges_name(fixture_set: FixtureSet) -> None:
    with override_settings(TWCERT={**GOOD, "ORIGIN": "https://jobs.example.gov.tw"}):
        # Behind a proxy: the browser's Origin is the public site, the Host header is not.
        browser = Browser(fixture_set, host="other.example.gov.tw", origin="https://jobs.example.gov.tw")
        issued = browser.challenge()
        assert issued["tbs"].split(" ")[1] == "https://jobs.example.gov.tw"
        assert browser.login("agency-dgpa").status_code == 200


def test_crl_cache_key_lets_a_new_worker_open_the_shared_indexes_by_their_hmac(tmp_path: Path) -> None:
    # Issue 16: a restarted worker must take the shared index as it is (HMAC with the deployment
    # key), not re-verify every CRL; a worker with another key must not trust the files.
    shared = tmp_path / "crl"
    keyed = {**GOOD, "CRL_CACHE_DIR": str(shared), "CRL_CACHE_KEY": " s3cret\n"}
    first = service.build_validator(conf.TwcertSettings.from_dict(keyed))  # preloads and persists
    urls = [spec["url"] for spec in test_settings.CRL_FILES]
    assert all(first.checker.crls.stored(url) is not None for url in urls)

    restarted = service.build_validator(conf.TwcertSettings.from_dict({**keyed, "CRL_FILES": []}))
    assert all(restarted.checker.crls.stored(url) is not None for url in urls)

    other_key = {**keyed, "CRL_FILES": [], "CRL_CACHE_KEY": "another"}
    stranger = service.build_validator(conf.TwcertSettings.from_dict(other_key))
    assert all(stranger.checker.crls.stored(url) is None for url in urls)


def test_crl_cache_key_must_be_text() -> None:
    with pytest.raises(ImproperlyConfigured, match="CRL_CACHE_KEY"):
        conf.TwcertSettings.from_dict({**GOOD, "CRL_CACHE_KEY": b"bytes"})
