"""Shared fixtures: the committed fixture PKI, the real CA certificates, service URLs."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.services import unavailable
from twcert.testing import FakeGPKI, KeyPool
from twcert.testing.fixtures import FixtureSet

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "gpki"
REAL_CA = REPO / "src" / "twcert" / "anchors"

# Property tests judge correctness, never speed (timings go in benchmarks/): no deadline and no
# "too slow" health check, which a busy machine would fail. Under CI, like Hypothesis's own CI
# profile, the examples are derived from each test so that a run is repeatable.
settings.register_profile("twcert", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "twcert-ci", settings.get_profile("twcert"), derandomize=True, database=None, print_blob=True
)
settings.load_profile(
    os.environ.get("TWCERT_HYPOTHESIS_PROFILE") or ("twcert-ci" if os.environ.get("CI") else "twcert")
)


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent locally, but fail under scripts/test (CI), which starts them."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as exc:
        unavailable(f"{name} is not reachable on {host}:{port} ({exc})")


@pytest.fixture(scope="session")
def fixture_set() -> FixtureSet:
    return FixtureSet.load(FIXTURES)


@pytest.fixture(scope="session")
def now(fixture_set: FixtureSet) -> dt.datetime:
    """The fixture clock: every test judges validity at this instant, never the wall clock."""
    return fixture_set.now


@pytest.fixture(scope="session")
def pki() -> FakeGPKI:
    """A fresh fake GPKI for tests that issue their own certificates."""
    return FakeGPKI(keys=KeyPool(reuse=True))


@pytest.fixture(scope="session")
def real_ca_dir() -> Path:
    return REAL_CA


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TWCERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TWCERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    require_service("Redis", "127.0.0.1", 6379)
    return url
