"""The Kimi and Claude-compatible thinking replay caches shared by every worker.

With ``workers: N`` or several hosts on the Redis state backend the next turn of a tool
loop may land on any worker, which must restore the signed thinking an earlier turn
recorded elsewhere (or a Claude-compatible gateway refuses the continuation with 400, and
Kimi loses its ``reasoning_content``). So every change of an entry of a
:class:`~cliproxy.translate.kimi_replay.KimiReplayCache` (a kept content, the tombstone a
refusal leaves, a deletion) is published on the state backend's notification channel, off
the request path (a task the request does not wait for), and every other worker adopts it
into its own cache: a request reads its own process's cache as with one worker, and a
forget on one worker reaches all. An adopted entry is a new object, so a request that read
the older one before it changes nothing (the caches' ``snapshot`` rule holds across
workers).

Nothing is read on the request path and nothing is stored in Redis: a worker that starts
while a conversation runs does not hold what was recorded before (its next recorded turn
is shared again). A worker whose notification channel was down missed the changes told
meanwhile, and with no copy in Redis it cannot tell which of its entries went stale (a
step recorded elsewhere, a refusal's forget): so when the channel is followed again it
drops them all. That is the limit of this design: a conversation running through the
outage loses what that worker would have restored (once; its next recorded turn is shared
again), which is what a worker that just started has. While Redis is away nothing is
told: each process keeps its own, as with the memory backend. A message that is not a
valid entry of its cache is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.translate.kimi_replay import MAX_BLOCKS, MAX_BYTES, MAX_TURNS, KimiReplayCache, replayable

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = ["SharedReplay", "compat_entry", "kimi_entry"]

log = logging.getLogger(__name__)

_NAMESPACE = "kimi-thinking-replay\x00"  # every key of both caches (KimiReplayCache._key)
_MAX_KEY = 4096

Entry = tuple[list[Any], int]


def kimi_entry(value: Any) -> Entry | None:
    """Kimi's entry for a told ``value`` (one assistant content; ``[]`` the tombstone); None
    when it is no valid entry."""
    if type(value) is not list:
        return None
    if not value:
        return ([], 0)
    size = _content_size(value)
    return (value, size) if size else None


def compat_entry(value: Any) -> Entry | None:
    """The Claude-compatible cache's entry for ``value`` (a loop's signed contents, oldest
    first; ``[]`` the tombstone); None when it is no valid entry."""
    if type(value) is not list or len(value) > MAX_TURNS:
        return None
    total = 0
    for turn in value:
        size = _content_size(turn)
        if not size:
            return None
        total += size
    return (value, total) if total <= MAX_BYTES else None


def _content_size(content: Any) -> int:
    """The bytes of a replayable content within the cache's bounds, 0 for anything else."""
    if not replayable(content) or len(content) > MAX_BLOCKS:
        return 0
    size = len(orjson.dumps(content))
    return size if size <= MAX_BYTES else 0


class SharedReplay:
    """``cache``'s changes told to every process sharing ``bus`` under the event ``kind``,
    and theirs adopted (``decode``: an entry from what was told, :func:`kimi_entry` or
    :func:`compat_entry`)."""

    def __init__(
        self,
        bus: RedisState,
        cache: KimiReplayCache,
        kind: str,
        decode: Callable[[Any], Entry | None],
    ) -> None:
        self.bus, self.cache, self.kind, self.decode = bus, cache, kind, decode
        self._pending: set[asyncio.Task[Any]] = set()
        cache.mirror = self._tell
        bus.on_event(kind, self._heard)
        bus.on_resubscribe(cache.clear)  # changes told meanwhile were missed (see above)

    def _tell(self, key: str, entry: Entry | None) -> None:
        if not self.bus.available:
            return
        value = None if entry is None else entry[0]  # (None: the entry went)
        try:
            task = asyncio.get_running_loop().create_task(self._publish(key, value))
        except RuntimeError:  # no loop (a cache used outside a server): nothing to tell
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, key: str, value: list[Any] | None) -> None:
        try:
            await self.bus.publish(self.kind, key=key, v=value)
        except Exception as exc:  # the local copy still serves this process
            log.debug("replay: telling the other workers failed (%s)", type(exc).__name__)

    def _heard(self, message: dict[str, Any]) -> None:
        key = message.get("key")
        if type(key) is not str or not key.startswith(_NAMESPACE) or len(key) > _MAX_KEY:
            return
        value = message.get("v")
        if value is None:
            self.cache.adopt(key, None)
        elif (entry := self.decode(value)) is not None:
            self.cache.adopt(key, entry)

    async def close(self) -> None:
        """Let the notices still under way go out (bounded), at shutdown."""
        self.cache.mirror = None
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._pending), timeout=2.0)
