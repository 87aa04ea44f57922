"""Synthetic people and agencies for fixtures and demos (no real person's data)."""

from __future__ import annotations

from dataclasses import dataclass

from ..idnumber import _LETTER_CODES, _WEIGHTS

__all__ = ["FakeAgency", "FakePerson", "make_id_number"]


def make_id_number(prefix: str) -> str:
    """Complete a 9-character prefix (letter + 8 characters) with its check digit."""
    prefix = prefix.upper()
    if len(prefix) != 9:
        raise ValueError("prefix must be 9 characters")
    letter = _LETTER_CODES[prefix[0]]
    second = prefix[1]
    second_digit = int(second) if second.isdigit() else _LETTER_CODES[second] % 10
    digits = [letter // 10, letter % 10, second_digit, *(int(c) for c in prefix[2:])]
    total = sum(w * d for w, d in zip(_WEIGHTS[:10], digits, strict=True))
    return prefix + str((10 - total % 10) % 10)


@dataclass(frozen=True, slots=True)
class FakePerson:
    account: str
    name: str
    national_id: str
    agency_code: str
    in_service: bool = True


@dataclass(frozen=True, slots=True)
class FakeAgency:
    code: str
    name: str
    #: GPKI organisation OID put in the agency certificate (2.16.886.1.100.2.102).
    oid: str
    address: str = ""
