"""IR events -> Claude Messages SSE, framed as the API frames it.

``message_start`` carries the usage known so far; ``message_delta`` at the end carries
all four cumulative counters, which the anthropic SDK writes over its snapshot, so the
final message has the right usage whether the upstream told input tokens early
(Claude) or only at the end (OpenAI, Gemini). A thinking block's signature (Claude's, or
Codex's encrypted reasoning the client carries back) goes out as one ``signature_delta``
just before its ``content_block_stop``. A ``server_tool_use`` given whole streams its input
as a delta, and a text's citations (``BlockStart.raw``, or each ``CitationDelta``) go out as
``citations_delta`` events, as Anthropic streams them. Blocks the client must
not get (another family's provider tools or redacted reasoning) are left out and the
rest renumbered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats.claude import error_frame, status_for, usage_to_wire
from cliproxy.formats.ids import token_hex
from cliproxy.formats.sse import frame
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamEncoder
from cliproxy.translate.antigravity_claude import SIGNATURE_OUT
from cliproxy.translate.carriers import claude_carrier
from cliproxy.translate.claude.ids import sanitize_tool_id
from cliproxy.translate.claude.response import CARRIED_FAMILIES as _CARRIED
from cliproxy.translate.claude.response import (
    call_carrier_block,
    gemini_image_blocks,
    new_message_id,
    wire_stop,
)
from cliproxy.translate.claude.wire import claude_citations
from cliproxy.translate.naming import flat_name

__all__ = ["ClaudeStreamEncoder"]

# the content of an answer that said nothing: clients expect a message to hold a block
_EMPTY_TEXT = frame(
    "content_block_start",
    b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
) + frame("content_block_stop", b'{"type":"content_block_stop","index":0}')

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_OPENINGS = (ir.StreamStart, ir.Error)

_dumps = orjson.dumps


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return frame(
        "content_block_delta", _dumps({"type": "content_block_delta", "index": index, "delta": delta})
    )


# a block's text / thinking / tool-input deltas: ``head + dumps(value) + _TAIL`` is the bytes
# of ``_delta(index, {"type": <kind>, <key>: value})``; the head is built once per block
_DELTA_KEYS = {"text": b"text_delta", "thinking": b"thinking_delta", "tool_use": b"input_json_delta"}
_DELTA_FIELD = {"text": b"text", "thinking": b"thinking", "tool_use": b"partial_json"}
_TAIL = b"}}\n\n"


_DELTA_OPEN = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'


def _delta_head(index: int, kind: str) -> bytes:
    return _DELTA_OPEN + b'%d,"delta":{"type":"%s","%s":' % (index, _DELTA_KEYS[kind], _DELTA_FIELD[kind])


class ClaudeStreamEncoder(StreamEncoder):
    __slots__ = (
        "_cur",
        "_ended",
        "_has_tool",
        "_head",
        "_kind",
        "_next",
        "_sig",
        "_sig_out",
        "_started",
        "_think",
        "_usage",
    )

    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        super().__init__(request, model)
        self._started = False
        self._ended = False
        self._usage = ir.Usage()
        self._next = 0  # next output block index
        self._cur: int | None = None  # output index of the open block; None: none or left out
        self._kind = ""
        self._head = b""  # the open block's delta frame up to its value (see _delta_head)
        self._sig: list[str] = []
        # Antigravity's Claude: its signatures handed out as the signature mode wants
        self._sig_out = request.extras.get(SIGNATURE_OUT) if request is not None else None
        self._think: list[str] = []
        self._has_tool = False

    def encode(self, event: ir.Event) -> bytes:
        if self._ended:
            return b""
        if type(event) is ir.TextDelta and self._started:  # the common event, inline (text)
            if self._cur is None or not event.text or self._kind != "text":
                return b""
            return self._head + _dumps(event.text) + _TAIL
        head = b"" if self._started or isinstance(event, _OPENINGS) else self._start("", "", None)
        return head + _HANDLERS[type(event)](self, event)

    def text(self, index: int, text: str) -> bytes:
        if not self._started or self._ended:
            return b"" if self._ended else super().text(index, text)
        if self._cur is None or not text or self._kind != "text":
            return b""
        return self._head + _dumps(text) + _TAIL

    def flush(self) -> bytes:
        if self._ended:
            return b""
        out = b"" if self._started else self._start("", "", None)
        return out + self._end(ir.StreamEnd("end_turn"))

    # -- message

    def _start(self, msg_id: str, model: str, usage: ir.Usage | None) -> bytes:
        self._started = True
        if usage is not None:
            self._usage = usage
        message: dict[str, Any] = {
            "id": msg_id or new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": self.model or model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_wire(self._usage),
        }
        return frame("message_start", _dumps({"type": "message_start", "message": message}))

    def _stream_start(self, ev: ir.StreamStart) -> bytes:
        return b"" if self._started else self._start(ev.id, ev.model, ev.usage)

    def _usage_event(self, ev: ir.UsageEvent) -> bytes:
        self._merge(ev.usage)
        return b""

    def _merge(self, u: ir.Usage) -> None:
        cur = self._usage
        self._usage = ir.Usage(
            input_tokens=u.input_tokens or cur.input_tokens,
            output_tokens=u.output_tokens or cur.output_tokens,
            cache_read_tokens=u.cache_read_tokens or cur.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens or cur.cache_write_tokens,
            reasoning_tokens=u.reasoning_tokens or cur.reasoning_tokens,
            web_search_requests=u.web_search_requests or cur.web_search_requests,
        )

    def _end(self, ev: ir.StreamEnd) -> bytes:
        if self._next:
            out = self._block_stop(ir.BlockStop(-1)) if self._cur is not None else b""
        else:  # nothing said: one empty text block, so the message has content (CPA)
            self._next = 1
            out = _EMPTY_TEXT
        if ev.usage is not None:
            self._merge(ev.usage)
        self._ended = True
        stop = wire_stop(ev.stop_reason, self._has_tool)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": ev.stop_sequence},
            "usage": usage_to_wire(self._usage),
        }
        return out + frame("message_delta", _dumps(delta)) + frame("message_stop", b'{"type":"message_stop"}')

    def _error(self, ev: ir.Error) -> bytes:
        self._ended = True
        return error_frame(ev.message, ev.status, _claude_type(ev.type))

    # -- blocks

    def _block_start(self, ev: ir.BlockStart) -> bytes:
        block = self._wire_block(ev)
        if block is None:
            self._cur = None
            if ev.family == "gemini" and ev.raw is not None:  # a Gemini image, as Markdown
                return b"".join(
                    self._carrier(w) if w["type"] == "thinking" else self._whole_text(w["text"])
                    for w in gemini_image_blocks(ev.raw)
                )
            return b""
        head = b""
        if ev.family == "gemini" and ev.signature and ev.kind == "tool_call" and self._sig_out is None:
            head = self._call_carrier(ev.signature)
        self._cur = index = self._next
        self._next += 1
        self._kind = block["type"]
        self._head = _delta_head(index, self._kind) if self._kind in _DELTA_KEYS else b""
        self._sig = []
        self._think = []
        tail = b""
        if ev.raw is not None:  # a server tool, or a text with citations
            block, tail = _opening(index, block, ev.raw)
        return (
            head
            + frame(
                "content_block_start",
                _dumps({"type": "content_block_start", "index": index, "content_block": block}),
            )
            + tail
        )

    def _call_carrier(self, signature: str) -> bytes:
        """A Gemini call's signature, in the thinking block before its ``tool_use`` (CPA)."""
        return self._carrier(call_carrier_block(signature))

    def _carrier(self, carrier: dict[str, Any]) -> bytes:
        """A whole thinking block that only carries ``carrier["signature"]``."""
        index = self._next
        self._next += 1
        sig = carrier.pop("signature")
        carrier["signature"] = ""
        return (
            frame(
                "content_block_start",
                _dumps({"type": "content_block_start", "index": index, "content_block": carrier}),
            )
            + _delta(index, {"type": "signature_delta", "signature": sig})
            + frame("content_block_stop", _dumps({"type": "content_block_stop", "index": index}))
        )

    def _whole_text(self, text: str) -> bytes:
        """A whole text block of ``text``."""
        index = self._next
        self._next += 1
        block = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        return (
            frame("content_block_start", _dumps(block))
            + _delta(index, {"type": "text_delta", "text": text})
            + frame("content_block_stop", _dumps({"type": "content_block_stop", "index": index}))
        )

    def _wire_block(self, ev: ir.BlockStart) -> dict[str, Any] | None:
        kind = ev.kind
        if kind == "text":
            return {"type": "text", "text": ""}
        if kind == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        if kind == "tool_call":
            self._has_tool = True
            return {
                "type": "tool_use",
                "id": sanitize_tool_id(ev.id or "toolu_" + token_hex(12)),
                "name": flat_name(ev.name or "", ev.namespace),
                "input": {},
            }
        if kind == "redacted_thinking":
            ok = ev.family == "claude" and ev.signature
            return {"type": "redacted_thinking", "data": ev.signature} if ok else None
        if ev.family == "claude" and ev.raw is not None:  # server_tool
            return ev.raw
        return None

    def _text(self, ev: ir.TextDelta) -> bytes:
        return self.text(ev.index, ev.text)  # (after _start: the frame)

    def _citation(self, ev: ir.CitationDelta) -> bytes:
        if self._cur is None or self._kind != "text" or not claude_citations([ev.citation]):
            return b""
        return _delta(self._cur, {"type": "citations_delta", "citation": ev.citation})

    def _thinking(self, ev: ir.ThinkingDelta) -> bytes:
        if self._cur is None or not ev.text or self._kind != "thinking":
            return b""
        if self._sig_out is not None:
            self._think.append(ev.text)
        return self._head + _dumps(ev.text) + _TAIL

    def _signature(self, ev: ir.SignatureDelta) -> bytes:
        # Claude's own, Codex's encrypted reasoning, or a Gemini one, carried to the client (CPA)
        if ev.signature and (ev.family in _CARRIED or self._sig_out is not None):
            if ev.family == "gemini" and self._sig_out is None:
                self._sig.append(claude_carrier(ev.signature, ev.anchor))
            else:
                self._sig.append(ev.signature)
        return b""

    def _args(self, ev: ir.ToolArgsDelta) -> bytes:
        if self._cur is None or not ev.delta or self._kind != "tool_use":
            return b""
        return self._head + _dumps(ev.delta) + _TAIL

    def _block_stop(self, ev: ir.BlockStop) -> bytes:
        index = self._cur
        if index is None:
            return b""
        self._cur = None
        out = b""
        if self._kind == "thinking" and self._sig:
            sig: str | None = "".join(self._sig)
            if self._sig_out is not None:
                sig = self._sig_out("".join(self._think), sig)
            if sig:
                out = _delta(index, {"type": "signature_delta", "signature": sig})
            self._sig = []
        return out + frame("content_block_stop", _dumps({"type": "content_block_stop", "index": index}))


def _opening(index: int, block: dict[str, Any], raw: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The start of a block given whole, and the deltas that follow it, as Anthropic streams
    them: a ``server_tool_use`` opens with an empty ``input`` and sends its input as one
    ``input_json_delta`` (Claude Code rebuilds a server tool's input from the deltas); a
    text with citations opens with ``"citations": []`` and sends each as a
    ``citations_delta`` before its text."""
    if block.get("type") == "server_tool_use":
        given = block.get("input")
        if not given:
            return block, b""
        json = _dumps(given).decode()
        return block | {"input": {}}, _delta(index, {"type": "input_json_delta", "partial_json": json})
    citations = raw.get("citations") if block.get("type") == "text" else None
    if not isinstance(citations, list):
        return block, b""
    deltas = b"".join(_delta(index, {"type": "citations_delta", "citation": c}) for c in citations)
    return {"citations": [], **block}, deltas


def _claude_type(kind: str | None) -> str | None:
    """Keep an error type that is already Claude's; others are derived from the status."""
    return kind if kind and (status_for(kind) != 500 or kind == "api_error") else None


# the event handlers, as plain functions: a table of bound methods on each instance would
# be a reference cycle per stream (left to the garbage collector), and its making a cost
_HANDLERS: dict[type, Callable[[ClaudeStreamEncoder, Any], bytes]] = {
    ir.StreamStart: ClaudeStreamEncoder._stream_start,
    ir.BlockStart: ClaudeStreamEncoder._block_start,
    ir.TextDelta: ClaudeStreamEncoder._text,
    ir.CitationDelta: ClaudeStreamEncoder._citation,
    ir.ThinkingDelta: ClaudeStreamEncoder._thinking,
    ir.SignatureDelta: ClaudeStreamEncoder._signature,
    ir.ToolArgsDelta: ClaudeStreamEncoder._args,
    ir.BlockStop: ClaudeStreamEncoder._block_stop,
    ir.UsageEvent: ClaudeStreamEncoder._usage_event,
    ir.StreamEnd: ClaudeStreamEncoder._end,
    ir.Error: ClaudeStreamEncoder._error,
}
