"""IR events -> Chat Completions stream frames (for a Chat Completions client).

Every chunk carries the same ``id``/``created``/``model``, so their JSON prefix is built
once. The first chunk is ``delta: {role: "assistant", content: ""}``; tool calls are
numbered 0, 1, 2... in ``delta.tool_calls[].index``; the end writes a chunk with
``finish_reason``, then (when the client asked ``stream_options.include_usage``) a
usage chunk with ``choices: []``, and ``flush()`` writes ``data: [DONE]``. An
``ir.Error`` becomes a ``data: {"error": ...}`` frame and no ``[DONE]`` follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats import Format
from cliproxy.formats.ids import uuid_hex
from cliproxy.formats.openai_chat import CHUNK_OBJECT, DONE_FRAME, error_body, finish_reason, usage_body
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamEncoder
from cliproxy.translate.collect import merge_usage
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.response import chat_id, gemini_signature, image_item
from cliproxy.translate.tool_output import generated_image

__all__ = ["ChatStreamEncoder"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_OPENINGS = (ir.StreamStart, ir.Error)

_dumps = orjson.dumps
_OPEN = b'{"index":0,"delta":'
_CLOSE = b',"logprobs":null,"finish_reason":null}]}\n\n'


def _wants_usage(request: ir.Request | None) -> bool:
    if request is None or request.source != Format.OPENAI:
        return True
    opts = request.extras.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))


class ChatStreamEncoder(StreamEncoder):
    __slots__ = (
        "_custom",
        "_done",
        "_errored",
        "_include_usage",
        "_prefix",
        "_text_head",
        "_tool",
        "_tools",
        "_usage",
    )

    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        super().__init__(request, model)
        self._prefix = b""  # every chunk's head up to ``"choices":[``; empty until the start
        self._text_head = b""  # a content delta's frame up to the text: ``data: {...,"delta":{"content":``
        self._tools = 0  # tool calls written so far
        self._tool = -1  # index of the open tool call
        self._custom = False
        self._usage: ir.Usage | None = None
        self._errored = False
        self._done = False
        self._include_usage = _wants_usage(request)

    def encode(self, event: ir.Event) -> bytes:
        if self._errored:
            return b""
        if type(event) is ir.TextDelta and self._prefix:  # the common event, inline (text)
            return self._text_head + _dumps(event.text) + b"}" + _CLOSE if event.text else b""
        handler = _HANDLERS.get(type(event))
        if handler is None:  # BlockStop, SignatureDelta: nothing on this wire
            return b""
        if not self._prefix and not isinstance(event, _OPENINGS):
            return self._start(ir.StreamStart(id="", model="")) + handler(self, event)
        return handler(self, event)

    def text(self, index: int, text: str) -> bytes:
        if self._errored or not self._prefix:
            return b"" if self._errored else super().text(index, text)
        return self._text_head + _dumps(text) + b"}" + _CLOSE if text else b""

    def flush(self) -> bytes:
        if self._errored or self._done:
            return b""
        self._done = True
        return DONE_FRAME

    # ------------------------------------------------------------------ frames

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return b"data: " + self._prefix + _OPEN + _dumps(delta) + _CLOSE

    def _start(self, ev: ir.StreamStart) -> bytes:
        if self._prefix:
            return b""
        model = self.model or ev.model
        self._prefix = (
            b'{"id":'
            + _dumps(chat_id(ev.id or uuid_hex()))
            + b',"object":"'
            + CHUNK_OBJECT.encode()
            + b'","created":'
            + str(ev.created or int(time.time())).encode()
            + b',"model":'
            + _dumps(model)
            + b',"choices":['
        )
        self._text_head = b"data: " + self._prefix + _OPEN + b'{"content":'
        if ev.usage is not None:
            self._usage = ev.usage
        return self._delta({"role": "assistant", "content": ""})

    def _block_start(self, ev: ir.BlockStart) -> bytes:
        if ev.kind == "server_tool" and (image := generated_image(ev.raw)) is not None:
            # a Codex image_generation result or a Gemini image part: Chat's ``images`` delta (CPA)
            sig = gemini_signature(ev.raw) if ev.family == "gemini" else None
            return self._delta({"images": [image_item(image, sig)]})
        if ev.kind == "text":  # a refusal's pieces go as ``delta.refusal``, other text as content
            key = b'{"refusal":' if ir.is_refusal(ev.raw) else b'{"content":'
            self._text_head = b"data: " + self._prefix + _OPEN + key
            return b""
        if ev.kind != "tool_call":
            return b""
        self._tool = self._tools
        self._tools += 1
        name = flat_name(ev.name or "", ev.namespace)
        call_id = ev.id or "call_" + uuid_hex()[:24]
        self._custom = ev.tool_kind == "custom"
        if self._custom:
            call = {
                "index": self._tool,
                "id": call_id,
                "type": "custom",
                "custom": {"name": name, "input": ""},
            }
        else:
            call = {
                "index": self._tool,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            if ev.signature and ev.family == "gemini":  # as Google's OpenAI endpoint carries it
                call["extra_content"] = {"google": {"thought_signature": ev.signature}}
        return self._delta({"tool_calls": [call]})

    def _text(self, ev: ir.TextDelta) -> bytes:
        return self.text(ev.index, ev.text)  # (after _start: the frame)

    def _thinking(self, ev: ir.ThinkingDelta) -> bytes:
        return self._delta({"reasoning_content": ev.text}) if ev.text else b""

    def _args(self, ev: ir.ToolArgsDelta) -> bytes:
        if not ev.delta or self._tool < 0:
            return b""
        if self._custom:
            return self._delta({"tool_calls": [{"index": self._tool, "custom": {"input": ev.delta}}]})
        return self._delta({"tool_calls": [{"index": self._tool, "function": {"arguments": ev.delta}}]})

    def _usage_event(self, ev: ir.UsageEvent) -> bytes:
        self._usage = merge_usage(self._usage, ev.usage)
        return b""

    def _end(self, ev: ir.StreamEnd) -> bytes:
        if ev.usage is not None:
            self._usage = merge_usage(self._usage, ev.usage)
        fr = finish_reason(ev.stop_reason, self._tools > 0)
        out = (
            b"data: "
            + self._prefix
            + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":'
            + _dumps(fr)
            + b"}]}\n\n"
        )
        if self._include_usage:
            out += b"data: " + self._prefix + b'],"usage":' + _dumps(usage_body(self._usage)) + b"}\n\n"
        return out

    def _error(self, ev: ir.Error) -> bytes:
        self._errored = True
        return b"data: " + _dumps(error_body(ev.message, ev.status, None, ev.code)) + b"\n\n"


# the event handlers, as plain functions: a table of bound methods on each instance would
# be a reference cycle per stream (left to the garbage collector), and its making a cost
_HANDLERS: dict[type, Callable[[ChatStreamEncoder, Any], bytes]] = {
    ir.StreamStart: ChatStreamEncoder._start,
    ir.BlockStart: ChatStreamEncoder._block_start,
    ir.TextDelta: ChatStreamEncoder._text,
    ir.ThinkingDelta: ChatStreamEncoder._thinking,
    ir.ToolArgsDelta: ChatStreamEncoder._args,
    ir.UsageEvent: ChatStreamEncoder._usage_event,
    ir.StreamEnd: ChatStreamEncoder._end,
    ir.Error: ChatStreamEncoder._error,
}
