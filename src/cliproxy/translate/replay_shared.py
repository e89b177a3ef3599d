"""The replay caches shared by every worker through the Redis state backend.

A Chat Completions client in a Claude tool loop cannot carry the signed thinking of the
turn that made the tool calls; the proxy keeps it (:mod:`cliproxy.translate.replay`) and
restores it on the next turn. With ``workers: N`` or several hosts that next turn may land
on another process, which would not hold it and the upstream would answer 400. So each
change of the cache is copied to Redis (one ``SET`` with the cache's TTL, off the request
path: a task the request does not wait for), and before a translated Claude attempt whose
session this process does not hold, the turns are read from Redis (one ``GET``, bounded by
the state backend's timeout; nothing is read when the session is already here, so a
conversation that stays on one worker costs no round trip).

While Redis is away nothing is copied or read: each process keeps its own, as with the
memory backend. Keys: ``<prefix>rp|<sha256 of the cache key, 32 hex>`` (a cache key starts
with its cache's namespace, so two caches never share one). One :class:`RedisMirror` per
cache; the Codex reasoning replay cache (``translate.codex_replay``) has its own, with its
own encoding of turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.translate import ir
from cliproxy.translate.replay import REPLAY_TTL, Turn, TurnCache
from cliproxy.translate.replay_keys import replay_model_family, replay_session_key

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = ["RedisMirror", "decode_turns", "encode_turns"]

log = logging.getLogger(__name__)


def encode_turns(turns: tuple[Turn, ...]) -> bytes:
    return orjson.dumps(
        [
            {
                "t": [[t.text, t.signature, t.family, t.redacted] for t in turn.thinking],
                "c": [list(call) for call in turn.calls],
            }
            for turn in turns
        ]
    )


def decode_turns(raw: bytes) -> tuple[Turn, ...]:
    """The turns in ``raw``; an unreadable value is no turns (never an error)."""
    try:
        data = orjson.loads(raw)
        return tuple(
            Turn(
                tuple(
                    ir.Thinking(text=str(text), signature=sig, family=family, redacted=bool(redacted))
                    for text, sig, family, redacted in item["t"]
                ),
                tuple((str(cid), str(name)) for cid, name in item["c"]),
            )
            for item in data
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return ()


class RedisMirror:
    """A :class:`~cliproxy.translate.replay.Mirror` on the Redis state backend, for one
    cache; ``encode`` / ``decode`` turn its turns into bytes and back (an unreadable value
    decodes to no turns). The default pair is the thinking replay cache's."""

    def __init__(
        self,
        state: RedisState,
        cache: TurnCache[Any],
        ttl: float = REPLAY_TTL,
        encode: Callable[[tuple[Any, ...]], bytes] = encode_turns,
        decode: Callable[[bytes], tuple[Any, ...]] = decode_turns,
    ) -> None:
        self.state = state
        self.cache = cache
        self.ttl_ms = int(ttl * 1000)
        self.encode = encode
        self.decode = decode
        self._pending: set[asyncio.Task[Any]] = set()
        cache.mirror = self

    def _key(self, cache_key: str) -> str:
        return self.state.prefix + "rp|" + hashlib.sha256(cache_key.encode()).hexdigest()[:32]

    def _spawn(self, work: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a test calling the cache directly): nothing to copy to
            work.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def saved(self, key: str, turns: tuple[Any, ...]) -> None:
        if self.state.available:
            self._spawn(self._set(self._key(key), self.encode(turns)))

    def dropped(self, key: str) -> None:
        if self.state.available:
            self._spawn(self._delete(self._key(key)))

    async def _set(self, key: str, value: bytes) -> None:
        try:
            await self.state.client.set(key, value, px=self.ttl_ms)
        except Exception as exc:  # the local copy still serves this process
            log.debug("replay: copy to Redis failed (%s)", type(exc).__name__)

    async def _delete(self, key: str) -> None:
        try:
            await self.state.client.delete(key)
        except Exception as exc:
            log.debug("replay: delete in Redis failed (%s)", type(exc).__name__)

    async def prefetch(
        self,
        credential_id: str,
        model: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any],
        *,
        chat_client: bool,
    ) -> None:
        """Bring the session's turns here when another worker recorded them."""
        family = replay_model_family(credential_id, model)
        await self.fetch(family, replay_session_key(headers, body, chat_client=chat_client))

    async def fetch(self, family: str, session: str) -> None:
        """The turns of ``(family, session)`` from Redis into the cache, unless the cache
        holds some already (then nothing is read) or Redis is away."""
        if not self.state.available:
            return
        cache_key = self.cache._key(family, session)
        if cache_key is None or self.cache.get(family, session):
            return
        key = self._key(cache_key)
        raw: Any = None
        try:
            async with self.state.client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.pexpire(key, self.ttl_ms)  # the cache's TTL slides on reads too
                raw, _ = await pipe.execute()
        except Exception as exc:
            log.debug("replay: read from Redis failed (%s)", type(exc).__name__)
            return
        if raw:
            self.cache.adopt(family, session, self.decode(raw))

    async def close(self) -> None:
        """Let the copies still under way finish (bounded), at shutdown."""
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._pending), timeout=2.0)
