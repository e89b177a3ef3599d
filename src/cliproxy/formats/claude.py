"""Anthropic Messages wire constants: stop reasons, usage, error types, framing.

Usage on the wire splits input into three disjoint counters (``input_tokens``,
``cache_creation_input_tokens``, ``cache_read_input_tokens``); the IR's
``input_tokens`` is their sum. Counters in a ``message_delta`` are cumulative totals
that replace earlier values (the anthropic SDK overwrites, it does not add).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import ir
from cliproxy.formats.sniffer import UsageSniffer
from cliproxy.formats.sse import Held, frame, lines_with

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "STOP_FROM_WIRE",
    "ClaudeUsageSniffer",
    "count_tokens_body",
    "error_body",
    "error_frame",
    "error_type_for",
    "merge_wire_usage",
    "status_for",
    "stop_from_wire",
    "stop_to_wire",
    "usage_from_wire",
    "usage_to_wire",
]

DEFAULT_MAX_TOKENS = 32000  # CPA's default when the source gave none

_STOP_FROM_WIRE: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "sensitive": "content_filter",  # CPA: a safety stop, finish_reason content_filter
    "model_context_window_exceeded": "max_tokens",
}
STOP_FROM_WIRE = _STOP_FROM_WIRE  # unknown values read as end_turn (``stop_from_wire``)

_STOP_TO_WIRE: dict[str, str] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "content_filter": "refusal",
    "error": "end_turn",
}

_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_STATUS_OF: dict[str, int] = {v: k for k, v in _ERROR_TYPES.items()} | {"api_error": 500}


def stop_from_wire(value: str | None) -> ir.StopReason | None:
    """A wire ``stop_reason`` in IR terms (unknown values read as ``end_turn``)."""
    if value is None:
        return None
    return _STOP_FROM_WIRE.get(value, "end_turn")


def stop_to_wire(value: str | None) -> str | None:
    if value is None:
        return None
    return _STOP_TO_WIRE.get(value, "end_turn")


def error_type_for(status: int) -> str:
    """The Anthropic error ``type`` for an HTTP status."""
    known = _ERROR_TYPES.get(status)
    if known is not None:
        return known
    return "api_error" if status >= 500 else "invalid_request_error"


def status_for(error_type: str | None) -> int:
    return _STATUS_OF.get(error_type or "", 500)


def error_body(message: str, status: int, error_type: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type or error_type_for(status), "message": message}}


def error_frame(message: str, status: int, error_type: str | None = None) -> bytes:
    """The in-band ``event: error`` frame of a stream."""
    return frame("error", orjson.dumps(error_body(message, status, error_type)))


def count_tokens_body(tokens: int) -> dict[str, Any]:
    return {"input_tokens": tokens}


# --------------------------------------------------------------------------- usage


def usage_from_wire(u: dict[str, Any]) -> ir.Usage:
    """Wire usage -> IR usage (input includes cache reads and writes)."""
    inp = u.get("input_tokens") or 0
    cw = u.get("cache_creation_input_tokens") or 0
    cr = u.get("cache_read_input_tokens") or 0
    out = u.get("output_tokens") or 0
    details = u.get("output_tokens_details")
    if isinstance(details, dict):
        reasoning = details.get("thinking_tokens") or details.get("reasoning_tokens") or 0
    else:  # some gateways write it at the top (CPA reads it there too)
        reasoning = u.get("thinking_tokens") or 0 if "thinking_tokens" in u else 0
    try:  # one test for the usual ints (strings would add up as text, "12" + "3" = "123")
        ints = type(inp + cw + cr + out + reasoning) is int
    except TypeError:
        ints = False
    if not ints:  # counts written as strings by a gateway ("12"): the numbers, as CPA reads them
        inp, cw, cr, out, reasoning = map(ir.count_of, (inp, cw, cr, out, reasoning))
    # by position (input, output, cache read, cache write, reasoning): keywords cost the
    # dataclass's __init__ as much again, once per answer
    return ir.Usage(inp + cw + cr, out, cr, cw, reasoning)


def usage_to_wire(u: ir.Usage) -> dict[str, Any]:
    """IR usage -> the four wire counters (plus thinking tokens when known, and
    ``server_tool_use.web_search_requests`` when the answer searched the web)."""
    out: dict[str, Any] = {
        "input_tokens": max(0, u.input_tokens - u.cache_read_tokens - u.cache_write_tokens),
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "output_tokens": u.output_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    if u.web_search_requests:
        out["server_tool_use"] = {"web_search_requests": u.web_search_requests}
    return out


def merge_wire_usage(into: dict[str, Any], u: dict[str, Any]) -> None:
    """Overwrite ``into`` with the counters present in ``u`` (cumulative totals)."""
    for key, value in u.items():
        if value is not None:
            into[key] = value


class ClaudeUsageSniffer(UsageSniffer):
    """Reads usage from a passthrough Claude stream: only ``data:`` lines that mention
    ``"usage"`` (``message_start`` and ``message_delta``) are parsed."""

    __slots__ = ("_held", "_wire", "usage")

    def __init__(self) -> None:
        self._held = Held()  # a line whose end has not come (one too long is forgotten)
        self._wire: dict[str, Any] = {}
        self.usage: ir.Usage | None = None

    def feed(self, chunk: bytes) -> None:
        held = self._held
        if not held.parts and chunk[-1:] == b"\n" and chunk.find(b'"usage"') < 0:
            return  # the common chunk: whole lines, no usage (``find``: ``in`` first tries an int)
        cut = chunk.rfind(b"\n")
        if cut < 0:
            held.keep(chunk, drop=True)
            return
        buf = chunk
        if held.parts:
            buf = held.join(chunk)
            cut += len(buf) - len(chunk)
        if cut + 1 < len(buf):
            held.keep(buf[cut + 1 :], drop=True)
        for line in lines_with(buf, b'"usage"', cut):
            if line.startswith(b"data:"):
                self._read(line[5:])

    def _read(self, data: bytes) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        msg = obj.get("message")
        u = msg.get("usage") if isinstance(msg, dict) else obj.get("usage")
        if isinstance(u, dict):
            merge_wire_usage(self._wire, u)
            self.usage = usage_from_wire(self._wire)
