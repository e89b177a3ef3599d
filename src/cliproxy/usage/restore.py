"""Counters rebuilt from the ledger when it opens, so a restart keeps the panel's history.

Totals come from aggregates over every row kept; the recent-requests buckets from the
rows of the last 20 buckets. Each row counts as it did live: its credential gets the
request's outcome and tokens, each credential in ``failed_auths`` one failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, Counter, UsageCounters

if TYPE_CHECKING:
    from cliproxy.usage.ledger import Ledger

__all__ = ["restore_counters"]

_SUMS = (
    "SUM(1 - failed), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(cache_creation_tokens), SUM(reasoning_tokens), SUM(total_tokens)"
)


def _apply(c: Counter, row: tuple[object, ...]) -> None:
    n = [int(v or 0) for v in row]  # type: ignore[call-overload]
    c.success += n[0]
    c.failed += n[1]
    c.add_tokens((n[2], n[3], n[4], n[5], n[6], n[7]))


def restore_counters(ledger: Ledger, counters: UsageCounters, labels: dict[str, str], now: float) -> None:
    """Fill ``counters`` (and the key id -> masked key ``labels``) from ``ledger``. Blocking."""
    from_table = " FROM usage_requests"
    for index, *sums in ledger.query(
        f"SELECT auth_index, {_SUMS}{from_table} WHERE auth_index != '' GROUP BY auth_index"
    ):
        _apply(counters.auth(str(index)), tuple(sums))
    for kid, label, *sums in ledger.query(
        f"SELECT api_key_id, MAX(api_key), {_SUMS}{from_table} GROUP BY api_key_id"
    ):
        _apply(counters.key(str(kid)), tuple(sums))
        if kid:
            labels[str(kid)] = str(label or "")
    for (failed_auths,) in ledger.query(f"SELECT failed_auths{from_table} WHERE failed_auths != ''"):
        for index in str(failed_auths).split(","):
            if index:
                counters.auth(index).failed += 1
    since = (int(now) // BUCKET_SECONDS - BUCKETS + 1) * BUCKET_SECONDS
    recent = ledger.query(
        f"SELECT ts, api_key_id, auth_index, failed, failed_auths{from_table} WHERE ts >= {{p}} ORDER BY ts",
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
