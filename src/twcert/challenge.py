"""Login challenges: 32 random bytes, single use, bound to a session and an origin, expiring.

The card signs :attr:`Challenge.tbs`, an ASCII line naming the origin, the challenge id and the
nonce, so a signature made for one site or one session is useless anywhere else. Only a hash
of the session id is stored. :class:`NonceStore` backends consume a challenge atomically: when
several workers race to complete the same challenge exactly one wins and the others get
:class:`~twcert.errors.ChallengeReplayedError`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from .errors import (
    ChallengeBindingError,
    ChallengeExpiredError,
    ChallengeReplayedError,
    ChallengeUnknownError,
)

__all__ = [
    "DEFAULT_CHALLENGE_TTL",
    "DEFAULT_SKEW",
    "Challenge",
    "ConsumeResult",
    "NonceStore",
    "issue_challenge",
    "retained_until",
    "session_digest",
]

DEFAULT_CHALLENGE_TTL: Final = dt.timedelta(minutes=5)
#: Clock difference allowed between servers (and a card's host); a store remembers a challenge,
#: and that it was used, this long past its expiry.
DEFAULT_SKEW: Final = dt.timedelta(minutes=5)
NONCE_BYTES: Final = 32
_TBS_PREFIX: Final = "twcert-login/1"


def session_digest(session_id: str) -> str:
    """What is stored instead of the session id (a leaked store must not leak sessions)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Challenge:
    """One issued challenge. ``tbs`` is exactly what the card must sign."""

    id: str
    nonce: bytes
    session_hash: str
    origin: str
    issued_at: dt.datetime
    expires_at: dt.datetime

    @property
    def tbs(self) -> bytes:
        nonce = base64.urlsafe_b64encode(self.nonce).rstrip(b"=").decode("ascii")
        return f"{_TBS_PREFIX} {self.origin} {self.id} {nonce}".encode("ascii")

    @property
    def tbs_text(self) -> str:
        return self.tbs.decode("ascii")

    def check_binding(self, session_id: str | None, origin: str | None) -> None:
        """Refuse a completion from another session or site (constant-time comparisons)."""
        if session_id is None or not hmac.compare_digest(self.session_hash, session_digest(session_id)):
            raise ChallengeBindingError("session does not match the challenge")
        if origin is None or not hmac.compare_digest(self.origin.encode(), origin.encode()):
            raise ChallengeBindingError("origin does not match the challenge")


def _valid_origin(origin: str) -> str:
    if not origin or any(c.isspace() for c in origin) or not origin.isascii():
        raise ValueError("origin must be an ASCII scheme://host[:port] without spaces")
    return origin


def issue_challenge(
    session_id: str, origin: str, now: dt.datetime, ttl: dt.timedelta = DEFAULT_CHALLENGE_TTL
) -> Challenge:
    """A fresh challenge (not yet stored)."""
    if not session_id:
        raise ValueError("a session id is required: challenges are bound to a session")
    return Challenge(
        id=secrets.token_urlsafe(18),
        nonce=secrets.token_bytes(NONCE_BYTES),
        session_hash=session_digest(session_id),
        origin=_valid_origin(origin),
        issued_at=now,
        expires_at=now + ttl,
    )


def retained_until(challenge: Challenge, skew: dt.timedelta = DEFAULT_SKEW) -> dt.datetime:
    """Until when every store keeps a challenge and its "used" mark: its expiry plus the
    allowed skew. Past that a replay finds nothing and is refused as unknown, so the mark
    never disappears while the challenge could still be accepted, whatever the TTL."""
    return challenge.expires_at + skew


@dataclass(frozen=True, slots=True)
class ConsumeResult:
    """What a store found when consuming: the challenge, or why not."""

    challenge: Challenge | None
    #: "ok", "unknown" or "used".
    state: str

    def unwrap(self, now: dt.datetime) -> Challenge:
        """The challenge, or the catalogued error for an unknown, used or expired one."""
        if self.state == "unknown" or self.challenge is None:
            raise ChallengeUnknownError("no such challenge (never issued, or purged after expiry)")
        if self.state == "used":
            raise ChallengeReplayedError("challenge already used")
        if now > self.challenge.expires_at:
            raise ChallengeExpiredError(f"challenge expired at {self.challenge.expires_at.isoformat()}")
        return self.challenge


@runtime_checkable
class NonceStore(Protocol):
    """Where issued challenges wait. ``consume`` must be atomic across processes: it marks the
    challenge used and returns it only to the first caller."""

    def put(self, challenge: Challenge) -> None: ...

    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult: ...

    def purge(self, now: dt.datetime) -> int:
        """Drop challenges expired (and used) before ``now``; return how many."""
        ...
