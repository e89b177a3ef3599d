"""CPA's usage record (the queued JSON object), built from a finished request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.models.thinking.canonical import Mode, ThinkingConfig, budget_to_level
from cliproxy.models.thinking.extract import extract_thinking
from cliproxy.models.thinking.suffix import parse_suffix_value, split_model_suffix
from cliproxy.times import format_utc
from cliproxy.translate import ir
from cliproxy.usage.mask import hide_key

__all__ = [
    "ACCOUNTING_VERSION",
    "UsageFacts",
    "answer_service_tier",
    "build_record",
    "request_settings",
    "source_of",
    "stream_service_tier",
    "token_breakdown",
]

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
    # what the client asked (``request_settings``) and the tier the answer names
    reasoning_effort: str = ""
    service_tier: str = ""
    generate: bool = True
    response_service_tier: str = ""
    response_headers: Mapping[str, str] | None = None  # the last upstream answer's


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


def _effort_of(cfg: ThinkingConfig | None) -> str:
    """CPA's reasoning_effort label of a thinking setting: a level, ``none``, ``auto``, or
    the level a budget falls in."""
    if cfg is None:
        return ""
    if cfg.mode is Mode.LEVEL:
        return cfg.level.strip().lower()
    if cfg.mode is Mode.BUDGET:
        return budget_to_level(cfg.budget) or ""
    return str(cfg.mode.value)  # none / auto


def request_settings(body: bytes, fmt: str, requested: str) -> tuple[str, str, bool]:
    """The reasoning effort, service tier and generate flag a client's request asks, as CPA
    records them: the effort from the requested model's thinking suffix, else the body's
    thinking setting; the tier ``auto`` when the body names none; generate off only for an
    explicit ``"generate": false``. Read when the usage queue is on, once per request."""
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        obj = {}
    raw = split_model_suffix(requested)[1]
    cfg = parse_suffix_value(raw) if raw else None
    if cfg is None:
        cfg = extract_thinking(obj, fmt)
    tier = obj.get("service_tier")
    tier = tier.strip() if isinstance(tier, str) else ""
    return _effort_of(cfg), tier or "auto", obj.get("generate") is not False


def answer_service_tier(body: bytes) -> str:
    """The service tier a whole answer names (``service_tier``, or the Responses API's
    ``response.service_tier``), or ``""``."""
    if not body or body.find(b'"service_tier"') < 0:
        return ""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(obj, dict):
        return ""
    for holder in (obj.get("response"), obj):
        tier = holder.get("service_tier") if isinstance(holder, dict) else None
        if isinstance(tier, str) and tier.strip():
            return tier.strip()
    return ""


def stream_service_tier(chunk: bytes) -> str:
    """The service tier the last event of a client stream chunk names that names one (Chat
    chunks carry ``service_tier``, Responses events ``response.service_tier``), or ``""``;
    an event split across chunks is read where its ``data:`` line is whole."""
    found = ""
    for line in chunk.splitlines():
        if line.startswith(b"data:") and line.find(b'"service_tier"') >= 0:
            found = answer_service_tier(line[5:].strip()) or found
    return found


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
            "generate": f.generate,
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
            "reasoning_effort": f.reasoning_effort,
            "service_tier": f.service_tier,
        }
    )
    if f.response_service_tier:
        record["response_service_tier"] = f.response_service_tier
    if f.response_headers:
        record["response_headers"] = header_lists(f.response_headers)
    return record


def header_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Headers as Go's ``http.Header`` writes them in JSON (CPA's ``response_headers``):
    canonical names (``X-Request-Id``), every value of a name in order."""
    out: dict[str, list[str]] = {}
    for name, value in headers.items():  # a multidict yields each repeated name again
        canonical = "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
        out.setdefault(canonical, []).append(value)
    return out
