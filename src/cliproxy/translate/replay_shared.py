"""The replay caches shared by every worker through the Redis state backend.

A Chat Completions client in a Claude tool loop cannot carry the signed thinking of the
turn that made the tool calls; the proxy keeps it (:mod:`cliproxy.translate.replay`) and
restores it on the next turn. With ``workers: N`` or several hosts that next turn may land
on another process, which would not hold it and the upstream would answer 400. So each
change of the cache is copied to Redis (one ``SET`` with the cache's TTL, or a ``DEL`` for
a forgotten session, off the request path: a task the request does not wait for), and
before a translated Claude attempt whose session this process does not hold, the turns are
read from Redis (one ``GET``, bounded by the state backend's timeout; nothing is read when
the session is already here, so a conversation that stays on one worker costs no round
trip).

A copy a worker holds goes stale as soon as another worker changes the session (a loop
going A, B, A: A still holds the first step only, without B's), or forgets it after a
400/422 refusal. So once the ``SET`` or ``DEL`` is done, a notice naming the session goes
out on the state backend's notification channel, and every other worker drops its own
copy: its next turn of that session reads Redis again. A hit thus costs nothing on the
request path (no version check per request), and only the worker that serves the next
turn reads the new value (the notice carries no turns). Notices sent while a worker's
channel was down are missed; so when the channel is followed again the worker drops
every copy it holds, and each session's next turn there reads Redis.

While Redis is away nothing is copied, told or read: each process keeps its own, as with
the memory backend. Keys: ``<prefix>rp|<sha256 of the cache key, 32 hex>`` (a cache key
starts with its cache's namespace, so two caches never share one); notices go under the
event ``rp|<namespace>``. One :class:`RedisMirror` per cache; the Codex reasoning replay
cache (``translate.codex_replay``) has its own, with its own encoding of turns.
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

_MAX_KEY = 4096  # a longer key in a notice is none of ours


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
        self.kind = "rp|" + cache.namespace  # the notices of this cache's changes
        self._namespace = cache.namespace + "\x00"
        cache.mirror = self
        state.on_event(self.kind, self._heard)
        state.on_resubscribe(cache.clear)  # notices may have been missed: Redis has the truth

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
            self._spawn(self._set(key, self.encode(turns)))

    def dropped(self, key: str) -> None:
        if self.state.available:
            self._spawn(self._delete(key))

    async def _set(self, cache_key: str, value: bytes) -> None:
        try:
            await self.state.client.set(self._key(cache_key), value, px=self.ttl_ms)
        except Exception as exc:  # the local copy still serves this process
            log.debug("replay: copy to Redis failed (%s)", type(exc).__name__)
        await self._tell(cache_key)  # after the write: who reads Redis on the notice finds it

    async def _delete(self, cache_key: str) -> None:
        try:
            await self.state.client.delete(self._key(cache_key))
        except Exception as exc:
            log.debug("replay: delete in Redis failed (%s)", type(exc).__name__)
        await self._tell(cache_key)

    async def _tell(self, cache_key: str) -> None:
        """The other workers' copies of ``cache_key`` are stale now: they drop them."""
        try:
            await self.state.publish(self.kind, key=cache_key)
        except Exception as exc:
            log.debug("replay: telling the other workers failed (%s)", type(exc).__name__)

    def _heard(self, message: dict[str, Any]) -> None:
        """Another worker changed or forgot a session: this worker's copy goes (its next
        turn here reads Redis); a key outside this cache changes nothing."""
        key = message.get("key")
        if type(key) is str and key.startswith(self._namespace) and len(key) <= _MAX_KEY:
            self.cache.evict(key)

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
        holds some already (then nothing is read: another worker's change would have
        evicted them) or Redis is away."""
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
