from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twcert import idnumber
from twcert.idnumber import IdKind

# An independent implementation of the published rule, written differently on purpose
# (an explicit letter -> code table, as common C# validators write it).
_CODES = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            10,
            11,
            12,
            13,
            14,
            15,
            16,
            17,
            34,
            18,
            19,
            20,
            21,
            22,
            35,
            23,
            24,
            25,
            26,
            27,
            28,
            29,
            32,
            30,
            31,
            33,
        ],
    )
)


def oracle(value: str) -> bool:
    if len(value) != 10 or value[0] not in _CODES:
        return False
    head = _CODES[value[0]]
    if value[1] in "ABCD":
        second = _CODES[value[1]] % 10
    elif value[1] in "1289":
        second = int(value[1])
    else:
        return False
    if not value[2:].isdigit():
        return False
    numbers = [head // 10, head % 10, second] + [int(c) for c in value[2:]]
    return sum(n * w for n, w in zip(numbers, [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1])) % 10 == 0


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("A123456789", IdKind.NATIONAL_ID),  # the textbook example
        ("M162773050", IdKind.NATIONAL_ID),  # idnumbers issue #276
        ("a123456789", IdKind.NATIONAL_ID),
        ("Ａ１２３４５６７８９", IdKind.NATIONAL_ID),  # full-width input
        (" A123-456-789 ", IdKind.NATIONAL_ID),
        ("AA00000009", IdKind.RESIDENT_OLD),
        ("AC01234567", IdKind.RESIDENT_OLD),
        ("FD12345676", IdKind.RESIDENT_OLD),
    ],
)
def test_valid_numbers(text: str, kind: IdKind) -> None:
    assert oracle(idnumber.normalize(text))  # the examples themselves must follow the published rule
    parsed = idnumber.parse(text)
    assert parsed.kind is kind
    assert str(parsed) == parsed.masked and parsed.value not in repr(parsed)


@pytest.mark.parametrize(
    "text", ["A123456788", "A323456789", "A12345678", "1123456789", "AE00000001", "A1234567890", ""]
)
def test_invalid_numbers(text: str) -> None:
    assert not idnumber.is_valid(text)
    with pytest.raises(ValueError):
        idnumber.parse(text)


def test_new_format_resident_number_found_by_search() -> None:
    found = [f"A8{n:08d}" for n in range(0, 200) if oracle(f"A8{n:08d}")]
    assert found, "the oracle must accept some new-format numbers"
    for value in found:
        assert idnumber.parse(value).kind is IdKind.RESIDENT_NEW


@given(st.from_regex(r"[A-Z][12ABCD89][0-9]{8}", fullmatch=True))
def test_agrees_with_oracle(value: str) -> None:
    assert idnumber.is_valid(value) == oracle(value)


@given(st.text(max_size=30))
def test_never_crashes(text: str) -> None:
    idnumber.is_valid(text)
    idnumber.mask(text)


def test_masking() -> None:
    assert idnumber.mask("A123456789") == "A12****789"
    assert idnumber.mask("abc") == "***"
    assert idnumber.mask(None) is None
    assert idnumber.mask_name("王小明") == "王*明"
    assert idnumber.mask_name("歐陽小明") == "歐**明"
    assert idnumber.mask_name("王明") == "王*"
    assert idnumber.mask_name("Wang Xiao") == "W*** X***"
    assert idnumber.mask_serial("TP00000000000001") == "TP00********0001"
    assert idnumber.mask_serial("6789", keep_head=0, keep_tail=2) == "**89"
