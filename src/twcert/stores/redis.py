"""Redis stores for state shared by many web workers: challenges and PIN-failure counters.

A challenge is consumed by one Lua script (atomic on the server): it reads the challenge and
sets its "used" marker with ``SET NX`` in one step, so of N racing workers exactly one wins.
Keys expire by themselves: a challenge at :func:`~twcert.challenge.retained_until` (its TTL plus
the allowed skew), its "used" mark a skew later. PIN counters are ``INCR``/``SET``/``DEL`` and never expire: a
locked card stays locked until an unblock is recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import redis

from ..challenge import DEFAULT_SKEW, Challenge, ConsumeResult, retained_until
from ..errors import BackendUnavailableError

__all__ = ["RedisNonceStore", "RedisPinCounterStore", "redis_client"]

# The "used" mark lives as long as the challenge's own key (its TTL plus the skew) and the
# skew again: it never expires while the challenge could still be read and accepted.
_CONSUME = """
local data = redis.call('GET', KEYS[1])
if not data then return {'unknown'} end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then left = 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', left + tonumber(ARGV[1])) then return {'ok', data} end
return {'used', data}
"""

_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then redis.call('SET', KEYS[1], wanted); return wanted end
return current
"""


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _guard(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise BackendUnavailableError(f"redis: {type(exc).__name__}: {exc}") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class RedisNonceStore:
    """:param client: a ``redis.Redis`` (or a URL). :param prefix: key namespace.
    :param skew: how long past its expiry a challenge and its "used" mark are kept."""

    def __init__(
        self, client: redis.Redis | str, *, prefix: str = "twcert:", skew: dt.timedelta = DEFAULT_SKEW
    ) -> None:
        self.client = redis_client(client) if isinstance(client, str) else client
        self.prefix = prefix
        self.skew = skew
        self._consume = self.client.register_script(_CONSUME)

    def _keys(self, challenge_id: str) -> tuple[str, str]:
        return f"{self.prefix}challenge:{challenge_id}", f"{self.prefix}challenge-used:{challenge_id}"

    @_guard
    def put(self, challenge: Challenge) -> None:
        key, _ = self._keys(challenge.id)
        data = json.dumps(
            {
                "nonce": base64.b64encode(challenge.nonce).decode(),
                "session_hash": challenge.session_hash,
                "origin": challenge.origin,
                "issued_at": challenge.issued_at.isoformat(),
                "expires_at": challenge.expires_at.isoformat(),
            }
        )
        lifetime = retained_until(challenge, self.skew) - challenge.issued_at
        self.client.set(key, data, px=max(lifetime // dt.timedelta(milliseconds=1), 1))

    @_guard
    def consume(self, challenge_id: str, now: dt.datetime) -> ConsumeResult:
        keys = self._keys(challenge_id)
        answer = self._consume(keys=list(keys), args=[max(self.skew // dt.timedelta(milliseconds=1), 1)])
        state = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        if state == "unknown":
            return ConsumeResult(None, "unknown")
        raw = json.loads(answer[1])
        challenge = Challenge(
            id=challenge_id,
            nonce=base64.b64decode(raw["nonce"]),
            session_hash=raw["session_hash"],
            origin=raw["origin"],
            issued_at=dt.datetime.fromisoformat(raw["issued_at"]),
            expires_at=dt.datetime.fromisoformat(raw["expires_at"]),
        )
        return ConsumeResult(challenge, state)

    def purge(self, now: dt.datetime) -> int:
        return 0  # keys expire by themselves


class RedisPinCounterStore:
    def __init__(self, client: redis.Redis | str, *, prefix: str = "twcert:") -> None:
        self.client = redis_client(client) if isinstance(client, str) else client
        self.prefix = prefix
        self._raise = self.client.register_script(_RAISE_TO)

    def _key(self, card: str) -> str:
        return f"{self.prefix}pin-failures:{card}"

    @_guard
    def get(self, key: str) -> int:
        value = self.client.get(self._key(key))
        return int(value) if value is not None else 0

    @_guard
    def increment(self, key: str) -> int:
        return int(self.client.incr(self._key(key)))

    @_guard
    def set(self, key: str, count: int) -> None:
        self.client.set(self._key(key), count)

    @_guard
    def raise_to(self, key: str, count: int) -> int:
        return int(self._raise(keys=[self._key(key)], args=[count]))

    @_guard
    def reset(self, key: str) -> None:
        self.client.delete(self._key(key))
