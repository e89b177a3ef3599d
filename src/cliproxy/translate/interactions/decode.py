"""Interactions SSE (from an Interactions upstream) -> IR events.

Reads what CPA's ``ConvertInteractionsResponseToGemini`` reads: ``interaction.created``
(id, model), ``step.start`` (the step's type, call id, name and signature),
``step.delta`` (``text``, ``thought_summary``, ``thought_signature``,
``arguments_delta``), ``step.stop``, ``interaction.completed`` (usage, status) and
``error`` events. ``[DONE]`` and frames it does not know are skipped.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from cliproxy.formats import interactions as wire
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.interactions.parse import signature_family
from cliproxy.translate.interactions.response import new_id

__all__ = ["InteractionsStreamDecoder"]

_KINDS: dict[str, Any] = {"model_output": "text", "thought": "thinking", "function_call": "tool_call"}
_THOUGHT_DELTAS = ("thought_summary", "thought_signature")


class InteractionsStreamDecoder(StreamDecoder):
    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._sse = SSEDecoder()
        self._started = False
        self._ended = False
        self._calls = False
        self._open: set[int] = set()
        self._implicit: set[int] = set()
        self._start_args: dict[int, str] = {}
        self._usage: ir.Usage | None = None

    def decode(self, chunk: bytes) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.decode(chunk):
            self._frame(ev.data, out)
        return out

    def flush(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.flush():
            self._frame(ev.data, out)
        if self._ended:
            return out
        if not self._started:
            out.append(ir.Error("upstream stream ended before any event", status=502))
            return out
        self._end(out, "completed")
        return out

    def _start(self, out: list[ir.Event], interaction: dict[str, Any]) -> None:
        if not self._started:
            self._started = True
            model = interaction.get("model") or (self.request.model if self.request else "")
            out.append(ir.StreamStart(id=str(interaction.get("id") or new_id()), model=str(model)))

    def _frame(self, data: bytes, out: list[ir.Event]) -> None:
        data = data.strip()
        if not data or data == b"[DONE]" or self._ended:
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        kind = obj.get("event_type")
        nested = obj.get("interaction")
        interaction: dict[str, Any] = nested if isinstance(nested, dict) else {}
        if kind == "error" or (kind is None and isinstance(obj.get("error"), dict)):
            raw = obj.get("error")
            err: dict[str, Any] = raw if isinstance(raw, dict) else {}
            code = err.get("code")
            self._start(out, {})
            out.append(
                ir.Error(
                    str(err.get("message") or "upstream error"), status=code if isinstance(code, int) else 502
                )
            )
            self._ended = True
            return
        self._start(out, interaction)
        raw_index = obj.get("index")
        index = raw_index if isinstance(raw_index, int) else 0
        if kind == "step.start" and isinstance(step := obj.get("step"), dict):
            block = _KINDS.get(str(step.get("type")))
            if block is None:
                return
            if index in self._open:
                return  # a repeated step.start (CPA: idempotent)
            self._close_implicit(out)
            self._open.add(index)
            sig = step.get("signature")
            if block == "tool_call":
                self._calls = True
                args = step.get("arguments")
                self._start_args[index] = args if isinstance(args, str) else orjson.dumps(args or {}).decode()
            out.append(
                ir.BlockStart(
                    index=index,
                    kind=block,
                    id=str(step.get("id") or step.get("call_id") or "") or None,
                    name=step.get("name") if isinstance(step.get("name"), str) else None,
                    signature=sig if isinstance(sig, str) else None,
                    family=signature_family(sig) if isinstance(sig, str) else None,
                )
            )
        elif kind == "step.delta" and isinstance(delta := obj.get("delta"), dict):
            if index in self._open or self._open_implicit(index, delta, out):
                self._delta(index, delta, out)
        elif kind == "step.stop" and index in self._open:
            self._flush_start_args(index, out)
            self._open.discard(index)
            self._implicit.discard(index)
            out.append(ir.BlockStop(index))
        elif kind in ("interaction.completed", "finish"):
            usage = wire.find_usage(obj)
            if usage is not None:
                self._usage = wire.usage_from_wire(usage)
            self._end(out, str(interaction.get("status") or "completed"))

    def _open_implicit(self, index: int, delta: dict[str, Any], out: list[ir.Event]) -> bool:
        """A text or thought delta whose step had no ``step.start`` opens that step here
        (CPA emits such deltas too); an earlier step opened this way ends first."""
        kind = delta.get("type")
        block: Literal["text", "thinking"]
        if kind == "text":
            block = "text"
        elif kind in _THOUGHT_DELTAS:
            block = "thinking"
        else:
            return False
        self._close_implicit(out)
        self._open.add(index)
        self._implicit.add(index)
        out.append(ir.BlockStart(index=index, kind=block))
        return True

    def _flush_start_args(self, index: int, out: list[ir.Event]) -> None:
        """A call whose arguments came whole in ``step.start`` and no ``arguments_delta``
        followed: they stream now, ``{}`` when empty (CPA)."""
        args = self._start_args.pop(index, None)
        if args:
            out.append(ir.ToolArgsDelta(index, args))

    def _close_implicit(self, out: list[ir.Event]) -> None:
        for index in sorted(self._implicit):
            self._open.discard(index)
            out.append(ir.BlockStop(index))
        self._implicit.clear()

    def _delta(self, index: int, delta: dict[str, Any], out: list[ir.Event]) -> None:
        kind = delta.get("type")
        if kind == "text":
            text = delta.get("text")
            if isinstance(text, str) and text:
                out.append(ir.TextDelta(index, text))
        elif kind == "thought_summary":
            content = delta.get("content")
            text = content.get("text") if isinstance(content, dict) else delta.get("text")
            if isinstance(text, str) and text:
                out.append(ir.ThinkingDelta(index, text))
        elif kind == "thought_signature":
            sig = delta.get("signature")
            if isinstance(sig, str) and sig:
                out.append(ir.SignatureDelta(index, sig, signature_family(sig)))
        elif kind == "arguments_delta":
            args = delta.get("arguments")
            if isinstance(args, str) and args:
                self._start_args.pop(index, None)
                out.append(ir.ToolArgsDelta(index, args))

    def _end(self, out: list[ir.Event], status: str) -> None:
        for index in sorted(self._open):
            self._flush_start_args(index, out)
            out.append(ir.BlockStop(index))
        self._open.clear()
        self._implicit.clear()
        stop: ir.StopReason = "tool_use" if self._calls else "end_turn"
        if status == "incomplete":
            stop = "max_tokens"
        out.append(ir.StreamEnd(stop_reason=stop, usage=self._usage))
        self._ended = True
