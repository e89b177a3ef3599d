"""Request counters the management panel reads: per credential and per client API key.

CPA counts on each credential every attempt's result (``success`` / ``failed``) and
keeps a ring of 20 ten-minute buckets (``recent_requests``); the panel's Dashboard, AI
Providers and Auth Files views are built from them. cliproxy keeps the same counts per
credential ``auth_index`` and, beside them, per client API key, with token totals.
A request's outcome is noted on its two counters as one tuple and added in when a
counter is read or has :data:`FOLD` notes waiting (:meth:`Counter.fold`: sums in C over
the batch), so a request costs two list appends, not a dozen integer additions; labels
are formatted only when a snapshot is asked for.
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
FOLD = 256  # notes a counter holds before adding them in (each: a timestamp, ok, tokens)

Note = tuple[float, bool, Tokens]
_NO_TOKENS: Tokens = (0, 0, 0, 0, 0, 0)


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
    # requests noted and not yet added in (:meth:`fold`): read the fields through
    # ``UsageCounters.by_auth`` / ``by_key``, :meth:`entry` or :meth:`recent`, which fold first
    pending: list[Note] = field(default_factory=list)

    def add(self, ok: bool, ts: float, n: int = 1) -> None:
        if ok:
            self.success += n
        else:
            self.failed += n
        self.bump(ok, ts, n)

    def bump(self, ok: bool, ts: float, n: int = 1) -> None:
        """The recent-requests ring only (history restored from the ledger)."""
        if ok:
            self._ring(int(ts) // BUCKET_SECONDS, n, 0)
        else:
            self._ring(int(ts) // BUCKET_SECONDS, 0, n)

    def _ring(self, bucket: int, good: int, bad: int) -> None:
        slot = self.ring[bucket % BUCKETS]
        if slot[0] != bucket:
            if slot[0] > bucket:  # an older bucket than the slot holds (restored history)
                return
            slot[0], slot[1], slot[2] = bucket, 0, 0
        slot[1] += good
        slot[2] += bad

    def fold(self) -> None:
        """Add in the requests noted since the last fold, in the order they were noted:
        the same totals and ring as adding each at once, summed in C over the batch."""
        notes = self.pending
        if not notes:
            return
        self.pending = []
        stamps, oks, tokens = zip(*notes, strict=True)
        good = sum(oks)
        self.success += good
        self.failed += len(notes) - good
        i0, i1, i2, i3, i4, i5 = map(sum, zip(*tokens, strict=True))
        self.input_tokens += i0
        self.output_tokens += i1
        self.cached_tokens += i2
        self.cache_creation_tokens += i3
        self.reasoning_tokens += i4
        self.total_tokens += i5
        first = int(min(stamps)) // BUCKET_SECONDS
        if first == int(max(stamps)) // BUCKET_SECONDS:  # one bucket (nearly always)
            self._ring(first, good, len(notes) - good)
        else:
            for ts, ok in zip(stamps, oks, strict=True):
                self.bump(ok, ts)

    def add_tokens(self, tokens: Tokens) -> None:
        """``tokens``: input, output, cache read, cache write, reasoning, total."""
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        self.cached_tokens += tokens[2]
        self.cache_creation_tokens += tokens[3]
        self.reasoning_tokens += tokens[4]
        self.total_tokens += tokens[5]

    def recent(self, now: float) -> list[dict[str, Any]]:
        self.fold()
        current = int(now) // BUCKET_SECONDS
        out = []
        for b in range(current - BUCKETS + 1, current + 1):
            slot = self.ring[b % BUCKETS]
            ok, bad = (slot[1], slot[2]) if slot[0] == b else (0, 0)
            out.append({"time": bucket_label(b), "success": ok, "failed": bad})
        return out

    def entry(self, now: float) -> dict[str, Any]:
        """CPA's ``{success, failed, recent_requests}`` plus the token totals the panel reads."""
        self.fold()
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
    """Counters by credential ``auth_index`` and by client API key. ``by_auth`` and
    ``by_key`` add in what was noted (:meth:`Counter.fold`) before they are read."""

    __slots__ = ("_by_auth", "_by_key", "_noted")

    def __init__(self) -> None:
        self._by_auth: dict[str, Counter] = {}
        self._by_key: dict[str, Counter] = {}
        self._noted = False  # a request was noted since the last fold (a read is then O(counters))

    @property
    def by_auth(self) -> dict[str, Counter]:
        self.fold()
        return self._by_auth

    @by_auth.setter
    def by_auth(self, counters: dict[str, Counter]) -> None:
        self._by_auth = counters

    @property
    def by_key(self) -> dict[str, Counter]:
        self.fold()
        return self._by_key

    @by_key.setter
    def by_key(self, counters: dict[str, Counter]) -> None:
        self._by_key = counters

    def fold(self) -> None:
        """Every counter's notes added in (a read is due): nothing to walk when no request
        was noted since the last time (a panel listing reads once per credential)."""
        if not self._noted:
            return
        self._noted = False
        for table in (self._by_auth, self._by_key):
            for c in table.values():
                if c.pending:
                    c.fold()

    def auth(self, index: str) -> Counter:
        c = self._by_auth.get(index)
        if c is None:
            c = self._by_auth[index] = Counter()
        return c

    def key(self, api_key: str) -> Counter:
        c = self._by_key.get(api_key)
        if c is None:
            c = self._by_key[api_key] = Counter()
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
        (an attempt is only followed by another when it failed). Noted on the two
        counters, added in at a read or after :data:`FOLD` notes (:meth:`Counter.fold`)."""
        for index in failed_auths:
            failed = self.auth(index)
            failed.pending.append((ts, False, _NO_TOKENS))
            if len(failed.pending) >= FOLD:
                failed.fold()
        self._noted = True
        note = (ts, ok, tokens)
        try:  # subscripts, not .get(): no call on a hit (a miss is once per key)
            k = self._by_key[api_key]
        except KeyError:
            k = self._by_key[api_key] = Counter()
        notes = k.pending
        notes.append(note)
        if len(notes) >= FOLD:
            k.fold()
        if auth_index:
            try:
                c = self._by_auth[auth_index]
            except KeyError:
                c = self._by_auth[auth_index] = Counter()
            notes = c.pending
            notes.append(note)
            if len(notes) >= FOLD:
                c.fold()

    def tokens(self, api_key: str, auth_index: str, tokens: Tokens) -> None:
        """Tokens a request's upstream tool spent (``usage.tool_usage``): added to the
        key's and the credential's token totals, no request (CPA counts a credential's
        requests once each, and the tool's record is none of them)."""
        self.key(api_key).add_tokens(tokens)
        if auth_index:
            self.auth(auth_index).add_tokens(tokens)

    def clear(self) -> None:
        self._by_auth.clear()
        self._by_key.clear()

    async def refresh(self) -> None:
        """Bring ``by_auth`` / ``by_key`` up to date before a read (shared counters read
        Redis, :mod:`cliproxy.usage.shared`; these fold their notes as they are read)."""
