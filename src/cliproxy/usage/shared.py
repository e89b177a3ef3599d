"""Usage counters and the usage queue shared through the Redis state backend.

With ``state: {backend: redis}`` every process sharing the Redis counts into the same
counters and feeds the same queue, so the panel (``/auth-files``, ``/api-key-usage``,
``/usage/keys``) shows the sum over all of them and ``/usage-queue`` (or RESP ``LPOP``)
on any process pops records made by any process.

Nothing of this runs on the request path: a finished request adds its deltas to a small
in-process buffer (aggregated per credential / client key, so it stays small) and
appends its record; a background task flushes the buffer in one pipeline every
``FLUSH_INTERVAL`` seconds, or at once when ``FLUSH_RECORDS`` records wait. Reads
(management only) flush first, then read Redis. While Redis is away the buffer is kept
(queue records up to ``MAX_ITEMS``) and flushed when it returns; reads show the last view.

Keys under the state prefix: ``uc|a|<auth_index>`` and ``uc|k|<key id>`` hashes (``s``,
``f``, the six token totals, ``b<bucket>s`` / ``b<bucket>f`` per ten-minute bucket),
``uc|auths`` / ``uc|keys`` the sets of ids, ``uc|labels`` key id -> masked key, and
``uq`` the queue (a list of ``<unix time>|<record>``, trimmed to ``MAX_ITEMS``). A counter's
``since`` (ms) is when the earliest request it holds was counted (a flush of a process
whose buffer began earlier moves it back; a counter made before there was a ``since`` has
none: it holds every request): when Redis lost its data,
:func:`cliproxy.usage.restore.restore_shared_counters` adds the ledger's rows of the
requests that ended before it (and sets it to ``0``: restored).

The memory backend never creates any of this: its counters and queue are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, Counter, Tokens, UsageCounters
from cliproxy.usage.queue import MAX_ITEMS, UsageQueue

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState
    from cliproxy.usage.recorder import Recorder

__all__ = [
    "FLUSH_INTERVAL",
    "FLUSH_RECORDS",
    "SharedCounters",
    "SharedQueue",
    "UsageSync",
    "close_usage",
    "share_usage",
]

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1  # seconds between flushes while something waits
FLUSH_RECORDS = 256  # a flush starts at once when this many records wait
# the hash fields of a counter's totals and the Counter attribute each one holds
_TOTALS = {
    "s": "success",
    "f": "failed",
    "it": "input_tokens",
    "ot": "output_tokens",
    "ct": "cached_tokens",
    "cc": "cache_creation_tokens",
    "rt": "reasoning_tokens",
    "tt": "total_tokens",
}
_FIELDS = tuple(_TOTALS)
# a counter's deltas (ARGV[2..]: field, delta pairs); a counter made now gets ``since``
# (ARGV[1]: when the first of them was counted), and one whose ``since`` is later (another
# process's flush began it) takes the earlier: the ledger's rows from there on are in it
_COUNT = """
local k = KEYS[1]
local s = redis.call('HGET', k, 'since')
if redis.call('EXISTS', k) == 0 or (s and s ~= '0' and tonumber(ARGV[1]) < tonumber(s)) then
  redis.call('HSET', k, 'since', ARGV[1])
end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', k, ARGV[i], ARGV[i + 1]) end
return 1
"""


class UsageSync:
    """The buffer and its flusher: one per service, shared by the counters and the queue."""

    def __init__(self, state: RedisState, labels: dict[str, str]) -> None:
        self.state = state
        self.labels = labels  # the stats' key id -> masked key (labels are shared too)
        self._counts: dict[str, dict[str, int]] = {}  # "a|<index>" / "k|<kid>" -> field -> delta
        self._first: dict[str, float] = {}  # the same -> when its first request waiting was counted
        self._records: deque[tuple[float, bytes]] = deque(maxlen=MAX_ITEMS)
        self._sent_labels: set[str] = set()
        self._bucket = -1
        self._names = ("", "")
        self._armed = False  # the flusher has been told something waits
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = False
        self.retention = 60.0
        self._count = state.client.register_script(_COUNT)

    def _k(self, name: str) -> str:
        return self.state.prefix + name

    # -- producers (event loop, per request)

    def count(self, who: str, ok: bool, ts: float, tokens: Tokens | None) -> None:
        d = self._counts.get(who)
        if d is None:
            d = self._counts[who] = dict.fromkeys(_FIELDS, 0)
            self._first[who] = time.time()
        bucket = int(ts) // BUCKET_SECONDS
        if bucket != self._bucket:  # the bucket's field names, made once per ten minutes
            self._bucket, self._names = bucket, (f"b{bucket}s", f"b{bucket}f")
        if ok:
            d["s"] += 1
            name = self._names[0]
        else:
            d["f"] += 1
            name = self._names[1]
        d[name] = d.get(name, 0) + 1
        if tokens is not None:
            d["it"] += tokens[0]
            d["ot"] += tokens[1]
            d["ct"] += tokens[2]
            d["cc"] += tokens[3]
            d["rt"] += tokens[4]
            d["tt"] += tokens[5]
        if not self._armed:
            self._poke()

    def add_tokens(self, who: str, tokens: Tokens) -> None:
        """Tokens without a request (an upstream tool's, ``usage.tool_usage``)."""
        d = self._counts.get(who)
        if d is None:
            d = self._counts[who] = dict.fromkeys(_FIELDS, 0)
            self._first[who] = time.time()
        for name, value in zip(_FIELDS[2:], tokens, strict=True):
            d[name] += value
        if not self._armed:
            self._poke()

    def push(self, payload: bytes) -> None:
        self._records.append((time.time(), payload))
        if not self._armed or len(self._records) >= FLUSH_RECORDS:
            self._poke()

    def _poke(self) -> None:
        if self._closing:  # close() flushes what is left itself
            return
        self._armed = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    # -- the flusher

    async def _run(self) -> None:
        """Sleeps until something waits, gathers for ``FLUSH_INTERVAL`` (less when
        ``FLUSH_RECORDS`` records wait), flushes; retries while Redis is away."""
        # ``asyncio.timeout`` (Python 3.11's ``wait_for`` can swallow a cancellation that
        # lands as its inner wait completes: the flusher then retried forever while Redis was
        # away and ``close`` never returned); ``_closing`` ends the loop all the same
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if len(self._records) < FLUSH_RECORDS:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FLUSH_INTERVAL):
                        await self._wake.wait()
                self._wake.clear()
            self._armed = False
            if not await self.flush() and not self._closing:
                await asyncio.sleep(FLUSH_INTERVAL)
                self._poke()

    async def flush(self) -> bool:
        """Send what waits in one pipeline; False (and everything kept) when Redis is away."""
        async with self._lock:
            if not self._counts and not self._records and not self._new_labels():
                return True
            if not self.state.available:
                return False
            counts, self._counts = self._counts, {}
            first, self._first = self._first, {}
            records = list(self._records)
            self._records.clear()
            labels = self._new_labels()
            try:
                async with self.state.client.pipeline(transaction=False) as pipe:
                    for who, delta in counts.items():
                        args: list[Any] = [int(first[who] * 1000)]
                        for name, value in delta.items():
                            if value:
                                args += [name, value]
                        await self._count(keys=[self._k("uc|" + who)], args=args, client=pipe)
                        pipe.sadd(self._k("uc|auths" if who[0] == "a" else "uc|keys"), who[2:])
                    if labels:
                        pipe.hset(self._k("uc|labels"), mapping=dict(labels.items()))
                    if records:
                        queue = self._k("uq")
                        pipe.rpush(queue, *(b"%.3f|%s" % (ts, p) for ts, p in records))
                        pipe.ltrim(queue, -MAX_ITEMS, -1)
                        pipe.pexpire(queue, int(self.retention * 1000) + 1000)
                    await pipe.execute()
            except Exception as exc:  # keep everything for the next flush
                log.debug("usage: flush to Redis failed (%s); kept for later", type(exc).__name__)
                for who, delta in counts.items():
                    self._first[who] = min(first[who], self._first.get(who, first[who]))
                    mine = self._counts.setdefault(who, dict.fromkeys(_FIELDS, 0))
                    for name, value in delta.items():
                        mine[name] = mine.get(name, 0) + value
                self._records.extendleft(reversed(records))
                return False
            self._sent_labels.update(labels)
            return True

    def _new_labels(self) -> dict[str, str]:
        return {k: v for k, v in self.labels.items() if k not in self._sent_labels}

    async def close(self) -> None:
        """Stop the flusher (waiting at most 2 s for it) and flush once more (2 s at most)."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            self._wake.set()
            _, pending = await asyncio.wait({task}, timeout=2.0)
            if pending:
                log.warning("usage: the Redis flusher did not stop within 2 s; left behind")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2.0)

    # -- readers (management)

    async def load(self) -> tuple[dict[str, Counter], dict[str, Counter]] | None:
        """Every shared counter (by auth index, by key id), or None when Redis is away."""
        await self.flush()
        if not self.state.available:
            return None
        redis = self.state.client
        auths: Any
        keys: Any
        labels: Any
        try:
            auths, keys, labels = await asyncio.gather(
                redis.smembers(self._k("uc|auths")),
                redis.smembers(self._k("uc|keys")),
                redis.hgetall(self._k("uc|labels")),
            )
            names = [("a", i.decode()) for i in auths] + [("k", i.decode()) for i in keys]
            async with redis.pipeline(transaction=False) as pipe:
                for kind, ident in names:
                    pipe.hgetall(self._k(f"uc|{kind}|{ident}"))
                found = await pipe.execute()
        except Exception as exc:
            log.debug("usage: reading shared counters failed (%s)", type(exc).__name__)
            return None
        for kid, label in labels.items():
            self.labels.setdefault(kid.decode(), label.decode())
        current = int(time.time()) // BUCKET_SECONDS
        by_auth: dict[str, Counter] = {}
        by_key: dict[str, Counter] = {}
        stale: list[tuple[str, list[str]]] = []
        for (kind, ident), raw in zip(names, found, strict=True):
            counter, old = _counter(raw, current)
            (by_auth if kind == "a" else by_key)[ident] = counter
            if old:
                stale.append((self._k(f"uc|{kind}|{ident}"), old))
        if stale:  # buckets that left the 20-bucket window
            with contextlib.suppress(Exception):
                async with redis.pipeline(transaction=False) as pipe:
                    for key, fields in stale:
                        pipe.hdel(key, *fields)
                    await pipe.execute()
        return by_auth, by_key

    async def take(self, count: int) -> list[bytes]:
        """Up to ``count`` of the oldest records (of every process) still within retention."""
        await self.flush()
        if not self.state.available:
            return []
        out: list[bytes] = []
        cutoff = time.time() - self.retention
        try:
            while len(out) < count:
                items: Any = await self.state.client.lpop(self._k("uq"), count - len(out))
                if not items:
                    break
                for item in items:
                    stamp, _, payload = item.partition(b"|")
                    if float(stamp) >= cutoff:
                        out.append(payload)
        except Exception as exc:
            log.debug("usage: popping the shared queue failed (%s)", type(exc).__name__)
        return out


def _counter(raw: dict[bytes, bytes], current: int) -> tuple[Counter, list[str]]:
    c = Counter()
    old: list[str] = []
    for name_b, value_b in raw.items():
        name, value = name_b.decode(), int(value_b)
        if name[0] == "b":
            bucket, field = int(name[1:-1]), name[-1]
            if bucket <= current - BUCKETS:
                old.append(name)
                continue
            if bucket > current:
                continue
            slot = c.ring[bucket % BUCKETS]
            if slot[0] != bucket:
                slot[0], slot[1], slot[2] = bucket, 0, 0
            slot[1 if field == "s" else 2] += value
        elif (attr := _TOTALS.get(name)) is not None:
            setattr(c, attr, value)
    return c, old


class SharedCounters(UsageCounters):
    """:class:`UsageCounters` whose counts go to Redis: ``by_auth`` / ``by_key`` hold the
    view last read with :meth:`refresh` (plus history restored from a local ledger)."""

    __slots__ = ("sync",)

    def __init__(self, sync: UsageSync) -> None:
        super().__init__()
        self.sync = sync

    def record(
        self,
        ts: float,
        api_key: str,
        auth_index: str,
        failed_auths: tuple[str, ...],
        ok: bool,
        tokens: Tokens,
    ) -> None:
        sync = self.sync
        for index in failed_auths:
            sync.count("a|" + index, False, ts, None)
        if auth_index:
            sync.count("a|" + auth_index, ok, ts, tokens)
        sync.count("k|" + api_key, ok, ts, tokens)

    def tokens(self, api_key: str, auth_index: str, tokens: Tokens) -> None:
        sync = self.sync
        if auth_index:
            sync.add_tokens("a|" + auth_index, tokens)
        sync.add_tokens("k|" + api_key, tokens)

    async def refresh(self) -> None:
        loaded = await self.sync.load()
        if loaded is not None:
            self.by_auth, self.by_key = loaded


class SharedQueue(UsageQueue):
    """:class:`UsageQueue` whose records go to the Redis list every process pops from.
    RESP subscribers are still this process's own (they get this process's records)."""

    def __init__(self, sync: UsageSync, retention: float) -> None:
        super().__init__(retention)
        self.sync = sync

    def push(self, payload: bytes) -> None:
        if self.subscribers:
            self.publish(payload)
            return
        self.sync.retention = self.retention
        self.sync.push(payload)

    async def take(self, count: int) -> list[bytes]:
        self.sync.retention = self.retention
        return await self.sync.take(count)


def share_usage(rec: Recorder, state: RedisState) -> None:
    """Point ``rec``'s usage counters and usage queue at ``state``'s Redis."""
    stats = rec.stats
    if isinstance(stats.counters, SharedCounters):
        return
    sync = UsageSync(state, stats.key_labels)
    stats.counters = SharedCounters(sync)
    old = rec.queue
    rec.queue = SharedQueue(sync, old.retention)
    rec.queue.subscribers = old.subscribers


async def close_usage(rec: Recorder | None) -> None:
    """Flush what waits (at shutdown, before the state backend closes)."""
    if rec is not None and isinstance(rec.stats.counters, SharedCounters):
        await rec.stats.counters.sync.close()
