"""A Flask app with the adapter over a real LoginService (fixture PKI, memory or SQLite stores),
and a "card" that answers like the HiPKI Local Server: real CMS signatures over the issued
challenge, or its PIN-failure codes."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from flask import Flask
from flask.testing import FlaskClient

from twcert import LoginService, LoginStores
from twcert.agency import Agency, AgencyResolver, MemoryAgencyDirectory
from twcert.audit import MemoryAuditSink
from twcert.binding import MemoryBindingStore
from twcert.contrib.flask import TWCert, current_principal, login_required
from twcert.contrib.flask.security import CSRF_HEADER
from twcert.personnel import MemoryPersonnelDirectory, Person
from twcert.pin import PinRecord
from twcert.stores.memory import MemoryNonceStore, MemoryPinCounterStore
from twcert.stores.sql import SqlStores
from twcert.testing.fixtures import AGENCIES, PEOPLE, FixtureSet

from ...conftest import fixture_validator

UNLISTED = "ZZ9990000X"


def people() -> list[Person]:
    return [Person(p.account, p.national_id, p.name, p.in_service, p.agency_code) for p in PEOPLE]


def agencies() -> list[Agency]:
    return [Agency(a.code, a.name, address=a.address) for a in AGENCIES if a.code != UNLISTED]


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


def build_service(fs: FixtureSet, backend: str, tmp_path: Path, clock: Clock) -> LoginService:
    validator = fixture_validator(fs)
    validator.clock = clock
    if backend == "memory":
        nonces: Any = MemoryNonceStore()
        pins: Any = MemoryPinCounterStore()
        bindings: Any = MemoryBindingStore()
        personnel: Any = MemoryPersonnelDirectory(people())
        directory: Any = MemoryAgencyDirectory(agencies())
    else:
        stores = SqlStores(f"sqlite:///{tmp_path / 'twcert.db'}")
        nonces, pins, bindings = stores.nonces, stores.pin_counters, stores.bindings
        personnel, directory = stores.personnel, stores.agencies
        personnel.upsert(people())
        directory.upsert(agencies())
    resolver = AgencyResolver(directory, oid_map={a.oid: a.code for a in AGENCIES})
    return LoginService(
        validator,
        LoginStores(nonces, personnel, bindings, resolver, PinRecord(pins)),
        audit=MemoryAuditSink(),
        clock=clock,
    )


def make_app(service: LoginService, **config: Any) -> tuple[Flask, TWCert]:
    app = Flask("twcert_flask_tests")
    app.config.update(SECRET_KEY="test-secret-key-0123456789", TESTING=True, **config)
    ext = TWCert(app, login_service=service)

    @app.get("/private")
    @login_required
    def private() -> dict[str, Any]:
        assert current_principal
        return {"principal_id": current_principal.principal_id, "kind": current_principal.kind}

    return app, ext


@dataclass
class Card:
    """What HiPKI would answer for a fixture card."""

    fs: FixtureSet
    name: str

    @property
    def serial(self) -> str:
        return str(self.fs.certificates[self.name].get("card_serial") or "")

    def _cert_b64(self) -> str:
        return base64.b64encode(self.fs.issued(self.name).der).decode()

    def sign(self, tbs: str) -> dict[str, Any]:
        issued = self.fs.issued(self.name)
        signature = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(tbs.encode())
            .add_signer(issued.certificate, issued.key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [])
        )
        return {
            "func": "sign",
            "ret_code": 0,
            "last_error": 0,
            "signature": base64.b64encode(signature).decode(),
            "certb64": self._cert_b64(),
            "cardSN": self.serial,
        }

    def wrong_pin(self, last_error: int) -> dict[str, Any]:
        return {
            "func": "sign",
            "ret_code": 0x76100006,
            "last_error": last_error,
            "signature": "",
            "certb64": self._cert_b64(),
            "cardSN": self.serial,
        }


@dataclass
class Browser:
    """A test client that behaves like the login page script."""

    client: FlaskClient
    prefix: str = "/twcert"
    csrf: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def challenge(self) -> dict[str, Any]:
        answer = self.client.get(f"{self.prefix}/challenge", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        data = answer.get_json()
        self.csrf = data["csrf_token"]
        return data  # type: ignore[no-any-return]

    def post(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        sent = {CSRF_HEADER: self.csrf, **self.headers, **headers}
        return self.client.post(f"{self.prefix}{path}", json=body, headers=sent)

    def login(self, card: Card, account: str | None = None, **extra: Any) -> Any:
        challenge = self.challenge()
        body: dict[str, Any] = {
            "challenge_id": challenge["challenge_id"],
            "response": card.sign(challenge["tbs"]),
        }
        if account is not None:
            body["account"] = account
        body.update(extra)
        return self.post("/login", body)

    def first_use(self, account: str) -> Any:
        return self.post("/first-use", {"account": account})


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock(fixture_set: FixtureSet) -> Clock:
    return Clock(fixture_set.now)


@pytest.fixture
def service(fixture_set: FixtureSet, backend: str, tmp_path: Path, clock: Clock) -> LoginService:
    return build_service(fixture_set, backend, tmp_path, clock)


@pytest.fixture
def app(service: LoginService) -> Flask:
    return make_app(service)[0]


@pytest.fixture
def browser(app: Flask) -> Iterator[Browser]:
    with app.test_client() as client:
        yield Browser(client)


@pytest.fixture
def cards(fixture_set: FixtureSet) -> dict[str, Card]:
    names = ("citizen-wang", "citizen-chen", "citizen-lin-left-service", "citizen-revoked")
    names += ("agency-dgpa", "agency-test", "agency-unlisted")
    return {name: Card(fixture_set, name) for name in names}
