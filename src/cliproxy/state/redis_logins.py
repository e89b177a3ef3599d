"""Panel sign-in sessions on Redis, so any process sharing it can finish or report one.

One hash per sign-in, ``<prefix>login|<state>``: ``p`` the panel provider, ``f`` the flow
(``callback`` / ``device``), ``a`` what a callback flow needs to finish (the flow's start,
PKCE verifier included, JSON; dropped once the sign-in ends), ``c`` the process that
claimed the callback's answer, ``st`` the error text once it failed, ``ok`` ``1`` once it
completed. The key's TTL is the session's lifetime. Claiming, ending and cancelling are one
script each, and ending or cancelling publishes ``login`` on the events channel so the
process that started the sign-in stops waiting. While Redis is away every method answers
``None`` / ``False`` and the caller keeps the session in its own memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .resp import DOWN as _DOWN

__all__ = ["RedisLogins"]


# ARGV: claiming node; returns the flow's start (JSON) when the answer is now ours
_CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'p', 'ok', 'st', 'c', 'a')
if not h[1] or h[2] == '1' or (h[3] and h[3] ~= '') or (h[4] and h[4] ~= '') or not h[5] then
  return false
end
redis.call('HSET', KEYS[1], 'c', ARGV[1])
return h[5]
"""

# ARGV: node, error text ('' = completed), ttl ms, channel, message
_END = """
local h = redis.call('HMGET', KEYS[1], 'p', 'ok', 'st', 'c')
if not h[1] or h[2] == '1' or (h[3] and h[3] ~= '') then return 0 end
if h[4] and h[4] ~= '' and h[4] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('HSET', KEYS[1], 'ok', '1') else redis.call('HSET', KEYS[1], 'st', ARGV[2]) end
redis.call('HDEL', KEYS[1], 'a')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""

# ARGV: channel, message
_CANCEL = """
local h = redis.call('HMGET', KEYS[1], 'p', 'ok', 'st')
if not h[1] or h[2] == '1' or (h[3] and h[3] ~= '') then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLogins:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``,
    ``node`` and ``_channel`` (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _channel: str
    node: str
    _login_scripts: tuple[Any, Any, Any] | None = None

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _login_script(self, index: int) -> Any:
        if self._login_scripts is None:
            self._login_scripts = tuple(self._redis.register_script(s) for s in (_CLAIM, _END, _CANCEL))
        assert self._login_scripts is not None
        return self._login_scripts[index]

    def _note(self, state: str) -> bytes:
        return orjson.dumps({"k": "login", "n": self.node, "s": state})

    async def login_open(self, state: str, fields: Mapping[str, str], ttl: float) -> bool:
        """Store a new pending sign-in for ``ttl`` seconds (False: Redis is away)."""
        if self._down:
            return False
        key = self._k("login|" + state)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(key, mapping=dict(fields))
                pipe.pexpire(key, int(ttl * 1000))
                await pipe.execute()
        except _DOWN as exc:
            self._went_down(exc)
            return False
        return True

    async def login_get(self, state: str) -> dict[str, str] | None:
        """The sign-in's fields (None: unknown, expired, or Redis is away)."""
        if self._down:
            return None
        try:
            raw = await self._redis.hgetall(self._k("login|" + state))
        except _DOWN as exc:
            self._went_down(exc)
            return None
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    async def login_claim(self, state: str) -> str | None:
        """Take the callback's answer of a pending callback sign-in for this process:
        the flow's start (JSON) when taken, None when another process has it, it ended,
        it is a device flow, or Redis is away."""
        if self._down:
            return None
        try:
            found = await self._login_script(0)(keys=[self._k("login|" + state)], args=[self.node])
        except _DOWN as exc:
            self._went_down(exc)
            return None
        return _text(found) if found else None

    async def login_end(self, state: str, error: str, ttl: float) -> bool:
        """Complete (``error`` empty) or fail a pending sign-in nobody else claimed; the
        record then lives ``ttl`` seconds. False: it was not ours to end (or Redis is away)."""
        if self._down:
            return False
        args = [self.node, error, int(ttl * 1000), self._channel, self._note(state)]
        try:
            return bool(await self._login_script(1)(keys=[self._k("login|" + state)], args=args))
        except _DOWN as exc:
            self._went_down(exc)
            return False

    async def login_cancel(self, state: str) -> bool:
        """Forget a pending sign-in (True: one was pending)."""
        if self._down:
            return False
        args = [self._channel, self._note(state)]
        try:
            return bool(await self._login_script(2)(keys=[self._k("login|" + state)], args=args))
        except _DOWN as exc:
            self._went_down(exc)
            return False
