"""IR events -> Gemini stream for a Gemini client.

Framing comes from the client's request as the server recorded it:
``request.extras["_stream_framing"] == "array"`` (the client sent no ``alt``), or an
``extras["_alt"]`` other than ``"sse"``, gives the JSON-array stream
(``[{...},\\r\\n{...}]``); otherwise (``alt=sse`` or nothing recorded) ``data: {...}``
SSE frames. Every chunk carries ``modelVersion`` and ``responseId``. Text and thought
deltas are sent as they come; a tool call is sent whole at its ``BlockStop`` because a
Gemini part holds complete ``args``. The last chunk carries ``finishReason`` and
``usageMetadata``. An ``ir.Error`` becomes ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import gemini as wire
from cliproxy.formats.sse import frame_data
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamEncoder
from cliproxy.translate.collect import merge_usage
from cliproxy.translate.gemini.media import media_part
from cliproxy.translate.gemini.parts import FAMILY, answer_signature
from cliproxy.translate.gemini.response import call_part
from cliproxy.translate.tool_output import generated_image

__all__ = ["GeminiStreamEncoder"]


def framing_of(request: ir.Request | None) -> str:
    extras = request.extras if request is not None else {}
    alt = extras.get("_alt")
    if extras.get("_stream_framing") == "array" or (alt is not None and alt != "sse"):
        return "array"
    return "sse"


_TEXT_HEAD = b'{"candidates":[{"content":{"role":"model","parts":[{"text":'


class GeminiStreamEncoder(StreamEncoder):
    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        super().__init__(request, model)
        self._array = framing_of(request) == "array"
        self._sent = False
        self._id = ""
        self._model = model or (request.model if request else "")
        self._usage: ir.Usage | None = None
        self._call: ir.ToolCall | None = None
        self._args: list[str] = []
        self._sig: str | None = None  # thinking signature from a BlockStart
        self._tail: bytes | None = None  # a text chunk's bytes after its text (see _text)

    # ---- framing

    def _emit(self, obj: dict[str, Any]) -> bytes:
        return self._frame(orjson.dumps(obj))

    def _frame(self, data: bytes) -> bytes:
        if not self._array:
            return frame_data(data)
        head = b",\r\n" if self._sent else b"["
        self._sent = True
        return head + data

    def _chunk(
        self, parts: list[dict[str, Any]], finish: str | None = None, usage: ir.Usage | None = None
    ) -> bytes:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish is not None:
            cand["finishReason"] = finish
        obj: dict[str, Any] = {"candidates": [cand]}
        if usage is not None:
            obj["usageMetadata"] = wire.usage_to_metadata(usage)
        obj["modelVersion"] = self._model
        obj["responseId"] = self._id
        return self._emit(obj)

    # ---- events

    def _text(self, text: str, thought: bytes) -> bytes:
        """``_chunk([{"text": text}])`` (``thought``: ``{..., "thought": true}``), from bytes
        built once per stream."""
        tail = self._tail
        if tail is None:
            tail = self._tail = (
                b'}]},"index":0}],"modelVersion":'
                + orjson.dumps(self._model)
                + b',"responseId":'
                + orjson.dumps(self._id)
                + b"}"
            )
        return self._frame(_TEXT_HEAD + orjson.dumps(text) + thought + tail)

    def text(self, index: int, text: str) -> bytes:
        return self._text(text, b"") if text else b""

    def encode(self, event: ir.Event) -> bytes:
        if isinstance(event, ir.TextDelta):
            return self._text(event.text, b"") if event.text else b""
        if isinstance(event, ir.ThinkingDelta):
            return self._text(event.text, b',"thought":true') if event.text else b""
        if isinstance(event, ir.ToolArgsDelta):
            self._args.append(event.delta)
            return b""
        if isinstance(event, ir.BlockStart):
            return self._block_start(event)
        if isinstance(event, ir.BlockStop):
            return self._block_stop(event.cut)
        if isinstance(event, ir.SignatureDelta):
            sig = answer_signature(event.signature, event.family)
            return self._signature(sig) if sig else b""
        if isinstance(event, ir.UsageEvent):
            self._usage = merge_usage(self._usage, event.usage)
            return b""
        if isinstance(event, ir.StreamStart):
            self._id = event.id
            self._model = self.model or event.model
            self._tail = None
            if event.usage is not None:
                self._usage = event.usage
            return b""
        if isinstance(event, ir.StreamEnd):
            return self._end(event)
        if isinstance(event, ir.Error):
            return self._emit(wire.error_body(event.message, event.status, event.type))
        return b""

    def _signature(self, sig: str) -> bytes:
        return self._chunk([{"text": "", "thought": True, "thoughtSignature": sig}])

    def _block_start(self, ev: ir.BlockStart) -> bytes:
        if ev.kind == "tool_call":
            self._call = ir.ToolCall(
                id=ev.id or "",
                name=ev.name or "",
                kind=ev.tool_kind,
                namespace=ev.namespace,
                signature=ev.signature,
                family=ev.family,
            )
            self._args = []
        elif ev.kind == "thinking":
            self._sig = answer_signature(ev.signature, ev.family)
        elif ev.kind == "server_tool" and ev.family == FAMILY and ev.raw:
            return self._chunk([ev.raw])
        elif ev.kind == "server_tool" and (image := generated_image(ev.raw)) is not None:
            part = media_part(image, False)
            return self._chunk([part]) if part is not None else b""
        return b""

    def _block_stop(self, cut: bool = False) -> bytes:
        if self._call is not None:
            call, self._call = self._call, None
            call.arguments = "".join(self._args)
            self._args = []
            # a call the answer was cut inside is not handed out (its arguments may be partial)
            return b"" if cut else self._chunk([call_part(call)])
        if self._sig:
            sig, self._sig = self._sig, None
            return self._signature(sig)
        return b""

    def _end(self, ev: ir.StreamEnd) -> bytes:
        usage = merge_usage(self._usage, ev.usage) if ev.usage is not None else self._usage
        raw = (ev.extras or {}).get("stop_raw")
        finish = wire.finish_reason_of(ev.stop_reason, raw if isinstance(raw, str) else None)
        return self._chunk([{"text": ""}], finish=finish, usage=usage or ir.Usage())

    def flush(self) -> bytes:
        if not self._array:
            return b""
        return b"]" if self._sent else b"[]"

    def resume(self) -> None:
        self._sent = True  # the client has the opening "[": go on with ",\r\n{...}"
