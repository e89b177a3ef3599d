"""Counters rebuilt from the ledger when it opens, so a restart keeps the panel's history.

Totals come from ``usage_totals`` (:mod:`cliproxy.usage.ledger_totals`): one row per
credential and per client key, kept equal to the sums over every row kept by each write
and each retention sweep, so a start reads as many rows as there are credentials and keys.
The recent-requests buckets come from the rows of the last 20 buckets. Each row counts as
it did live: its credential gets the request's outcome and tokens, each credential in
``failed_auths`` one failure; a tool's usage row (``attempts`` ``TOOL_ATTEMPTS``,
:mod:`cliproxy.usage.tool_usage`) its tokens only: no request, no bucket.

With the Redis state backend the counters live in Redis; when Redis lost its data
(:mod:`cliproxy.state.redis_loss`), :func:`restore_shared_counters` adds to each counter
the rows it misses: those of requests that ended before its ``since`` (when it counted its
first request since the loss; every row for a counter nothing has touched since), that is
its totals less the rows of requests that ended later, and the recent buckets of those rows.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, Counter, UsageCounters
from cliproxy.usage.ledger_totals import READ_SQL, TOKENS, TOOL_ATTEMPTS

if TYPE_CHECKING:
    from cliproxy.usage.ledger import Ledger
    from cliproxy.usage.shared import UsageSync

__all__ = ["ENDED", "SLACK", "restore_counters", "restore_shared_counters"]

# when a row's request ended (``latency_ms`` is cut to the millisecond: up to 1 ms early)
ENDED = "(ts + latency_ms / 1000.0)"
SLACK = 0.002  # seconds: a row that ended this much before a ``since`` is counted there already
LONGEST = 6 * 3600.0  # seconds a request may have run, for the rows read after a ``since``
# the shared counter's hash fields in a totals row's order (after kind, id, label)
_FIELDS = ("s", "f", "it", "ot", "ct", "cc", "rt", "tt")
# the recent buckets' rows (from the second {p}) and those that ended after the first
# ``since`` (the third) among those begun from the first
_RECENT = (
    f"SELECT ts, {ENDED}, api_key_id, auth_index, failed, failed_auths, attempts = {TOOL_ATTEMPTS}, "
    + ", ".join(TOKENS)
    + f" FROM usage_requests WHERE ts >= {{p}} AND (ts >= {{p}} OR {ENDED} >= {{p}})"
)
# adds ARGV[2..] (field, delta pairs) when ``since`` is still ARGV[1] ('' for no counter), then
# marks the counter restored; 0 when a flush began it meanwhile (read again)
_ADD = """
local k = KEYS[1]
if ARGV[1] == '' then
  if redis.call('EXISTS', k) == 1 then return 0 end
elseif redis.call('HGET', k, 'since') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', k, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', k, 'since', '0')
return 1
"""
TRIES = 3


def _apply(c: Counter, row: tuple[object, ...]) -> None:
    n = [int(v or 0) for v in row]  # type: ignore[call-overload]
    c.success += n[0]
    c.failed += n[1]
    c.add_tokens((n[2], n[3], n[4], n[5], n[6], n[7]))


def restore_counters(ledger: Ledger, counters: UsageCounters, labels: dict[str, str], now: float) -> None:
    """Fill ``counters`` (and the key id -> masked key ``labels``) from ``ledger``. Blocking."""
    for kind, name, label, *sums in ledger.query(READ_SQL):
        if kind == "auth":
            _apply(counters.auth(str(name)), tuple(sums))
        elif kind == "key":
            _apply(counters.key(str(name)), tuple(sums))
            if name:
                labels[str(name)] = str(label or "")
    since = (int(now) // BUCKET_SECONDS - BUCKETS + 1) * BUCKET_SECONDS
    recent = ledger.query(
        "SELECT ts, api_key_id, auth_index, failed, failed_auths FROM usage_requests "
        f"WHERE ts >= {{p}} AND attempts != {TOOL_ATTEMPTS} ORDER BY ts",  # requests only
        (float(since),),
    )
    for ts, kid, index, failed, failed_auths in recent:
        when, ok = float(ts), not failed
        counters.key(str(kid)).bump(ok, when)
        if index:
            counters.auth(str(index)).bump(ok, when)
        for other in str(failed_auths or "").split(","):
            if other:
                counters.auth(other).bump(False, when)


def _missing(
    totals: list[tuple[Any, ...]], recent: list[tuple[Any, ...]], marks: dict[str, str], now: float
) -> dict[str, dict[str, int]]:
    """What each counter (``a|<index>`` / ``k|<kid>`` with a ``since`` other than ``0`` in
    ``marks``) misses: its totals less the ``recent`` rows that ended from its ``since`` on,
    and the buckets of the last ``BUCKETS`` of the other rows."""
    out: dict[str, dict[str, int]] = {}
    for kind, name, _, *sums in totals:
        who = ("a|" if kind == "auth" else "k|") + str(name)
        if who in marks and marks[who] != "0":
            out[who] = {f: int(v or 0) for f, v in zip(_FIELDS, sums, strict=True)}
    first = (int(now) // BUCKET_SECONDS - BUCKETS + 1) * BUCKET_SECONDS
    for ts, ended, kid, index, failed, failed_auths, tool, *tokens in recent:
        ts, ended = float(ts), float(ended)
        if tool:  # a tool's usage row: its tokens, no request (usage.tool_usage)
            row: tuple[int, ...] = (0, 0, *(int(v or 0) for v in tokens))
        else:
            row = (0 if failed else 1, 1 if failed else 0, *(int(v or 0) for v in tokens))
        hits = [("k|" + str(kid), row)]
        if index:
            hits.append(("a|" + str(index), row))
        hits += [
            ("a|" + other, (0, 1, 0, 0, 0, 0, 0, 0)) for other in str(failed_auths or "").split(",") if other
        ]
        for who, delta in hits:
            d = out.get(who)
            if d is None:
                continue
            if marks[who] and ended >= int(marks[who]) / 1000 - SLACK:  # counted in Redis already
                for f, v in zip(_FIELDS, delta, strict=True):
                    d[f] -= v
            elif ts >= first and (delta[0] or delta[1]):
                bucket = f"b{int(ts) // BUCKET_SECONDS}{'s' if delta[0] else 'f'}"
                d[bucket] = d.get(bucket, 0) + 1
    return out


async def restore_shared_counters(ledger: Ledger, sync: UsageSync, now: float) -> tuple[int, int]:
    """After Redis lost its data: add to the shared counters what the ledger holds and they
    miss; how many credentials' and keys' counters got some. Ledger reads run in a thread."""
    await sync.flush()
    await asyncio.to_thread(ledger.flush)
    totals = await asyncio.to_thread(ledger.query, READ_SQL)
    redis, prefix = sync.state.client, sync.state.prefix
    script = redis.register_script(_ADD)
    labels = {str(name): str(label) for kind, name, label, *_ in totals if kind == "key" and name and label}
    pending = [("a|" if kind == "auth" else "k|") + str(name) for kind, name, *_ in totals]
    done = {"a": 0, "k": 0}
    for _ in range(TRIES):
        if not pending:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for who in pending:
                pipe.exists(prefix + "uc|" + who)
                pipe.hget(prefix + "uc|" + who, "since")
            found = await pipe.execute()
        # '' no counter (every row), '0' restored or older than ``since`` (none)
        marks = {
            who: (since.decode() if since else "0") if there else ""
            for who, there, since in zip(pending, found[::2], found[1::2], strict=True)
        }
        window = float((int(now) // BUCKET_SECONDS - BUCKETS + 1) * BUCKET_SECONDS)
        first = min([int(m) / 1000 for m in marks.values() if m and m != "0"], default=now + 1)
        bounds = (min(window, first - LONGEST), window, first - SLACK)
        recent = await asyncio.to_thread(ledger.query, _RECENT, bounds)
        missing = _missing(totals, recent, marks, now)
        pending = []
        for who, delta in missing.items():
            pairs: list[Any] = []
            for f, v in delta.items():
                if v > 0:
                    pairs += [f, v]
            if not pairs:
                continue
            if await script(keys=[prefix + "uc|" + who], args=[marks[who], *pairs]):
                await redis.sadd(prefix + ("uc|auths" if who[0] == "a" else "uc|keys"), who[2:])
                done[who[0]] += 1
            else:
                pending.append(who)
    if labels:
        async with redis.pipeline(transaction=False) as pipe:
            for kid, label in labels.items():
                pipe.hsetnx(prefix + "uc|labels", kid, label)
            await pipe.execute()
    return done["a"], done["k"]
