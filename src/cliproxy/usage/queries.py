"""Reads of the usage ledger: totals and time series by a dimension, CPA's statistics
snapshot, and CSV / JSON export and import. Every function blocks (run it in a thread).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from cliproxy.times import format_utc, parse_timestamp
from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import COLUMNS, INT_COLUMNS, TABLE
from cliproxy.usage.ledger_totals import TOKEN_SUMS, TOKENS

__all__ = [
    "GROUPS",
    "export_csv",
    "import_csv",
    "import_snapshot",
    "series",
    "snapshot",
    "summary",
]

# dimension -> (column grouped on, label shown beside it)
GROUPS: dict[str, tuple[str, str]] = {
    "key": ("api_key_id", "MAX(api_key)"),
    "credential": ("auth_index", "MAX(source)"),
    "model": ("model", "MAX(provider)"),
    "alias": ("alias", "MAX(model)"),
    "provider": ("provider", "MAX(provider)"),
}

# retries: the attempts after the first; a request that made none (no credential could
# serve it, attempts 0) retried nothing
_SUMS = (
    f"COUNT(*), SUM(1 - failed), SUM(failed), {TOKEN_SUMS}, SUM(latency_ms), SUM(ttfb_ms), "
    "SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END)"
)
_SUM_NAMES = ("requests", "success", "failed", *TOKENS)  # the columns _SUMS begins with


def _totals(values: Sequence[Any]) -> dict[str, Any]:
    n = [int(v or 0) for v in values]
    out: dict[str, Any] = dict(zip(_SUM_NAMES, n, strict=False))
    requests = n[0] or 1
    out["avg_latency_ms"] = round(n[9] / requests, 1)
    out["avg_ttfb_ms"] = round(n[10] / requests, 1)
    out["retries"] = n[11]
    return out


def summary(ledger: Ledger, group: str, since: float | None, until: float | None) -> list[dict[str, Any]]:
    """Totals per value of ``group`` (one of :data:`GROUPS`), most requests first."""
    column, label = GROUPS[group]
    where, params = ledger.window(since, until)
    rows = ledger.query(f"SELECT {column}, {label}, {_SUMS} FROM {TABLE}{where} GROUP BY {column}", params)
    out = [{"key": str(r[0] or ""), "label": str(r[1] or ""), **_totals(r[2:])} for r in rows]
    out.sort(key=lambda e: (-e["requests"], e["key"]))
    return out


def series(
    ledger: Ledger, group: str | None, step: int, since: float | None, until: float | None
) -> list[dict[str, Any]]:
    """Totals per ``step`` seconds (and per value of ``group`` when given), oldest first."""
    where, params = ledger.window(since, until)
    column = GROUPS[group][0] if group else "''"
    by = f"{column}, b" if group else "b"
    rows = ledger.query(
        f"SELECT {column}, {{bucket}} AS b, {_SUMS} FROM {TABLE}{where} GROUP BY {by} ORDER BY b",
        [step, step, *params],
    )
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        start = float(r[1])
        point = {"ts": int(start), "time": format_utc(start), **_totals(r[2:])}
        by_key.setdefault(str(r[0] or ""), []).append(point)
    return [{"key": k, "points": pts} for k, pts in sorted(by_key.items())]


# -- CPA's statistics snapshot (the old ``GET /usage``, ``/usage/export`` and ``/usage/import``)


def _day_hour(ts: float) -> tuple[str, str]:
    local = datetime.fromtimestamp(ts)
    return local.strftime("%Y-%m-%d"), local.strftime("%H")


def snapshot(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """CPA's ``StatisticsSnapshot`` built from ledger rows (``COLUMNS`` order): requests by
    client key (``apis``), then by model, each with its request details."""
    col = {name: i for i, name in enumerate(COLUMNS)}
    total = success = failure = tokens = 0
    apis: dict[str, Any] = {}
    by_day: dict[str, int] = {}
    by_hour: dict[str, int] = {}
    tok_day: dict[str, int] = {}
    tok_hour: dict[str, int] = {}
    for r in rows:
        failed = bool(r[col["failed"]])
        n_tokens = int(r[col["total_tokens"]] or 0)
        total += 1
        failure += failed
        success += not failed
        tokens += n_tokens
        api_name = str(r[col["api_key"]] or r[col["api_key_id"]] or "")
        model = str(r[col["alias"]] or r[col["model"]] or "unknown")
        api = apis.setdefault(api_name, {"total_requests": 0, "total_tokens": 0, "models": {}})
        api["total_requests"] += 1
        api["total_tokens"] += n_tokens
        m = api["models"].setdefault(model, {"total_requests": 0, "total_tokens": 0, "details": []})
        m["total_requests"] += 1
        m["total_tokens"] += n_tokens
        ts = float(r[col["ts"]])
        m["details"].append(
            {
                "timestamp": format_utc(ts),
                "latency_ms": int(r[col["latency_ms"]] or 0),
                "source": str(r[col["source"]] or ""),
                "auth_index": str(r[col["auth_index"]] or ""),
                "tokens": {
                    "input_tokens": int(r[col["input_tokens"]] or 0),
                    "output_tokens": int(r[col["output_tokens"]] or 0),
                    "reasoning_tokens": int(r[col["reasoning_tokens"]] or 0),
                    "cached_tokens": int(r[col["cached_tokens"]] or 0),
                    "total_tokens": n_tokens,
                },
                "failed": failed,
            }
        )
        day, hour = _day_hour(ts)
        by_day[day] = by_day.get(day, 0) + 1
        by_hour[hour] = by_hour.get(hour, 0) + 1
        tok_day[day] = tok_day.get(day, 0) + n_tokens
        tok_hour[hour] = tok_hour.get(hour, 0) + n_tokens
    return {
        "total_requests": total,
        "success_count": success,
        "failure_count": failure,
        "total_tokens": tokens,
        "apis": apis,
        "requests_by_day": by_day,
        "requests_by_hour": by_hour,
        "tokens_by_day": tok_day,
        "tokens_by_hour": tok_hour,
    }


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _snapshot_rows(snap: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Ledger rows for the request details of a CPA snapshot; ``ValueError`` when malformed."""
    apis = snap.get("apis") or {}
    if not isinstance(apis, dict):
        raise ValueError("usage.apis must be an object")
    out = []
    for api_name, api in apis.items():
        models = api.get("models") if isinstance(api, dict) else None
        for model, entry in (models or {}).items():
            details = entry.get("details") if isinstance(entry, dict) else None
            for d in details or []:
                if not isinstance(d, dict):
                    raise ValueError("each request detail must be an object")
                ts = parse_timestamp(str(d.get("timestamp") or ""))
                raw_tokens = d.get("tokens")
                tok: dict[str, Any] = raw_tokens if isinstance(raw_tokens, dict) else {}
                values = (
                    api_name,
                    model,
                    f"{ts:.6f}",
                    d.get("auth_index"),
                    d.get("source"),
                    d.get("latency_ms"),
                    d.get("failed"),
                    *(
                        tok.get(k)
                        for k in ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens")
                    ),
                    tok.get("total_tokens"),
                )
                uid = "cpa-" + hashlib.sha256(repr(values).encode()).hexdigest()[:24]  # CPA's dedup key
                failed = bool(d.get("failed"))
                row = {
                    "uid": uid,
                    "ts": ts,
                    "api_key": str(api_name),
                    "api_key_id": "",
                    "auth_index": str(d.get("auth_index") or ""),
                    "source": str(d.get("source") or ""),
                    "alias": str(model),
                    "model": str(model),
                    "status": 500 if failed else 200,
                    "failed": int(failed),
                    "input_tokens": _int(tok.get("input_tokens")),
                    "output_tokens": _int(tok.get("output_tokens")),
                    "cached_tokens": _int(tok.get("cached_tokens")),
                    "reasoning_tokens": _int(tok.get("reasoning_tokens")),
                    "total_tokens": _int(tok.get("total_tokens")),
                    "latency_ms": _int(d.get("latency_ms")),
                    "attempts": 1,
                }
                out.append(_row(row))
    return out


def _row(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(c, 0 if c in INT_COLUMNS else "") for c in COLUMNS)


def import_snapshot(ledger: Ledger, snap: dict[str, Any]) -> tuple[int, int]:
    """Merge a CPA snapshot; (added, skipped) where skipped rows were already there."""
    rows = _snapshot_rows(snap)
    added = ledger.import_rows(rows)
    return added, len(rows) - added


# -- CSV (every ledger column, one row per request)


def export_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_csv_cell(c, v) for c, v in zip(COLUMNS, r, strict=True)])
    return buf.getvalue().encode()


def _csv_cell(column: str, value: Any) -> Any:
    if column == "ts":
        return format_utc(float(value), "microseconds")
    return value


def import_csv(ledger: Ledger, text: str) -> tuple[int, int]:
    """Insert the rows of an exported CSV; (added, skipped). ``ValueError`` names a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "uid" not in reader.fieldnames or "ts" not in reader.fieldnames:
        raise ValueError("CSV needs a header row with at least the uid and ts columns")
    rows = []
    for line, rec in enumerate(reader, start=2):
        if not rec.get("uid"):
            raise ValueError(f"row {line}: uid is empty")
        values: dict[str, Any] = {}
        for c in COLUMNS:
            raw = rec.get(c)
            if raw is None or raw == "":
                continue
            if c == "ts":
                try:
                    values[c] = parse_timestamp(raw)
                except ValueError:
                    try:
                        values[c] = float(raw)
                    except ValueError:
                        raise ValueError(f"row {line}: ts {raw!r} is not a time") from None
            elif c in INT_COLUMNS:
                try:
                    values[c] = int(raw)
                except ValueError:
                    raise ValueError(f"row {line}: {c} {raw!r} is not an integer") from None
            else:
                values[c] = raw
        if "ts" not in values:
            raise ValueError(f"row {line}: ts is empty")
        rows.append(_row(values))
    added = ledger.import_rows(rows)
    return added, len(rows) - added
