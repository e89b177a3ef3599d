"""Codex's ``compaction_trigger`` on a Grok model: compacted through ``/responses/compact``
and answered as the Responses stream the client asked for (CPA
``executeCompactionTriggerStream``).

The Codex CLI asks for a compacted conversation by streaming an ordinary Responses
request whose ``input`` ends with ``{"type": "compaction_trigger"}``. The ChatGPT backend
compacts such a request itself; xAI's ``/responses`` does not know the item. So the
request goes to xAI's ``/responses/compact`` instead (shaped as a ``POST
/v1/responses/compact`` is: :meth:`XAIProvider._compact_request`) and its JSON answer is
told as a stream: ``response.created``, ``response.in_progress``, an
``output_item.added`` / ``output_item.done`` pair per output item (the compaction),
``response.completed`` with the items and the usage (its token details filled in).

:class:`CompactionStream` does that as the request's ``rewrite_chunk``: it keeps the JSON
answer until it is whole (it is small and comes at once), then hands on the events. An
answer that is not a compaction (no ``compaction`` item with ``encrypted_content`` among
its outputs, CPA ``validateXAIWebsocketCompactionResponse``) is a 502 for the client and
no event at all, so a client never swaps its history for nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats.sse import frame
from cliproxy.providers.base import RewriteError

__all__ = ["TRIGGER", "CompactionStream", "compaction_item", "has_trigger", "stream_events", "validate"]

TRIGGER = "compaction_trigger"
# the request fields a Responses object repeats (CPA ``xaiBuildCompactionBaseResponse``)
_ECHOED = (
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt_cache_key",
    "reasoning",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
    "metadata",
)


def has_trigger(body: dict[str, Any]) -> bool:
    """Whether a Responses body's ``input`` carries Codex's ``compaction_trigger`` item."""
    items = body.get("input")
    if type(items) is not list:
        return False
    return any(type(item) is dict and item.get("type") == TRIGGER for item in items)


def compaction_item(item: Any) -> bool:
    """A ``compaction`` output item carrying the compacted state."""
    if type(item) is not dict or item.get("type") != "compaction":
        return False
    sealed = item.get("encrypted_content")
    return type(sealed) is str and bool(sealed.strip())


def validate(data: bytes) -> dict[str, Any]:
    """The compaction answer, when it is one: a JSON object with a string ``id`` and an
    ``output`` list holding a compaction item; else a 502 (``RewriteError``: the client
    gets it at once, the credential is not cooled for xAI's odd answer)."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        answer = None
    if type(answer) is not dict:
        raise RewriteError("xAI's compaction answer is not a JSON object", status=502)
    rid, output = answer.get("id"), answer.get("output")
    if type(rid) is not str or not rid.strip() or type(output) is not list or not output:
        raise RewriteError("xAI's compaction answer is missing its compacted state", status=502)
    if not any(compaction_item(item) for item in output):
        raise RewriteError("xAI's compaction answer is missing its compacted state", status=502)
    return answer


def response_id(answer: dict[str, Any]) -> str:
    """The answer's id as a response id (CPA ``xaiCompactionResponseID``: ``cmp_x`` is
    ``resp_x``)."""
    rid = str(answer.get("id") or "").strip()
    if not rid:
        return f"resp_xai_compaction_{time.time_ns()}"
    return rid if rid.startswith("resp_") else "resp_" + rid.removeprefix("cmp_")


def stream_events(answer: dict[str, Any], sent: dict[str, Any], model: str) -> bytes:
    """The SSE events that tell a validated compaction ``answer`` as a streamed response
    to ``sent`` (the compact request's body) for a client that asked for ``model``."""
    rid = response_id(answer)
    now = int(time.time())
    created = _int(answer.get("created_at")) or now
    base: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "output": [],
        "model": model or str(answer.get("model") or ""),
    }
    for name in _ECHOED:
        if name in sent:
            base[name] = sent[name]
    items = [_item(item, rid) for item in answer["output"]]
    done = {**base, "status": "completed", "completed_at": _int(answer.get("completed_at")) or now}
    done["output"] = items
    usage = answer.get("usage")
    if type(usage) is dict:
        done["usage"] = _usage_details(usage)
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": base}),
        ("response.in_progress", {"response": base}),
    ]
    for index, item in enumerate(items):
        events.append(("response.output_item.added", {"output_index": index, "item": item}))
        events.append(("response.output_item.done", {"output_index": index, "item": item}))
    events.append(("response.completed", {"response": done}))
    return b"".join(
        frame(kind, orjson.dumps({"type": kind, "sequence_number": seq, **fields}))
        for seq, (kind, fields) in enumerate(events)
    )


class CompactionStream:
    """The ``rewrite_chunk`` of a compaction trigger's call: the JSON answer held until it
    is whole, then its events (:func:`stream_events`); ``done`` sees the answer's bytes
    once it is valid (the replay scope forgets the compacted turn)."""

    __slots__ = ("done", "held", "model", "sent")

    def __init__(self, sent: dict[str, Any], model: str, done: Callable[[bytes], bytes] | None) -> None:
        self.sent = sent
        self.model = model
        self.done = done
        self.held: list[bytes] = []

    def __call__(self, lines: bytes) -> bytes:
        self.held.append(lines)
        data = b"".join(self.held) if len(self.held) > 1 else lines
        try:  # (called per read of the answer: a few times; whole once it parses)
            orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""  # more to come
        self.held.clear()
        answer = validate(data)
        if self.done is not None:
            self.done(data)
        return stream_events(answer, self.sent, self.model)


def _item(item: Any, rid: str) -> Any:
    if type(item) is not dict or item.get("type") != "compaction" or item.get("id"):
        return item
    suffix = rid.removeprefix("resp_")
    return {**item, "id": "cmp_" + (suffix if suffix != rid else rid)}


def _usage_details(usage: dict[str, Any]) -> dict[str, Any]:
    """Responses usage with ``input_tokens_details.cached_tokens`` and
    ``output_tokens_details.reasoning_tokens`` present (CPA ``EnsureResponsesUsageDetails``)."""
    out = dict(usage)
    for key, field in (
        ("input_tokens_details", "cached_tokens"),
        ("output_tokens_details", "reasoning_tokens"),
    ):
        details = out.get(key)
        details = dict(details) if type(details) is dict else {}
        if details.get(field) is None:
            details[field] = 0
        out[key] = details
    return out


def _int(value: Any) -> int:
    return value if type(value) is int else 0
