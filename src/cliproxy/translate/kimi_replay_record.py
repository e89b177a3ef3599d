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

A Claude-compatible entry holds a loop's signed turns (up to ``MAX_TURNS`` and
``MAX_BYTES``), and it grows by one turn a step: telling the whole entry each step would
publish O(n^2) bytes over a loop, up to 8 MiB a message, to every worker. So a step is
told as that turn alone, on top of the version of the entry it extends (``base``), with
the number of turns the entry keeps (``keep``: the receiver keeps as many of its own, so
the trimming is the sender's). Every told change names its version (``ver``: the sending
process and a counter). A worker applies a turn only while it holds that ``base``;
otherwise it missed a change (a message lost, a start during the loop, two workers
extending one entry at once) and drops its entry, restoring nothing rather than a wrong or
partial loop, and asks the worker that made the turn for its whole entry (the event
``<kind>?``, once in :data:`ASK_AGAIN` seconds a key): the answer is a whole entry with
its version (``re``), taken only by a worker whose last heard change of that entry is that
version and that holds none of it; every other ignores it (a step told after the answer
was written may reach the channel first: the answer is then older than what the others
hold). A whole entry is also told for a loop's first step and a
clearing. The messages of a process go out in order (one sender), so its own steps never
look like a gap. A worker that does not know versions reads a turn message as a deletion
(it has no ``v``) and ignores the questions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.translate.kimi_replay import (
    MAX_BLOCKS,
    MAX_BYTES,
    MAX_TURNS,
    CompatReplayCache,
    KimiReplayCache,
    replayable,
)
from cliproxy.translate.replay import REPLAY_MAX_SESSIONS

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = ["SharedReplay", "compat_entry", "kimi_entry"]

log = logging.getLogger(__name__)

_NAMESPACE = "kimi-thinking-replay\x00"  # every key of both caches (KimiReplayCache._key)
_MAX_KEY = 4096
_MAX_VERSION = 64
ASK_AGAIN = 5.0  # seconds before a worker asks again for the same key's whole entry
ANSWER_AGAIN = 1.0  # and before the worker asked tells it again

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
    :func:`compat_entry`). A :class:`CompatReplayCache`'s steps go as one turn each (see
    the module's notes)."""

    def __init__(
        self,
        bus: RedisState,
        cache: KimiReplayCache,
        kind: str,
        decode: Callable[[Any], Entry | None],
    ) -> None:
        self.bus, self.cache, self.kind, self.decode = bus, cache, kind, decode
        self.turns = isinstance(cache, CompatReplayCache)
        # the version of each entry as told or adopted, and the id of that entry: a record
        # keeps no entry alive, and every write of the cache at a key goes through _tell
        # or _heard, which rewrite its record (an evicted entry is no longer held)
        self._versions: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._count = itertools.count(1)
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque()  # (kind, fields)
        self._pending: set[asyncio.Task[None]] = set()  # the sender, while it runs
        self._asked: OrderedDict[str, float] = OrderedDict()  # when a key's whole entry was asked for
        self._answered: OrderedDict[str, float] = OrderedDict()  # and told on a question
        cache.mirror = self._tell
        bus.on_event(kind, self._heard)
        if self.turns:
            bus.on_event(kind + "?", self._wanted)
        bus.on_resubscribe(self._missed)  # changes told meanwhile were missed (see above)

    def _missed(self) -> None:
        self.cache.clear()
        self._versions.clear()
        self._asked.clear()
        self._answered.clear()

    def _tell(self, key: str, entry: Entry | None, base: Entry | None = None) -> None:
        if self.turns:
            fields = self._change(key, entry, base)
        else:
            fields = {"key": key, "v": None if entry is None else entry[0]}  # (None: the entry went)
        if not (self.bus.available and self._send(fields)):
            self._versions.pop(key, None)  # not told: the next change goes whole

    def _change(self, key: str, entry: Entry | None, base: Entry | None) -> dict[str, Any]:
        """The message telling a compat entry's change: its last turn on top of ``base``
        when this process told or adopted ``base`` and the entry keeps some of it, else
        the whole entry."""
        ver = f"{self.bus.node}.{next(self._count)}"
        record = self._versions.pop(key, None)
        if entry is None:
            return {"key": key, "v": None, "ver": ver}
        self._remember(key, ver, entry)
        turns = entry[0]
        if base is not None and record is not None and record[1] == id(base) and len(turns) > 1:
            return {"key": key, "ver": ver, "base": record[0], "turn": turns[-1], "keep": len(turns)}
        return {"key": key, "v": turns, "ver": ver}

    def _remember(self, key: str, ver: str, entry: Entry | None) -> None:
        self._versions[key] = (ver, 0 if entry is None else id(entry))
        self._versions.move_to_end(key)
        if len(self._versions) > REPLAY_MAX_SESSIONS:  # a forgotten one's next turn is a gap
            self._versions.popitem(last=False)

    def _send(self, fields: dict[str, Any], kind: str = "") -> bool:
        """Queue a message for the one sender task (messages go out in order)."""
        if all(task.done() for task in self._pending):  # (a done one leaves at the next tick)
            try:
                task = asyncio.get_running_loop().create_task(self._drain())
            except RuntimeError:  # no loop (a cache used outside a server): nothing to tell
                return False
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        self._outbox.append((kind or self.kind, fields))
        return True

    async def _drain(self) -> None:
        while self._outbox:
            kind, fields = self._outbox.popleft()
            try:
                told = await self.bus.publish(kind, **fields)
            except Exception as exc:  # the local copy still serves this process
                log.debug("replay: telling the other workers failed (%s)", type(exc).__name__)
                told = False
            if not told and kind == self.kind:  # the others missed it: the key's next change goes whole
                self._versions.pop(fields["key"], None)

    def _heard(self, message: dict[str, Any]) -> None:
        key = message.get("key")
        if type(key) is not str or not key.startswith(_NAMESPACE) or len(key) > _MAX_KEY:
            return
        ver = message.get("ver") if self.turns else None
        if type(ver) is str and len(ver) <= _MAX_VERSION and "turn" in message:
            self._extend(key, ver, message)
            return
        if message.get("re") is not None and self._versions.get(key) != (ver, 0):
            return  # an answer this worker did not wait for (see the module's notes)
        self._versions.pop(key, None)
        self._asked.pop(key, None)
        value = message.get("v")
        if value is None:
            self.cache.adopt(key, None)
        elif (entry := self.decode(value)) is not None:
            self.cache.adopt(key, entry)
            if type(ver) is str and len(ver) <= _MAX_VERSION:
                self._remember(key, ver, entry)
        # (a whole entry without a version: a worker before versions; the next turn is a gap)

    def _current(self, key: str) -> Entry | None:
        """The entry held at ``key`` when it is the one its version record names."""
        held = self.cache.held(key)
        record = self._versions.get(key)
        return held if held is not None and record is not None and record[1] == id(held) else None

    def _extend(self, key: str, ver: str, message: dict[str, Any]) -> None:
        """Another worker's step: its turn added to the entry here, if this is the entry it
        extended; otherwise a change was missed and the entry goes."""
        held = self.cache.held(key)
        record = self._versions.pop(key, None)
        turns, keep, turn = held[0] if held else [], message.get("keep"), message.get("turn")
        size = _content_size(turn)
        cut = len(turns) + 1 - keep if type(keep) is int and 2 <= keep <= MAX_TURNS else -1
        total = 0
        if held is not None and record == (message.get("base"), id(held)) and size and cut >= 0:
            total = held[1] + size - sum(len(orjson.dumps(old)) for old in turns[:cut])
        if not 0 < total <= MAX_BYTES:
            if held is not None:
                self.cache.adopt(key, None)
            self._remember(key, ver, None)  # the change heard last, missing here: its answer is taken
            self._ask(key, ver)
            return
        entry = ([*turns[cut:], turn], total)
        self.cache.adopt(key, entry)
        self._remember(key, ver, entry)

    def _ask(self, key: str, ver: str) -> None:
        """Ask the worker that made ``ver`` for its whole entry (once in a while a key)."""
        if self.bus.available and not _lately(self._asked, key, ASK_AGAIN):
            self._send({"key": key, "want": ver}, self.kind + "?")

    def _wanted(self, message: dict[str, Any]) -> None:
        """Another worker missed a change of an entry this one made: it gets the whole
        entry as held here (the others, holding it already, keep theirs). One answer a
        second a key serves every worker that asked meanwhile (each hears it)."""
        key, want = message.get("key"), message.get("want")
        if type(key) is not str or not key.startswith(_NAMESPACE) or len(key) > _MAX_KEY:
            return
        if type(want) is not str or not want.startswith(self.bus.node + "."):
            return  # (asked of another worker)
        held = self._current(key)
        if held and held[0] and self.bus.available and not _lately(self._answered, key, ANSWER_AGAIN):
            self._send({"key": key, "v": held[0], "ver": self._versions[key][0], "re": 1})

    async def close(self) -> None:
        """Let the notices still under way go out (bounded), at shutdown."""
        self.cache.mirror = None
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._pending), timeout=2.0)


def _lately(table: OrderedDict[str, float], key: str, seconds: float) -> bool:
    """Whether ``key`` is in ``table`` from less than ``seconds`` ago; if not, it is now
    (``table`` bounded as the caches' sessions)."""
    now = time.monotonic()
    if now - table.get(key, now - seconds) < seconds:
        return True
    table[key] = now
    table.move_to_end(key)
    if len(table) > REPLAY_MAX_SESSIONS:
        table.popitem(last=False)
    return False
