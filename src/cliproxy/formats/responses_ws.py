"""The Responses WebSocket message protocol (client side): turning one client message
into a self-contained Responses request, as CPA does for an upstream reached over HTTP.

A client sends ``response.create`` (the Responses body plus ``"type"``) and, on the same
socket, follow-ups: ``response.create`` with ``previous_response_id`` and only the new
``input`` items, or ``response.append``. An HTTP upstream keeps no conversation for us,
so each follow-up is expanded (CPA ``normalizeResponsesWebsocketRequest*``): the previous
request's ``input``, then the previous response's ``output``, then the new items, with
duplicates dropped; ``previous_response_id`` and ``type`` go, ``model`` and
``instructions`` are carried over, ``stream`` is always true. A follow-up that already
carries the transcript (model output items in its input, or a Codex local-compaction
summary) replaces it instead, and so does one carrying a ``compaction`` item when only
Codex serves the model (for any other upstream its compaction items go and it is
merged); after a turn that asked for a compaction (``compaction_trigger``) and got one,
its output is the whole transcript. ``generate: false`` on the first message is a
prewarm, answered locally with a synthetic ``response.created`` / ``response.completed``.

Errors are :class:`MessageError` (status, message, code, param): the session sends them
as an ``error`` event and the socket stays open.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats.responses_ws_tools import dedupe_items, is_complete_call

__all__ = [
    "APPEND",
    "CREATE",
    "History",
    "MessageError",
    "error_event",
    "event_type",
    "expand",
    "follow_up",
    "has_compaction",
    "is_prewarm",
    "pending_call_ids",
    "prewarm_events",
]

CREATE = "response.create"
APPEND = "response.append"
TOOL_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
COMPACTION = frozenset({"compaction", "compaction_summary"})
TRIGGER = "compaction_trigger"  # Codex's request for a compaction, an input item
# Codex's local compaction summary: the user message that starts a compacted transcript
COMPACTION_SUMMARY_PREFIX = (
    "Another language model started to solve this problem and produced a summary of its thinking "
    "process. You also have access to the state of the tools that were used by that language model. "
    "Use this to build on the work that has already been done and avoid duplicating work. Here is the "
    "summary produced by the other language model, use the information in this summary to assist with "
    "your own analysis:"
)


class MessageError(Exception):
    """A client message the session cannot run (sent back as an ``error`` event)."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


@dataclass(slots=True)
class History:
    """What the next follow-up on a socket builds on: the last request sent upstream, the
    output of its response, that response's id and the tool calls it left open."""

    request: dict[str, Any] | None = None
    output: list[Any] = field(default_factory=list)
    response_id: str = ""
    pending: list[str] = field(default_factory=list)

    def turn_done(
        self, request: dict[str, Any], output: list[Any], response_id: str, pending: list[str] | None = None
    ) -> None:
        """A completed turn; ``pending`` is the tool calls it left open (by default, those
        of ``output`` that ``output`` does not answer)."""
        if _compacted(request, output):  # the compaction is the conversation from here on
            request = {**request, "input": []}
        self.request = request
        self.output = output
        self.response_id = response_id
        self.pending = pending_call_ids(output) if pending is None else pending


def event_type(data: bytes) -> str:
    """The ``type`` of one event's JSON, read off its first bytes when it is the first key
    (as Codex and our encoder write it), else parsed: no parse for the thousands of deltas
    a turn streams."""
    if data.startswith(b'{"type":"'):
        end = data.find(b'"', 9, 128)
        if end > 0:
            return data[9:end].decode()
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else ""


def error_event(status: int, message: str, *, code: str | None = None, param: str | None = None) -> bytes:
    """An ``error`` event as the Responses WebSocket sends it (with the HTTP status)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    err = {"type": kind, "message": message, "code": code, "param": param}
    return orjson.dumps({"type": "error", "status": status, "error": err})


def expand(message: dict[str, Any], history: History, *, compaction_replay: bool = False) -> dict[str, Any]:
    """The upstream request for one client message (never the message object itself).
    ``compaction_replay``: every upstream of the model reads a ``compaction`` item (Codex),
    so a follow-up carrying one is the whole conversation as it is (CPA
    ``allowCompactionReplayBypass``); else its compaction items go and it is merged."""
    kind = str(message.get("type") or "").strip()
    if kind not in (CREATE, APPEND):
        raise MessageError(400, f"unsupported websocket request type: {kind}", param="type")
    previous = str(message.get("previous_response_id") or "").strip()
    if history.request is None:
        if previous:
            raise MessageError(
                409,
                "Previous response is not available on this websocket; resend the full "
                "conversation input without previous_response_id",
                code="previous_response_not_found",
                param="previous_response_id",
            )
        if kind == APPEND:
            raise MessageError(400, "websocket request received before response.create")
        return _first(message)
    items = message.get("input")
    if not isinstance(items, list):
        raise MessageError(400, "websocket request requires array field: input", param="input")
    if _replaces_transcript(kind, message, items):
        return _carry_over(message, history.request)
    if compaction_replay and has_compaction(items):
        out = _carry_over(message, history.request)
        out["input"] = items
        return out
    new_items = [i for i in items if _type(i) not in COMPACTION] if has_compaction(items) else items
    merged = dedupe_items(_dedupe_calls([*_input_of(history.request), *history.output, *new_items]))
    out = _carry_over(message, history.request)
    out["input"] = merged
    return out


def follow_up(message: dict[str, Any], history: History) -> dict[str, Any] | None:
    """The incremental form of a follow-up (CPA's upstream-WebSocket passthrough): the
    previous response's id and only the new items, for the upstream socket that holds the
    conversation; ``None`` when the message is no plain continuation of the last turn
    (a first message, another ``previous_response_id``, a resent transcript, compaction).
    A ``response.create`` without the id continues the last turn when it answers every
    tool call that turn left open.
    The caller has checked the message with :func:`expand` first."""
    rid = history.response_id
    if history.request is None or not rid:
        return None
    kind = str(message.get("type") or "").strip()
    previous = str(message.get("previous_response_id") or "").strip()
    items = message.get("input")
    if not isinstance(items, list) or _replaces_transcript(kind, message, items) or has_compaction(items):
        return None
    if not (kind == APPEND or (kind == CREATE and (previous == rid or _answers_pending(items, history)))):
        return None
    out = _carry_over(message, history.request)
    out["input"] = items
    out["previous_response_id"] = rid
    return out


def starts_over(message: dict[str, Any], history: History) -> dict[str, Any] | None:
    """The upstream request of a ``response.create`` without ``previous_response_id`` after
    a turn the upstream's own socket holds (Codex, xAI): its own input only, as CPA passes
    such a message through unchanged there (the upstream starts a new conversation);
    ``None`` for any other message. The caller has found no :func:`follow_up` for it."""
    if history.request is None or str(message.get("type") or "").strip() != CREATE:
        return None
    items = message.get("input")
    if str(message.get("previous_response_id") or "").strip() or not isinstance(items, list):
        return None
    out = _carry_over(message, history.request)
    out["input"] = items
    return out


def _answers_pending(items: list[Any], history: History) -> bool:
    """A ``response.create`` without ``previous_response_id`` that answers every tool call
    the last response left open continues it (CPA ``inputSatisfiesPendingToolCalls``)."""
    if not history.pending:
        return False
    answered = {str(i.get("call_id")) for i in items if _type(i) in TOOL_OUTPUTS}
    return all(call_id in answered for call_id in history.pending)


def is_prewarm(message: dict[str, Any], history: History) -> bool:
    """A ``response.create`` with ``generate: false``: answered locally, its input kept
    as the conversation (CPA does so for the first message). Deliberate difference: CPA
    sends a later one upstream, where xAI answers it with ``response.created`` alone and
    never ends the turn (CPA's xAI executor then makes the end up); here every one is
    answered at once, as nothing upstream needs it: the next turn sends the conversation
    (``history`` is not read: a later warm-up is one too)."""
    return (
        str(message.get("type") or "").strip() == CREATE and "generate" in message and not message["generate"]
    )


def prewarm_events(request: dict[str, Any]) -> list[bytes]:
    """The synthetic ``response.created`` and ``response.completed`` of a prewarm."""
    rid = "resp_prewarm_" + str(uuid.uuid4())
    base: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "background": False,
        "error": None,
        "output": [],
    }
    model = str(request.get("model") or "").strip()
    if model:
        base["model"] = model
    usage = {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }
    created = {
        "type": "response.created",
        "sequence_number": 0,
        "response": {**base, "status": "in_progress"},
    }
    done = {
        "type": "response.completed",
        "sequence_number": 1,
        "response": {**base, "status": "completed", "usage": usage},
    }
    return [orjson.dumps(created), orjson.dumps(done)]


def pending_call_ids(output: list[Any]) -> list[str]:
    """Call ids of the complete tool calls in a response's output that the output does not
    answer itself (the client answers them next; CPA ``recordPendingToolCallIDsFromPayload``)."""
    pending: set[str] = set()
    for item in output:
        kind = _type(item)
        if kind in TOOL_OUTPUTS and isinstance(item.get("call_id"), str):
            pending.discard(item["call_id"].strip())
        elif is_complete_call(item):
            pending.add(item["call_id"].strip())
    return sorted(pending)


# -- the pieces


def _first(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k != "type"}
    out["stream"] = True
    out.setdefault("input", [])
    model = out.get("model")
    if not isinstance(model, str) or not model.strip():
        raise MessageError(400, "missing model in response.create request", param="model")
    return out


def _carry_over(message: dict[str, Any], last: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k not in ("type", "previous_response_id")}
    if "model" not in out and isinstance(last.get("model"), str) and last["model"].strip():
        out["model"] = last["model"].strip()
    if "instructions" not in out and "instructions" in last:
        out["instructions"] = last["instructions"]
    out["stream"] = True
    return out


def _replaces_transcript(kind: str, message: dict[str, Any], items: list[Any]) -> bool:
    """The client resent the whole transcript (CPA ``shouldReplaceWebsocketTranscript``)."""
    if str(message.get("previous_response_id") or "").strip():
        return False
    if kind == CREATE and "previous_response_id" not in message and _has_compaction_summary(items):
        return True
    for item in items:
        kind_of = _type(item)
        if kind_of in ("function_call", "custom_tool_call"):
            return True
        if kind_of == "message" and isinstance(item, dict) and item.get("role") == "assistant":
            return True
    return False


def _has_compaction_summary(items: list[Any]) -> bool:
    found = False
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return False
        kind = _type(item)
        if kind == "additional_tools":
            tools = item.get("tools")
            if index != 0 or _role(item) != "developer" or not isinstance(tools, list):
                return False
            if not all(isinstance(t, dict) and _type(t).strip() for t in tools):
                return False  # (each a tool object with a type, CPA)
            continue
        if kind not in ("", "message"):
            return False
        role = _role(item)
        if role not in ("user", "developer"):
            return False
        if role == "user" and _text_of(item).startswith(COMPACTION_SUMMARY_PREFIX + "\n"):
            found = True
    return found


def _role(item: dict[str, Any]) -> str:
    role = item.get("role")
    return role.strip() if isinstance(role, str) else ""


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "input_text"
    )


def has_compaction(items: list[Any]) -> bool:
    """Whether an ``input`` list carries a ``compaction`` / ``compaction_summary`` item (the
    client's compacted transcript, CPA ``inputContainsFullTranscript``)."""
    return any(_type(i) in COMPACTION for i in items)


def _compacted(request: dict[str, Any], output: list[Any]) -> bool:
    """A turn that asked for a compaction (Codex's ``compaction_trigger``) and got one: its
    output replaces the transcript, so the next turn is not compacted again nor carries
    what the compaction summarised (CPA drops the trigger; its xAI socket keeps only the
    compaction)."""
    if not has_compaction(output):  # (the output is a few items: the common turn stops here)
        return False
    items = request.get("input")
    return isinstance(items, list) and any(_type(i) == TRIGGER for i in items)


def _input_of(request: dict[str, Any]) -> list[Any]:
    items = request.get("input")
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    return items if isinstance(items, list) else []


def _type(item: Any) -> str:
    return str(item.get("type") or "") if isinstance(item, dict) else ""


def _dedupe_calls(items: list[Any]) -> list[Any]:
    """A tool call repeated (the same ``call_id``) is kept once, the first time."""
    seen: set[str] = set()
    out = []
    for item in items:
        if _type(item) in TOOL_CALLS:
            call_id = item.get("call_id")
            if isinstance(call_id, str) and call_id:
                if call_id in seen:
                    continue
                seen.add(call_id)
        out.append(item)
    return out
