"""Gemini Interactions API (``POST /v1beta/interactions``): framing, usage and checks.

An interaction is a list of *steps* (``model_output``, ``thought``, ``function_call``,
``function_result``, ``user_input``). A stream is SSE frames ``event: <event_type>`` /
``data: {...}`` carrying ``interaction.created``, ``interaction.status_update``,
``step.start`` / ``step.delta`` / ``step.stop``, ``interaction.completed`` and, as CPA
ends it, ``event: done`` / ``data: [DONE]``.

Usage comes in two shapes, both read here: the whole answer's ``input_tokens`` /
``output_tokens`` / ``total_tokens`` / ``reasoning_tokens`` / ``cached_tokens`` and the
stream's ``total_input_tokens`` / ``total_output_tokens`` / ``total_thought_tokens`` /
``total_cached_tokens`` (CPA ``internal/translator/common/interactions_usage.go`` lists
where an event may hold it).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.formats import ir
from cliproxy.formats.sniffer import UsageSniffer

__all__ = [
    "DONE_FRAME",
    "InteractionsUsageSniffer",
    "count_tokens_response",
    "event_frame",
    "find_usage",
    "stream_usage",
    "usage_from_wire",
    "usage_to_wire",
    "validate",
]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_INPUT_TYPES = (str, list, dict)

DONE_FRAME = b"event: done\ndata: [DONE]\n\n"
_USAGE_PATHS = (
    ("interaction", "usage"),
    ("usage",),
    ("metadata", "total_usage"),
    ("metadata", "usage"),
    ("interaction", "metadata", "total_usage"),
    ("interaction", "metadata", "usage"),
)


def event_frame(obj: dict[str, Any]) -> bytes:
    """One SSE frame named by the payload's ``event_type``."""
    return b"event: " + str(obj["event_type"]).encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def validate(body: dict[str, Any]) -> None:
    """CPA's entry checks (``parseInteractionsRequestTarget``): exactly one of ``model``
    or ``agent``, a boolean ``stream``; plus the shapes the translation reads."""
    model = body.get("model")
    agent = body.get("agent")
    has_model = isinstance(model, str) and bool(model.strip())
    has_agent = isinstance(agent, str) and bool(agent.strip())
    if has_model == has_agent:
        raise RequestError("request requires exactly one of model or agent", param="model")
    if has_agent:  # CPA runs agents only on a native Interactions upstream (gemini-interactions)
        raise RequestError(
            "agent is only supported for native interactions execution; cliproxy does not route agents yet",
            param="agent",
            status=501,
        )
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise RequestError("stream must be a boolean", param="stream")
    inp = body.get("input")
    if inp is None:
        raise RequestError(
            "input: required (a string, a content list or a list of turns/steps)", param="input"
        )
    if not isinstance(inp, _INPUT_TYPES):
        raise RequestError("input: expected a string, an object or a list", param="input")
    for key in ("generation_config", "system_instruction"):
        value = body.get(key)
        if (
            value is not None
            and not isinstance(value, dict)
            and not (key == "system_instruction" and isinstance(value, str))
        ):
            raise RequestError(f"{key}: expected an object", param=key)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise RequestError("tools: expected a list", param="tools")


def _int(obj: dict[str, Any], *keys: str) -> int:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def usage_from_wire(usage: dict[str, Any]) -> ir.Usage:
    """Either usage shape -> IR (OpenAI totals: input includes cached tokens, output
    includes reasoning, as the Interactions API counts them apart)."""
    inp = _int(usage, "input_tokens", "total_input_tokens")
    tool = _int(usage, "tool_use_tokens", "total_tool_use_tokens")
    out = _int(usage, "output_tokens", "total_output_tokens")
    thought = _int(usage, "reasoning_tokens", "total_thought_tokens")
    total = usage.get("total_tokens")
    return ir.Usage(
        input_tokens=inp + tool if tool > 0 else inp,  # a tool's prompt is input (CPA)
        output_tokens=out + thought,
        cache_read_tokens=_int(usage, "cached_tokens", "total_cached_tokens"),
        cache_write_tokens=_int(usage, "cache_write_tokens", "cache_creation_tokens"),
        reasoning_tokens=thought,
        total_tokens=total if isinstance(total, int) and total else None,
    )


def usage_to_wire(usage: ir.Usage) -> dict[str, Any]:
    """IR usage -> the whole interaction's ``usage``: CPA's keys
    (``setInteractionsUsageFromGemini``) and the API's ``total_*`` keys, which the
    google-genai SDK reads (CPA writes those in streams only)."""
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": max(0, usage.output_tokens - usage.reasoning_tokens),
    }
    if usage.reasoning_tokens:
        out["reasoning_tokens"] = usage.reasoning_tokens
    out["total_tokens"] = usage.total
    if usage.cache_read_tokens or usage.cache_write_tokens:
        out["cached_tokens"] = usage.cache_read_tokens + usage.cache_write_tokens
    out.update(stream_usage(usage))
    return out


def stream_usage(usage: ir.Usage) -> dict[str, Any]:
    """IR usage -> ``interaction.completed``'s usage (CPA ``setInteractionsStreamUsageFromGemini``)."""
    return {
        "total_tokens": usage.total,
        "total_input_tokens": usage.input_tokens,
        "input_tokens_by_modality": [{"modality": "text", "tokens": usage.input_tokens}],
        "total_cached_tokens": usage.cache_read_tokens + usage.cache_write_tokens,
        "total_output_tokens": max(0, usage.output_tokens - usage.reasoning_tokens),
        "total_tool_use_tokens": 0,
        "total_thought_tokens": usage.reasoning_tokens,
    }


def find_usage(root: dict[str, Any]) -> dict[str, Any] | None:
    """The usage object of an answer or stream event, wherever CPA looks for it."""
    for path in _USAGE_PATHS:
        node: Any = root
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return None


def count_tokens_response(tokens: int) -> dict[str, Any]:
    return {"total_tokens": tokens}


class InteractionsUsageSniffer(UsageSniffer):
    """Reads the usage of ``interaction.completed`` in a passthrough stream."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self.usage = None
        self._buf = b""

    def feed(self, chunk: bytes) -> None:
        if not self._buf and chunk[-2:] == b"\n\n" and chunk.find(b"usage") < 0:
            return  # whole frames, none with usage
        data = self._buf + chunk
        frames = data.split(b"\n\n")
        self._buf = frames.pop()
        for frame in frames:
            if frame.find(b"usage") < 0:
                continue
            for line in frame.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                try:
                    obj = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    continue
                found = find_usage(obj) if isinstance(obj, dict) else None
                if found is not None:
                    self.usage = usage_from_wire(found)
