"""IR events -> the Responses API stream, event for event as the real API sends it.

``response.created`` and ``response.in_progress`` open the stream; each IR block
becomes one output item (text -> message with one output_text part, thinking ->
reasoning with one summary part, empty or not, tool call -> function_call /
custom_tool_call; a Gemini image part -> a whole image_generation_call item, then the
reasoning item carrying it when it is signed); text blocks with only hidden blocks between
them (another family's server tools) are one message, as CPA aggregates them;
a text block's citations (another family's: Claude's ``citations_delta``, an Antigravity
search's) that name a web page become ``url_citation`` annotations spanning that block's
text in the part, each announced by ``response.output_text.annotation.added`` when the block
ends, as the whole answer writes them;
``response.completed`` (or ``response.incomplete`` / ``response.failed``) closes it
with the whole response object. Every event carries ``type`` and a
``sequence_number`` counting from 0. Each snapshot names the forced ``model``, else the
upstream's, else ``unnamed`` (a Codex-format upstream's stream naming none, e.g. xAI's:
the client's model, as CPA's Codex to Responses translator fills it).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from cliproxy.formats import openai_responses as wire
from cliproxy.formats.sse import frame
from cliproxy.formats.stream_errors import safe_error
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamEncoder
from cliproxy.translate.carriers import call_carrier, carrier_of, part_carrier
from cliproxy.translate.citations import url_citations
from cliproxy.translate.openai_responses.response import (
    base_response,
    call_item,
    image_call_item,
    instructions_of,
    output_item,
    response_id,
    shown_image,
    terminal_status,
    text_part,
)

__all__ = ["ResponsesEncoder"]

_ERROR_CODES = {429: "rate_limit_exceeded"}
_DELTAS = (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)


class _Block:
    __slots__ = (
        "anchor",
        "buf",
        "cites",
        "family",
        "head",
        "item",
        "kind",
        "mark",
        "notes",
        "oi",
        "refusal",
        "sig",
        "skip",
        "tail",
    )

    def __init__(self, kind: str, item: dict[str, Any], oi: int) -> None:
        self.kind = kind
        self.item = item
        self.oi = oi
        self.buf: list[str] = []
        self.sig: str | None = None
        self.family: str | None = None
        self.anchor: str | None = None
        self.skip = False
        self.refusal = False  # a text block that is the model's refusal: a ``refusal`` part
        self.head = b""  # the block's delta frame up to the delta's value, built at its first delta
        self.tail = b""  # what follows the value, up to the sequence number
        self.mark = 0  # text: where in ``buf`` the upstream block now open began
        self.cites: list[Any] | None = None  # text: that block's citations
        self.notes: list[dict[str, Any]] = []  # text: the part's annotations so far


def _delta_template(etype: str, fields: dict[str, Any], tail: bytes) -> tuple[bytes, bytes]:
    """A delta frame's constant parts: ``head + dumps(delta) + tail + seq + b"}\\n\\n"`` is the
    bytes ``frame(etype, dumps({"type": etype, **fields, "delta": delta, ..., "sequence_number": seq}))``."""
    body = orjson.dumps({"type": etype, **fields})
    return frame(etype, body[:-1] + b',"delta":')[:-2], tail + b',"sequence_number":'


class ResponsesEncoder(StreamEncoder):
    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        super().__init__(request, model)
        self._seq = 0
        self._resp: dict[str, Any] | None = None
        self._output: list[dict[str, Any]] = []
        self._block: _Block | None = None
        self._text: _Block | None = None  # a finished text block whose message is still open
        # the reasoning item just done carries a Gemini signature of the text after it: that
        # text is a message of its own, so the signature finds the same text again
        self._signs_next = False
        self._cut: _Block | None = None  # a call the answer was cut inside (see _block_stop)
        self._usage: ir.Usage | None = None
        self._n = 0
        self._done = False

    # -- framing

    def _emit(self, etype: str, payload: dict[str, Any]) -> bytes:
        data = {"type": etype, **payload, "sequence_number": self._seq}
        self._seq += 1
        return frame(etype, orjson.dumps(data))

    def _new_id(self, prefix: str) -> str:
        self._n += 1
        rid = self._resp["id"] if self._resp else "resp_"
        return f"{prefix}_{rid[5:]}{self._n:03d}"

    # -- events

    def encode(self, event: ir.Event) -> bytes:
        if self._done:
            return b""
        if isinstance(event, _DELTAS):
            return self._delta(event)
        if isinstance(event, ir.StreamStart):
            return self._start(event.id, event.model, event.created)
        head = b"" if self._resp is not None else self._start("", "", 0)
        if isinstance(event, ir.BlockStart):
            return head + self._block_start(event)
        if isinstance(event, ir.BlockStop):
            return head + self._block_stop(event.cut)
        if isinstance(event, ir.CitationDelta):
            b = self._block
            if b is not None and b.kind == "text" and not b.refusal:
                b.cites = [*(b.cites or ()), event.citation]
            return head
        if isinstance(event, ir.SignatureDelta):
            if self._block is not None:
                self._block.sig, self._block.family = event.signature, event.family
                self._block.anchor = event.anchor
            return head
        if isinstance(event, ir.UsageEvent):
            self._usage = event.usage
            return head
        if isinstance(event, ir.StreamEnd):
            return head + self._end(event.stop_reason, event.usage)
        if isinstance(event, ir.Error):
            return head + self._fail(event)
        return head

    def flush(self) -> bytes:
        if self._done or self._resp is None:
            return b""
        return self._block_stop() + self._end("end_turn", None)

    def resume(self) -> None:
        # the client already has the stream's response.created: what follows (a pass-through
        # stream's failure) ends that response and must not open a second one
        if self._resp is None:
            self._resp = base_response(
                response_id(None), self.model or self.unnamed or "", int(time.time()), self.request
            )

    def _start(self, rid: str, model: str, created: int) -> bytes:
        if self._resp is not None:
            return b""
        self._resp = base_response(
            response_id(rid or None),
            self.model or model or self.unnamed or "",
            created or int(time.time()),
            self.request,
        )
        snap = dict(self._resp)
        out = self._emit("response.created", {"response": snap})
        return out + self._emit("response.in_progress", {"response": snap})

    def _block_start(self, ev: ir.BlockStart) -> bytes:
        out = self._block_stop()
        signed, self._signs_next = self._signs_next, False
        refusal = ev.kind == "text" and ir.is_refusal(ev.raw)
        if (
            ev.kind == "text"
            and self._text is not None
            and not signed
            and self._text.anchor is None
            and self._text.refusal is refusal
        ):
            # text blocks split only by hidden blocks (another family's server tools)
            # are one message, as CPA aggregates them until message_stop
            b, self._text = self._text, None
            self._block = b
            b.mark = len(b.buf)
            b.cites = None if ev.raw is None else _raw_citations(ev)
            return out
        if not _hidden(ev):
            out += self._close_text()
        oi = len(self._output)
        if ev.kind == "text":
            item = output_item("message", self._new_id("msg"))
            item["status"] = "in_progress"
            b = self._block = _Block("text", item, oi)
            if signed:
                b.anchor = "signed"
            b.refusal = refusal
            b.cites = None if refusal or ev.raw is None else _raw_citations(ev)
            part = {"type": "refusal", "refusal": ""} if refusal else text_part("")
            out += self._emit("response.output_item.added", {"output_index": oi, "item": _open_copy(item)})
            return out + self._emit(
                "response.content_part.added",
                {"item_id": item["id"], "output_index": oi, "content_index": 0, "part": part},
            )
        if ev.kind == "thinking":
            item = output_item("reasoning", ev.id if ev.id and ev.family == "openai" else self._new_id("rs"))
            self._block = _Block("thinking", item, oi)
            return out + self._emit("response.output_item.added", {"output_index": oi, "item": dict(item)})
        if ev.kind == "tool_call":
            out += self._call_carrier(ev)
            oi = len(self._output)
            item = call_item(
                ev.tool_kind,
                self._new_id("fc" if ev.tool_kind == "function" else "ctc"),
                ev.id or self._new_id("call"),
                ev.name or "",
                ev.namespace,
                "",
                self.request,
            )
            item["status"] = "in_progress"
            self._block = _Block("tool_call", item, oi)
            return out + self._emit("response.output_item.added", {"output_index": oi, "item": dict(item)})
        image = shown_image(ev) if ev.kind == "server_tool" else None
        if ev.kind == "redacted_thinking" or _signed_part(ev) or image is not None:
            self._block = _Block("other", {}, oi)
            self._block.skip = True
            if image is not None:  # a Gemini image model's picture, to be seen
                out += self._image_call(image)
            return out + self._call_carrier(ev)
        b = self._block = _Block("other", ev.raw or {}, oi)
        b.skip = ev.kind != "server_tool" or ev.family != "openai" or not ev.raw
        if b.skip:
            return out
        return out + self._emit("response.output_item.added", {"output_index": oi, "item": ev.raw})

    def _call_carrier(self, ev: ir.BlockStart) -> bytes:
        """A Gemini call signature as a whole reasoning item before the call, or a Claude
        redacted block as a reasoning item of its own (CPA's carriers)."""
        if ev.kind == "redacted_thinking":
            value = carrier_of(ev.signature, ev.family, redacted=True)
            carrier = {"type": "reasoning", "summary": [], "encrypted_content": value} if value else None
        elif ev.kind == "server_tool":  # a signed Gemini image part, carried whole
            value = part_carrier(ev.raw or {})
            carrier = {"type": "reasoning", "summary": [], "encrypted_content": value} if value else None
        else:
            carrier = call_carrier(ev.signature, ev.family)
        if carrier is None:
            return b""
        item = {"id": self._new_id("rs"), **carrier}
        oi = len(self._output)
        self._output.append(item)
        out = self._emit("response.output_item.added", {"output_index": oi, "item": item})
        return out + self._emit("response.output_item.done", {"output_index": oi, "item": item})

    def _image_call(self, image: ir.Image) -> bytes:
        """A whole ``image_generation_call`` item, with the events OpenAI's image tool sends."""
        item = image_call_item(image, self._new_id("ig"))
        oi = len(self._output)
        self._output.append(item)
        opened = {**item, "status": "in_progress", "result": None}
        out = self._emit("response.output_item.added", {"output_index": oi, "item": opened})
        for step in ("in_progress", "generating", "completed"):
            out += self._emit(
                f"response.image_generation_call.{step}", {"output_index": oi, "item_id": item["id"]}
            )
        return out + self._emit("response.output_item.done", {"output_index": oi, "item": item})

    def text(self, index: int, text: str) -> bytes:
        b = self._block
        if self._done or b is None or b.skip or b.kind != "text" or not text:
            return super().text(index, text)  # (nothing, or what _delta makes of it)
        return self._text_delta(b, text)

    def _text_delta(self, b: _Block, text: str) -> bytes:
        """An ``output_text.delta`` of the open text block (its frame's constant parts made once)."""
        b.buf.append(text)
        if not b.head:
            b.head, b.tail = _delta_template(
                "response.refusal.delta" if b.refusal else "response.output_text.delta",
                {"item_id": b.item["id"], "output_index": b.oi, "content_index": 0},
                b"" if b.refusal else b',"logprobs":[]',
            )
        seq = self._seq  # _fast, inline for the common delta
        self._seq = seq + 1
        return b"%s%s%s%d}\n\n" % (b.head, orjson.dumps(text), b.tail, seq)

    def _delta(self, ev: ir.TextDelta | ir.ThinkingDelta | ir.ToolArgsDelta) -> bytes:
        b = self._block
        if b is None or b.skip:
            return b""
        text = ev.delta if isinstance(ev, ir.ToolArgsDelta) else ev.text
        if not text:
            return b""
        if b.kind == "text":
            return self._text_delta(b, text)
        if b.kind == "thinking":
            out = b""
            if not b.buf:
                out = self._emit(
                    "response.reasoning_summary_part.added",
                    {
                        "item_id": b.item["id"],
                        "output_index": b.oi,
                        "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""},
                    },
                )
            b.buf.append(text)
            if not b.head:
                b.head, b.tail = _delta_template(
                    "response.reasoning_summary_text.delta",
                    {"item_id": b.item["id"], "output_index": b.oi, "summary_index": 0},
                    b"",
                )
            return out + self._fast(b, text)
        if b.kind == "tool_call":
            b.buf.append(text)
            if not b.head:
                etype = (
                    "response.function_call_arguments.delta"
                    if b.item["type"] == "function_call"
                    else "response.custom_tool_call_input.delta"
                )
                b.head, b.tail = _delta_template(etype, {"item_id": b.item["id"], "output_index": b.oi}, b"")
            return self._fast(b, text)
        return b""

    def _fast(self, b: _Block, delta: str) -> bytes:
        """One delta frame from its block's template (see ``_delta_template``)."""
        seq = self._seq
        self._seq += 1
        return b"%s%s%s%d}\n\n" % (b.head, orjson.dumps(delta), b.tail, seq)

    def _block_stop(self, cut: bool = False) -> bytes:
        b = self._block
        if b is None:
            return b""
        self._block = None
        if b.skip:
            return b""
        if cut and b.kind == "tool_call":
            # an answer cut inside a call: done (incomplete) at a response.incomplete end,
            # never at a failure (a client would run it with partial arguments)
            self._cut = b
            return b""
        if b.kind == "text":
            self._text = b  # closed by the next visible block or the end
            return self._annotate(b) if b.cites else b""
        if b.kind == "thinking":
            out = self._thinking_done(b)
        elif b.kind == "tool_call":
            out = self._call_done(b, cut)
        else:
            out = b""
        self._output.append(b.item)
        return out + self._emit("response.output_item.done", {"output_index": b.oi, "item": b.item})

    def _annotate(self, b: _Block) -> bytes:
        """The ``url_citation`` annotations of the upstream text block just ended (the part
        may hold several: each spans its own block's text)."""
        start = sum(map(len, b.buf[: b.mark]))
        notes = url_citations(b.cites, start, start + sum(map(len, b.buf[b.mark :])))
        b.cites = None
        out = b""
        for note in notes or ():
            ids = {"item_id": b.item["id"], "output_index": b.oi, "content_index": 0}
            out += self._emit(
                "response.output_text.annotation.added",
                {**ids, "annotation_index": len(b.notes), "annotation": note},
            )
            b.notes.append(note)
        return out

    def _close_text(self, status: str = "completed") -> bytes:
        b, self._text = self._text, None
        if b is None:
            return b""
        out = self._text_done(b, status)
        self._output.append(b.item)
        return out + self._emit("response.output_item.done", {"output_index": b.oi, "item": b.item})

    def _text_done(self, b: _Block, status: str = "completed") -> bytes:
        text = "".join(b.buf)
        part = {"type": "refusal", "refusal": text} if b.refusal else text_part(text, b.notes)
        b.item["content"] = [part]
        b.item["status"] = status
        ids = {"item_id": b.item["id"], "output_index": b.oi, "content_index": 0}
        if b.refusal:
            out = self._emit("response.refusal.done", {**ids, "refusal": text})
        else:
            out = self._emit("response.output_text.done", {**ids, "text": text, "logprobs": []})
        return out + self._emit("response.content_part.done", {**ids, "part": part})

    def _thinking_done(self, b: _Block) -> bytes:
        text = "".join(b.buf)
        part = {"type": "summary_text", "text": text}
        ids = {"item_id": b.item["id"], "output_index": b.oi, "summary_index": 0}
        out = b""
        if not b.buf:  # an empty reasoning block still has its one (empty) summary part (CPA)
            out = self._emit("response.reasoning_summary_part.added", {**ids, "part": dict(part)})
        out += self._emit("response.reasoning_summary_text.done", {**ids, "text": text})
        out += self._emit("response.reasoning_summary_part.done", {**ids, "part": part})
        b.item["summary"] = [part]
        carrier = carrier_of(b.sig, b.family, anchor=b.anchor)
        if carrier is not None:  # Claude / Gemini artifacts ride along as CPA carries them
            b.item["encrypted_content"] = carrier
            self._signs_next = b.family == "gemini" and b.anchor is not None and b.anchor[0] == "n"
        return out

    def _call_done(self, b: _Block, cut: bool = False) -> bytes:
        args = "".join(b.buf)
        item = b.item
        item["status"] = "incomplete" if cut else "completed"
        ids = {"item_id": item["id"], "output_index": b.oi}
        if item["type"] == "function_call":
            item["arguments"] = args
            return self._emit(
                "response.function_call_arguments.done", {**ids, "name": item["name"], "arguments": args}
            )
        item["input"] = args
        return self._emit("response.custom_tool_call_input.done", {**ids, "input": args})

    # -- terminal

    def _final(self, status: str) -> dict[str, Any]:
        resp = dict(self._resp or {})
        resp["status"] = status
        resp["output"] = self._output
        return resp

    def _end(self, stop: ir.StopReason | None, usage: ir.Usage | None) -> bytes:
        status, details = terminal_status(stop)
        if status == "failed":
            status, details = "completed", None
        out = self._block_stop() + self._close_text(status)  # a cut answer's text: incomplete
        cut, self._cut = self._cut, None
        if cut is not None:
            out += self._call_done(cut, True)
            self._output.append(cut.item)
            out += self._emit("response.output_item.done", {"output_index": cut.oi, "item": cut.item})
        self._done = True
        resp = self._final(status)
        resp["incomplete_details"] = details
        resp["instructions"] = instructions_of(self.request)
        if (usage := usage or self._usage) is not None:
            resp["usage"] = wire.usage_to_wire(usage)
        else:  # the upstream counted nothing: no made-up zeros (CPA leaves it out)
            resp.pop("usage", None)
        etype = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._emit(etype, {"response": resp})

    def _fail(self, ev: ir.Error) -> bytes:
        self._cut = None  # a call the failure cut: never done, never in the output
        out = self._block_stop() + self._close_text()
        self._done = True
        resp = self._final("failed")
        code = ev.code or _ERROR_CODES.get(ev.status, "server_error")
        resp["error"] = safe_error({"code": code, "message": ev.message})  # bounded, redacted
        resp["usage"] = wire.usage_to_wire(self._usage) if self._usage else None
        return out + self._emit("response.failed", {"response": resp})


def _hidden(ev: ir.BlockStart) -> bool:
    """A block that makes no output item: a server tool of another family (a signed Gemini
    part excepted: a reasoning item carries it)."""
    if ev.kind in ("text", "thinking", "tool_call", "redacted_thinking"):
        return False
    return (
        (ev.kind != "server_tool" or ev.family != "openai" or not ev.raw)
        and not _signed_part(ev)
        and shown_image(ev) is None
    )


def _raw_citations(ev: ir.BlockStart) -> list[Any] | None:
    """The citations a text block opens with (an Antigravity web search's, ``BlockStart.raw``)."""
    cites = (ev.raw or {}).get("citations")
    return cites if type(cites) is list and cites else None


def _signed_part(ev: ir.BlockStart) -> bool:
    """A Gemini part given whole that carries a signature (``carriers.part_carrier``)."""
    raw = ev.raw
    return (
        ev.family == "gemini"
        and raw is not None
        and ("thoughtSignature" in raw or "thought_signature" in raw)
    )


def _open_copy(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "content": []}
