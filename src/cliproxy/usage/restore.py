"""Counters rebuilt from the ledger when it opens, so a restart keeps the panel's history.

Totals come from ``usage_totals`` (:mod:`cliproxy.usage.ledger_totals`): one row per
credential and per client key, kept equal to the sums over every row kept by each write
and each retention sweep, so a start reads as many rows as there are credentials and keys.
The recent-requests buckets come from the rows of the last 20 buckets. Each row counts as
it did live: its credential gets the request's outcome and tokens, each credential in
``failed_auths`` one failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, Counter, UsageCounters
from cliproxy.usage.ledger_totals import READ_SQL

if TYPE_CHECKING:
    from cliproxy.usage.ledger import Ledger

__all__ = ["restore_counters"]


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
        "SELECT ts, api_key_id, auth_index, failed, failed_auths FROM usage_requests WHERE ts >= {p} ORDER BY ts",
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
