"""The agent's request parser and origin policy (pure functions; property-tested)."""

from __future__ import annotations

import base64
import json
import string
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twcert.card.errors import AgentRequestError
from twcert.card.protocol import (
    AGENT_MESSAGES,
    MAX_REQUEST_BYTES,
    OriginPolicy,
    SignRequest,
    parse_sign_request,
    parse_tbs_package,
)

KEYS = (
    "func",
    "tbs",
    "tbsEncoding",
    "hashAlgorithm",
    "signatureType",
    "pin",
    "nonce",
    "withCardSN",
    "withSigningTime",
    "keyidb64",
    "checkValidity",
    "slotDescription",
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
plausible_values = st.one_of(
    json_values,
    st.sampled_from(
        ["MakeSignature", "NONE", "base64", "SHA256", "SHA1", "PKCS7", "PKCS1", "RAW", "true", "123456"]
    ),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
)


def check(result: Any) -> None:
    """What a parsed request may look like; anything else must have been refused."""
    assert isinstance(result, SignRequest)
    assert isinstance(result.tbs, bytes) and result.tbs
    assert isinstance(result.pin, str) and result.pin
    assert result.hash_algorithm in ("sha256", "sha384", "sha512", "sha1")
    assert result.signature_type in ("PKCS7", "PKCS1", "RAW")
    if result.signature_type == "RAW":
        assert (
            len(result.tbs) == {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[result.hash_algorithm]
        )
    assert f"pin={result.pin!r}" not in repr(result)  # the PIN never shows in repr


def outcome(parse: Callable[[], SignRequest]) -> SignRequest | AgentRequestError:
    try:
        return parse()
    except AgentRequestError as exc:
        return exc


def parse_or_refuse(body: bytes, content_type: str | None, allow_sha1: bool = True) -> None:
    result = outcome(lambda: parse_sign_request(body, content_type, allow_sha1=allow_sha1))
    if isinstance(result, AgentRequestError):
        assert result.ret_code in AGENT_MESSAGES, hex(result.ret_code)
        assert result.code == "AGENT_REQUEST_INVALID" and result.message
    else:
        check(result)


@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [None, "application/x-www-form-urlencoded", "application/json", "text/plain; charset=utf-8", "\x00"]
    ),
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_are_parsed_or_refused_with_a_hipki_code(body: bytes, content_type: str | None) -> None:
    parse_or_refuse(body, content_type)


@given(
    st.dictionaries(st.sampled_from(KEYS), plausible_values, max_size=len(KEYS)), st.booleans(), st.booleans()
)
@settings(max_examples=500)
def test_any_package_is_parsed_or_refused(package: dict[str, Any], as_form: bool, allow_sha1: bool) -> None:
    text = json.dumps(package)
    body = urllib.parse.urlencode({"tbsPackage": text}) if as_form else text
    parse_or_refuse(
        body.encode(), "application/x-www-form-urlencoded" if as_form else "application/json", allow_sha1
    )


@given(st.text(max_size=3000))
@settings(max_examples=200)
def test_any_text_package_is_parsed_or_refused(text: str) -> None:
    result = outcome(lambda: parse_tbs_package(text))
    if isinstance(result, AgentRequestError):
        assert result.ret_code in AGENT_MESSAGES
    else:
        check(result)


tbs_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)
pins = st.text(string.ascii_letters + string.digits, min_size=6, max_size=8)


@given(
    tbs_text,
    pins,
    st.sampled_from(["SHA256", "SHA384", "SHA512"]),
    st.sampled_from(["PKCS7", "PKCS1"]),
    st.booleans(),
)
def test_valid_packages_round_trip_through_the_form(
    tbs: str, pin: str, hash_name: str, kind: str, with_sn: bool
) -> None:
    package = {
        "func": "MakeSignature",
        "tbs": tbs,
        "hashAlgorithm": hash_name,
        "signatureType": kind,
        "pin": pin,
        "withCardSN": with_sn,
    }
    body = urllib.parse.urlencode({"tbsPackage": json.dumps(package, ensure_ascii=False)}).encode()
    request = parse_sign_request(body, "application/x-www-form-urlencoded")
    assert request.tbs == tbs.encode("utf-8")
    assert request.pin == pin
    assert request.hash_algorithm == hash_name.lower()
    assert request.signature_type == kind
    assert request.with_card_serial is with_sn
    assert request.with_signing_time is True


@given(st.text(string.ascii_letters + string.digits + "+/=-_.~", min_size=1, max_size=100), pins)
def test_cht_style_plus_escaping(tbs: str, pin: str) -> None:
    """CHT's page posts the JSON unencoded except '+' → '%2B'."""
    body = "tbsPackage=" + json.dumps({"tbs": tbs, "pin": pin, "func": "MakeSignature"}).replace("+", "%2B")
    assert parse_sign_request(body.encode(), "application/x-www-form-urlencoded").tbs == tbs.encode()


@given(st.binary(min_size=1, max_size=300), pins)
def test_base64_tbs(data: bytes, pin: str) -> None:
    package = {"tbs": base64.b64encode(data).decode(), "tbsEncoding": "base64", "pin": pin}
    assert parse_tbs_package(json.dumps(package)).tbs == data
    urlsafe = {**package, "tbs": base64.urlsafe_b64encode(data).decode().rstrip("=")}
    assert parse_tbs_package(json.dumps(urlsafe)).tbs == data


def test_refusals_use_cht_codes() -> None:
    def code(package: Any, **options: Any) -> int:
        with pytest.raises(AgentRequestError) as raised:
            parse_tbs_package(json.dumps(package), **options)
        return raised.value.ret_code

    base = {"tbs": "x", "pin": "123456"}
    assert code({**base, "hashAlgorithm": "SHA1"}) == 0x7600000C
    assert (
        parse_tbs_package(json.dumps({**base, "hashAlgorithm": "SHA1"}), allow_sha1=True).hash_algorithm
        == "sha1"
    )
    assert code({**base, "hashAlgorithm": "MD5"}, allow_sha1=True) == 0x7600000C
    assert code({**base, "signatureType": "RAW"}) == 0x7600000C  # RAW needs a digest-sized tbs
    assert code({**base, "tbsEncoding": "hex"}) == 0x7600000C
    assert code({**base, "withCardSN": "maybe"}) == 0x76000008
    assert code({**base, "tbs": 5}) == 0x76000008
    assert code({**base, "tbs": ""}) == 0x76000003
    assert code({**base, "pin": ""}) == 0x76000998
    assert code({**base, "func": "umakeSig"}) == 0x7600000E
    assert code({**base, "tbs": "\ud800"}) == 0x7600000C  # a lone surrogate cannot be signed as UTF-8
    with pytest.raises(AgentRequestError) as raised:
        parse_sign_request(b"x" * (MAX_REQUEST_BYTES + 1))
    assert raised.value.ret_code == 0x7600000A
    with pytest.raises(AgentRequestError) as raised:
        parse_sign_request(b"&".join([b"a=1"] * 100))
    assert raised.value.ret_code == 0x7600000C


def test_pin_is_not_in_repr() -> None:
    request = parse_tbs_package(json.dumps({"tbs": "x", "pin": "s3cr3tPIN"}))
    assert "s3cr3tPIN" not in repr(request)


# ---------------------------------------------------------------------------------- origins


def test_origin_policy() -> None:
    policy = OriginPolicy.of(
        ["https://Login.Example.gov.tw", "http://127.0.0.1:5000", "https://*.apps.gov.tw"]
    )
    assert policy.allows("https://login.example.gov.tw")
    assert policy.allows("https://login.example.gov.tw:443")
    assert not policy.allows("https://login.example.gov.tw:8443")
    assert not policy.allows("http://login.example.gov.tw")
    assert policy.allows("http://127.0.0.1:5000") and not policy.allows("http://127.0.0.1:5001")
    assert policy.allows("https://hr.apps.gov.tw") and policy.allows("https://a.b.apps.gov.tw")
    assert not policy.allows("https://apps.gov.tw")
    assert not policy.allows("https://evilapps.gov.tw")
    for bad in (
        None,
        "",
        "null",
        "file://",
        "https://login.example.gov.tw/path",
        "javascript:alert(1)",
        "http://[::1",
    ):
        assert not policy.allows(bad)
    assert policy.entries() == [
        "https://login.example.gov.tw",
        "http://127.0.0.1:5000",
        "https://*.apps.gov.tw",
    ]
    for bad_entry in ("*", "login.example.gov.tw", "ftp://x", "https://x/path", "https://user@x"):
        with pytest.raises(ValueError):
            OriginPolicy.of([bad_entry])
    assert not OriginPolicy().allows("https://login.example.gov.tw")


@given(st.text(max_size=100))
def test_origin_policy_never_raises(origin: str) -> None:
    OriginPolicy.of(["https://*.gov.tw"]).allows(origin)
