"""Taiwan national ID (身分證統一編號) and resident certificate (居留證) numbers, and masking.

Three formats share one check-digit rule (weights 1,9,8,7,6,5,4,3,2,1,1 over the letter's two
digits and the nine digits that follow; the sum must be divisible by 10):

* national ID: ``A123456789`` — a letter, then 1 (male) or 2 (female), then 8 digits;
* new resident certificate (2021 uniform ID for foreign nationals): a letter, then 8 or 9, then 8 digits;
* old resident certificate (ARC, before 2021): two letters (the second A–D), then 8 digits; the
  second letter counts as the units digit of its code.

Masking helpers keep personal data out of logs: ``A123456789`` → ``A12****789``.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, overload

__all__ = [
    "IdKind",
    "IdNumber",
    "is_valid",
    "mask",
    "mask_name",
    "mask_serial",
    "normalize",
    "parse",
]

# Letter codes of the national ID: A=10 … H=17, I=34, J=18 …, O=35, W=32, X=30, Y=31, Z=33.
# Letters in the order of their codes 10, 11, … 35 (I, O, W–Z were added to the scheme later).
_LETTER_CODES: Final = {letter: code for code, letter in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}
_WEIGHTS: Final = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
_SHAPE: Final = re.compile(r"[A-Z][A-Z0-9][0-9]{8}")


class IdKind(enum.Enum):
    NATIONAL_ID = "national_id"
    RESIDENT_NEW = "resident_new"  #: 2021 new-format resident certificate number
    RESIDENT_OLD = "resident_old"  #: pre-2021 two-letter resident certificate number


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A validated, normalised ID number. ``str()`` gives the masked form, never the full number."""

    value: str
    kind: IdKind

    @property
    def tail(self) -> str:
        """The last four characters (what a GPKI certificate carries as its ID tail)."""
        return self.value[-4:]

    @property
    def masked(self) -> str:
        return mask(self.value)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"IdNumber({self.masked!r}, {self.kind.name})"


def normalize(text: str) -> str:
    """Upper-case, fold full-width characters (Ａ１２…) to ASCII and drop spaces and hyphens."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-]", "", folded).upper()


def _digits(value: str) -> list[int] | None:
    letter = _LETTER_CODES.get(value[0])
    if letter is None:
        return None
    second = value[1]
    if second.isdigit():
        second_digit = int(second)
    elif second in "ABCD":
        second_digit = _LETTER_CODES[second] % 10
    else:
        return None
    return [letter // 10, letter % 10, second_digit, *(int(c) for c in value[2:])]


def _kind(value: str) -> IdKind | None:
    second = value[1]
    if second in "12":
        return IdKind.NATIONAL_ID
    if second in "89":
        return IdKind.RESIDENT_NEW
    if second in "ABCD":
        return IdKind.RESIDENT_OLD
    return None


def parse(text: str) -> IdNumber:
    """Normalise and validate; raise :class:`ValueError` (with a reason) if not a valid number."""
    value = normalize(text)
    if not _SHAPE.fullmatch(value):
        raise ValueError("ID number must be a letter and nine more characters")
    kind = _kind(value)
    if kind is None:
        raise ValueError("second character must be 1/2 (citizen), 8/9 (new ARC) or A-D (old ARC)")
    digits = _digits(value)
    if digits is None:
        raise ValueError("unknown leading letter")
    if sum(w * d for w, d in zip(_WEIGHTS, digits, strict=True)) % 10:
        raise ValueError("check digit does not match")
    return IdNumber(value, kind)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


@overload
def mask(text: str) -> str: ...
@overload
def mask(text: None) -> None: ...
def mask(text: str | None) -> str | None:
    """Mask an ID number for logs: keep the first three and last three characters.

    Anything not ID-shaped is masked entirely except for its length, so a typo'd ID never
    leaks either.
    """
    if text is None:
        return None
    value = normalize(text)
    if len(value) == 10:
        return value[:3] + "****" + value[-3:]
    return "*" * len(value)


def mask_name(name: str | None) -> str | None:
    """王小明 → 王*明; 王明 → 王*; Latin names keep their first letter of each word."""
    if not name:
        return name
    if name.isascii():
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in name.split(" "))
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_serial(value: str | None, *, keep_head: int = 4, keep_tail: int = 4) -> str | None:
    """Mask the middle of an identifier (card number, certificate subject serial, phone)."""
    if value is None:
        return None
    if len(value) <= keep_head + keep_tail:
        keep_head = 0
        keep_tail = min(keep_tail, max(len(value) // 2, 0))
    stars = len(value) - keep_head - keep_tail
    return value[:keep_head] + "*" * stars + (value[len(value) - keep_tail :] if keep_tail else "")
