"""Gemini stream (either framing) -> IR events.

The framing is sniffed from the first non-space byte: ``[`` (or ``{``) is the JSON-array
stream of ``streamGenerateContent`` without ``alt``; anything else is ``alt=sse``. Each
chunk carries whole parts: consecutive text parts continue one text block, thought parts
one thinking block (a signature on a later part becomes a ``SignatureDelta``), and each
functionCall is a complete tool-call block. Any other part (inline media included) is a
``server_tool`` block holding the part whole: a Gemini client gets it back as it came, a
Chat client an image as ``images``, other formats skip it. The finish reason is held until ``flush`` (Gemini has no terminator).
Claude Code's web search through Antigravity has a decoder of its own
(:class:`WebSearchStreamDecoder`; :func:`stream_decoder` picks it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats import gemini as wire
from cliproxy.formats.ids import token_hex
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import FAMILY, gateway_id
from cliproxy.translate.gemini.response import CallIds
from cliproxy.translate.gemini.web_search import answer_text, asks_web_search, search_blocks

__all__ = ["GeminiStreamDecoder", "WebSearchStreamDecoder", "stream_decoder"]


class GeminiStreamDecoder(StreamDecoder):
    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._names = NameMap(request.tools if request else None)
        self._ids = CallIds()
        self._mode: str | None = None
        self._sse = SSEDecoder()
        self._array = wire.JSONArraySplitter()
        self._started = False
        self._failed = False
        self._next = 0
        self._open: str | None = None  # kind of the open block
        self._signed = False  # the open thinking block has its signature
        self._last = ""  # the kind of the last part with content: "text" (a thought too), "function"
        self._finish: str | None = None
        self._blocked: str | None = None
        self._has_call = False
        self._usage: ir.Usage | None = None
        self._meta: Any = None  # the last usageMetadata read (a chunk's own, never changed)
        # each parsed chunk's envelope taken off (``unwrapping``; a provider's method, never
        # one of this decoder's own: that would be a reference cycle)
        self._unwrap: Callable[[Any], Any] | None = None

    def unwrapping(self, unwrap: Callable[[Any], Any]) -> bool:
        self._unwrap = unwrap
        return True

    # ---- framing

    def decode(self, chunk: bytes) -> list[ir.Event]:
        if self._mode is None:
            head = chunk.lstrip()
            if not head:
                return []
            self._mode = "array" if head[:1] in (b"[", b"{") else "sse"
        out: list[ir.Event] = []
        if self._mode == "array":
            unwrap = self._unwrap
            for obj in self._array.feed_parsed(chunk):
                self._chunk(obj if unwrap is None else unwrap(obj), out)
        else:
            frame = self._frame
            for data in self._sse.decode_data(chunk):
                frame(data, out)
        return out

    def flush(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        if self._mode == "sse":
            for ev in self._sse.flush():
                self._frame(ev.data, out)
        if self._failed:
            return out
        if self._mode == "array" and (self._array.pending or not (self._array.closed or self._finish)):
            self._close(out)
            out.append(ir.Error("upstream stream was cut in the middle of a chunk", status=502))
            return out
        if not self._started:  # an empty body, or one with no event in it (an HTML page)
            out.append(ir.Error("upstream stream ended before any chunk", status=502))
            return out
        self._start(out, {})
        self._close(out)
        stop = "content_filter" if self._blocked else wire.stop_reason_of(self._finish, self._has_call)
        raw = self._blocked or self._finish
        out.append(
            ir.StreamEnd(stop or "end_turn", usage=self._usage, extras={"stop_raw": raw} if raw else None)
        )
        return out

    # ---- chunks

    def _frame(self, data: bytes, out: list[ir.Event]) -> None:
        if self._failed or not data.strip() or data == b"[DONE]":
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            obj = None
        else:
            if self._unwrap is not None:
                obj = self._unwrap(obj)
        self._chunk(obj, out)

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        """:meth:`decode`, except that a chunk of one more piece of the open text block,
        with nothing else new (Google repeats the usage known so far on every chunk: the
        same again is nothing new), comes back as ``(block index, text)``, as :meth:`_chunk`
        would read it but with no event made."""
        if self._open != "text" or self._mode != "sse":
            return self.decode(chunk)
        found = self._sse.decode_data(chunk)
        out: list[ir.Event] = []
        if len(found) != 1:
            for data in found:
                self._frame(data, out)
            return out
        data = found[0]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:  # a keep-alive, [DONE] or a broken frame
            self._frame(data, out)
            return out
        if self._unwrap is not None:
            obj = self._unwrap(obj)
        if type(obj) is dict and "error" not in obj and "promptFeedback" not in obj:
            cands = obj.get("candidates")
            if (
                type(cands) is list
                and cands
                and type(cand := cands[0]) is dict
                and "finishReason" not in cand
            ):
                content = cand.get("content")
                parts = content.get("parts") if type(content) is dict else None
                if (
                    type(parts) is list
                    and len(parts) == 1
                    and type(part := parts[0]) is dict
                    and len(part) == 1
                    and type(text := part.get("text")) is str
                    and text
                    and ((meta := obj.get("usageMetadata")) is None or meta == self._meta)
                ):
                    return self._next - 1, text
        self._chunk(obj, out)
        return out

    def _chunk(self, obj: Any, out: list[ir.Event]) -> None:
        if self._failed:
            return
        if not isinstance(obj, dict):
            self._fail(out, ir.Error("upstream sent a chunk that is not a JSON object", status=502))
            return
        if "error" in obj and obj["error"] is not None:  # (``in``: no call for the common chunk)
            self._fail(out, _error_event(obj["error"]))
            return
        if not self._started:
            self._start(out, obj)
        cands = obj.get("candidates")
        if cands and isinstance(cands[0], dict):
            cand = cands[0]
            for part in (cand.get("content") or {}).get("parts") or ():
                if isinstance(part, dict):
                    if self._open == "text" and len(part) == 1 and type(text := part.get("text")) is str:
                        if text:  # the common part: more text for the open text block
                            out.append(ir.TextDelta(self._next - 1, text))
                    else:
                        self._part(part, out)
            if "finishReason" in cand:
                self._finish = cand["finishReason"] or self._finish
        if "promptFeedback" in obj:
            feedback = obj["promptFeedback"]
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                self._blocked = feedback["blockReason"]
        meta = obj.get("usageMetadata")
        # Google repeats the usage known so far on every chunk: a copy of the last one (one
        # compare in C) is not read again
        if meta is not None and meta != self._meta and isinstance(meta, dict):
            self._meta = meta
            usage = wire.usage_from_metadata(meta)
            if usage != self._usage:
                self._usage = usage
                out.append(ir.UsageEvent(usage))

    def _fail(self, out: list[ir.Event], error: ir.Error) -> None:
        self._close(out)
        self._failed = True
        out.append(error)

    def _start(self, out: list[ir.Event], obj: dict[str, Any]) -> None:
        if self._started:
            return
        self._started = True
        rid = obj.get("responseId") or f"resp-{token_hex(8)}"
        model = obj.get("modelVersion") or (self.request.model if self.request else "")
        out.append(ir.StreamStart(id=rid, model=model))

    # ---- blocks

    def _open_block(self, kind: str, out: list[ir.Event], **fields: Any) -> int:
        self._close(out)
        index = self._next
        self._next += 1
        out.append(ir.BlockStart(index, kind, **fields))  # type: ignore[arg-type]
        self._open = kind
        self._signed = False
        return index

    def _close(self, out: list[ir.Event]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._next - 1))
            self._open = None

    def _part(self, part: dict[str, Any], out: list[ir.Event]) -> None:
        sig = part.get("thoughtSignature") or part.get("thought_signature")
        text = part.get("text")
        if part.get("thought") is True:
            self._thinking(text, sig, out)
        elif isinstance(text, str):
            self._text(text, sig, out)
        elif isinstance(fc := part.get("functionCall") or part.get("function_call"), dict):
            self._call(fc, sig, out)
        elif sig and not (part.keys() - {"thoughtSignature", "thought_signature"}):
            self._signature(sig, out, self._after())
        else:
            self._open_block("server_tool", out, family=FAMILY, raw=part)
            self._close(out)

    def _thinking(self, text: Any, sig: str | None, out: list[ir.Event]) -> None:
        if not (isinstance(text, str) and text):  # nothing to show: only its signature counts
            if sig:
                self._signature(sig, out, self._after())
            return
        if self._open != "thinking" or self._signed:  # a signed thought is done: a new one starts
            self._open_block("thinking", out)
        index = self._next - 1
        out.append(ir.ThinkingDelta(index, text))
        self._last = "text"
        if sig:
            out.append(ir.SignatureDelta(index, sig, FAMILY))
            self._signed = True

    def _after(self) -> str:
        """The anchor of a signature-only part: the part with content before it, else the
        one after it (CPA)."""
        return f"previous:{self._last}" if self._last else "next:any"

    def _signature(self, sig: str, out: list[ir.Event], anchor: str) -> None:
        """A signature on a part that is not a thought with text: it signs the unsigned
        thought open before it (as CPA; a thought's own when only the signature came after
        it, else the part's it came on), or a thinking block of its own holds it with its
        ``anchor`` (a signature is never written over: CPA keeps both)."""
        if self._open == "thinking" and not self._signed:
            out.append(ir.SignatureDelta(self._next - 1, sig, FAMILY, None if anchor[0] == "p" else anchor))
        else:
            self._open_block("thinking", out)
            out.append(ir.SignatureDelta(self._next - 1, sig, FAMILY, anchor))
        self._signed = True

    def _text(self, text: str, sig: str | None, out: list[ir.Event]) -> None:
        if not text:
            if sig:
                self._signature(sig, out, self._after())
            return
        if sig:
            self._signature(sig, out, "next:text")
        self._last = "text"
        if self._open != "text":
            self._open_block("text", out)
        out.append(ir.TextDelta(self._next - 1, text))
        if sig:  # the signed part stays a block of its own, so its signature finds it again
            self._close(out)

    def _call(self, fc: dict[str, Any], sig: str | None, out: list[ir.Event]) -> None:
        gname, call_id, args = fc.get("name"), fc.get("id"), fc.get("args")
        if not isinstance(gname, str):
            gname = ""
        if not isinstance(call_id, str) or not call_id:
            call_id = gateway_id(fc) or self._ids.next(gname)
        if not isinstance(args, dict):
            args = {}
        name, namespace = self._names.from_gemini(gname)
        custom = self._names.is_custom(gname)
        if custom:
            delta = self._names.custom_input(args)
        else:
            delta = orjson.dumps(args).decode()
        index = self._open_block(
            "tool_call",
            out,
            id=call_id,
            name=name,
            namespace=namespace,
            tool_kind="custom" if custom else "function",
            signature=sig,
            family=FAMILY if sig else None,
        )
        out.append(ir.ToolArgsDelta(index, delta))
        self._close(out)
        self._has_call = True
        self._last = "function"


class WebSearchStreamDecoder(GeminiStreamDecoder):
    """The stream of Claude Code's web search through Antigravity
    (:func:`~cliproxy.translate.gemini.web_search.asks_web_search`): the answer's text
    (of parts that are neither thoughts nor calls; those are left out) is held until a
    chunk brings the search's ``groundingMetadata``, then goes out, with that chunk's
    text, as Claude's web search blocks: ``server_tool_use``, ``web_search_tool_result``
    and the cited text blocks (their citations in ``BlockStart.raw``), and the stream's
    usage counts one search. Chunks after it are read as any Gemini stream's. A stream
    that ends without grounding gives what it held as one text block (CPA)."""

    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._held: list[str] = []
        self._searched = False

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        # the text fast path would hand text over before the search
        return super().decode_delta(chunk) if self._searched else self.decode(chunk)

    def flush(self) -> list[ir.Event]:
        out = super().flush()
        end = out[-1] if out else None
        if type(end) is not ir.StreamEnd:  # failed: what was held goes with the stream
            return out
        if self._searched:
            end.usage = dataclasses.replace(end.usage or ir.Usage(), web_search_requests=1)
        elif held := "".join(self._held):
            out.pop()
            self._emit([ir.Text(held)], out)
            out.append(end)
        return out

    def _chunk(self, obj: Any, out: list[ir.Event]) -> None:
        cands = obj.get("candidates") if type(obj) is dict else None
        if (
            self._searched
            or self._failed
            or type(cands) is not list
            or obj.get("error") is not None  # (a dict: it has candidates)
            or not cands
            or type(cand := cands[0]) is not dict
        ):
            super()._chunk(obj, out)
            return
        self._start(out, obj)
        self._held.append(answer_text(cand))
        grounding = cand.get("groundingMetadata")
        if type(grounding) is dict:
            self._searched = True
            text = "".join(self._held)
            self._held = []
            self._emit(search_blocks(text, grounding), out)
        # the rest of the chunk (finish reason, usage...) as usual, its parts taken
        rest = {k: v for k, v in cand.items() if k != "content"}
        super()._chunk({**obj, "candidates": [rest, *cands[1:]]}, out)

    def _emit(self, blocks: list[ir.Block], out: list[ir.Event]) -> None:
        for b in blocks:
            if isinstance(b, ir.ServerTool):
                self._open_block("server_tool", out, family=b.family, raw=b.raw)
            elif isinstance(b, ir.Text):
                raw = {"citations": b.citations} if b.citations else None
                out.append(ir.TextDelta(self._open_block("text", out, raw=raw), b.text))
            self._close(out)


def stream_decoder(request: ir.Request | None = None) -> GeminiStreamDecoder:
    """The decoder of a Gemini stream answering ``request``: Claude Code's web search has
    its own (:class:`WebSearchStreamDecoder`)."""
    # (the first tool of most requests is a function: one test, no call)
    if (
        request is not None
        and (tools := request.tools)
        and tools[0].kind == "builtin"
        and asks_web_search(request)
    ):
        return WebSearchStreamDecoder(request)
    return GeminiStreamDecoder(request)


def _error_event(err: Any) -> ir.Error:
    if not isinstance(err, dict):
        return ir.Error(str(err), status=502)
    code = err.get("code")
    return ir.Error(
        str(err.get("message") or "upstream error"),
        status=code if isinstance(code, int) and code >= 400 else 500,
        type=err.get("status") if isinstance(err.get("status"), str) else None,
    )
