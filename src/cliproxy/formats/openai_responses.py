"""OpenAI Responses wire constants (also the Codex / ChatGPT-backend dialect).

Stream framing is ``event: <type>`` + ``data: {"type": <type>, "sequence_number": n, ...}``;
there is no terminator after ``response.completed`` / ``response.incomplete`` /
``response.failed``. Usage sits only in those three terminal events.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import ir
from cliproxy.formats.sniffer import UsageSniffer
from cliproxy.formats.sse import SSEDecoder, SSEEvent

__all__ = [
    "CODEX_DROPPED_FIELDS",
    "CODEX_INCLUDE",
    "TERMINAL_EVENTS",
    "TOOL_CALLS",
    "TOOL_OUTPUTS",
    "ResponsesUsageSniffer",
    "count_tokens_response",
    "error_status",
    "fill_usage_details",
    "model_at_capacity",
    "usage_from_wire",
    "usage_reset",
    "usage_to_wire",
    "with_usage_details",
]

CREATED = "response.created"
IN_PROGRESS = "response.in_progress"
COMPLETED = "response.completed"
INCOMPLETE = "response.incomplete"
FAILED = "response.failed"
ERROR = "error"

TERMINAL_EVENTS = frozenset({COMPLETED, INCOMPLETE, FAILED})

# the input/output items that are a tool call, and those that answer one
TOOL_CALLS = frozenset({"function_call", "custom_tool_call"})
TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})

# incomplete_details.reason <-> IR stop reasons
INCOMPLETE_TO_STOP: dict[str, ir.StopReason] = {
    "max_output_tokens": "max_tokens",
    "content_filter": "content_filter",
}
STOP_TO_INCOMPLETE: dict[str, str] = {
    "max_tokens": "max_output_tokens",
    "content_filter": "content_filter",
    "refusal": "content_filter",
}

# The ChatGPT backend (Codex) refuses these request fields (facts from CPA's Codex
# translator and executor; ``metadata`` from CPA issue 5112, the last four from a live
# test of the backend (askalf/dario issue 1009); CPA still forwards those five);
# ``service_tier`` is dropped unless it is "priority" and ``stream_options`` keeps only
# ``reasoning_summary_delivery``.
CODEX_DROPPED_FIELDS: tuple[str, ...] = (
    "metadata",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "max_output_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "truncation",
    "prompt_cache_options",
    "prompt_cache_retention",
    "user",
    "context_management",
    "previous_response_id",
    "generate",
    "safety_identifier",
)
CODEX_INCLUDE = "reasoning.encrypted_content"
CODEX_TOOL_ALIASES: dict[str, str] = {
    "web_search_preview": "web_search",
    "web_search_preview_2025_03_11": "web_search",
}


def count_tokens_response(tokens: int) -> dict[str, Any]:
    """The ``/v1/responses/input_tokens`` answer."""
    return {"object": "response.input_tokens", "input_tokens": tokens}


def usage_from_wire(u: dict[str, Any] | None) -> ir.Usage:
    if not isinstance(u, dict):
        return ir.Usage()
    inp = u.get("input_tokens_details") or {}
    out = u.get("output_tokens_details") or {}
    total = u.get("total_tokens")
    if not isinstance(inp, dict):
        inp = {}
    if not isinstance(out, dict):
        out = {}
    count = ir.count_of  # (an int as it is; "12" as 12, as CPA reads a gateway's strings)
    return ir.Usage(
        input_tokens=count(u.get("input_tokens") or 0),
        output_tokens=count(u.get("output_tokens") or 0),
        cache_read_tokens=count(inp.get("cached_tokens") or 0),
        cache_write_tokens=count(inp.get("cache_write_tokens") or inp.get("cache_creation_tokens") or 0),
        reasoning_tokens=count(out.get("reasoning_tokens") or 0),
        total_tokens=total if type(total) is int else (count(total) or None),
    )


def usage_to_wire(u: ir.Usage | None) -> dict[str, Any]:
    u = u or ir.Usage()
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens if u.total_tokens is not None else u.input_tokens + u.output_tokens,
    }


# the usage details a Responses client expects, and the counter each must hold
_USAGE_DETAILS = (("input_tokens_details", "cached_tokens"), ("output_tokens_details", "reasoning_tokens"))
_USAGE = b'"usage"'


def fill_usage_details(usage: Any) -> bool:
    """Give a Responses ``usage`` object the ``input_tokens_details.cached_tokens`` and
    ``output_tokens_details.reasoning_tokens`` it lacks (a detail missing, null or not an
    object, or its counter missing or null), as zeros; True when one was added (CPA
    ``EnsureResponsesUsageDetails``: the SDKs type them as always there)."""
    if not isinstance(usage, dict):
        return False
    changed = False
    for key, counter in _USAGE_DETAILS:
        details = usage.get(key)
        if not isinstance(details, dict):
            usage[key] = {counter: 0}
            changed = True
        elif details.get(counter) is None:
            details[counter] = 0
            changed = True
    return changed


def with_usage_details(payload: bytes) -> bytes:
    """``payload`` (a Responses object, or SSE text: a ``data:`` line, whole events) with
    the usage details filled in ``usage`` and ``response.usage`` of each object (CPA
    ``EnsureResponsesUsageDetails``); the same bytes when nothing was missing, when it
    names no usage, or for a compaction. A ``data:`` line that is no JSON object passes."""
    if payload.find(_USAGE) < 0:
        return payload
    start, end = len(payload) - len(payload.lstrip()), len(payload.rstrip())
    if payload[start : start + 1] == b"{":  # a JSON object; the space around it is kept
        filled = _object_with_details(payload[start:end])
        return payload if filled is None else payload[:start] + filled + payload[end:]
    lines = payload.split(b"\n")
    changed = False
    for i, line in enumerate(lines):
        text = line.strip()
        if not text.startswith(b"data:") or text.find(_USAGE) < 0:
            continue
        filled = _object_with_details(text[5:].strip())
        if filled is not None:
            lines[i] = b"data: " + filled
            changed = True
    return b"\n".join(lines) if changed else payload


def _object_with_details(data: bytes) -> bytes | None:
    """The JSON object ``data`` with its usage details filled; None when it is unchanged."""
    if data[:1] != b"{":
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or obj.get("object") == "response.compaction":
        return None
    response = obj.get("response")
    changed = isinstance(response, dict) and fill_usage_details(response.get("usage"))
    if fill_usage_details(obj.get("usage")):
        changed = True
    return orjson.dumps(obj) if changed else None


_NUMBERS = (int, float)


def model_at_capacity(err: Any) -> bool:
    """Codex's "Selected model is at capacity" (a 400 on the wire): the model is busy for
    this account now, a retryable rate limit, not the request's fault (CPA)."""
    if not isinstance(err, dict):
        return False
    for holder in (err, err.get("error")):
        message = holder.get("message") if isinstance(holder, dict) else None
        if isinstance(message, str) and "model is at capacity" in message.lower():
            return True
    return False


def usage_reset(err: Any, now: float) -> float | None:
    """Seconds until a Codex usage limit (``usage_limit_reached``) resets: ``resets_at``
    when it is still ahead, else ``resets_in_seconds`` (CPA ``parseCodexRetryAfter``);
    ``err`` is the error object or a body holding it under ``error``."""
    if isinstance(err, dict) and isinstance(err.get("error"), dict):
        err = err["error"]
    if not isinstance(err, dict) or err.get("type") != "usage_limit_reached":
        return None  # only a plan limit names its reset (a rate limit is retried soon)
    at = err.get("resets_at")
    if isinstance(at, _NUMBERS) and not isinstance(at, bool) and at > now:
        return float(at - now)
    secs = err.get("resets_in_seconds")
    if isinstance(secs, _NUMBERS) and not isinstance(secs, bool) and secs > 0:
        return float(secs)
    return None


def error_status(err: dict[str, Any]) -> int:
    """HTTP status for an in-band error object (``response.error`` or ``error``)."""
    etype = str(err.get("type") or "").lower()
    code = str(err.get("code") or "").lower()
    if etype == "usage_limit_reached" or model_at_capacity(err):
        return 429  # the account's plan limit, or the model busy: another account may serve (CPA)
    for key in ("status_code", "status"):
        status = err.get(key)
        if isinstance(status, int) and 400 <= status <= 599:
            return status
    if etype == "service_unavailable_error" or code in ("server_is_overloaded", "slow_down"):
        return 503
    if etype in ("rate_limit_error", "usage_limit_reached") or code in (
        "rate_limit_exceeded",
        "insufficient_quota",
        "usage_limit_reached",
    ):
        return 429
    if code in ("context_length_exceeded", "context_too_large", "invalid_prompt") or etype in (
        "invalid_request_error",
        "bad_request_error",
    ):
        return 400
    if etype == "authentication_error" or code in ("invalid_api_key", "unauthorized"):
        return 401
    if etype == "permission_error" or code in ("forbidden", "permission_denied"):
        return 403
    if etype == "not_found_error" or code in ("not_found", "model_not_found"):
        return 404
    return 502


class ResponsesUsageSniffer(UsageSniffer):
    """Reads usage from a passthrough Responses stream; only terminal frames are parsed."""

    __slots__ = ("_sse", "usage")

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self.usage: ir.Usage | None = None

    def feed(self, chunk: bytes) -> None:
        sse = self._sse
        if chunk[-2:] == b"\n\n" and sse.idle and chunk.find(b"\r") < 0:
            # whole events (each ends at a blank line): only those that mention usage
            pos = chunk.find(b'"usage"')
            while pos >= 0:
                start = chunk.rfind(b"\n\n", 0, pos)
                end = chunk.find(b"\n\n", pos) + 2
                self._read(sse.decode(chunk[start + 2 if start >= 0 else 0 : end]))
                pos = chunk.find(b'"usage"', end)
            return
        self._read(sse.decode(chunk))

    def _read(self, events: list[SSEEvent]) -> None:
        for ev in events:
            if ev.event is not None and ev.event not in TERMINAL_EVENTS:
                continue
            if ev.data.find(b'"usage"') < 0:
                continue
            try:
                data = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                continue
            resp = data.get("response") if isinstance(data, dict) else None
            if isinstance(resp, dict) and isinstance(resp.get("usage"), dict):
                self.usage = usage_from_wire(resp["usage"])
