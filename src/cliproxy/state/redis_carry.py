"""What a process kept on its own while Redis was away, merged into Redis when it answers again.

A process that loses Redis (a partition, or a restart of a Redis that keeps its data) runs on
its local state; the other processes may go on writing to Redis meanwhile. When it reconnects
(:meth:`cliproxy.state.redis.RedisState._wait_for_redis`), what it set in between is merged
into what Redis holds the way one process would have ordered the same events:

- cooldowns (``cd|<model>``): of two records for one credential and model the later written
  (``updated_at``; the later end on a tie) is the base, as a later failure replaces an earlier
  one; a running quota of the other (its reset still ahead, and later than the base's own) is
  kept on it, as :func:`cliproxy.credentials.cooldown.next_record` keeps one through any later
  failure; the back-off level is the higher of the two. So an expired record in Redis loses to
  a fresh local one, and a newer one another process wrote is not overwritten by an older local
  one. A record the process only held because it had read it from Redis (the cache that seeded
  its local state) is not written back; one it cleared meanwhile (a success) is deleted from
  Redis when Redis still holds that very record. ``WATCH``/``MULTI``, retried: several
  processes reconnect at once.
- leases (``lease|<name>``): one still held locally is taken in Redis for the time it has left
  (``SET NX``), so no other process starts the same token refresh or probe while it runs; one
  another process took in Redis meanwhile stays that process's.
- rate-limit headroom (``hr``, quota steering): a local estimate replaces Redis's when its
  window resets later, or resets at the same time and is fuller (a Lua script).
- client key counters (``key|<id>``, :mod:`cliproxy.state.redis_keys`): what the outage
  spent (:class:`Spent`: requests, tokens, cost, slots taken less slots given back, the part
  of the rpm and tpm buckets still filled) is added to Redis's counts, into the budget period
  it was spent in: spend of a period Redis has moved past is dropped, spend of a period Redis
  has not reached yet replaces the ended one there. Each key's spend is one batch, written
  once: a Lua script that first takes the batch's mark (``kc|<token>``, ``SET NX``), so a
  batch whose answer was lost with the connection is refused when it is sent again.

Nothing here runs on a request's path: only once per outage.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import asdict
from typing import Any

import orjson
from redis.exceptions import WatchError

from .base import CooldownRecord
from .memory import MemoryState

__all__ = ["Seeded", "Spent", "carry_back", "carry_spent", "decode", "encode", "merge"]

log = logging.getLogger(__name__)

ATTEMPTS = 20  # WATCH rounds before the carry gives up (each conflict is another process's write)
_HR_KEEP_MS = 8 * 86400 * 1000  # as redis_headroom's longest keep

# (model, credential id) -> the record the outage's local state was seeded with (Redis's)
Seeded = dict[tuple[str, str], CooldownRecord]

# KEYS: the headroom hash; ARGV: now, then (credential, value, resets_at, used, keep ms) each
_HEADROOM = """
local n = 0
for i = 2, #ARGV, 5 do
  local old, take = redis.call('HGET', KEYS[1], ARGV[i]), true
  if old then
    local ok, mark = pcall(cjson.decode, old)
    if ok and type(mark) == 'table' and tonumber(mark[2]) and tonumber(mark[2]) > tonumber(ARGV[1]) then
      local at, used = tonumber(mark[2]), tonumber(mark[1]) or 0
      local mine = tonumber(ARGV[i + 2])
      take = mine > at or (mine == at and tonumber(ARGV[i + 3]) > used)
    end
  end
  if take then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[i + 4]) then redis.call('PEXPIRE', KEYS[1], ARGV[i + 4]) end
    n = n + 1
  end
end
return n
"""


def encode(record: CooldownRecord) -> bytes:
    return orjson.dumps(asdict(record))


def decode(raw: bytes | str) -> CooldownRecord:
    return CooldownRecord(**orjson.loads(raw))


def _decoded(raw: bytes | None) -> CooldownRecord | None:
    if raw is None:
        return None
    try:
        return decode(raw)
    except (orjson.JSONDecodeError, TypeError, ValueError):  # not ours to keep: ours replaces it
        return None


def merge(local: CooldownRecord, remote: CooldownRecord | None, now: float) -> CooldownRecord | None:
    """The record Redis should hold for ``local``'s credential and model, given the ``remote``
    one it holds; None when that is ``remote`` as it is."""
    if remote is None:
        return local
    if (local.updated_at, local.until()) > (remote.updated_at, remote.until()):
        newer, older = local, remote
    else:
        newer, older = remote, local
    merged = newer
    own = newer.next_recover_at if newer.quota_exceeded else 0.0
    if older.quota_exceeded and older.next_recover_at > max(now, own):
        merged = dataclasses.replace(
            merged,
            quota_exceeded=True,
            quota_reason=older.quota_reason or merged.quota_reason,
            next_recover_at=older.next_recover_at,
            extras=dict(merged.extras),
        )
    if older.backoff_level > merged.backoff_level:
        merged = dataclasses.replace(merged, backoff_level=older.backoff_level, extras=dict(merged.extras))
    return None if merged == remote else merged


async def carry_back(
    redis: Any, prefix: str, channel: str, local: MemoryState, seeded: Seeded, keep_ms: int
) -> int:
    """Merge ``local`` (the outage's state) into Redis; the number of cooldowns written or
    cleared. A connection failure goes up (the caller decides)."""
    carried = await _cooldowns(redis, prefix, channel, local, seeded, keep_ms)
    await _leases(redis, prefix, local)
    await _headroom(redis, prefix, local)
    return carried


async def _cooldowns(
    redis: Any, prefix: str, channel: str, local: MemoryState, seeded: Seeded, keep_ms: int
) -> int:
    mine: dict[tuple[str, str], CooldownRecord | None] = {}  # None: cleared locally
    for model, bucket in local._cooldowns.items():
        for cid, record in bucket.items():
            if seeded.get((model, cid)) is not record:
                mine[(model, cid)] = record
    for model, cid in seeded:
        if local._cooldowns.get(model, {}).get(cid) is None:
            mine[(model, cid)] = None
    if not mine:
        return 0
    by_model: dict[str, list[str]] = {}
    for model, cid in mine:
        by_model.setdefault(model, []).append(cid)
    models = sorted(by_model)
    keys = [f"{prefix}cd|{m}" for m in models]
    for _ in range(ATTEMPTS):
        try:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(*keys)
                now = local._clock()
                writes: list[tuple[str, str, bytes | None]] = []
                for model, hash_key in zip(models, keys, strict=True):
                    cids = by_model[model]
                    for cid, raw in zip(cids, await pipe.hmget(hash_key, cids), strict=True):
                        want = mine[(model, cid)]
                        if want is None:  # cleared here: only the record that was cleared
                            if raw is not None and _decoded(raw) == seeded[(model, cid)]:
                                writes.append((model, cid, None))
                            continue
                        merged = merge(want, _decoded(raw), now)
                        if merged is not None:
                            writes.append((model, cid, encode(merged)))
                pipe.multi()
                for model, cid, value in writes:
                    hash_key = f"{prefix}cd|{model}"
                    if value is None:
                        pipe.hdel(hash_key, cid)
                        continue
                    pipe.hset(hash_key, cid, value)
                    pipe.pexpire(hash_key, keep_ms)
                    pipe.sadd(prefix + "cdidx", model)
                if writes:
                    pipe.publish(channel, orjson.dumps({"k": "cd*"}))
                await pipe.execute()
                return len(writes)
        except WatchError:
            continue
    log.warning(
        "state: cooldowns set while Redis was away were not merged (%d tries kept conflicting)", ATTEMPTS
    )
    return 0


async def _leases(redis: Any, prefix: str, local: MemoryState) -> None:
    now = local._clock()
    held = [(name, owner, expiry - now) for name, (owner, expiry) in local._leases.items() if expiry > now]
    if not held:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for name, owner, left in held:
            pipe.set(prefix + "lease|" + name, owner, nx=True, px=max(1, int(left * 1000)))
        await pipe.execute()


async def _headroom(redis: Any, prefix: str, local: MemoryState) -> None:
    now = local._clock()
    args: list[Any] = [repr(now)]
    for cid, mark in local._headroom.items():
        if mark.resets_at <= now:
            continue
        keep = max(1000, min(int((mark.resets_at - now) * 1000) + 60_000, _HR_KEEP_MS))
        value = orjson.dumps([mark.used_percent, mark.resets_at, mark.window, mark.source])
        args += [cid, value, repr(mark.resets_at), repr(mark.used_percent), keep]
    if len(args) > 1:
        await redis.eval(_HEADROOM, 1, prefix + "hr", *args)


class Spent:
    """What one client key spent on the local state during an outage (one budget period's)."""

    __slots__ = ("cost", "first", "in_flight", "period", "requests", "rpm_tat", "tokens", "tpm_tat")

    def __init__(self, period: str, now: float) -> None:
        self.period, self.first = period, now
        self.tokens = self.requests = self.in_flight = 0  # in_flight: slots taken less given back
        self.cost = self.rpm_tat = self.tpm_tat = 0.0  # the tats: a GCRA bucket of this spend only

    def roll(self, period: str) -> None:
        if self.period != period:  # a new period: the ended one's spend is not carried
            self.period, self.tokens, self.cost, self.requests = period, 0, 0.0, 0


# (batch token, key id, its spend), in the order they are written
Batches = list[tuple[str, str, Spent]]

MARK_MS = 86_400_000  # how long a written batch's mark refuses it again

# KEYS: the key's hash, the batch's mark; ARGV: now, period, tokens, cost, requests, slots,
# rpm tat, tpm tat, first (``since`` of a hash this makes), the mark's ms
_SPENT = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[10]) then return 0 end
local k = KEYS[1] local now = tonumber(ARGV[1]) local per = ARGV[2]
local fresh = redis.call('EXISTS', k) == 0
local h = redis.call('HMGET', k, 'rt', 'tt', 'inf', 'per', 'tok', 'cost', 'req')
local rt = tonumber(h[1]) or 0 local tt = tonumber(h[2]) or 0
local inf = math.max(0, (tonumber(h[3]) or 0) + tonumber(ARGV[6]))
local tok = tonumber(h[5]) or 0 local cost = tonumber(h[6]) or 0 local req = tonumber(h[7]) or 0
local drt = tonumber(ARGV[7]) - now if drt > 0 then rt = math.max(rt, now) + drt end
local dtt = tonumber(ARGV[8]) - now if dtt > 0 then tt = math.max(tt, now) + dtt end
local old = h[4]
if not old or old == per then
  tok = tok + tonumber(ARGV[3]) cost = cost + tonumber(ARGV[4]) req = req + tonumber(ARGV[5])
elseif string.sub(old, 1, 2) == string.sub(per, 1, 2) and per > old then
  tok = tonumber(ARGV[3]) cost = tonumber(ARGV[4]) req = tonumber(ARGV[5])
else
  per = old
end
redis.call('HSET', k, 'rt', tostring(rt), 'tt', tostring(tt), 'inf', inf, 'per', per, 'tok', tok,
  'cost', tostring(cost), 'req', req)
if fresh then redis.call('HSET', k, 'since', ARGV[9]) end
return 1
"""


async def carry_spent(redis: Any, prefix: str, batches: Batches, spent: dict[str, Spent], now: float) -> int:
    """Write ``batches`` (what an earlier try left unwritten), then ``spent`` (moved into
    ``batches`` first, each key under a new token), into Redis; a batch leaves ``batches`` once
    written. The number of keys charged. A connection failure goes up with the rest kept."""
    for key_id, one in spent.items():
        batches.append((os.urandom(9).hex(), key_id, one))
    spent.clear()
    charged = 0
    while batches:
        token, key_id, one = batches[0]
        args: list[Any] = [repr(now), one.period, one.tokens, repr(one.cost), one.requests, one.in_flight]
        args += [repr(one.rpm_tat), repr(one.tpm_tat), repr(one.first), MARK_MS]
        charged += int(await redis.eval(_SPENT, 2, f"{prefix}key|{key_id}", f"{prefix}kc|{token}", *args))
        del batches[0]
    return charged
