"""CPA's usage record (the queued JSON object), built from a finished request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cliproxy.times import format_utc
from cliproxy.translate import ir
from cliproxy.usage.mask import hide_key

__all__ = ["ACCOUNTING_VERSION", "UsageFacts", "build_record", "source_of", "token_breakdown"]

ACCOUNTING_VERSION = 2


@dataclass(slots=True)
class UsageFacts:
    """What one request tells the usage queue."""

    started: float
    latency_ms: int
    ttft_ms: int
    request_id: str
    endpoint: str
    source_format: str
    alias: str
    model: str
    credential: Any
    usage: ir.Usage | None
    api_key: str
    client_ip: str
    forwarded_for: str
    user_agent: str
    failed: bool
    status: int
    error: str


def _rfc3339(ts: float) -> str:
    return format_utc(ts)


def _tokens(u: ir.Usage | None) -> dict[str, Any]:
    u = u or ir.Usage()
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "cached_tokens": u.cache_read_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_read_tokens_present": True,
        "cache_creation_tokens": u.cache_write_tokens,
        "total_tokens": u.total,
    }


def token_breakdown(u: ir.Usage | None) -> dict[str, Any]:
    """Input and output split into their parts (cache and reasoning are subsets, as in the IR)."""
    u = u or ir.Usage()
    cache = u.cache_read_tokens + u.cache_write_tokens
    expected = u.input_tokens + u.output_tokens
    ok = cache <= u.input_tokens and u.reasoning_tokens <= u.output_tokens and u.total >= expected
    return {
        "schema_version": ACCOUNTING_VERSION,
        "quality": "complete" if ok and u.total == expected else ("unclassified" if ok else "inconsistent"),
        "total_tokens": u.total,
        "input": {
            "total_tokens": u.input_tokens,
            "uncached_tokens": max(u.input_tokens - cache, 0),
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output": {
            "total_tokens": u.output_tokens,
            "non_reasoning_tokens": max(u.output_tokens - u.reasoning_tokens, 0),
            "reasoning_tokens": u.reasoning_tokens,
        },
        "unclassified_tokens": max(u.total - expected, 0),
    }


def source_of(cred: Any, api_key: str) -> str:
    """Who a usage record names: a Vertex project, the account e-mail or a masked key."""
    if cred is not None:
        for value in (
            (cred.metadata.get("project_id"), cred.metadata.get("project"))
            if cred.provider == "vertex"
            else ()
        ):
            if isinstance(value, str) and value.strip():
                return value.strip()
        if cred.email:
            return cred.email
        if cred.api_key:
            return hide_key(cred.api_key)
    return hide_key(api_key)


def build_record(f: UsageFacts) -> dict[str, Any]:
    """The record ``GET /usage-queue`` hands out (CPA's field names)."""
    cred = f.credential
    token = cred.access_token if cred is not None else ""
    record: dict[str, Any] = {
        "timestamp": _rfc3339(f.started),
        "latency_ms": f.latency_ms,
        "ttft_ms": f.ttft_ms,
        "source": source_of(cred, f.api_key),
        "auth_index": cred.index if cred is not None else "",
    }
    if token:
        record["access_token_sha256"] = hashlib.sha256(token.encode()).hexdigest()
    provider = (cred.provider if cred is not None else "") or "unknown"
    record.update(
        {
            "client_ip": f.client_ip,
            "x_forwarded_for": f.forwarded_for,
            "user_agent": f.user_agent,
            "tokens": _tokens(f.usage),
            "failed": f.failed,
            "generate": True,
            "fail": {"status_code": f.status or 500, "body": f.error}
            if f.failed
            else {"status_code": 200, "body": ""},
            "accounting_version": ACCOUNTING_VERSION,
            "token_breakdown": token_breakdown(f.usage),
            "provider": provider,
            "executor_type": provider,
            "model": f.model or "unknown",
            "alias": f.alias or f.model or "unknown",
            "endpoint": f.endpoint,
            "auth_type": (cred.kind if cred is not None else "") or "unknown",
            "api_key": hide_key(f.api_key),
            "request_id": f.request_id,
            "reasoning_effort": "",
            "service_tier": "",
        }
    )
    return record
