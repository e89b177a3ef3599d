"""Responses / Codex upstream stream -> IR events.

Every output item gets IR block indices in order of appearance: a message one text
block per content part, a reasoning item one thinking block (summary parts joined by a
blank line, ``encrypted_content`` as a ``SignatureDelta`` at its end), a function or
custom call one tool-call block. Items that only show up in the terminal event's
``output`` (Codex may complete calls there) are hydrated from it. ``response.failed``
and ``error`` become ``ir.Error``; a stream that ends without a terminal event is cut.

As CPA: a call announced without a name is held (no block, its arguments buffered) until
a later event names it, matched by ``output_index`` or, when a ``done`` event has none,
by ``call_id``; one never named is dropped. A Codex ``invalid_request`` /
``cyber_policy`` error is the client's (400, ``invalid_request_error``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats import openai_responses as wire
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.openai_responses.names import long_name
from cliproxy.translate.openai_responses.response import stop_of
from cliproxy.translate.openai_responses.web_search import claude_web_search_blocks

__all__ = ["ResponsesDecoder"]

_CALL_TYPES = {"function_call": ("arguments", "function"), "custom_tool_call": ("input", "custom")}
_TEXT_DELTA = "response.output_text.delta"


class _Item:
    __slots__ = (
        "args",
        "block",
        "call",
        "cid",
        "done",
        "kind",
        "named",
        "part_sent",
        "parts",
        "pending",
        "sent",
        "sig",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind  # message | reasoning | call | other
        self.block: int | None = None  # thinking / call block
        self.parts: dict[int, list[Any]] = {}  # content_index -> [block, sent, open]
        self.sent = False
        self.part_sent = False
        self.named = False
        self.done = False
        self.sig: str | None = None
        self.call: dict[str, Any] | None = None  # an unnamed call's item, until named
        self.pending = ""  # arguments of an unnamed call, until named
        self.cid: str | None = None  # a call's call_id
        self.args: list[str] = []  # a call's arguments as sent so far


class ResponsesDecoder(StreamDecoder):
    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._sse = SSEDecoder()
        self._items: dict[int, _Item] = {}
        self._next = 0
        self._started = False
        self._done = False
        self._has_calls = False
        self._searches: set[str] = set()  # web_search_call ids given Claude blocks

    # -- plumbing

    def decode(self, chunk: bytes) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.decode(chunk):
            self._event(ev.event, ev.data, out)
        return out

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        """:meth:`decode`, except that a chunk that is exactly one
        ``response.output_text.delta`` of a text part already open comes back as
        ``(block index, text)``, as its handler would read it but with no event made (the
        common chunk of a Codex answer)."""
        found = self._sse.one(chunk)
        if found is None or found[0] != _TEXT_DELTA or self._done:
            return self.decode(chunk)
        try:
            d = orjson.loads(found[1])
        except orjson.JSONDecodeError:  # what _event makes of it
            return self.decode(chunk)
        out: list[ir.Event] = []
        if type(d) is not dict:
            return out
        kind = d.get("type") or _TEXT_DELTA
        if kind == _TEXT_DELTA and type(delta := d.get("delta")) is str and delta:
            st = self._items.get(d.get("output_index", 0))
            part = st.parts.get(d.get("content_index", 0)) if st is not None else None
            if part is not None:
                part[1] = True
                return part[0], delta
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, d, out)
        return out

    def flush(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.flush():
            self._event(ev.event, ev.data, out, tail=True)
        if not self._done:
            self._done = True
            out.append(
                ir.Error(
                    "upstream stream closed before response.completed",
                    status=408,
                    type="server_error",
                    code="stream_incomplete",
                )
            )
        return out

    def _event(self, name: str | None, data: bytes, out: list[ir.Event], tail: bool = False) -> None:
        if self._done or not data.strip() or data == b"[DONE]":
            return
        try:
            d = orjson.loads(data)
        except orjson.JSONDecodeError:
            if tail:
                return  # an event cut by the end of the stream: reported as a cut below
            # a broken upstream (an HTML page, a proxy's text): never an empty success
            self._fail(
                {
                    "message": "upstream sent a stream event that is not JSON",
                    "type": "server_error",
                    "code": "bad_upstream_event",
                    "status": 502,
                },
                out,
            )
            return
        if not isinstance(d, dict):
            return
        handler = _HANDLERS.get(d.get("type") or name or "")
        if handler is not None:
            handler(self, d, out)

    def _open(self, out: list[ir.Event], kind: str, **kw: Any) -> int:
        index = self._next
        self._next += 1
        out.append(ir.BlockStart(index, kind, **kw))  # type: ignore[arg-type]
        return index

    def _item(self, d: dict[str, Any], kind: str) -> _Item:
        oi = d.get("output_index", 0)
        st = self._items.get(oi)
        if st is None:
            st = self._items[oi] = _Item(kind)
        return st

    # -- lifecycle

    def _on_created(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        if self._started:
            return
        self._started = True
        resp = d.get("response") or {}
        out.append(
            ir.StreamStart(
                id=str(resp.get("id") or ""),
                model=str(resp.get("model") or ""),
                created=int(resp.get("created_at") or 0),
            )
        )

    def _on_item_added(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        item = d.get("item") or {}
        itype = item.get("type")
        if itype == "reasoning":
            st = self._item(d, "reasoning")
            if st.done:  # another item where one ended: an upstream that numbers no items
                st = self._items[d.get("output_index", 0)] = _Item("reasoning")
            st.block = self._open(out, "thinking", id=item.get("id"), family="openai")
            st.sig = item.get("encrypted_content")
        elif itype in _CALL_TYPES:
            self._open_call(self._item(d, "call"), item, out)
        else:
            self._item(d, "message" if itype == "message" else "other")

    def _open_call(self, st: _Item, item: dict[str, Any], out: list[ir.Event]) -> None:
        key, kind = _CALL_TYPES.get(item.get("type", ""), ("arguments", "function"))
        name = item.get("name") or None
        st.cid = item.get("call_id") or st.cid
        if not name:  # held until named
            st.call = {**(st.call or {}), **{k: v for k, v in item.items() if v is not None}}
            if item.get(key) and not st.pending:
                st.pending = item[key]
            return
        self._has_calls = True
        st.named = True
        st.block = self._open(
            out,
            "tool_call",
            id=item.get("call_id"),
            name=long_name(name, self.request),
            tool_kind=kind,
            namespace=item.get("namespace"),
        )
        args = item.get(key) or st.pending
        st.pending = ""
        if args:
            st.sent = True
            st.args.append(args)
            out.append(ir.ToolArgsDelta(st.block, args))

    # -- message text

    def _text_part(self, d: dict[str, Any], out: list[ir.Event], refusal: bool = False) -> list[Any]:
        st = self._item(d, "message")
        ci = d.get("content_index", 0)
        part = st.parts.get(ci)
        if part is None:  # (a refusal part: a text block marked as one)
            index = self._open(out, "text", raw=ir.REFUSAL) if refusal else self._open(out, "text")
            part = st.parts[ci] = [index, False, True]
        return part

    def _on_part_added(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        if self._item(d, "message").kind != "message":
            return
        part = self._text_part(d, out, _is_refusal(d.get("part")))
        text = _part_text(d.get("part"))
        if text:
            part[1] = True
            out.append(ir.TextDelta(part[0], text))

    def _on_text_delta(self, d: dict[str, Any], out: list[ir.Event], refusal: bool = False) -> None:
        delta = d.get("delta")
        if delta:
            st = self._items.get(d.get("output_index", 0))  # the part seen before: found inline
            part = st.parts.get(d.get("content_index", 0)) if st is not None else None
            if part is None:
                part = self._text_part(d, out, refusal)
            part[1] = True
            out.append(ir.TextDelta(part[0], delta))

    def _on_refusal_delta(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        self._on_text_delta(d, out, True)

    def _on_text_done(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        part = self._text_part(d, out, "text" not in d and "refusal" in d)
        text = d.get("text") if "text" in d else d.get("refusal")
        if not part[1] and text:
            part[1] = True
            out.append(ir.TextDelta(part[0], text))

    def _on_part_done(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        if self._item(d, "message").kind != "message":
            return
        part = self._text_part(d, out, _is_refusal(d.get("part")))
        text = _part_text(d.get("part"))
        if not part[1] and text:
            part[1] = True
            out.append(ir.TextDelta(part[0], text))
        if part[2]:
            part[2] = False
            out.append(ir.BlockStop(part[0]))

    # -- tool calls

    def _call_block(self, d: dict[str, Any], out: list[ir.Event]) -> _Item:
        st = self._item(d, "call")
        if st.block is None and st.call is None:
            self._open_call(st, {"type": "function_call"}, out)
        return st

    def _on_args_delta(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        delta = d.get("delta")
        if delta:
            st = self._call_block(d, out)
            if st.block is None:
                st.pending += delta
                return
            st.sent = True
            st.args.append(delta)
            out.append(ir.ToolArgsDelta(st.block, delta))

    def _on_args_done(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._call_block(d, out)
        args = d.get("arguments") if "arguments" in d else d.get("input")
        if st.block is None:
            if args:
                st.pending = args
            return
        self._rest_of_args(st, args, out)

    def _rest_of_args(self, st: _Item, full: Any, out: list[ir.Event]) -> None:
        """What the call's whole arguments (a ``done`` event's, the terminal output's) add
        to the deltas sent so far: all of them when none was sent, the rest when the deltas
        stopped short of them (CPA hydrates such a call), nothing when they differ."""
        if not full or not isinstance(full, str):
            return
        if not st.sent:
            st.sent = True
            st.args.append(full)
            out.append(ir.ToolArgsDelta(st.block, full))  # type: ignore[arg-type]
            return
        sent = "".join(st.args) if len(st.args) != 1 else st.args[0]
        if len(full) > len(sent) and full.startswith(sent):
            st.args = [full]
            out.append(ir.ToolArgsDelta(st.block, full[len(sent) :]))  # type: ignore[arg-type]

    # -- reasoning

    def _reasoning(self, d: dict[str, Any], out: list[ir.Event]) -> _Item:
        st = self._item(d, "reasoning")
        if st.block is None:
            st.block = self._open(out, "thinking", id=d.get("item_id"), family="openai")
        return st

    def _on_summary_part(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._reasoning(d, out)
        st.part_sent = False
        if st.sent:
            out.append(ir.ThinkingDelta(st.block, "\n\n"))  # type: ignore[arg-type]

    def _on_thinking_delta(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        delta = d.get("delta")
        if delta:
            st = self._reasoning(d, out)
            st.sent = st.part_sent = True
            out.append(ir.ThinkingDelta(st.block, delta))  # type: ignore[arg-type]

    def _on_summary_done(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._reasoning(d, out)
        text = d.get("text")
        if not st.part_sent and text:
            st.sent = st.part_sent = True
            out.append(ir.ThinkingDelta(st.block, text))  # type: ignore[arg-type]

    # -- item done (also used to hydrate items from the terminal output)

    def _on_item_done(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        item = d.get("item") or {}
        itype = item.get("type")
        if itype == "message":
            self._message_done(d, item, out)
        elif itype == "reasoning":
            self._reasoning_done(d, item, out)
        elif itype in _CALL_TYPES:
            self._call_done(d, item, out)
            return
        elif isinstance(itype, str):
            st = self._item(d, "other")
            if not st.done:
                index = self._open(out, "server_tool", family="openai", raw=item)
                out.append(ir.BlockStop(index))
                for block in claude_web_search_blocks(item, self._searches):
                    index = self._open(out, "server_tool", family="claude", raw=block)
                    out.append(ir.BlockStop(index))
        self._item(d, "other").done = True

    def _message_done(self, d: dict[str, Any], item: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._item(d, "message")
        if st.done:
            return
        for ci, part in enumerate(item.get("content") or []):
            self._on_part_done(
                {"output_index": d.get("output_index", 0), "content_index": ci, "part": part}, out
            )
        for part in st.parts.values():
            if part[2]:
                part[2] = False
                out.append(ir.BlockStop(part[0]))

    def _reasoning_done(self, d: dict[str, Any], item: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._item(d, "reasoning")
        if st.done:
            return
        if st.block is None:
            st.block = self._open(out, "thinking", id=item.get("id"), family="openai")
        if not st.sent:
            text = "\n\n".join(s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict))
            if not text:
                text = "".join(c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict))
            if text:
                out.append(ir.ThinkingDelta(st.block, text))
        sig = item.get("encrypted_content") or st.sig
        if sig:
            out.append(ir.SignatureDelta(st.block, sig, "openai"))
        out.append(ir.BlockStop(st.block))

    def _by_call_id(self, d: dict[str, Any], item: dict[str, Any]) -> _Item:
        """The call item a ``done`` item belongs to: by ``call_id`` when one open call
        has it (``done`` events may omit ``output_index``; the terminal ``output`` is
        numbered differently), else by ``output_index``."""
        cid = item.get("call_id")
        if cid:
            for st in self._items.values():
                if st.kind == "call" and st.cid == cid:
                    return st
        return self._item(d, "call")

    def _call_done(self, d: dict[str, Any], item: dict[str, Any], out: list[ir.Event]) -> None:
        st = self._by_call_id(d, item)
        if st.done:
            return
        st.done = True
        if st.block is None:
            if st.call is not None:
                item = {**st.call, **{k: v for k, v in item.items() if v}}
            self._open_call(st, item, out)
            if st.block is None:
                return  # still nameless: dropped (CPA)
        elif not st.named and item.get("name"):
            st.named = True
            out.append(
                ir.BlockStart(
                    st.block,
                    "tool_call",
                    id=item.get("call_id"),
                    name=long_name(item["name"], self.request),
                    namespace=item.get("namespace"),
                )
            )
        self._rest_of_args(st, item.get(_CALL_TYPES[item["type"]][0]), out)
        out.append(ir.BlockStop(st.block))

    # -- terminal events

    def _on_terminal(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        resp = d.get("response") or {}
        for i, item in enumerate(resp.get("output") or []):
            if isinstance(item, dict):
                self._on_item_done({"output_index": i, "item": item}, out)
        self._close_open(out)
        self._done = True
        stop = stop_of(
            resp.get("status") or ("incomplete" if d.get("type") == wire.INCOMPLETE else "completed"),
            resp.get("incomplete_details"),
            self._has_calls,
        )
        seq = resp.get("stop_sequence")
        if isinstance(seq, str) and seq and stop == "end_turn":
            out.append(ir.StreamEnd("stop_sequence", wire.usage_from_wire(resp.get("usage")), seq))
            return
        out.append(ir.StreamEnd(stop, wire.usage_from_wire(resp.get("usage"))))

    def _close_open(self, out: list[ir.Event]) -> None:
        for st in self._items.values():
            if st.done:
                continue
            st.done = True
            for part in st.parts.values():
                if part[2]:
                    part[2] = False
                    out.append(ir.BlockStop(part[0]))
            if st.block is not None:
                out.append(ir.BlockStop(st.block))

    def _on_failed(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        resp = d.get("response") or {}
        err = resp.get("error") or d.get("error") or {}
        self._fail(err if isinstance(err, dict) else {"message": str(err)}, out)

    def _on_error(self, d: dict[str, Any], out: list[ir.Event]) -> None:
        err = d.get("error")
        err = dict(err) if isinstance(err, dict) else dict(d)
        if not err.get("type") and isinstance(d.get("error_type"), str):
            err["type"] = d["error_type"]  # CPA's fallback when the error object is empty
        self._fail(err, out)

    def _fail(self, err: dict[str, Any], out: list[ir.Event]) -> None:
        self._done = True
        code = err.get("code")
        etype = err.get("type")
        if etype == "invalid_request" or code == "cyber_policy":
            # a policy refusal of this request: the client's fault, never a 5xx (CPA)
            err = {**err, "type": "invalid_request_error", "status": 400}
            etype = "invalid_request_error"
        message = err.get("message") or code or etype or "upstream stream failed"
        out.append(
            ir.Error(
                str(message),
                status=wire.error_status(err),
                type=str(etype) if etype else None,
                code=str(code) if code else None,
                retry_after=wire.usage_reset(err, time.time()) if etype == "usage_limit_reached" else None,
            )
        )


def _is_refusal(part: Any) -> bool:
    return type(part) is dict and part.get("type") == "refusal"


def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    text = part.get("text")
    if text is None:
        text = part.get("refusal")
    return text if isinstance(text, str) else ""


# the event handlers, as plain functions: a table of bound methods on each instance would
# be a reference cycle per stream (left to the garbage collector), and its making a cost
_HANDLERS: dict[str, Callable[[ResponsesDecoder, dict[str, Any], list[ir.Event]], None]] = {
    "response.created": ResponsesDecoder._on_created,
    "response.in_progress": ResponsesDecoder._on_created,
    "response.output_item.added": ResponsesDecoder._on_item_added,
    "response.output_item.done": ResponsesDecoder._on_item_done,
    "response.content_part.added": ResponsesDecoder._on_part_added,
    "response.content_part.done": ResponsesDecoder._on_part_done,
    "response.output_text.delta": ResponsesDecoder._on_text_delta,
    "response.refusal.delta": ResponsesDecoder._on_refusal_delta,
    "response.output_text.done": ResponsesDecoder._on_text_done,
    "response.refusal.done": ResponsesDecoder._on_text_done,
    "response.function_call_arguments.delta": ResponsesDecoder._on_args_delta,
    "response.custom_tool_call_input.delta": ResponsesDecoder._on_args_delta,
    "response.function_call_arguments.done": ResponsesDecoder._on_args_done,
    "response.custom_tool_call_input.done": ResponsesDecoder._on_args_done,
    "response.reasoning_summary_part.added": ResponsesDecoder._on_summary_part,
    "response.reasoning_summary_text.delta": ResponsesDecoder._on_thinking_delta,
    "response.reasoning_text.delta": ResponsesDecoder._on_thinking_delta,
    "response.reasoning_summary_text.done": ResponsesDecoder._on_summary_done,
    "response.completed": ResponsesDecoder._on_terminal,
    "response.incomplete": ResponsesDecoder._on_terminal,
    "response.failed": ResponsesDecoder._on_failed,
    "error": ResponsesDecoder._on_error,
}
