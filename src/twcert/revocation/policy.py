"""What to do about revocation, and what a revocation check found."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from cryptography import x509

__all__ = ["RevocationPolicy", "RevocationSources", "RevocationState", "RevocationStatus"]


class RevocationPolicy(enum.Enum):
    """How an unanswered revocation question is treated. A *revoked* answer always refuses."""

    #: No answer (no fresh CRL, no OCSP response) → refuse with RevocationUnavailableError.
    HARD_FAIL = "hard-fail"
    #: No answer → accept, and record that revocation was not checked (audit it).
    SOFT_FAIL = "soft-fail"
    #: Do not check revocation at all (tests, air-gapped demos; never in production).
    OFF = "off"


class RevocationSources(enum.Enum):
    """Which sources answer, in which order.

    Local answers come first whatever the order: a fresh CRL already indexed, or a cached OCSP
    response that is still fresh. The order decides which *network* request is made first.
    """

    CRL_ONLY = "crl"
    OCSP_ONLY = "ocsp"
    OCSP_THEN_CRL = "ocsp,crl"
    CRL_THEN_OCSP = "crl,ocsp"

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self.value.split(","))


class RevocationState(enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    #: No source could answer (or every answer was unusable).
    UNKNOWN = "unknown"
    #: Not checked (policy OFF).
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """The answer about one certificate."""

    state: RevocationState
    #: "crl", "ocsp", or "" when no source answered.
    source: str = ""
    #: The CRL or OCSP URL that answered.
    url: str | None = None
    checked_at: dt.datetime | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None
    #: Why no answer could be had, per source tried (for logs and RevocationUnavailableError).
    failures: tuple[str, ...] = ()

    @property
    def is_revoked(self) -> bool:
        return self.state is RevocationState.REVOKED
