"""Request counters the management panel reads: per credential and per client API key.

CPA counts on each credential every attempt's result (``success`` / ``failed``) and
keeps a ring of 20 ten-minute buckets (``recent_requests``); the panel's Dashboard, AI
Providers and Auth Files views are built from them. cliproxy keeps the same counts per
credential ``auth_index`` and, beside them, per client API key, with token totals.
Counting costs a few integer additions on the event loop; labels are formatted only
when a snapshot is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "BUCKETS",
    "BUCKET_SECONDS",
    "Counter",
    "Tokens",
    "UsageCounters",
    "bucket_label",
    "empty_buckets",
]

Tokens = tuple[int, int, int, int, int, int]  # input, output, cache read, cache write, reasoning, total

BUCKET_SECONDS = 10 * 60
BUCKETS = 20


def bucket_label(bucket: int) -> str:
    """``HH:MM-HH:MM`` in local time, as CPA labels a bucket."""
    start = datetime.fromtimestamp(bucket * BUCKET_SECONDS)
    end = datetime.fromtimestamp((bucket + 1) * BUCKET_SECONDS)
    return f"{start:%H:%M}-{end:%H:%M}"


def empty_buckets(now: float) -> list[dict[str, Any]]:
    """CPA's 20 buckets ending with the current one, oldest first, all zero."""
    current = int(now) // BUCKET_SECONDS
    return [
        {"time": bucket_label(b), "success": 0, "failed": 0}
        for b in range(current - BUCKETS + 1, current + 1)
    ]


@dataclass(slots=True)
class Counter:
    """One credential's or one client key's counts."""

    success: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    # ring of (bucket id, success, failed), indexed by bucket id modulo BUCKETS
    ring: list[list[int]] = field(default_factory=lambda: [[-1, 0, 0] for _ in range(BUCKETS)])

    def add(self, ok: bool, ts: float, n: int = 1) -> None:
        if ok:
            self.success += n
        else:
            self.failed += n
        self.bump(ok, ts, n)

    def bump(self, ok: bool, ts: float, n: int = 1) -> None:
        """The recent-requests ring only (history restored from the ledger)."""
        bucket = int(ts) // BUCKET_SECONDS
        slot = self.ring[bucket % BUCKETS]
        if slot[0] != bucket:
            if slot[0] > bucket:  # an older bucket than the slot holds (restored history)
                return
            slot[0], slot[1], slot[2] = bucket, 0, 0
        slot[1 if ok else 2] += n

    def add_tokens(self, tokens: Tokens) -> None:
        """``tokens``: input, output, cache read, cache write, reasoning, total."""
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        self.cached_tokens += tokens[2]
        self.cache_creation_tokens += tokens[3]
        self.reasoning_tokens += tokens[4]
        self.total_tokens += tokens[5]

    def recent(self, now: float) -> list[dict[str, Any]]:
        current = int(now) // BUCKET_SECONDS
        out = []
        for b in range(current - BUCKETS + 1, current + 1):
            slot = self.ring[b % BUCKETS]
            ok, bad = (slot[1], slot[2]) if slot[0] == b else (0, 0)
            out.append({"time": bucket_label(b), "success": ok, "failed": bad})
        return out

    def entry(self, now: float) -> dict[str, Any]:
        """CPA's ``{success, failed, recent_requests}`` plus the token totals the panel reads."""
        return {
            "success": self.success,
            "failed": self.failed,
            "recent_requests": self.recent(now),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
        }


class UsageCounters:
    """Counters by credential ``auth_index`` and by client API key."""

    __slots__ = ("by_auth", "by_key")

    def __init__(self) -> None:
        self.by_auth: dict[str, Counter] = {}
        self.by_key: dict[str, Counter] = {}

    def auth(self, index: str) -> Counter:
        c = self.by_auth.get(index)
        if c is None:
            c = self.by_auth[index] = Counter()
        return c

    def key(self, api_key: str) -> Counter:
        c = self.by_key.get(api_key)
        if c is None:
            c = self.by_key[api_key] = Counter()
        return c

    def record(
        self,
        ts: float,
        api_key: str,
        auth_index: str,
        failed_auths: tuple[str, ...],
        ok: bool,
        tokens: Tokens,
    ) -> None:
        """One finished request: its credential (``auth_index``, the last attempt) gets
        the request's outcome and tokens; each earlier attempt's credential a failure
        (an attempt is only followed by another when it failed)."""
        for index in failed_auths:
            self.auth(index).add(False, ts)
        # the request's two counters, ``Counter.add`` + ``add_tokens`` inlined: run per request
        bucket = int(ts) // BUCKET_SECONDS
        slot_at = bucket % BUCKETS
        i0, i1, i2, i3, i4, i5 = tokens
        try:
            k = self.by_key[api_key]
        except KeyError:
            k = self.by_key[api_key] = Counter()
        if auth_index:
            try:
                c = self.by_auth[auth_index]
            except KeyError:
                c = self.by_auth[auth_index] = Counter()
            both: tuple[Counter, ...] = (c, k)
        else:
            both = (k,)
        for c in both:
            if ok:
                c.success += 1
            else:
                c.failed += 1
            slot = c.ring[slot_at]
            if slot[0] == bucket:
                slot[1 if ok else 2] += 1
            elif slot[0] < bucket:  # a newer bucket than the slot holds (an older one: restored history)
                slot[0], slot[1], slot[2] = (bucket, 1, 0) if ok else (bucket, 0, 1)
            c.input_tokens += i0
            c.output_tokens += i1
            c.cached_tokens += i2
            c.cache_creation_tokens += i3
            c.reasoning_tokens += i4
            c.total_tokens += i5

    def clear(self) -> None:
        self.by_auth.clear()
        self.by_key.clear()

    async def refresh(self) -> None:
        """Bring ``by_auth`` / ``by_key`` up to date before a read (shared counters read
        Redis, :mod:`cliproxy.usage.shared`; these are always current)."""
