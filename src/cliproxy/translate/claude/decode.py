"""Claude Messages SSE stream -> IR events.

Server-run blocks (``server_tool_use``, ``web_search_tool_result``...) are held until
their ``content_block_stop`` and handed over whole (start + stop) as a ``server_tool``
block, their streamed input folded in. A ``citations_delta`` becomes an
``ir.CitationDelta`` of the open text block; one naming no open text block is held for the
next text block (where CPA's translator also puts it). A stream that ends without
``message_stop`` ends with an ``ir.Error``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats.claude import merge_wire_usage, status_for, stop_from_wire, usage_from_wire
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.custom_tools import is_custom, raw_input
from cliproxy.translate.naming import restore_name

__all__ = ["ClaudeStreamDecoder"]

Obj = dict[str, Any]
_PLAIN_DELTA = frozenset(("type", "stop_reason", "stop_sequence"))


class ClaudeStreamDecoder(StreamDecoder):
    __slots__ = (
        "_cited",
        "_custom",
        "_delta_extras",
        "_done",
        "_no_args",
        "_server",
        "_sse",
        "_stop",
        "_stop_seq",
        "_stray",
        "_usage",
    )

    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._sse = SSEDecoder()
        self._usage: Obj = {}
        self._stop: str | None = None
        self._stop_seq: str | None = None
        self._delta_extras: Obj | None = None
        self._done = False
        self._server: dict[int, tuple[Obj, list[str]]] = {}
        self._no_args: set[int] = set()
        self._custom: dict[int, list[str]] = {}  # custom tool calls: their JSON input so far
        self._cited: int | None = None  # the open text block: what a citations_delta may cite
        self._stray: list[Obj] | None = None  # citations that came with no text block open

    def decode(self, chunk: bytes) -> list[ir.Event]:
        out: list[ir.Event] = []
        event = self._event
        for ev in self._sse.decode(chunk):
            event(ev.data, out)
        return out

    def flush(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.flush():
            self._event(ev.data, out, tail=True)
        if not self._done:
            self._done = True
            out.append(ir.Error("upstream stream ended before message_stop", status=502, type="api_error"))
        return out

    def _event(self, data: bytes, out: list[ir.Event], tail: bool = False) -> None:
        if not data or self._done or data == b"[DONE]":
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            if tail:
                return  # an event cut by the end of the stream: reported as a cut below
            # a broken upstream (an HTML page, a proxy's text): never an empty success
            self._done = True
            out.append(
                ir.Error("upstream sent a stream event that is not JSON", status=502, type="api_error")
            )
            return
        self._object(obj, out)

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        found = None if self._done else self._sse.one(chunk)
        if found is None:
            return self.decode(chunk)
        out: list[ir.Event] = []
        try:
            obj = orjson.loads(found[1])
        except orjson.JSONDecodeError:  # [DONE], an empty data line or a broken frame
            self._event(found[1], out)
            return out
        text = self._text_of(obj)
        if text is not None:
            return text
        self._object(obj, out)
        return out

    def _text_of(self, obj: Any) -> tuple[int, str] | None:
        """``(index, text)`` of a ``text_delta`` event (the common one): what
        :meth:`_block_delta` makes a ``TextDelta`` of, changing nothing else."""
        if type(obj) is dict and obj.get("type") == "content_block_delta":  # (orjson: plain dicts)
            delta = obj.get("delta")
            index = obj.get("index", 0)
            if type(delta) is dict and delta.get("type") == "text_delta" and index not in self._server:
                return index, delta.get("text") or ""
        return None

    def _object(self, obj: Any, out: list[ir.Event]) -> None:
        """One parsed event."""
        text = self._text_of(obj)
        if text is not None:
            out.append(ir.TextDelta(*text))
        elif type(obj) is dict:
            handler = _HANDLERS.get(obj.get("type"))  # type: ignore[arg-type]
            if handler is not None:
                handler(self, obj, out)

    # -- message

    def _message_start(self, obj: Obj, out: list[ir.Event]) -> None:
        msg = obj.get("message") or {}
        usage = msg.get("usage")
        if isinstance(usage, dict):
            merge_wire_usage(self._usage, usage)
        out.append(
            ir.StreamStart(
                msg.get("id") or "",
                msg.get("model") or "",
                usage=usage_from_wire(self._usage) if self._usage else None,
            )
        )

    def _message_delta(self, obj: Obj, out: list[ir.Event]) -> None:
        delta = obj.get("delta") or {}
        if "stop_reason" in delta:
            self._stop = delta["stop_reason"]
        if "stop_sequence" in delta:
            self._stop_seq = delta["stop_sequence"]
        extra = {k: v for k, v in delta.items() if k not in _PLAIN_DELTA and v is not None}
        if extra:
            self._delta_extras = (self._delta_extras or {}) | extra
        usage = obj.get("usage")
        if isinstance(usage, dict):
            merge_wire_usage(self._usage, usage)

    def _message_stop(self, obj: Obj, out: list[ir.Event]) -> None:
        self._done = True
        stop = stop_from_wire(self._stop)
        extras = self._delta_extras
        if self._stop is not None and stop != self._stop:
            extras = (extras or {}) | {"stop_raw": self._stop}
        out.append(ir.StreamEnd(stop, usage_from_wire(self._usage), self._stop_seq, extras))

    def _error(self, obj: Obj, out: list[ir.Event]) -> None:
        self._done = True
        err = obj.get("error") or {}
        kind = err.get("type")
        out.append(ir.Error(str(err.get("message") or "upstream error"), status=status_for(kind), type=kind))

    # -- blocks

    def _block_start(self, obj: Obj, out: list[ir.Event]) -> None:
        index = obj.get("index", 0)
        cb = obj.get("content_block") or {}
        kind = cb.get("type")
        if kind == "text":
            out.append(ir.BlockStart(index, "text"))
            self._cited = index
            cites = cb.get("citations")
            if cites or self._stray:  # (Claude's are deltas: its start holds none)
                held = [*(self._stray or ()), *(cites if type(cites) is list else ())]
                out.extend(ir.CitationDelta(index, c) for c in held if type(c) is dict)
                self._stray = None
            if cb.get("text"):
                out.append(ir.TextDelta(index, cb["text"]))
        elif kind == "thinking":
            out.append(ir.BlockStart(index, "thinking", family="claude"))
            if cb.get("thinking"):
                out.append(ir.ThinkingDelta(index, cb["thinking"]))
            if cb.get("signature"):
                out.append(ir.SignatureDelta(index, cb["signature"], "claude"))
        elif kind == "redacted_thinking":
            out.append(ir.BlockStart(index, "redacted_thinking", signature=cb.get("data"), family="claude"))
        elif kind == "tool_use":
            name, namespace = restore_name(cb.get("name") or "", self.request)
            if is_custom(name, namespace, self.request):
                # the raw text is known only once the JSON input is whole
                out.append(
                    ir.BlockStart(
                        index,
                        "tool_call",
                        id=cb.get("id"),
                        name=name,
                        tool_kind="custom",
                        namespace=namespace,
                    )
                )
                self._custom[index] = [orjson.dumps(cb["input"]).decode()] if cb.get("input") else []
                return
            out.append(ir.BlockStart(index, "tool_call", id=cb.get("id"), name=name, namespace=namespace))
            if cb.get("input"):
                out.append(ir.ToolArgsDelta(index, orjson.dumps(cb["input"]).decode()))
            else:
                self._no_args.add(index)  # "{}" at the stop unless input deltas come
        else:
            self._server[index] = (cb, [])

    def _block_delta(self, obj: Obj, out: list[ir.Event]) -> None:
        index = obj.get("index", 0)
        delta = obj.get("delta") or {}
        kind = delta.get("type")
        if index in self._server:
            if kind == "input_json_delta":
                self._server[index][1].append(delta.get("partial_json") or "")
            elif kind == "citations_delta":
                self._citation(index, delta.get("citation"), out)
        elif kind == "text_delta":
            out.append(ir.TextDelta(index, delta.get("text") or ""))
        elif kind == "thinking_delta":
            out.append(ir.ThinkingDelta(index, delta.get("thinking") or ""))
        elif kind == "signature_delta":
            out.append(ir.SignatureDelta(index, delta.get("signature") or "", "claude"))
        elif kind == "input_json_delta" and index in self._custom:
            self._custom[index].append(delta.get("partial_json") or "")
        elif kind == "input_json_delta" and delta.get("partial_json"):
            self._no_args.discard(index)
            out.append(ir.ToolArgsDelta(index, delta["partial_json"]))
        elif kind == "citations_delta":
            self._citation(index, delta.get("citation"), out)

    def _citation(self, index: int, cite: Any, out: list[ir.Event]) -> None:
        if type(cite) is not dict:
            return
        if index == self._cited:
            out.append(ir.CitationDelta(index, cite))
        else:
            self._stray = [*(self._stray or ()), cite]

    def _block_stop(self, obj: Obj, out: list[ir.Event]) -> None:
        index = obj.get("index", 0)
        if index == self._cited:
            self._cited = None
        custom = self._custom.pop(index, None)
        if custom is not None:
            text = raw_input("".join(custom))
            if text:
                out.append(ir.ToolArgsDelta(index, text))
        if index in self._no_args:  # a call without arguments: valid JSON for every client
            self._no_args.discard(index)
            out.append(ir.ToolArgsDelta(index, "{}"))
        held = self._server.pop(index, None)
        if held is not None:
            raw, parts = held
            if parts:
                with contextlib.suppress(orjson.JSONDecodeError):
                    raw = raw | {"input": orjson.loads("".join(parts))}
            out.append(ir.BlockStart(index, "server_tool", family="claude", raw=raw))
        out.append(ir.BlockStop(index))


# the event handlers, as plain functions: a table of bound methods on each instance would
# be a reference cycle per stream (left to the garbage collector), and its making a cost
_HANDLERS: dict[str, Callable[[ClaudeStreamDecoder, Obj, list[ir.Event]], None]] = {
    "message_start": ClaudeStreamDecoder._message_start,
    "content_block_start": ClaudeStreamDecoder._block_start,
    "content_block_delta": ClaudeStreamDecoder._block_delta,
    "content_block_stop": ClaudeStreamDecoder._block_stop,
    "message_delta": ClaudeStreamDecoder._message_delta,
    "message_stop": ClaudeStreamDecoder._message_stop,
    "error": ClaudeStreamDecoder._error,
}
