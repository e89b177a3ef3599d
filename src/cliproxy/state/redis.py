"""The Redis state backend: every process and host that shares one Redis shares the pool.

Keys live under ``prefix`` (``state.prefix``):

- ``cd|<model>``: a hash, credential id -> cooldown record (JSON); ``cdidx``: the set of
  models that have one. Writes publish an invalidation on ``events`` (``events@<db>`` on a
  database other than 0: Redis delivers a message to every database's subscribers).
- ``rr|<key>``: round-robin cursors (``INCR`` in a script that wraps like the memory one).
- ``w|<key>``: smooth weighted round-robin weights (one script step per pick).
- ``b|<key>``: session-affinity bindings (``expiry \\0 credential \\0 group keys``).
- ``inflight``: in-flight counters; ``lease|<name>``: leases (``SET NX PX``).
- ``slot|<credential>``: per-credential concurrency slots (:mod:`cliproxy.state.redis_slots`).
- ``hr``: rate-limit headroom per credential (:mod:`cliproxy.state.redis_headroom`).
- ``srv|<credential>``: the models a credential has answered (:mod:`cliproxy.state.redis_served`).
- ``secret|<name>``, ``secrets``: short-lived secrets, Realtime client secrets
  (:mod:`cliproxy.state.redis_secrets`).
- ``alive``: the marker whose absence says Redis lost its data (:mod:`cliproxy.state.redis_loss`).
- ``cid|<hash>``: a cloaked Claude API key's session and fake user id, which every worker
  adopts (:mod:`cliproxy.providers.claude_shared`).

A ``rediss://`` URL's TLS settings (its ``ssl_*`` options) hold for the connections cliproxy
opens itself (the cursor link, the notification channel) as for redis-py's pool.

Hot path: cooldown reads are served from a local cache that pub/sub invalidates (and a
short TTL bounds if a message is lost), so a request costs at most one round trip (the
cursor). When Redis goes away, every method falls back to a local
:class:`~cliproxy.state.memory.MemoryState` (seeded with what the cache held), one
WARNING is logged, and a probe switches back when Redis answers again, merging the
cooldowns, leases and headroom estimates set meanwhile into what the others wrote
(:mod:`cliproxy.state.redis_carry`).

Notifications (``events`` channel) also carry what the service shares: config edits made
through the management API (``config``), auth-dir changes (``auth``: the others re-read
their auth-dir, shared on one host or through a token store) and management bans
(``ban``). Refreshes of rotating tokens take a lease (``lease|refresh:<id>``).

The usage counters and the usage queue are shared too (:mod:`cliproxy.usage.shared`,
through :attr:`RedisState.client`).

Per process by design: the Vertex service-account token cache (each process may mint its
own token; nothing rotates), alias-pool cursors (a failover order on one credential),
RESP usage subscriptions and log files. Panel sign-in sessions are shared
(``login|<state>``, :mod:`cliproxy.state.redis_logins`): any process finishes a callback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import orjson
from redis import asyncio as aioredis
from redis.asyncio.connection import SSLConnection
from redis.exceptions import RedisError, ResponseError

from .base import MAX_STABLE_ALIASES, CooldownRecord
from .memory import MemoryState
from .redis_carry import Seeded, carry_back
from .redis_carry import decode as _decode
from .redis_carry import encode as _encode
from .redis_headroom import RedisHeadroom
from .redis_keys import RedisKeyPolicies
from .redis_leases import RedisLeases
from .redis_logins import RedisLogins
from .redis_loss import LossWatch, check_eviction
from .redis_scripts import DELETE_BINDING, GET_BINDING, IN_FLIGHT, RELEASE, SET_BINDING, WEIGHTED
from .redis_secrets import RedisSecrets
from .redis_served import RedisServed
from .redis_slots import RedisSlots
from .resp import DOWN as _DOWN
from .resp import Address, Link, command, read

__all__ = ["CACHE_TTL", "RedisState", "address_of", "tls_context"]

log = logging.getLogger(__name__)

CACHE_TTL = 1.0  # seconds a cached cooldown map is trusted without an invalidation
PROBE_INTERVAL = 0.25  # seconds between pings while Redis is away
# seconds the notification channel may stay silent before it sends a PING: a load balancer
# or NAT that forgets an idle flow drops it without a word, and only an unanswered PING
# (``timeout`` seconds) tells; then it subscribes again on a new connection
LISTEN_KEEPALIVE = 30.0
MAX_CONNECTIONS = 64  # pooled connections per process; more commands wait for one (``timeout``)
_CURSOR_WRAP = 2_147_483_640  # as the memory backend's cursors
_KEEP = 7 * 86400 * 1000  # ms: cursors, weights and cooldown maps idle this long expire
_EMPTY: Mapping[str, CooldownRecord] = MappingProxyType({})

EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


def tls_context(pool: aioredis.ConnectionPool) -> ssl.SSLContext | None:
    """For a ``rediss://`` pool, the TLS settings its connections use (the URL's ``ssl_*``
    options, redis-py's defaults), for cliproxy's own connections; None for ``redis://``."""
    if not issubclass(pool.connection_class, SSLConnection):
        return None
    options = {k: v for k, v in pool.connection_kwargs.items() if k.startswith("ssl_")}
    return SSLConnection(**options).ssl_context.get()


def address_of(pool: aioredis.ConnectionPool) -> Address:
    """The server and credentials the pool's connections use (host and port or a Unix
    socket; a password in the URL's user part or as ``?password=``; TLS)."""
    kw = pool.connection_kwargs
    where: tuple[str, int] | str = (
        str(kw["path"]) if "path" in kw else (str(kw.get("host") or "localhost"), int(kw.get("port") or 6379))
    )
    return Address(where, str(kw.get("username") or ""), str(kw.get("password") or ""), tls_context(pool))


# what an outage's local state holds: cooldowns, leases, headroom (see _outage_marks)
_Marks = tuple[dict[str, dict[str, CooldownRecord]], dict[str, Any], dict[str, Any]]


def _outage_marks(local: MemoryState) -> _Marks:
    """What the outage's local state holds, to tell whether requests set more while it was
    carried to Redis."""
    return {m: dict(b) for m, b in local._cooldowns.items()}, dict(local._leases), dict(local._headroom)


class RedisState(
    RedisKeyPolicies, RedisSlots, RedisHeadroom, RedisLogins, RedisSecrets, RedisServed, RedisLeases
):
    """:class:`~cliproxy.state.base.StateBackend` on Redis (or Valkey), shared by processes.
    The client key policy counters (``key_*``) are :mod:`cliproxy.state.redis_keys`'."""

    def __init__(
        self,
        url: str,
        prefix: str = "cliproxy:",
        *,
        clock: Callable[[], float] = time.time,
        cache_ttl: float = CACHE_TTL,
        timeout: float = 1.0,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.prefix = prefix
        self.node = os.urandom(6).hex()  # this process, to skip its own notifications
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._timeout = timeout
        # a blocking pool: under a burst (1,000 streams finishing at once) a command waits up
        # to ``timeout`` for a free connection instead of failing with MaxConnectionsError
        # (redis-py's plain pool raises at once past 100 connections, and the state then
        # fell back to local for a moment)
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self.db = int(pool.connection_kwargs.get("db") or 0)
        self._address = address_of(pool)
        self._link = Link(self._address, timeout, self.db)
        self.loss = LossWatch(self)  # the marker's watch (started by the service, restorers set)
        self._link.on_open = self.loss.poke
        self._local = MemoryState(clock=clock)
        self._cache: dict[str, tuple[float, Mapping[str, CooldownRecord]]] = {}
        self._seeded: Seeded = {}  # what an outage's local state holds only because Redis did
        self._down = False
        self._closing = False
        self._probe: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._handlers: dict[str, list[EventHandler]] = {}
        self._resumed: list[Callable[[], object]] = []  # on_resubscribe's
        self._missed = False  # the channel was lost: notices may have been missed
        # Redis hands a message to every subscriber of the channel whatever database they
        # selected: a deployment on another database of the server must not hear this one
        self._channel = prefix + "events" + (f"@{self.db}" if self.db else "")
        self._weighted = self._redis.register_script(WEIGHTED)
        self._get_binding = self._redis.register_script(GET_BINDING)
        self._set_binding = self._redis.register_script(SET_BINDING)
        self._delete_binding = self._redis.register_script(DELETE_BINDING)
        self._in_flight = self._redis.register_script(IN_FLIGHT)
        self._release = self._redis.register_script(RELEASE)

    # lifecycle -----------------------------------------------------------------

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client, for parts that keep their own keys under :attr:`prefix`."""
        return self._redis

    @property
    def available(self) -> bool:
        """False while Redis is away and this process runs on its local state."""
        return not self._down

    async def start(self) -> None:
        """Check the connection and listen for other processes' notifications."""
        try:
            await self._redis.ping()
            await check_eviction(self._redis)
        except _DOWN as exc:
            self._went_down(exc)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def close(self) -> None:
        self._closing = True  # ends the loops even if a cancellation is lost (3.11 wait_for)
        tasks = [t for t in (self._listener, self._probe) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            if pending:
                log.warning("state: a Redis task did not stop within 2 s; left behind")
        self._listener = self._probe = None
        await self.loss.close()
        await self._link.aclose()
        await self._redis.aclose(close_connection_pool=True)  # our own pool: closed with us

    def on_event(self, kind: str, handler: EventHandler) -> None:
        """Call ``handler(message)`` for every ``kind`` notification another process publishes."""
        self._handlers.setdefault(kind, []).append(handler)

    def on_resubscribe(self, handler: Callable[[], object]) -> None:
        """Call ``handler()`` when the channel is back after a loss: notices were missed."""
        self._resumed.append(handler)

    async def publish(self, kind: str, **fields: Any) -> bool:
        """Tell every other process sharing this Redis (False while Redis is away)."""
        if self._down:
            return False
        try:
            await self._redis.publish(self._channel, orjson.dumps({"k": kind, "n": self.node, **fields}))
        except _DOWN as exc:
            self._went_down(exc)
            return False
        return True

    async def _listen(self) -> None:
        """Follow the notification channel on a connection of its own (plain RESP, so a
        cancel at shutdown ends it at once), resubscribing after a loss."""
        delay = PROBE_INTERVAL
        while not self._closing:
            writer: asyncio.StreamWriter | None = None
            try:
                reader, conn = await asyncio.wait_for(self._address.connect(), self._timeout)
                writer = conn
                for parts in self._address.hello():
                    conn.write(command(*parts))
                    await asyncio.wait_for(read(reader), self._timeout)
                conn.write(command(b"SUBSCRIBE", self._channel.encode()))
                await asyncio.wait_for(read(reader), self._timeout)
                self._stale()  # anything published while unsubscribed was missed
                if self._missed:
                    self._missed = False
                    for handler in self._resumed:
                        try:
                            handler()
                        except Exception:  # a handler's failure must not stop the listener
                            log.exception("state: a resubscribe handler failed")
                delay = PROBE_INTERVAL
                await self._follow(reader, conn)
            except (TimeoutError, OSError, EOFError, ValueError, asyncio.IncompleteReadError) as exc:
                self._stale()
                self._missed = True
                log.debug("state: notification channel lost (%s); resubscribing", type(exc).__name__)
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _follow(self, reader: asyncio.StreamReader, conn: asyncio.StreamWriter) -> None:
        """Dispatch the channel's messages; after :data:`LISTEN_KEEPALIVE` seconds of silence
        send a PING, and give the connection up (``TimeoutError``) if nothing answers it."""
        pinged = False
        while not self._closing:
            try:  # (asyncio.timeout: 3.11's wait_for can swallow the cancel of close())
                async with asyncio.timeout(self._timeout if pinged else LISTEN_KEEPALIVE):
                    message = await read(reader)
            except TimeoutError:
                if pinged:
                    raise
                conn.write(command(b"PING"))
                pinged = True
                continue
            pinged = False
            if isinstance(message, list) and len(message) == 3 and message[0] == b"message":
                await self._dispatch(message[2])

    async def _dispatch(self, data: Any) -> None:
        try:
            message = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError):
            return
        if not isinstance(message, dict):
            return
        kind = message.get("k")
        if kind == "cd":
            self._cache.pop(str(message.get("m", "")), None)
            return
        if kind == "cd*":
            self._cache.clear()
            return
        if message.get("n") == self.node:
            return
        for handler in self._handlers.get(str(kind), ()):
            try:
                result = handler(message)
                if result is not None:
                    await result
            except Exception:  # a handler's failure must not stop the listener
                log.exception("state: %s notification handler failed", kind)

    def _stale(self) -> None:
        """Read every cached map again before trusting it (kept to seed an outage)."""
        self._cache = {model: (-1e18, records) for model, (_, records) in self._cache.items()}

    # degradation ---------------------------------------------------------------

    def _went_down(self, exc: BaseException) -> None:
        if self._down:
            return
        self._down = True
        if isinstance(exc, ResponseError):  # the server's words (OOM, READONLY, MISCONF): no secret
            log.warning(
                "state: Redis refused a command (%s); using this process's own state until it takes them again",
                str(exc)[:160],
            )
        else:
            log.warning(
                "state: Redis is unreachable (%s); using this process's own state until it returns",
                type(exc).__name__,
            )
        for model, (_, records) in self._cache.items():  # keep honouring what we knew
            bucket = self._local._cooldowns.setdefault(model, {})
            for cid, record in records.items():
                if bucket.setdefault(cid, record) is record:
                    self._seeded[(model, cid)] = record
        self._cache.clear()
        if (self._probe is None or self._probe.done()) and not self._closing:
            self._probe = asyncio.get_running_loop().create_task(self._wait_for_redis())

    async def _wait_for_redis(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            if self._closing:
                return
            try:  # a write: a full or read-only Redis still answers PING
                await self._redis.set(self._k("probe"), self.node, px=1000)
            except _DOWN:
                continue
            except RedisError:
                continue
            seen: _Marks | None = _outage_marks(self._local)
            try:  # what was set meanwhile is merged with what the others wrote (redis_carry)
                carried = await carry_back(
                    self._redis, self.prefix, self._channel, self._local, self._seeded, _KEEP
                )
                await self._carry_spent()  # client keys' spend (last: nothing awaits after it)
            except ResponseError as exc:  # refused (OOM, READONLY): not carried, as before
                log.warning("state: Redis refused what was set while it was away (%s)", str(exc)[:160])
                carried, seen = 0, None
            except _DOWN:
                continue  # gone again in between: kept for the next try
            except Exception:  # never left on the local state for good
                log.exception("state: carrying what was set while Redis was away failed")
                carried, seen = 0, None
            break
        local, seeded = self._local, self._seeded
        self._local = MemoryState(clock=self._clock)
        self._seeded = {}
        self._cache.clear()
        self._hr_cache = None  # read the others' estimates (and the merged ones) again
        self._down = False
        self.loss.poke()  # back after a restart: its data may be gone
        if seen is not None and _outage_marks(local) != seen:
            # requests went on setting cooldowns, leases... locally while that was carried: what
            # they set is carried too, now that they set no more there (what was carried: Redis's)
            seeded.update(((m, c), r) for m, bucket in seen[0].items() for c, r in bucket.items())
            try:
                carried += await carry_back(self._redis, self.prefix, self._channel, local, seeded, _KEEP)
            except Exception as exc:  # (Redis gone again, refused...): as one lost write
                log.warning(
                    "state: carrying what was set while Redis came back failed (%s)", type(exc).__name__
                )
        log.warning("state: Redis is reachable again; shared state resumed (%d cooldown(s) carried)", carried)

    # keys ----------------------------------------------------------------------

    def _k(self, name: str) -> str:
        return self.prefix + name

    def _cd(self, model: str) -> str:
        return f"{self.prefix}cd|{model}"

    # cooldowns -----------------------------------------------------------------

    async def get_cooldowns(self, model: str) -> Mapping[str, CooldownRecord]:
        if self._down:
            return await self._local.get_cooldowns(model)
        cached = self._cache.get(model)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_ttl:
            return cached[1]
        try:
            raw = await self._redis.hgetall(self._cd(model))
        except _DOWN as exc:
            self._went_down(exc)
            return await self._local.get_cooldowns(model)
        records: Mapping[str, CooldownRecord] = (
            {k.decode(): _decode(v) for k, v in raw.items()} if raw else _EMPTY
        )
        self._cache[model] = (now, records)
        return records

    async def get_cooldown(self, credential_id: str, model: str) -> CooldownRecord | None:
        return (await self.get_cooldowns(model)).get(credential_id)

    async def set_cooldown(self, record: CooldownRecord) -> None:
        if not self._down:
            key = self._cd(record.model)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hset(key, record.credential_id, _encode(record))
                    pipe.pexpire(key, _KEEP)
                    pipe.sadd(self._k("cdidx"), record.model)
                    pipe.publish(self._channel, orjson.dumps({"k": "cd", "m": record.model}))
                    await pipe.execute()
                self._cache.pop(record.model, None)
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.set_cooldown(record)

    async def delete_cooldown(self, credential_id: str, model: str) -> bool:
        if not self._down:
            # every success clears its model's record: when the (fresh) cached map has none,
            # there is nothing to delete and no round trip to make
            if credential_id not in await self.get_cooldowns(model):
                return False
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hdel(self._cd(model), credential_id)
                    pipe.publish(self._channel, orjson.dumps({"k": "cd", "m": model}))
                    removed, _ = await pipe.execute()
                self._cache.pop(model, None)
                return bool(removed)
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.delete_cooldown(credential_id, model)

    async def _models(self) -> list[str]:
        return sorted(m.decode() for m in await self._redis.smembers(self._k("cdidx")))

    async def credential_cooldowns(self, credential_id: str) -> list[CooldownRecord]:
        if not self._down:
            try:
                models = await self._models()
                async with self._redis.pipeline(transaction=False) as pipe:
                    for model in models:
                        pipe.hget(self._cd(model), credential_id)
                    found = await pipe.execute()
                return [_decode(raw) for raw in found if raw is not None]
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.credential_cooldowns(credential_id)

    async def clear_cooldowns(self, credential_id: str | None = None) -> list[str]:
        if not self._down:
            try:
                models = await self._models()
                touched: set[str] = set()
                async with self._redis.pipeline(transaction=False) as pipe:
                    for model in models:
                        pipe.hkeys(self._cd(model))
                    keys = await pipe.execute()
                async with self._redis.pipeline(transaction=True) as pipe:
                    for model, ids in zip(models, keys, strict=True):
                        names = {i.decode() for i in ids}
                        if credential_id is None:
                            touched |= names
                            pipe.delete(self._cd(model))
                        elif credential_id in names:
                            touched.add(credential_id)
                            pipe.hdel(self._cd(model), credential_id)
                    pipe.publish(self._channel, orjson.dumps({"k": "cd*"}))
                    await pipe.execute()
                self._cache.clear()
                return sorted(touched)
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.clear_cooldowns(credential_id)

    # rotation ------------------------------------------------------------------

    async def next_cursor(self, key: str) -> int:
        if not self._down:
            try:  # the one round trip of a request, on the pipelined link (INCR is int64)
                return (int(await self._link.call(b"INCR", self._k("rr|" + key).encode())) - 1) % _CURSOR_WRAP
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.next_cursor(key)

    async def peek_cursor(self, key: str) -> int:
        if not self._down:
            try:
                value = await self._link.call(b"GET", self._k("rr|" + key).encode())
                return int(value or 0) % _CURSOR_WRAP
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.peek_cursor(key)

    async def weighted_pick(self, key: str, weights: Sequence[tuple[str, int]]) -> str:
        if not any(w > 0 for _, w in weights):
            raise ValueError("weighted_pick needs at least one positive weight")
        if not self._down:
            sig = ",".join(f"{cid}={w}" for cid, w in weights)
            args: list[Any] = [sig, _KEEP]
            for cid, weight in weights:
                args += [cid, weight]
            try:
                picked = await self._weighted(keys=[self._k("w|" + key)], args=args)
                return picked.decode() if isinstance(picked, bytes) else str(picked)
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.weighted_pick(key, weights)

    # session affinity ----------------------------------------------------------

    async def get_binding(self, key: str, ttl: float, *, refresh: bool = True) -> str | None:
        if not self._down:
            try:
                found = await self._get_binding(
                    keys=[self._k("b|" + key)],
                    args=[repr(self._clock()), repr(float(ttl)), "1" if refresh else "0", self._k("b|")],
                )
                return found.decode() if isinstance(found, bytes) else None
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.get_binding(key, ttl, refresh=refresh)

    async def set_binding(self, keys: Sequence[str], credential_id: str, ttl: float) -> None:
        group = list(dict.fromkeys(k for k in keys if k))
        if not self._down:
            if not group:
                return
            now = self._clock()
            try:
                await self._set_binding(
                    keys=[self._k("b|" + k) for k in group],
                    args=[
                        repr(now),
                        repr(now + ttl),
                        credential_id,
                        int(ttl * 1000) + 60_000,
                        self._k("b|"),
                        MAX_STABLE_ALIASES,
                        *group,
                    ],
                )
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.set_binding(keys, credential_id, ttl)

    async def delete_binding(self, key: str, credential_id: str) -> bool:
        if not self._down:
            try:
                return bool(await self._delete_binding(keys=[self._k("b|" + key)], args=[credential_id]))
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.delete_binding(key, credential_id)
