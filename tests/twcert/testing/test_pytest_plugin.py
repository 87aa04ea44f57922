"""The opt-in plugin's fixtures, used by a host project's own pytest run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from twcert.contrib.flask.security import CSRF_HEADER as FLASK_CSRF_HEADER
from twcert.testing.clients import CSRF_HEADER

from .runner import run_pytest

HOST_TESTS = """
from cryptography import x509

from twcert import CAFamily
from twcert.errors import CertificateRevokedError
import pytest


def test_validator(twcert_validator, twcert_citizen_card, twcert_agency_card):
    assert twcert_validator.validate(twcert_citizen_card.sign_certificate.der).family is CAFamily.MOICA
    assert twcert_validator.validate(twcert_agency_card.sign_certificate.der).family is CAFamily.GCA


def test_revoked_card_made_in_the_test(twcert_pki):
    card = twcert_pki.citizen_card("廢止者", listed=False)
    twcert_pki.revoke(card)
    with pytest.raises(CertificateRevokedError):
        twcert_pki.validator().validate(card.sign_certificate.der)


def test_login_service_fresh_per_test(twcert_login_service, twcert_citizen_card):
    c = twcert_login_service.issue_challenge("s", "https://app.test")
    p = twcert_login_service.complete(
        c.id, twcert_citizen_card.sign(c.tbs), "wang.xm", session_id="s", origin="https://app.test"
    )
    assert (p.account, p.agency_code) == ("wang.xm", "A09000000E")


def test_files(twcert_files):
    for path, url in twcert_files.crl_files:
        assert x509.load_der_x509_crl(path.read_bytes()).next_update_utc is not None
    assert len(twcert_files.arl_files) == 3
"""


def test_csrf_header_is_the_flask_adapters() -> None:
    assert CSRF_HEADER == FLASK_CSRF_HEADER


@pytest.mark.slow
def test_fixtures_in_a_host_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["twcert.testing.pytest_plugin"]\n', encoding="utf-8"
    )
    (tmp_path / "test_host.py").write_text(HOST_TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n", encoding="utf-8")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-2000:]
