"""pytest fixtures for host apps, opted into from the app's top-level ``conftest.py``::

    pytest_plugins = ["twcert.testing.pytest_plugin"]

Nothing registers it automatically. Fixtures (all named ``twcert_*``):

* ``twcert_pki`` (session) — a :class:`~twcert.testing.FreshPKI` on the real clock;
* ``twcert_citizen_card`` / ``twcert_agency_card`` (session) — a MOICA card of 王小明
  (account ``wang.xm``, in the personnel directory) and a GCA card of agency ``A09000000E``;
* ``twcert_validator`` — a Validator with every CRL preloaded, no network;
* ``twcert_login_service`` — a LoginService over memory stores (for Flask's ``TWCert``);
* ``twcert_files`` (session) — the PKI written to disk (:class:`~twcert.testing.PKIFiles`);
* ``twcert_django_settings`` — ``settings.TWCERT`` set to trust the PKI for the test
  (memory stores), the value given back;
* ``twcert_flask_login`` / ``twcert_django_login`` — :func:`~twcert.testing.flask_card_login`
  and :func:`~twcert.testing.django_card_login`.

Cards made in a test (``twcert_pki.citizen_card(...)``) are known to services and settings
built after them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..login import LoginService
from ..validation import Validator
from .clients import django_card_login, flask_card_login
from .kit import FakeCard, FreshPKI, PKIFiles

__all__ = [
    "twcert_agency_card",
    "twcert_citizen_card",
    "twcert_django_login",
    "twcert_django_settings",
    "twcert_files",
    "twcert_flask_login",
    "twcert_login_service",
    "twcert_pki",
    "twcert_validator",
]


@pytest.fixture(scope="session")
def twcert_pki() -> FreshPKI:
    """A fake GRCA/MOICA/GCA PKI, built once per session (a few seconds of key generation)."""
    return FreshPKI()


@pytest.fixture(scope="session")
def twcert_citizen_card(twcert_pki: FreshPKI) -> FakeCard:
    return twcert_pki.citizen_card("王小明", "A123456789", account="wang.xm", agency_code="A09000000E")


@pytest.fixture(scope="session")
def twcert_agency_card(twcert_pki: FreshPKI) -> FakeCard:
    return twcert_pki.agency_card("A09000000E", "行政院人事行政總處")


@pytest.fixture
def twcert_validator(
    twcert_pki: FreshPKI, twcert_citizen_card: FakeCard, twcert_agency_card: FakeCard
) -> Validator:
    return twcert_pki.validator()


@pytest.fixture
def twcert_login_service(
    twcert_pki: FreshPKI, twcert_citizen_card: FakeCard, twcert_agency_card: FakeCard
) -> LoginService:
    return twcert_pki.login_service()


@pytest.fixture(scope="session")
def twcert_files(twcert_pki: FreshPKI, tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return twcert_pki.write(tmp_path_factory.mktemp("twcert-pki"))


@pytest.fixture
def twcert_django_settings(
    twcert_pki: FreshPKI,
    twcert_files: PKIFiles,
    twcert_citizen_card: FakeCard,
    twcert_agency_card: FakeCard,
) -> Iterator[dict[str, Any]]:
    """Trust the fake PKI in Django for one test: CA and CRL files, memory stores, the cards'
    holders and agencies as directories. Other ``TWCERT`` keys of the project stay."""
    from django.conf import settings
    from django.test import override_settings

    from ..agency import MemoryAgencyDirectory
    from ..personnel import MemoryPersonnelDirectory

    merged = {
        **getattr(settings, "TWCERT", {}),
        **twcert_files.django_settings(
            NONCE_STORE="memory",
            PIN_STORE="memory",
            BINDING_STORE="memory",
            PERSONNEL=MemoryPersonnelDirectory(twcert_pki.people),
            AGENCIES=MemoryAgencyDirectory(twcert_pki.agencies),
            AGENCY_OID_MAP=dict(twcert_pki.agency_oid_map),
        ),
    }
    with override_settings(TWCERT=merged):
        yield merged


@pytest.fixture
def twcert_flask_login() -> Callable[..., Any]:
    return flask_card_login


@pytest.fixture
def twcert_django_login() -> Callable[..., Any]:
    return django_card_login
