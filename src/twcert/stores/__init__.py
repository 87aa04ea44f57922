"""Backends for the state a login keeps: nonces, PIN-failure counters, bindings.

Every backend of one kind passes the same contract tests (``tests/twcert/stores``), including
multi-process races: one nonce consumed by N processes has exactly one winner, N failures
reported at once are all counted.

* :mod:`twcert.stores.memory` — one process (tests, single-worker apps).
* :mod:`twcert.stores.file` — a JSON file with a lock (the card tools' per-user PIN ledger).
* :mod:`twcert.stores.sql` — SQLAlchemy Core: SQLite file (embedded default) or PostgreSQL.
* :mod:`twcert.stores.redis` — Redis, for nonces and PIN counters across many workers.
"""

from __future__ import annotations

from .memory import MemoryPinCounterStore as MemoryPinCounterStore

__all__ = ["MemoryPinCounterStore"]
