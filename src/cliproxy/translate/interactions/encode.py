"""IR events -> Interactions SSE for an Interactions client.

The event sequence is CPA's (``ConvertGeminiResponseToInteractionsStream``):
``interaction.created`` and ``interaction.status_update`` first; per block a
``step.start`` (``model_output``, ``thought`` or ``function_call`` with its ``id``,
``name`` and empty ``arguments``), ``step.delta`` events (``text``,
``thought_summary``, ``thought_signature`` for Gemini signatures, one
``arguments_delta`` holding the call's whole JSON arguments) and ``step.stop``; then
``interaction.completed`` with the stream usage shape, and ``event: done`` /
``data: [DONE]``. An ``ir.Error`` becomes ``event: error`` with an ``error`` object
(CPA's ``WriteTerminalError``) and ends the stream (no ``done``).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import interactions as wire
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamEncoder
from cliproxy.translate.collect import merge_usage
from cliproxy.translate.interactions.parse import FAMILY
from cliproxy.translate.interactions.response import args_object, new_id, now_text

__all__ = ["InteractionsStreamEncoder"]

_KINDS = {
    "text": "model_output",
    "thinking": "thought",
    "redacted_thinking": "thought",
    "tool_call": "function_call",
}
_STATUS = {"max_tokens": "incomplete", "error": "failed", "content_filter": "failed", "refusal": "failed"}


class InteractionsStreamEncoder(StreamEncoder):
    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        super().__init__(request, model)
        self._id = ""
        self._model = model or (request.model if request else "")
        self._started = False
        self._done = False
        self._step = -1  # index of the open step, -1: none
        self._next = 0
        self._kind = ""
        self._args: list[str] = []
        self._usage: ir.Usage | None = None

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._id = self._id or new_id()
        created = {
            "interaction": {
                "id": self._id,
                "status": "in_progress",
                "object": "interaction",
                "model": self._model,
            },
            "event_type": "interaction.created",
        }
        status = {
            "interaction_id": self._id,
            "status": "in_progress",
            "event_type": "interaction.status_update",
        }
        return wire.event_frame(created) + wire.event_frame(status)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return wire.event_frame({"index": self._step, "delta": delta, "event_type": "step.delta"})

    def encode(self, event: ir.Event) -> bytes:
        if isinstance(event, ir.StreamStart):
            self._id = event.id or self._id
            self._model = self.model or event.model or self._model
            if event.usage is not None:
                self._usage = event.usage
            return self._start()
        if self._done:
            return b""
        head = self._start()
        if isinstance(event, ir.TextDelta):
            return head + (self._delta({"type": "text", "text": event.text}) if event.text else b"")
        if isinstance(event, ir.ThinkingDelta):
            if not event.text:
                return head
            return head + self._delta(
                {"type": "thought_summary", "content": {"type": "text", "text": event.text}}
            )
        if isinstance(event, ir.SignatureDelta):
            return head + self._signature(event.signature, event.family)
        if isinstance(event, ir.ToolArgsDelta):
            self._args.append(event.delta)
            return head
        if isinstance(event, ir.BlockStart):
            return head + self._block_start(event)
        if isinstance(event, ir.BlockStop):
            return head + self._block_stop()
        if isinstance(event, ir.UsageEvent):
            self._usage = merge_usage(self._usage, event.usage)
            return head
        if isinstance(event, ir.StreamEnd):
            return head + self._end(event)
        if isinstance(event, ir.Error):
            self._done = True
            err = {
                "message": event.message,
                "type": event.type or "server_error",
                "code": event.code or str(event.status),
            }
            return head + wire.event_frame({"event_type": "error", "error": err})
        return head

    def _signature(self, sig: str, family: str | None) -> bytes:
        if family != FAMILY or not sig or self._step < 0:
            return b""
        return self._delta({"type": "thought_signature", "signature": sig})

    def _block_start(self, ev: ir.BlockStart) -> bytes:
        kind = _KINDS.get(ev.kind)
        if kind is None:
            return b""
        self._step, self._next, self._kind = self._next, self._next + 1, kind
        step: dict[str, Any] = {"type": kind}
        if kind == "function_call":
            self._args = []
            call_id = ev.id or f"call_{self._step}"
            step.update({"id": call_id, "call_id": call_id, "name": ev.name or "", "arguments": {}})
            if ev.signature and ev.family == FAMILY:
                step["signature"] = ev.signature
        out = wire.event_frame({"index": self._step, "step": step, "event_type": "step.start"})
        if kind == "thought" and ev.kind == "thinking" and ev.signature:
            out += self._signature(ev.signature, ev.family)
        return out

    def _block_stop(self) -> bytes:
        if self._step < 0:
            return b""
        out = b""
        if self._kind == "function_call":
            text = "".join(self._args)
            self._args = []
            args = orjson.dumps(args_object(text)).decode()
            out += self._delta({"type": "arguments_delta", "arguments": args})
        out += wire.event_frame({"index": self._step, "event_type": "step.stop"})
        self._step, self._kind = -1, ""
        return out

    def _end(self, ev: ir.StreamEnd) -> bytes:
        out = self._block_stop()
        usage = merge_usage(self._usage, ev.usage) if ev.usage is not None else self._usage
        now = now_text()
        interaction = {
            "id": self._id,
            "status": _STATUS.get(ev.stop_reason or "", "completed"),
            "usage": wire.stream_usage(usage or ir.Usage()),
            "created": now,
            "updated": now,
            "service_tier": "standard",
            "object": "interaction",
            "model": self._model,
        }
        self._done = True
        return (
            out
            + wire.event_frame({"interaction": interaction, "event_type": "interaction.completed"})
            + wire.DONE_FRAME
        )

    def flush(self) -> bytes:
        return b""

    def resume(self) -> None:
        """The client has the stream's opening events (a pass-through ending at a late
        upstream error): no second ``interaction.created``."""
        self._started = True
