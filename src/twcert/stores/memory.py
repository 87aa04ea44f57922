"""In-process stores, guarded by a lock (safe across threads, not across processes)."""

from __future__ import annotations

import datetime as dt
import threading

from ..binding import MemoryBindingStore
from ..challenge import Challenge, ConsumeResult
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
    """Challenges in a dict; ``consume`` marks them used under a lock."""

    def __init__(self) -> None:
        self._challenges: dict[str, tuple[Challenge, bool]] = {}
        self._lock = threading.Lock()

    def put(self, challenge: Challenge) -> None:
        with self._lock:
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
            expired = [k for k, (c, _) in self._challenges.items() if c.expires_at < now]
            for key in expired:
                del self._challenges[key]
            return len(expired)
