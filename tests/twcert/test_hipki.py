from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twcert import CAFamily
from twcert.errors import (
    CardAbsentError,
    CardOperationError,
    CertificateNotAccepted,
    HolderMismatch,
    LocalSignerDomainError,
    PinIncorrectError,
    PinLengthError,
    PinLockedError,
    ResponseParseError,
    TwcertError,
)
from twcert.hipki import HipkiSignResponse, error_for

# ret_code/last_error pairs from CHT's errorcode.js (docs/reference/hipki.md).


def test_parse_success_response() -> None:
    response = HipkiSignResponse.parse(
        json.dumps(
            {
                "func": "sign",
                "ret_code": 0,
                "last_error": 0,
                "signature": "AAEC",
                "certb64": "MIIB",
                "cardSN": "TP00000000000001",
                "message": "",
            }
        )
    )
    assert (
        response.ok and response.signature == b"\x00\x01\x02" and response.card_serial == "TP00000000000001"
    )
    assert response.error() is None
    again = HipkiSignResponse.parse(response.to_dict())
    assert (again.ret_code, again.signature, again.certb64, again.card_serial) == (
        0,
        b"\x00\x01\x02",
        "MIIB",
        "TP00000000000001",
    )
    assert again.message == "成功"  # the component's own text for code 0


@pytest.mark.parametrize(
    ("ret_code", "last_error", "error", "tries"),
    [
        (0x76100006, 0x80000002, PinIncorrectError, 2),
        (0x76100006, 0x80000001, PinIncorrectError, 1),
        (0x76100006, 0xA4, PinLockedError, None),
        (0x76100006, 0xA2, PinLengthError, None),
        (0x76000006, None, CardAbsentError, None),
        (0x7600000F, None, LocalSignerDomainError, None),
        (0x76210001, None, HolderMismatch, None),
        (0x83000103, None, CertificateNotAccepted, None),
        (0x76123456, None, CardOperationError, None),
    ],
)
def test_error_mapping(
    ret_code: int, last_error: int | None, error: type[TwcertError], tries: int | None
) -> None:
    exc = error_for(ret_code, last_error, CAFamily.MOICA)
    assert isinstance(exc, error)
    if tries is not None:
        assert exc.params["tries_left"] == tries


def test_javascript_negative_codes_and_hex_strings() -> None:
    assert isinstance(error_for(0x76000006 - 2**32), CardAbsentError)
    parsed = HipkiSignResponse.parse({"ret_code": "0x76100006", "last_error": str(0x80000001)})
    assert isinstance(parsed.error(), PinIncorrectError)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "[]",
        "{}",
        '{"ret_code": true}',
        '{"ret_code": "x"}',
        '{"ret_code": 0, "signature": 5}',
        '{"ret_code": 0, "cardSN": []}',
        b"\xff\xfe",
        "x" * 300_000,
    ],
)
def test_malformed_responses(bad: str | bytes) -> None:
    with pytest.raises(ResponseParseError):
        HipkiSignResponse.parse(bad)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=500),
        st.text(max_size=500),
        st.dictionaries(
            st.sampled_from(["ret_code", "last_error", "signature", "certb64", "cardSN"]),
            st.one_of(
                st.none(),
                st.integers(),
                st.text(max_size=20),
                st.booleans(),
                st.lists(st.integers(), max_size=2),
            ),
        ),
    )
)
def test_parser_raises_only_its_error(data: object) -> None:
    try:
        HipkiSignResponse.parse(data)  # type: ignore[arg-type]
    except ResponseParseError:
        pass


def test_deeply_nested_json_is_a_parse_error() -> None:
    # json.loads recursed once per "[" and raised RecursionError.
    for text in ("[" * 100_000, '{"a":' * 50_000, b"[" * 100_000):
        with pytest.raises(ResponseParseError, match="nested too deeply"):
            HipkiSignResponse.parse(text)


def test_non_string_func_is_a_parse_error() -> None:
    with pytest.raises(ResponseParseError, match="func"):
        HipkiSignResponse.parse({"ret_code": 0, "func": [[1]]})


@pytest.mark.parametrize("data", [None, 7, 1.5, ["ret_code"]])
def test_wrong_python_type_is_a_type_error(data: object) -> None:
    with pytest.raises(TypeError, match="JSON text or a mapping"):
        HipkiSignResponse.parse(data)  # type: ignore[arg-type]


_VALID = json.dumps(
    {"func": "sign", "ret_code": 0, "last_error": 0, "signature": "AAEC", "certb64": "MIIB", "cardSN": "TP1"}
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_responses_raise_only_its_error(data: st.DataObject) -> None:
    text = list(_VALID)
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(text) - 1))
        choice = data.draw(st.sampled_from(["replace", "delete", "nest"]))
        if choice == "replace":
            text[pos] = data.draw(st.sampled_from([*'[]{}",:0x-\\ ', "\udcff", "\u6e2c"]))
        elif choice == "delete":
            del text[pos]
        else:
            text[pos:pos] = ["["] * data.draw(st.sampled_from([10, 1000, 5000]))
        if not text:
            break
    candidate = "".join(text)
    for form in (candidate, candidate.encode("utf-8", "surrogatepass")):
        try:
            HipkiSignResponse.parse(form)
        except ResponseParseError:
            pass
