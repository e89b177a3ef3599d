"""Usage endpoints: the ledger's totals and time series, CPA's statistics snapshot with
export and import, per client-key counters, and ``GET /metrics``.

``GET /usage``, ``GET /usage/export`` and ``POST /usage/import`` keep the paths and bodies
CPA had before it dropped in-process statistics (``{"usage": snapshot,
"failed_requests"}``; ``{"version": 1, "exported_at", "usage"}``; ``{"added", "skipped",
"total_requests", "failed_requests"}``). cliproxy adds ``?format=csv`` to the export (every
ledger column) and takes such a CSV back on import, ``/usage/summary`` and
``/usage/series`` grouped by key, credential, model, alias or provider, and
``/usage/keys``. Ledger reads run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from cliproxy.access import forwarded_remote, is_loopback_ip
from cliproxy.management.types import ApiError, Req, Resp, Route, json_depth
from cliproxy.times import format_utc, parse_timestamp
from cliproxy.usage import recorder_of
from cliproxy.usage.ledger import Ledger, time_range
from cliproxy.usage.metrics import CONTENT_TYPE
from cliproxy.usage.queries import GROUPS, export_csv, import_csv, import_snapshot, series, snapshot, summary

__all__ = ["ROUTES", "metrics_answer"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_STEPS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_POINTS = 20_000
MAX_ROWS = 1_000_000  # rows one snapshot or export may hold
MAX_IMPORT_BYTES = 256 * 1024 * 1024


def _ledger(req: Req) -> Ledger:
    ledger = recorder_of(req.service).stats.open_ledger()
    if ledger is None:
        raise ApiError(
            400, "usage ledger is off (usage-ledger.enabled: false, or its database could not be opened)"
        )
    return ledger


def _time(req: Req, name: str) -> float | None:
    raw = (req.query.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise ApiError(400, f"{name}: expected Unix seconds or an RFC 3339 time, got {raw[:64]!r}") from None


def _window(req: Req) -> tuple[float | None, float | None]:
    since, until = _time(req, "since"), _time(req, "until")
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "until must be after since")
    return since, until


def _group(req: Req, *, required: bool) -> str | None:
    group = (req.query.get("group") or "").strip().lower()
    if not group and not required:
        return None
    if group not in GROUPS:
        raise ApiError(400, f"group: one of {', '.join(GROUPS)}")
    return group


async def _flushed(ledger: Ledger) -> None:
    """Wait for the rows already finished to be written, so a read sees them."""
    await asyncio.to_thread(ledger.flush)


async def _db(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` in a thread; a database failure is a 503 (logged, details kept out of
    the answer), a ``ValueError`` (bad input) goes to the caller."""
    try:
        return await asyncio.to_thread(fn, *args)
    except (ValueError, ApiError):
        raise
    except Exception as exc:
        log.warning("usage ledger query failed: %s", exc)
        raise ApiError(503, f"usage ledger unavailable ({type(exc).__name__}); see the proxy log") from None


async def get_summary(req: Req) -> Resp:
    ledger, group = _ledger(req), _group(req, required=True)
    assert group is not None
    since, until = _window(req)
    await _flushed(ledger)
    rows = await _db(summary, ledger, group, since, until)
    return Resp(200, {"group": group, "since": since, "until": until, "rows": rows})


async def get_series(req: Req) -> Resp:
    ledger, group = _ledger(req), _group(req, required=False)
    since, until = _window(req)
    raw = (req.query.get("bucket") or "hour").strip().lower()
    step = _STEPS.get(raw)
    if step is None:
        try:
            step = int(raw)
        except ValueError:
            step = 0
        if step < 1:
            raise ApiError(400, "bucket: minute, hour, day or a number of seconds (>= 1)")
    start = since if since is not None else 0.0
    end = until if until is not None else time.time()
    if since is not None and (end - start) / step > MAX_POINTS:
        raise ApiError(400, f"too many points: widen bucket or narrow since/until (at most {MAX_POINTS})")
    await _flushed(ledger)
    data = await _db(series, ledger, group, step, since, until)
    return Resp(
        200, {"group": group or "", "bucket_seconds": step, "since": since, "until": until, "series": data}
    )


async def _check_size(ledger: Ledger, since: float | None, until: float | None) -> None:
    """Answers hold every row of the window in memory: refuse a window that is too big."""
    where, params = time_range(since, until)
    [(count,)] = await _db(ledger.query, f"SELECT COUNT(*) FROM usage_requests{where}", params)
    if int(count or 0) > MAX_ROWS:
        raise ApiError(400, f"{count} rows in the window (at most {MAX_ROWS}): narrow it with since/until")


async def get_usage(req: Req) -> Resp:
    ledger = _ledger(req)
    since, until = _window(req)
    await _flushed(ledger)
    await _check_size(ledger, since, until)
    snap = await _db(lambda: snapshot(ledger.rows(since, until)))
    return Resp(200, {"usage": snap, "failed_requests": snap["failure_count"]})


async def export_usage(req: Req) -> Resp:
    ledger = _ledger(req)
    since, until = _window(req)
    fmt = (req.query.get("format") or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise ApiError(400, "format: json or csv")
    await _flushed(ledger)
    await _check_size(ledger, since, until)
    rows = await _db(ledger.rows, since, until)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if fmt == "csv":
        body = await asyncio.to_thread(export_csv, rows)
        return Resp(
            200,
            raw=body,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="usage-{stamp}.csv"',
            },
        )
    snap = await asyncio.to_thread(snapshot, rows)
    return Resp(200, {"version": 1, "exported_at": format_utc(time.time()), "usage": snap})


def _is_csv(headers: Mapping[str, str], body: bytes) -> bool:
    kind = (headers.get("Content-Type") or "").lower()
    return "csv" in kind or body.lstrip()[:4] == b"uid,"


async def import_usage(req: Req) -> Resp:
    ledger = _ledger(req)
    body = req.body
    if not body.strip():
        raise ApiError(400, "empty body: send an export (JSON) or an exported CSV")
    if len(body) > MAX_IMPORT_BYTES:
        raise ApiError(413, "import too large")
    try:
        if _is_csv(req.headers, body):
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ApiError(400, "CSV must be UTF-8") from None
            added, skipped = await _db(import_csv, ledger, text)
        else:
            added, skipped = await _db(_import_json, ledger, body)
    except ValueError as exc:
        raise ApiError(400, f"invalid import: {exc}") from None
    await _flushed(ledger)
    totals = await _db(ledger.query, "SELECT COUNT(*), SUM(failed) FROM usage_requests", ())
    total, failed = (int(v or 0) for v in totals[0])
    return Resp(200, {"added": added, "skipped": skipped, "total_requests": total, "failed_requests": failed})


def _import_json(ledger: Ledger, body: bytes) -> tuple[int, int]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("invalid json") from None
    json_depth(body, payload)
    if not isinstance(payload, dict):
        raise ValueError("expected an object {version, usage}")
    version = payload.get("version", 0)
    if version not in (0, 1):
        raise ValueError("unsupported version")
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        raise ValueError("usage must be an object")
    return import_snapshot(ledger, usage)


async def get_key_usage(req: Req) -> Resp:
    """Live counters per client API key (masked), with CPA's recent-request buckets."""
    stats = recorder_of(req.service).stats
    await stats.counters.refresh()  # shared counters: read Redis
    now = time.time()
    keys = [
        {"api_key": stats.key_labels.get(kid, ""), "key_id": kid, **counter.entry(now)}
        for kid, counter in sorted(stats.counters.by_key.items())
    ]
    return Resp(200, {"keys": keys})


# -- GET /metrics (on the main port, outside /v0/management)


async def metrics_answer(service: Any, remote: str, headers: Mapping[str, str]) -> Resp:
    """The Prometheus exposition, or why not: 404 while ``metrics.enabled`` is off; a
    peer that is not loopback needs the management key (the management API's gate)."""
    metrics = recorder_of(service).stats.metrics
    if metrics is None:
        return Resp(404, {"error": "metrics are off (metrics: {enabled: true} turns them on)"})
    if not is_loopback_ip(remote) or forwarded_remote(headers) is not None:
        if not service.management.enabled(service.config):
            return Resp(403, {"error": "metrics are served to loopback only unless a management key is set"})
        denied = await service.management.check(service.config, remote, headers)
        if denied is not None:
            return Resp(denied.status, {"error": denied.message})
    counts: dict[tuple[str, str], int] = {}
    for cred in service.pool.credentials():
        if cred.disabled:
            state = "disabled"
        elif await service.pool.cooldowns(cred):
            state = "cooling"
        else:
            state = "active"
        key = (cred.provider or "unknown", state)
        counts[key] = counts.get(key, 0) + 1
    metrics.set_credential_states(counts)
    return Resp(200, raw=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


ROUTES: list[Route] = [
    Route("GET", "/usage", get_usage),
    Route("GET", "/usage/export", export_usage),
    Route("POST", "/usage/import", import_usage),
    Route("GET", "/usage/summary", get_summary),
    Route("GET", "/usage/series", get_series),
    Route("GET", "/usage/keys", get_key_usage),
]
