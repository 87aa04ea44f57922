"""In-process stores, guarded by a lock (safe across threads, not across processes)."""

from __future__ import annotations

import threading

__all__ = ["MemoryPinCounterStore"]


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

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
