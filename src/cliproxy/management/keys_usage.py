"""``GET /api-key-usage``: request counts per config API-key credential, CPA's shape.

``{provider: {"<base-url>|<api-key>": {"success", "failed", "recent_requests": [20 buckets
of 10 minutes, oldest first, {"time": "HH:MM-HH:MM", "success", "failed"}]}}}``, from the
usage counters of each credential (``cliproxy.usage.counters``), with the token totals the
panel also reads; two credentials with the same base URL and key are merged, as in CPA.
"""

from __future__ import annotations

import time
from typing import Any

from cliproxy.credentials.record import KIND_APIKEY
from cliproxy.management.types import Req, Resp, Route
from cliproxy.usage import recorder_of

__all__ = ["BUCKETS", "BUCKET_SECONDS", "ROUTES", "recent_buckets"]

BUCKET_SECONDS = 10 * 60
BUCKETS = 20


def recent_buckets(now: float) -> list[dict[str, Any]]:
    """The 20 empty ten-minute buckets ending with the current one (local time labels)."""
    current = int(now) // BUCKET_SECONDS
    out = []
    for bucket in range(current - BUCKETS + 1, current + 1):
        start = bucket * BUCKET_SECONDS
        label = (
            time.strftime("%H:%M", time.localtime(start))
            + "-"
            + time.strftime("%H:%M", time.localtime(start + BUCKET_SECONDS))
        )
        out.append({"time": label, "success": 0, "failed": 0})
    return out


def _provider_key(cred: Any) -> str:
    name = (cred.compat_name or cred.provider).strip().lower()
    return name or "unknown"


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for name, value in more.items():
        if name == "recent_requests":
            for a, b in zip(into[name], value, strict=False):
                a["success"] += b["success"]
                a["failed"] += b["failed"]
        elif isinstance(value, int):
            into[name] = into.get(name, 0) + value


async def get_api_key_usage(req: Req) -> Resp:
    now = time.time()
    stats = recorder_of(req.service).stats
    await stats.counters.refresh()  # shared counters: read Redis
    out: dict[str, dict[str, Any]] = {}
    for cred in req.service.pool.credentials():
        key = cred.api_key.strip()
        if cred.kind != KIND_APIKEY or not key:
            continue
        bucket = out.setdefault(_provider_key(cred), {})
        entry = stats.auth_entry(cred.index, now) or {
            "success": 0,
            "failed": 0,
            "recent_requests": recent_buckets(now),
        }
        composite = f"{cred.base_url.strip()}|{key}"
        if composite in bucket:
            _merge(bucket[composite], entry)
        else:
            bucket[composite] = entry
    return Resp(200, out)


ROUTES: list[Route] = [Route("GET", "/api-key-usage", get_api_key_usage)]
