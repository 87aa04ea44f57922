"""A first login waiting for the account (manual step 3), kept on the server, used once.

When :meth:`~twcert.LoginService.complete` answers :class:`~twcert.errors.AccountRequired`,
the card's signature and certificate have already been verified, but the challenge is spent.
The web flow (:mod:`twcert.web.flow`) keeps that challenge and the card's response under a
random key (held in the user's session) so the first-use form needs only the account: the
login is then completed again with the same challenge handed back once (:class:`ReplayNonces`),
so every check —
signature, validity, session and origin binding, the personnel rules — runs again.

The entry is single-use (``take`` is atomic), expires after ``TWCERT_PENDING_TTL``, and is
stored under a hash of its key. One guess per signature also means the form cannot be used to
probe which accounts exist. It holds the card's certificate (holder name, ID tail) only that
long: taken entries are deleted, expired ones purged at every ``put``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from twcert.challenge import Challenge, ConsumeResult, NonceStore
from twcert.errors import BackendUnavailableError, ConfigurationError

__all__ = [
    "MemoryPendingStore",
    "PendingLogin",
    "PendingStore",
    "RecordingNonces",
    "RedisPendingStore",
    "ReplayNonces",
    "SqlPendingStore",
    "pending_store_for",
]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the first-use step needs: the spent challenge and the card's response."""

    challenge: Challenge
    response: Mapping[str, Any]
    expires_at: dt.datetime
    next_url: str | None = None

    def to_bytes(self) -> bytes:
        c = self.challenge
        return json.dumps(
            {
                "challenge": {
                    "id": c.id,
                    "nonce": base64.b64encode(c.nonce).decode("ascii"),
                    "session_hash": c.session_hash,
                    "origin": c.origin,
                    "issued_at": c.issued_at.isoformat(),
                    "expires_at": c.expires_at.isoformat(),
                },
                "response": dict(self.response),
                "expires_at": self.expires_at.isoformat(),
                "next_url": self.next_url,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingLogin:
        raw = json.loads(data)
        c = raw["challenge"]
        challenge = Challenge(
            id=c["id"],
            nonce=base64.b64decode(c["nonce"]),
            session_hash=c["session_hash"],
            origin=c["origin"],
            issued_at=dt.datetime.fromisoformat(c["issued_at"]),
            expires_at=dt.datetime.fromisoformat(c["expires_at"]),
        )
        return cls(challenge, raw["response"], dt.datetime.fromisoformat(raw["expires_at"]), raw["next_url"])


@runtime_checkable
class PendingStore(Protocol):
    """Key → bytes until an expiry; ``take`` returns an entry to exactly one caller."""

    def put(self, key: str, data: bytes, expires_at: dt.datetime, now: dt.datetime) -> None:
        """Store ``data`` until ``expires_at``; ``now`` is the login service's clock."""
        ...

    def take(self, key: str, now: dt.datetime) -> bytes | None: ...


class MemoryPendingStore:
    """One process (single-worker apps, tests)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bytes, dt.datetime]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, expires_at: dt.datetime, now: dt.datetime) -> None:
        with self._lock:
            for stale in [k for k, (_, until) in self._entries.items() if until < now]:
                del self._entries[stale]
            self._entries[_digest(key)] = (data, expires_at)

    def take(self, key: str, now: dt.datetime) -> bytes | None:
        with self._lock:
            entry = self._entries.pop(_digest(key), None)
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def __len__(self) -> int:
        return len(self._entries)


class SqlPendingStore:
    """SQLAlchemy Core: SQLite or PostgreSQL; ``take`` is one ``DELETE … RETURNING``.

    :param engine: an :class:`sqlalchemy.Engine` or a URL.
    :param table: table name (created if missing).
    """

    def __init__(
        self, engine: Any, *, table: str = "twcert_pending_logins", schema: str | None = None
    ) -> None:
        import sqlalchemy as sa

        from twcert.stores.sql import make_engine

        self.engine: sa.Engine = make_engine(engine) if isinstance(engine, str) else engine
        self.table = sa.Table(
            table,
            sa.MetaData(),
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("data", sa.LargeBinary, nullable=False),
            sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
            schema=schema,
        )
        self._sa = sa
        self._create()

    def _create(self) -> None:
        sa = self._sa
        # Several workers may start at once; whoever loses the CREATE race finds the table.
        for attempt in range(3):
            try:
                self.table.create(self.engine, checkfirst=True)
                return
            except sa.exc.SQLAlchemyError as exc:
                if attempt == 2:
                    raise BackendUnavailableError(f"pending store: {type(exc).__name__}") from exc

    @staticmethod
    def _stamp(when: dt.datetime) -> int:
        return int(when.timestamp() * 1_000_000)

    def put(self, key: str, data: bytes, expires_at: dt.datetime, now: dt.datetime) -> None:
        sa, t = self._sa, self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.expires_at < self._stamp(now)))
                conn.execute(
                    t.insert().values(key=_digest(key), data=data, expires_at=self._stamp(expires_at))
                )
        except sa.exc.SQLAlchemyError as exc:
            raise BackendUnavailableError(f"pending store: {type(exc).__name__}") from exc

    def take(self, key: str, now: dt.datetime) -> bytes | None:
        sa, t = self._sa, self.table
        try:
            with self.engine.begin() as conn:
                row = conn.execute(
                    t.delete().where(t.c.key == _digest(key)).returning(t.c.data, t.c.expires_at)
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            raise BackendUnavailableError(f"pending store: {type(exc).__name__}") from exc
        if row is None or row[1] < self._stamp(now):
            return None
        return bytes(row[0])


class RedisPendingStore:
    """Redis: the entry expires by itself; ``take`` is GET+DEL in one MULTI transaction."""

    def __init__(self, client: Any, *, prefix: str = "twcert:pending:") -> None:
        from twcert.stores.redis import redis_client

        self.client = redis_client(client) if isinstance(client, str) else client
        self.prefix = prefix

    def put(self, key: str, data: bytes, expires_at: dt.datetime, now: dt.datetime) -> None:
        import redis

        ttl_ms = max(int((expires_at - now).total_seconds() * 1000), 1)
        try:
            self.client.set(self.prefix + _digest(key), data, px=ttl_ms)
        except redis.RedisError as exc:
            raise BackendUnavailableError(f"pending store: {type(exc).__name__}") from exc

    def take(self, key: str, now: dt.datetime) -> bytes | None:
        import redis

        name = self.prefix + _digest(key)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.get(name)
            pipe.delete(name)
            data, deleted = pipe.execute()
        except redis.RedisError as exc:
            raise BackendUnavailableError(f"pending store: {type(exc).__name__}") from exc
        return bytes(data) if data is not None and deleted else None


def pending_store_for(setting: object, nonces: NonceStore) -> PendingStore:
    """The store ``TWCERT_PENDING_STORE`` names, or one beside the login service's nonces."""
    if isinstance(setting, PendingStore):
        return setting
    if isinstance(setting, str):
        if setting == "memory":
            return MemoryPendingStore()
        if setting.startswith(("redis://", "rediss://", "unix://")):
            return RedisPendingStore(setting)
        if "://" in setting:
            return SqlPendingStore(setting)
    if setting is not None:
        raise ConfigurationError(f"TWCERT_PENDING_STORE: not a store or URL: {type(setting).__name__}")
    # Several workers share the nonce database, so the pending step must live there too.
    from twcert.stores.memory import MemoryNonceStore

    if isinstance(nonces, MemoryNonceStore):
        return MemoryPendingStore()
    engine = getattr(nonces, "engine", None)
    if engine is not None:
        return SqlPendingStore(engine)
    client = getattr(nonces, "client", None)
    if client is not None:
        return RedisPendingStore(client)
    return MemoryPendingStore()


class RecordingNonces:
    """Wraps the service's nonce store for one request and remembers the challenge it consumed."""

    def __init__(self, inner: NonceStore) -> None:
        self.inner = inner
        self.consumed: Challenge | None = None

    def put(self, challenge: Challenge) -> None:
        self.inner.put(challenge)

    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        result = self.inner.consume(challenge_id, now)
        if result.state == "ok":
            self.consumed = result.challenge
        return result

    def purge(self, now: dt.datetime) -> int:
        return self.inner.purge(now)


class ReplayNonces:
    """Hands a pending login's challenge back exactly once (as if it had just been issued)."""

    def __init__(self, challenge: Challenge) -> None:
        self.challenge = challenge
        self._used = False

    def put(self, challenge: Challenge) -> None:
        raise RuntimeError("a replayed challenge store issues nothing")

    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        if challenge_id != self.challenge.id:
            return ConsumeResult(None, "unknown")
        if self._used:
            return ConsumeResult(self.challenge, "used")
        self._used = True
        return ConsumeResult(self.challenge, "ok")

    def purge(self, now: dt.datetime) -> int:
        return 0
