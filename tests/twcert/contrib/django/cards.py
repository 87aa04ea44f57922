"""What the HiPKI Local Server answers the login page, made with the fixture PKI's keys, and a
browser-like session on Django's test client that runs the page's side of the protocol."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.test import Client

from twcert.testing.fixtures import FixtureSet

HIPKI_LOGIN_FAILED = 0x76100006
TWO_TRIES_LEFT = 0x80000002
ONE_TRY_LEFT = 0x80000001
CKR_PIN_INCORRECT = 0xA0
CKR_PIN_LOCKED = 0xA4

MOICA_UNBLOCK = "http://moica.nat.gov.tw/html/unblockcard.htm#2"
GCA_UNBLOCK = "https://gcaweb.nat.gov.tw/gcacms/04-04.html"


def signed(fs: FixtureSet, card: str, tbs: str) -> dict[str, Any]:
    """HiPKI's /sign answer for a correct PIN: CMS SignedData over ``tbs`` (attached), cert, card number."""
    issued = fs.issued(card)
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(tbs.encode("ascii"))
        .add_signer(issued.certificate, issued.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [])
    )
    return {
        "func": "sign",
        "ret_code": 0,
        "last_error": 0,
        "signature": base64.b64encode(signature).decode(),
        "certb64": base64.b64encode(issued.der).decode(),
        "cardSN": fs.certificates[card].get("card_serial") or "",
    }


def wrong_pin(fs: FixtureSet, card: str, last_error: int) -> dict[str, Any]:
    """HiPKI's /sign answer when the card refused the PIN (no signature)."""
    return {
        "func": "sign",
        "ret_code": HIPKI_LOGIN_FAILED,
        "last_error": last_error,
        "signature": "",
        "certb64": base64.b64encode(fs.issued(card).der).decode(),
        "cardSN": fs.certificates[card].get("card_serial") or "",
    }


class Browser:
    """One browser session: the login page, then challenge → HiPKI → login, as the page's script does."""

    def __init__(
        self,
        fs: FixtureSet,
        host: str = "jobs.example.gov.tw",
        *,
        secure: bool = True,
        origin: str | None = None,
    ) -> None:
        self.fs = fs
        self.public_origin = origin
        self.host = host
        self.secure = secure
        self.client = Client(enforce_csrf_checks=True, HTTP_HOST=host)
        self.token: str | None = None

    @property
    def origin(self) -> str:
        return self.public_origin or f"{'https' if self.secure else 'http'}://{self.host}"

    def open_page(self, path: str = "/login/card/login") -> Any:
        response = self.client.get(path, secure=self.secure)
        assert response.status_code == 200
        found = re.search(r'data-csrf-token="([^"]+)"', response.content.decode())
        if found:
            self.token = found.group(1)
        return response

    def csrf(self) -> str:
        if self.token is None:
            self.open_page()
        assert self.token is not None
        return self.token

    def post_json(self, path: str, body: Any, **extra: Any) -> Any:
        # Browsers send Origin on POST.
        headers = {
            "HTTP_X_CSRFTOKEN": self.csrf(),
            "HTTP_ACCEPT": "application/json",
            "HTTP_ORIGIN": self.origin,
            **extra,
        }
        response = self.client.post(
            path, json.dumps(body), content_type="application/json", secure=self.secure, **headers
        )
        if response.status_code == 200 and response.json().get("principal") is not None:
            self.token = None  # a login rotates the session's token
        return response

    def challenge(self) -> dict[str, Any]:
        response = self.post_json("/login/card/challenge", {})
        assert response.status_code == 200, response.content
        return dict(response.json())

    def login(
        self,
        card: str,
        account: str | None = None,
        *,
        step: str = "login",
        answer: dict[str, Any] | None = None,
    ) -> Any:
        """Get a challenge, have the card sign it (or give ``answer``), post it; the response.

        ``step="first-use"``: the login answers ``account_required``, then only the account is
        posted to the first-use step (no second signature).
        """
        issued = self.challenge()
        body: dict[str, Any] = {
            "challenge_id": issued["challenge_id"],
            "response": answer if answer is not None else signed(self.fs, card, issued["tbs"]),
        }
        if step == "first-use":
            first = self.post_json("/login/card/login", body)
            assert first.json()["status"] == "account_required", first.content
            return self.post_json("/login/card/first-use", {"account": account})
        if account is not None:
            body["account"] = account
        return self.post_json("/login/card/login", body)

    def wrong_pin(self, card: str, last_error: int) -> Any:
        return self.login(card, answer=wrong_pin(self.fs, card, last_error))

    def home(self) -> Any:
        return self.client.get("/home/", secure=self.secure)
