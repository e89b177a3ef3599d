"""Client key policy counters on Redis: the ``key_*`` methods of the state contract.

One hash per key, ``<prefix>key|<key id>``: ``rt``/``tt`` the GCRA times of the rpm and
tpm buckets, ``inf`` in-flight requests, ``per`` the budget period its spend belongs to,
``tok``/``cost``/``req`` that spend, ``since`` when the hash was made (the ledger's rows of
requests that ended before it are not in it: what a restore after a loss adds; ``0`` once
restored; none on a hash made before there was a ``since``: it holds every request).
Admission and settlement are one Lua script each, so the check costs one round trip and is
atomic across every process sharing the Redis; the arithmetic is
:func:`cliproxy.state.base.gcra`, as the memory backend's. While Redis is away the process's
local :class:`MemoryState` counts instead (as for the rest of the pool), and what it admits and
charges meanwhile is also kept as each key's :class:`~cliproxy.state.redis_carry.Spent`, added
to Redis's counts on reconnect (:func:`~cliproxy.state.redis_carry.carry_spent`).

:data:`MARKER` (``<prefix>alive``) is the key whose absence says Redis lost its data
(:mod:`cliproxy.state.redis_loss`).
"""

from __future__ import annotations

from typing import Any

from .base import RATE_WINDOW, KeyAdmission, KeyLimits
from .memory import MemoryState
from .redis_carry import Batches, Spent, carry_spent
from .resp import DOWN as _DOWN

__all__ = ["MARKER", "RedisKeyPolicies"]

MARKER = "alive"  # set once this deployment's state is whole; gone after FLUSHALL, a bare restart


_ADMIT = """
local k = KEYS[1]
local now = tonumber(ARGV[1]) local rpm = tonumber(ARGV[2]) local tpm = tonumber(ARGV[3])
local maxc = tonumber(ARGV[4]) local btok = tonumber(ARGV[5]) local bcost = tonumber(ARGV[6])
local period = ARGV[7] local take = ARGV[8] == '1' local W = tonumber(ARGV[9])
local fresh = redis.call('EXISTS', k) == 0
local h = redis.call('HMGET', k, 'rt', 'tt', 'inf', 'per', 'tok', 'cost', 'req')
local rt = tonumber(h[1]) or 0 local tt = tonumber(h[2]) or 0 local inf = tonumber(h[3]) or 0
local tok = tonumber(h[5]) or 0 local cost = tonumber(h[6]) or 0 local req = tonumber(h[7]) or 0
if h[4] ~= period then tok = 0 cost = 0 req = 0 end
local reason = '' local rrem = 0 local rreset = 0 local trem = 0 local treset = 0 local retry = 0
local newrt = rt
if rpm > 0 then
  local iv = W / rpm
  local c = 0
  if take then c = 1 end
  newrt = math.max(rt, now) + c * iv
  local ahead = newrt - now
  rrem = math.max(0, math.floor((W - ahead) / iv + 1e-6)) rreset = math.max(0, ahead)
  if take and ahead > W + 1e-6 then
    reason = 'rpm' retry = ahead - W rrem = 0 rreset = math.max(rt - now, 0)
  end
end
if tpm > 0 then
  local iv = W / tpm
  local ahead = math.max(tt, now) - now
  trem = math.max(0, math.floor((W - ahead) / iv + 1e-6)) treset = math.max(0, ahead)
  if take and reason == '' and trem < 1 then reason = 'tpm' retry = treset - W + iv end
end
if take and reason == '' then
  if maxc > 0 and inf >= maxc then reason = 'concurrency'
  elseif btok > 0 and tok >= btok then reason = 'budget_tokens'
  elseif bcost > 0 and cost >= bcost then reason = 'budget_cost' end
end
if take and reason == '' then
  inf = inf + 1 req = req + 1
  redis.call('HSET', k, 'rt', tostring(newrt), 'inf', inf, 'per', period, 'tok', tok,
    'cost', tostring(cost), 'req', req)
  if fresh then redis.call('HSET', k, 'since', tostring(now)) end
end
return {reason, rrem, tostring(rreset), trem, tostring(treset), tostring(retry), inf, tok, tostring(cost), req}
"""

_SETTLE = """
local k = KEYS[1]
local now = tonumber(ARGV[1]) local tpm = tonumber(ARGV[2]) local period = ARGV[3]
local tokens = tonumber(ARGV[4]) local add = tonumber(ARGV[5]) local rel = ARGV[6] == '1'
local W = tonumber(ARGV[7])
local fresh = redis.call('EXISTS', k) == 0
local h = redis.call('HMGET', k, 'tt', 'inf', 'per', 'tok', 'cost', 'req')
local tt = tonumber(h[1]) or 0 local inf = tonumber(h[2]) or 0
local tok = tonumber(h[4]) or 0 local cost = tonumber(h[5]) or 0 local req = tonumber(h[6]) or 0
if h[3] ~= period then tok = 0 cost = 0 req = 0 end
if tokens > 0 then
  tok = tok + tokens
  if tpm > 0 then tt = math.max(tt, now) + tokens * W / tpm end
end
if add > 0 then cost = cost + add end
if rel and inf > 0 then inf = inf - 1 end
redis.call('HSET', k, 'tt', tostring(tt), 'inf', inf, 'per', period, 'tok', tok,
  'cost', tostring(cost), 'req', req)
if fresh then redis.call('HSET', k, 'since', tostring(now)) end
return 1
"""

# a restored spend, added only when ``since`` is still what the restorer read (ARGV[4], ''
# for no hash): else a request made the hash meanwhile and the restorer reads again
_RESTORE = """
local k = KEYS[1]
local period = ARGV[1] local tokens = tonumber(ARGV[2]) local add = tonumber(ARGV[3])
local h = redis.call('HMGET', k, 'per', 'tok', 'cost', 'req', 'since')
if ARGV[4] == '' then
  if redis.call('EXISTS', k) == 1 then return 0 end
elseif h[5] ~= ARGV[4] then return 0 end
local tok = tonumber(h[2]) or 0 local cost = tonumber(h[3]) or 0 local req = tonumber(h[4]) or 0
if h[1] ~= period then tok = 0 cost = 0 req = 0 end
redis.call('HSET', k, 'per', period, 'tok', tok + tokens, 'cost', tostring(cost + add), 'req', req, 'since', '0')
return 1
"""


def _admission(raw: list[Any]) -> KeyAdmission:
    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    return KeyAdmission(
        reason=text(raw[0]),
        rpm_remaining=int(raw[1]),
        rpm_reset=float(text(raw[2])),
        tpm_remaining=int(raw[3]),
        tpm_reset=float(text(raw[4])),
        retry_after=float(text(raw[5])),
        in_flight=int(raw[6]),
        tokens_used=int(raw[7]),
        cost_used=float(text(raw[8])),
        requests=int(raw[9]),
    )


class RedisKeyPolicies:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``
    and ``_local`` (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _local: MemoryState
    _key_scripts: tuple[Any, Any] | None = None
    _restore_script: Any = None
    prefix: str
    # an outage's spend per key, and the batches a failed carry left unwritten (made on first use)
    _key_spent: dict[str, Spent] | None = None
    _key_batches: Batches | None = None

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _scripts(self) -> tuple[Any, Any]:
        if self._key_scripts is None:
            self._key_scripts = (self._redis.register_script(_ADMIT), self._redis.register_script(_SETTLE))
        return self._key_scripts

    async def _key_eval(self, key_id: str, limits: KeyLimits, now: float, take: bool) -> KeyAdmission | None:
        if self._down:
            return None
        args: list[Any] = [now, limits.rpm, limits.tpm, limits.max_concurrency, limits.budget_tokens]
        args += [repr(float(limits.budget_cost)), limits.period, "1" if take else "0", RATE_WINDOW]
        try:
            return _admission(await self._scripts()[0](keys=[self._k("key|" + key_id)], args=args))
        except _DOWN as exc:
            self._went_down(exc)
            return None

    def _spent(self, key_id: str, limits: KeyLimits, now: float) -> Spent:
        if self._key_spent is None:
            self._key_spent = {}
        found = self._key_spent.get(key_id)
        if found is None:
            found = self._key_spent[key_id] = Spent(limits.period, now)
        found.roll(limits.period)
        return found

    async def _carry_spent(self) -> int:
        """Add what the outage spent to Redis's counts (each key once; see redis_carry)."""
        if self._key_batches is None:
            self._key_batches = []
        charged = 0
        # again while requests still on the local state spent meanwhile: none is left behind
        while self._key_spent or self._key_batches:
            spent, self._key_spent = self._key_spent or {}, None
            charged += await carry_spent(
                self._redis, self.prefix, self._key_batches, spent, self._local._clock()
            )
        return charged

    async def key_admit(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        found = await self._key_eval(key_id, limits, now, True)
        if found is not None:
            return found
        found = await self._local.key_admit(key_id, limits, now)
        if found.ok:  # kept for Redis (the arithmetic of memory.key_view)
            spent = self._spent(key_id, limits, now)
            spent.requests += 1
            spent.in_flight += 1
            if limits.rpm:
                spent.rpm_tat = max(spent.rpm_tat, now) + RATE_WINDOW / limits.rpm
        return found

    async def key_usage(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        found = await self._key_eval(key_id, limits, now, False)
        return found if found is not None else await self._local.key_usage(key_id, limits, now)

    async def key_settle(
        self, key_id: str, limits: KeyLimits, now: float, *, tokens: int, cost: float, release: bool
    ) -> None:
        if not self._down:
            args: list[Any] = [
                now,
                limits.tpm,
                limits.period,
                tokens,
                repr(float(cost)),
                "1" if release else "0",
            ]
            try:
                await self._scripts()[1](keys=[self._k("key|" + key_id)], args=[*args, RATE_WINDOW])
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.key_settle(key_id, limits, now, tokens=tokens, cost=cost, release=release)
        spent = self._spent(key_id, limits, now)  # kept for Redis (as memory.key_charge)
        if tokens > 0:
            spent.tokens += tokens
            if limits.tpm:
                spent.tpm_tat = max(spent.tpm_tat, now) + tokens * RATE_WINDOW / limits.tpm
        if cost > 0:
            spent.cost += cost
        if release:  # a slot taken through Redis before the outage is given back there too
            spent.in_flight -= 1

    async def key_since(self, key_ids: list[str]) -> dict[str, str]:
        """Each key's ``since``: the ledger rows of requests that ended before it are what its
        hash misses after a loss; ``''`` no hash (all of them), ``0`` none (restored, or a hash
        older than ``since``)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key_id in key_ids:
                pipe.exists(self._k("key|" + key_id))
                pipe.hget(self._k("key|" + key_id), "since")
            found = await pipe.execute()
        return {
            k: (since.decode() if since else "0") if there else ""
            for k, there, since in zip(key_ids, found[::2], found[1::2], strict=True)
        }

    async def key_restore(self, key_id: str, period: str, tokens: int, cost: float, since: str) -> bool:
        """Add a restored spend to ``key_id``'s ``period``; False (nothing added) when its
        ``since`` is no longer ``since``."""
        if self._restore_script is None:
            self._restore_script = self._redis.register_script(_RESTORE)
        args: list[Any] = [period, tokens, repr(float(cost)), since]
        return bool(await self._restore_script(keys=[self._k("key|" + key_id)], args=args))

    async def key_reset(self, key_id: str) -> None:
        if not self._down:
            try:
                await self._redis.hdel(self._k("key|" + key_id), "rt", "tt", "per", "tok", "cost", "req")
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.key_reset(key_id)
        spent = (self._key_spent or {}).pop(key_id, None)
        if spent is not None and spent.in_flight:  # forgotten, but for the slots it holds
            self._spent(key_id, KeyLimits(), self._local._clock()).in_flight = spent.in_flight
