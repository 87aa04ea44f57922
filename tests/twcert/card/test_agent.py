"""The local signing agent over real SoftHSM tokens, driven over HTTP as a login page would.

Pages post ``tbsPackage=<JSON>`` as a form (``+`` escaped as %2B) with their Origin header and
read HiPKI's JSON answer; the answers are checked with the server side's own parser
(:class:`twcert.hipki.HipkiSignResponse`) and verifier (:mod:`twcert.signature`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from twcert.card.agent import OPENER_HEADER, AgentConfig, LocalAgent
from twcert.card.guard import PinGuard
from twcert.card.pkcs11 import Pkcs11Module
from twcert.certificate import load_certificate
from twcert.errors import PinIncorrectError, PinLockedError
from twcert.hipki import HipkiSignResponse, error_for
from twcert.pin import CKF_USER_PIN_COUNT_LOW
from twcert.signature import verify_cms, verify_pkcs1
from twcert.testing.fixtures import FixtureSet

from .conftest import Card

PAGE = "https://login.example.gov.tw"
ORIGINS = (PAGE, "http://127.0.0.1:5000", "https://*.apps.example.gov.tw")
WRONG = "000000"
# The codes of CHT's errorcode.js (docs/reference/hipki.md), written out independently.
LOGIN_FAILED, TWO_LEFT, ONE_LEFT, LOCKED = 0x76100006, 0x80000002, 0x80000001, 0xA4
FORBIDDEN_DOMAIN = 0x7600000F


@pytest.fixture
def module(softhsm, card_fixtures: FixtureSet, tmp_path: Path) -> Pkcs11Module:  # type: ignore[no-untyped-def]
    return Pkcs11Module(
        softhsm.module,
        guard=PinGuard.from_file(tmp_path / "ledger.json"),
        issuers=card_fixtures.pki.trust_store().issuers,
    )


@pytest.fixture
def agent(module: Pkcs11Module) -> Iterator[LocalAgent]:
    with LocalAgent(module, AgentConfig.with_origins(ORIGINS, port=0)) as running:
        yield running


def package(tbs: str, pin: str, **extra: Any) -> dict[str, Any]:
    return {
        "func": "MakeSignature",
        "tbs": tbs,
        "hashAlgorithm": "SHA256",
        "signatureType": "PKCS7",
        "pin": pin,
        **extra,
    }


def sign(
    agent: LocalAgent,
    tbs_package: dict[str, Any],
    origin: str | None = PAGE,
    *,
    card: Card | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST /sign as a page would; with ``card``, aimed at that card's slot (several are present)."""
    if card is not None:
        tbs_package = {"slotDescription": slot_of(agent, card), **tbs_package}
    sent = {"Origin": origin} if origin else {}
    sent.update(headers or {})
    return requests.post(
        f"{agent.url}/sign", data={"tbsPackage": json.dumps(tbs_package)}, headers=sent, timeout=30
    )


def slot_of(agent: LocalAgent, card: Card) -> str:
    slots = requests.get(f"{agent.url}/pkcs11info", timeout=10).json()["slots"]
    return str(next(s["slotDescription"] for s in slots if s["token"]["serialNumber"] == card.card_serial))


def cert_of(response: HipkiSignResponse, card_fixtures: FixtureSet):  # type: ignore[no-untyped-def]
    assert response.certb64
    return load_certificate(response.certb64, issuers=card_fixtures.pki.trust_store().issuers)


def count_low(module: Pkcs11Module, card: Card) -> bool:
    return bool(module.token(card_serial=card.card_serial).current_flags() & CKF_USER_PIN_COUNT_LOW)


# ------------------------------------------------------------------------------- pkcs11info


def test_pkcs11info_lists_cards_and_certificates(agent: LocalAgent, card_fixtures: FixtureSet) -> None:
    reply = requests.get(f"{agent.url}/pkcs11info?withcert=true", headers={"Origin": PAGE}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == PAGE
    body = reply.json()
    assert (body["func"], body["ret_code"], body["last_error"]) == ("pkcs11info", 0, 0)
    tokens = {slot["token"]["serialNumber"]: slot for slot in body["slots"]}
    assert set(tokens) == {"TP00000000000001", "GC00000000000001", "TP00000000000002"}
    wang = tokens["TP00000000000001"]
    assert wang["slotDescription"].startswith("SoftHSM slot") and isinstance(wang["slotID"], int)
    assert (wang["token"]["ulMinPinLen"], wang["token"]["ulMaxPinLen"]) == (6, 8)
    certs = {c["label"]: c for c in wang["token"]["certs"]}
    assert set(certs) == {"SIGN", "KEYX", "CA Cert", "ROOT CA Cert"}
    sign_cert = certs["SIGN"]
    fixture = card_fixtures.issued("citizen-wang")
    assert base64.b64decode(sign_cert["certb64"]) == fixture.der
    assert sign_cert["id"] == "5349474e" and certs["KEYX"]["id"] == "4b455958"
    assert sign_cert["sn"] == card_fixtures.certificates["citizen-wang"]["serial"].upper()
    assert sign_cert["subjectCN"] == "王小明"
    assert sign_cert["subjectDN"].startswith("C=TW,CN=王小明,serialNumber=")
    not_after = fixture.certificate.not_valid_after_utc
    assert sign_cert["notAfter"] == not_after.strftime("%y%m%d%H%M%SZ")
    assert sign_cert["notAfterT"] == int(not_after.timestamp())
    assert sign_cert["thumbprint"] == hashlib.sha1(fixture.der).hexdigest().upper()
    without = requests.get(f"{agent.url}/pkcs11info", timeout=10).json()
    assert without["ret_code"] == 0 and all("certs" not in slot["token"] for slot in without["slots"])


# ------------------------------------------------------------------------------------- sign


def test_pkcs7_signature_verifies_on_the_server_side(
    agent: LocalAgent, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["citizen-wang"]
    tbs = "nonce+/=9f1c 登入"  # '+' must survive the form encoding
    reply = sign(agent, package(tbs, card.pin, withCardSN="true", nonce="n-1"), card=card)
    assert reply.status_code == 200 and reply.headers["Access-Control-Allow-Origin"] == PAGE
    response = HipkiSignResponse.parse(reply.text)
    assert response.ok and response.func == "sign"
    assert response.card_serial == "TP00000000000001"
    certificate = cert_of(response, card_fixtures)
    assert certificate.der == card_fixtures.issued("citizen-wang").der
    assert response.signature is not None
    verified = verify_cms(
        response.signature, tbs.encode(), certificate=certificate, now=dt.datetime.now(dt.UTC)
    )
    assert verified.card_serial == "TP00000000000001"


def test_cht_style_body_with_plus_escaped(
    agent: LocalAgent, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    """The CHT sample posts the JSON unencoded except for '+' (as %2B)."""
    card = soft_cards["agency-dgpa"]
    tbs = "a+b+c"
    body = "tbsPackage=" + json.dumps(package(tbs, card.pin, slotDescription=slot_of(agent, card))).replace(
        "+", "%2B"
    )
    reply = requests.post(
        f"{agent.url}/sign",
        data=body.encode(),
        headers={"Origin": PAGE, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    response = HipkiSignResponse.parse(reply.json())
    assert response.ok and response.card_serial == "GC00000000000001"
    assert response.signature is not None
    verify_cms(
        response.signature,
        tbs.encode(),
        certificate=cert_of(response, card_fixtures),
        now=dt.datetime.now(dt.UTC),
    )


def test_pkcs1_and_raw_signatures(
    agent: LocalAgent, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["citizen-wang"]
    tbs = bytes(range(40))
    pkcs1 = package(base64.b64encode(tbs).decode(), card.pin, tbsEncoding="base64", signatureType="PKCS1")
    reply = sign(agent, pkcs1, card=card)
    response = HipkiSignResponse.parse(reply.json())
    assert response.ok and response.signature is not None
    verify_pkcs1(response.signature, tbs, cert_of(response, card_fixtures))

    digest = hashlib.sha384(b"pre-hashed").digest()
    raw = package(
        base64.b64encode(digest).decode(),
        card.pin,
        tbsEncoding="base64",
        signatureType="RAW",
        hashAlgorithm="SHA384",
    )
    response = HipkiSignResponse.parse(sign(agent, raw, card=card).json())
    assert response.ok and response.signature is not None
    key = cert_of(response, card_fixtures).certificate.public_key()
    key.verify(response.signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA384()))  # type: ignore[union-attr,call-arg]


def test_sha1_only_when_configured(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["citizen-wang"]
    request = package("legacy", card.pin, hashAlgorithm="SHA1", signatureType="PKCS1")
    with LocalAgent(module, AgentConfig.with_origins(ORIGINS, port=0)) as strict:
        assert sign(strict, request, card=card).json()["ret_code"] == 0x7600000C  # 參數錯誤
    with LocalAgent(module, AgentConfig.with_origins(ORIGINS, port=0, allow_sha1=True)) as legacy:
        response = HipkiSignResponse.parse(sign(legacy, request, card=card).json())
    assert response.ok and response.signature is not None
    verify_pkcs1(
        response.signature,
        b"legacy",
        cert_of(response, card_fixtures),
        hash_algorithm="sha1",
        allow_sha1=True,
    )


def test_key_selection_and_validity_check(
    module: Pkcs11Module, agent: LocalAgent, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["citizen-wang"]
    by_sign_id = package("x", card.pin, keyidb64=base64.b64encode(b"SIGN").decode())
    assert sign(agent, by_sign_id, card=card).json()["ret_code"] == 0
    by_keyx_id = package("x", card.pin, keyidb64=base64.b64encode(b"KEYX").decode())
    assert (
        sign(agent, by_keyx_id, card=card).json()["ret_code"] == 0x7610000C
    )  # 找不到指定憑證: not a signing key
    assert (
        sign(agent, package("x", card.pin, slotDescription="no such slot")).json()["ret_code"] == 0x76000006
    )
    expired_clock = card_fixtures.issued("citizen-wang").certificate.not_valid_after_utc + dt.timedelta(
        days=1
    )
    config = AgentConfig.with_origins(ORIGINS, port=0, clock=lambda: expired_clock)
    with LocalAgent(module, config) as later:
        assert (
            sign(later, package("x", card.pin, checkValidity=True), card=card).json()["ret_code"]
            == 0x76500002
        )
        assert sign(later, package("x", card.pin), card=card).json()["ret_code"] == 0  # not asked to check


# ---------------------------------------------------------------------------------- PIN tries


def test_wrong_pins_count_down_then_lock_like_a_card(
    agent: LocalAgent, module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    module.token(card_serial=card.card_serial).login(card.pin).close()  # clear SoftHSM's COUNT_LOW
    answers = [sign(agent, package("t", WRONG), card=card).json() for _ in range(3)]
    assert [(a["ret_code"], a["last_error"]) for a in answers] == [
        (LOGIN_FAILED, TWO_LEFT),
        (LOGIN_FAILED, ONE_LEFT),
        (LOGIN_FAILED, LOCKED),
    ]
    assert all(a["signature"] == "" and a["certb64"] == "" for a in answers)
    # What the login page's server makes of them.
    first = error_for(answers[0]["ret_code"], answers[0]["last_error"])
    assert isinstance(first, PinIncorrectError) and first.params["tries_left"] == 2
    assert isinstance(error_for(answers[2]["ret_code"], answers[2]["last_error"]), PinLockedError)
    # Locked: even the right PIN is refused, and it never reaches the token (SoftHSM would
    # accept it and clear its COUNT_LOW flag).
    for pin in (card.pin, WRONG):
        later = sign(agent, package("t", pin), card=card).json()
        assert (later["ret_code"], later["last_error"]) == (LOGIN_FAILED, LOCKED)
    assert count_low(module, card)
    module.guard.ledger.record_unblock(card.card_serial)
    assert sign(agent, package("t", card.pin), card=card).json()["ret_code"] == 0


def test_right_pin_after_two_wrong_resets(
    agent: LocalAgent, module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    for expected in (TWO_LEFT, ONE_LEFT):
        assert sign(agent, package("t", WRONG), card=card).json()["last_error"] == expected
    assert sign(agent, package("t", card.pin), card=card).json()["ret_code"] == 0
    assert sign(agent, package("t", WRONG), card=card).json()["last_error"] == TWO_LEFT
    assert module.guard.status(card.card_serial).tries_left == 2


def test_pin_shape_errors_cost_no_try(
    agent: LocalAgent, module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    assert sign(agent, package("t", ""), card=card).json()["ret_code"] == 0x76000998  # 未輸入PIN碼
    short = sign(agent, package("t", "123"), card=card).json()
    assert (short["ret_code"], short["last_error"]) == (LOGIN_FAILED, 0xA2)
    odd = sign(agent, package("t", "12 456"), card=card).json()
    assert (odd["ret_code"], odd["last_error"]) == (LOGIN_FAILED, 0xA1)
    assert module.guard.status(card.card_serial).tries_left == 3


def test_parallel_wrong_pins_are_both_counted(
    agent: LocalAgent, module: Pkcs11Module, soft_cards: dict[str, Card]
) -> None:
    card = soft_cards["citizen-wang"]
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        barrier.wait()
        results.append(sign(agent, package("t", WRONG), card=card).json())

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r["last_error"] for r in results) == sorted([TWO_LEFT, ONE_LEFT])
    assert module.guard.status(card.card_serial).tries_left == 1
    # A second agent process-alike over the same ledger file sees the count.
    other = PinGuard.from_file(module.guard.ledger.store.path)  # type: ignore[attr-defined]
    assert other.status(card.card_serial).tries_left == 1


# ---------------------------------------------------------------------------------- origins


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://apps.example.gov.tw"},  # the wildcard covers subdomains only
        {"Origin": "http://login.example.gov.tw"},  # scheme matters
        {"Referer": "https://evil.example/login"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_pages_from_other_origins_are_refused(
    agent: LocalAgent, module: Pkcs11Module, soft_cards: dict[str, Card], headers: dict[str, str]
) -> None:
    card = soft_cards["citizen-wang"]
    reply = requests.post(
        f"{agent.url}/sign", data={"tbsPackage": json.dumps(package("t", WRONG))}, headers=headers, timeout=10
    )
    assert reply.status_code == 403
    assert reply.json()["ret_code"] == FORBIDDEN_DOMAIN
    assert "Access-Control-Allow-Origin" not in reply.headers
    info = requests.get(f"{agent.url}/pkcs11info?withcert=true", headers=headers, timeout=10)
    assert info.json()["ret_code"] == FORBIDDEN_DOMAIN and "slots" not in info.json()
    assert module.guard.status(card.card_serial).tries_left == 3  # no PIN was tried


def test_allowed_origins_and_local_programs(agent: LocalAgent, soft_cards: dict[str, Card]) -> None:
    card = soft_cards["citizen-wang"]
    pin = card.pin
    for origin in ("https://hr.apps.example.gov.tw", "http://127.0.0.1:5000", None):
        reply = sign(agent, package("t", pin), origin=origin, card=card)
        assert reply.status_code == 200 and reply.json()["ret_code"] == 0, origin
        assert reply.headers.get("Access-Control-Allow-Origin") == origin


def test_popup_requests_name_their_opener(agent: LocalAgent, soft_cards: dict[str, Card]) -> None:
    card = soft_cards["citizen-wang"]
    pin = card.pin
    own = agent.url
    ok = sign(agent, package("t", pin), origin=own, headers={OPENER_HEADER: PAGE}, card=card)
    assert ok.json()["ret_code"] == 0
    assert sign(agent, package("t", pin), origin=own, card=card).json()["ret_code"] == FORBIDDEN_DOMAIN
    evil = sign(
        agent, package("t", pin), origin=own, headers={OPENER_HEADER: "https://evil.example"}, card=card
    )
    assert evil.json()["ret_code"] == FORBIDDEN_DOMAIN


def test_dns_rebinding_is_refused(agent: LocalAgent) -> None:
    reply = requests.get(
        f"{agent.url}/pkcs11info", headers={"Host": f"evil.example:{agent.port}"}, timeout=10
    )
    assert reply.json()["ret_code"] == FORBIDDEN_DOMAIN
    ok = requests.get(f"{agent.url}/pkcs11info", headers={"Host": f"localhost:{agent.port}"}, timeout=10)
    assert ok.json()["ret_code"] == 0


def test_preflight_for_allowed_origins_only(agent: LocalAgent) -> None:
    headers = {
        "Origin": PAGE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Private-Network": "true",
    }
    ok = requests.options(f"{agent.url}/sign", headers=headers, timeout=10)
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == PAGE
    assert ok.headers["Access-Control-Allow-Private-Network"] == "true"
    refused = requests.options(
        f"{agent.url}/sign", headers={**headers, "Origin": "https://evil.example"}, timeout=10
    )
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers


def test_agent_binds_loopback_only(agent: LocalAgent) -> None:
    assert agent.url.startswith("http://127.0.0.1:")
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {
        "127.0.0.1"
    }
    for address in addresses:
        with pytest.raises(OSError), socket.create_connection((address, agent.port), timeout=1):
            pass


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("tbsPackage={not json", 0x7600000B),
        ("tbsPackage=[1,2]", 0x7600000B),
        (
            "tbsPackage=" + urllib.parse.quote(json.dumps({"func": "MakeSignature", "pin": "123456"})),
            0x76000003,
        ),
        ("tbsPackage=" + urllib.parse.quote(json.dumps({"tbs": "x"})), 0x76000998),
        (
            "tbsPackage=" + urllib.parse.quote(json.dumps({"func": "DecryptData", "tbs": "x", "pin": "1"})),
            0x7600000E,
        ),
        (
            "tbsPackage=" + urllib.parse.quote(json.dumps(package("x", "123456", signatureType="XML"))),
            0x76300002,
        ),
        (
            "tbsPackage=" + urllib.parse.quote(json.dumps(package("***", "123456", tbsEncoding="base64"))),
            0x76600002,
        ),
        ("tbsPackage=" + urllib.parse.quote(json.dumps(package("x", 123456))), 0x76000008),
        ("nothing=here", 0x7600000C),
        ("tbsPackage=a&tbsPackage=b", 0x7600000C),
        ("tbsPackage=" + "[" * 100_000, 0x7600000B),
    ],
)
def test_malformed_sign_requests_get_hipki_errors(agent: LocalAgent, body: str, expected: int) -> None:
    reply = requests.post(
        f"{agent.url}/sign",
        data=body.encode(),
        headers={"Origin": PAGE, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert reply.status_code == 200
    answer = reply.json()
    assert (answer["func"], answer["ret_code"]) == ("sign", expected)
    assert answer["message"]


def _raw(agent: LocalAgent, data: bytes, read_all: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as connection:
        connection.sendall(data)
        chunks = []
        while read_all:
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _json_of(raw: bytes) -> dict[str, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"application/json" in head, head
    return json.loads(body)  # type: ignore[no-any-return]


def test_broken_http_never_crashes_the_agent(agent: LocalAgent) -> None:
    host = f"Host: 127.0.0.1:{agent.port}\r\n".encode()
    huge = _raw(agent, b"POST /sign HTTP/1.1\r\n" + host + b"Content-Length: 100000000\r\n\r\n")
    assert _json_of(huge)["ret_code"] == 0x7600000A  # 檔案過大, answered without reading the body
    no_length = _raw(agent, b"POST /sign HTTP/1.1\r\n" + host + b"\r\n")
    assert _json_of(no_length)["ret_code"] == 0x7600000C
    chunked = _raw(
        agent,
        b"POST /sign HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    assert _json_of(chunked)["ret_code"] == 0x7600000C
    garbage = _raw(agent, b"\x00\xff\xfe garbage \r\n\r\n")
    assert _json_of(garbage)["ret_code"] == 0x7600000C
    binary_body = b"\xff\xfe\x00tbsPackage=\x80"
    binary = _raw(
        agent,
        b"POST /sign HTTP/1.1\r\n"
        + host
        + f"Content-Length: {len(binary_body)}\r\n\r\n".encode()
        + binary_body,
    )
    assert _json_of(binary)["ret_code"] == 0x7600000C
    put = _raw(agent, b"PUT /sign HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n")
    assert _json_of(put)["ret_code"] == 0x7600000E
    unknown = requests.get(f"{agent.url}/decrypt", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["ret_code"] == 0x7600000E
    # Still serving.
    assert requests.get(f"{agent.url}/pkcs11info", timeout=10).json()["ret_code"] == 0


# ---------------------------------------------------------------------------------- popupForm


def test_popup_form_contract(agent: LocalAgent) -> None:
    reply = requests.get(f"{agent.url}/popupForm", timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html")
    page = reply.text
    assert (
        json.dumps(["https://login.example.gov.tw", "http://127.0.0.1:5000", "https://*.apps.example.gov.tw"])
        in page
    )
    assert 'JSON.stringify({func: "getTbs"})' in page
    assert "window.opener.postMessage(text, target)" in page  # the answer goes to the page's origin only
    assert 'fetch("/sign"' in page and '"tbsPackage=" + encodeURIComponent(event.data)' in page
    assert OPENER_HEADER in page
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert (
        requests.get(f"{agent.url}/popupForm", headers={"Host": "evil.example"}, timeout=10).status_code
        == 403
    )


def test_serving_one_card_of_several(
    module: Pkcs11Module, soft_cards: dict[str, Card], card_fixtures: FixtureSet
) -> None:
    card = soft_cards["agency-dgpa"]
    config = AgentConfig.with_origins(ORIGINS, port=0, card_serial=card.card_serial)
    with LocalAgent(module, config) as only:
        slots = requests.get(f"{only.url}/pkcs11info", timeout=10).json()["slots"]
        assert [s["token"]["serialNumber"] for s in slots] == [card.card_serial]
        # No slotDescription: the (only) card is used, as with one reader and one card.
        response = HipkiSignResponse.parse(sign(only, package("t", card.pin)).json())
    assert response.ok and response.card_serial == card.card_serial
    assert cert_of(response, card_fixtures).der == card_fixtures.issued("agency-dgpa").der
