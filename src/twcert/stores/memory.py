"""In-process stores, guarded by a lock (safe across threads, not across processes)."""

from __future__ import annotations

import datetime as dt
import threading

from ..binding import MemoryBindingStore
from ..challenge import DEFAULT_SKEW, Challenge, ConsumeResult, retained_until
from ..errors import ChallengeStoreFullError
from ..personnel import MemoryPersonnelDirectory

__all__ = ["MemoryBindingStore", "MemoryNonceStore", "MemoryPersonnelDirectory", "MemoryPinCounterStore"]


class MemoryPinCounterStore:
    """PIN-failure counters in a dict."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def increment(self, key: str) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def set(self, key: str, count: int) -> None:
        with self._lock:
            self._counts[key] = count

    def raise_to(self, key: str, count: int) -> int:
        with self._lock:
            self._counts[key] = max(self._counts.get(key, 0), count)
            return self._counts[key]

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class MemoryNonceStore:
    """Challenges in a dict; ``consume`` marks them used under a lock.

    Expired challenges are purged as new ones arrive (every ``purge_every`` puts, and whenever
    the store is full); at ``max_challenges`` unexpired challenges a put is refused with
    :class:`~twcert.errors.ChallengeStoreFullError` rather than letting anonymous challenge
    requests grow the process without bound. A challenge and its "used" mark are kept until
    :func:`~twcert.challenge.retained_until` (expiry plus ``skew``).
    """

    def __init__(
        self,
        *,
        max_challenges: int = 100_000,
        purge_every: int = 1_000,
        skew: dt.timedelta = DEFAULT_SKEW,
    ) -> None:
        if max_challenges < 1 or purge_every < 1:
            raise ValueError("max_challenges and purge_every must be positive")
        self._challenges: dict[str, tuple[Challenge, bool]] = {}
        self._lock = threading.Lock()
        self.max_challenges = max_challenges
        self.purge_every = purge_every
        self.skew = skew
        self._puts = 0

    def put(self, challenge: Challenge) -> None:
        with self._lock:
            self._puts += 1
            if self._puts % self.purge_every == 0 or len(self._challenges) >= self.max_challenges:
                self._purge(challenge.issued_at)
            if len(self._challenges) >= self.max_challenges:
                raise ChallengeStoreFullError(f"{len(self._challenges)} challenges pending")
            self._challenges[challenge.id] = (challenge, False)

    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        with self._lock:
            found = self._challenges.get(challenge_id)
            if found is None:
                return ConsumeResult(None, "unknown")
            challenge, used = found
            if used:
                return ConsumeResult(challenge, "used")
            self._challenges[challenge_id] = (challenge, True)
            return ConsumeResult(challenge, "ok")

    def purge(self, now: dt.datetime) -> int:
        with self._lock:
            return self._purge(now)

    def _purge(self, now: dt.datetime) -> int:
        expired = [k for k, (c, _) in self._challenges.items() if retained_until(c, self.skew) < now]
        for key in expired:
            del self._challenges[key]
        return len(expired)

    def __len__(self) -> int:
        return len(self._challenges)
