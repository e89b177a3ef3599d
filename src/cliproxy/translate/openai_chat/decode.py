"""Chat Completions stream (upstream bytes) -> IR events.

Each ``data:`` frame is one ``chat.completion.chunk``. Text and reasoning open one
block each (switching between them closes the other); every tool call is its own
block. Tool-call deltas are keyed by their ``index``; ``id`` and ``name`` usually come
on a call's first delta but may come late or never, and a new ``id`` at an index
already in use starts a new call (providers that send every call at index 0). As CPA
does, a call opens its block only once it has an id and a (string) name, its held
arguments following at once; at ``finish_reason`` the calls still waiting open in
index order, with ``tool_<index>`` for a missing name and a made-up id, unless they
carried nothing at all. Blocks close at ``finish_reason``, after which only usage is
read; the stream ends at ``[DONE]`` (after the usage chunk), and nothing after it is read.

An upstream failure ends the stream in an ``ir.Error``: a chunk with an ``error`` object
and no choices, one typed ``error`` / ``response.error`` / ``response.failed`` (the
error of its ``response``), or a top-level ``code`` with a ``message``; and, as CPA
reads OpenAI-compatible upstreams, any frame named ``event: error`` (or
``response.error`` / ``response.failed``), whatever its data holds: no data, or a
``[DONE]``, is a 502 of its own. A frame with an ``event:`` line never takes the
one-frame fast path, so the common chunk pays nothing for this.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from cliproxy.formats.ids import uuid_hex
from cliproxy.formats.openai_chat import DONE, FINISH_TO_STOP, parse_usage
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.custom_tools import is_custom, raw_input
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.names import restore

# finish reasons of an answer cut short: its last call may hold partial arguments
_CUT = frozenset(("length", "content_filter"))

__all__ = ["ChatStreamDecoder", "error_status", "synth_call_id"]

# frame names and chunk types that report a failure (CPA openAICompatErrorEvent)
_ERROR_KINDS = frozenset(("error", "response.error", "response.failed"))

_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "api_error": 500,
    "overloaded_error": 529,
}


def error_status(err: dict[str, Any]) -> int:
    """An HTTP status for an in-band OpenAI error object."""
    code = err.get("code")
    if type(code) is int and 400 <= code < 600:
        return code
    if isinstance(code, str) and code.isdigit() and 400 <= int(code) < 600:
        return int(code)
    return _TYPE_STATUS.get(err.get("type") or "", 500)


def _error_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The error a chunk without choices reports, or None (CPA
    openAICompatStreamDataError): its ``error`` (an object, or a text), its
    ``response``'s error, or the chunk itself when typed as an error or holding a
    top-level ``code`` and ``message``."""
    err = obj.get("error")
    if type(err) is dict:
        return err
    if type(err) is str and err:
        return {"message": err}
    response = obj.get("response")
    if type(response) is dict and type(inner := response.get("error")) is dict:
        return inner
    if obj.get("type") in _ERROR_KINDS or ("code" in obj and "message" in obj):
        return obj
    return None


def synth_call_id(request: ir.Request | None) -> str:
    """An id for a call the upstream never named, in the client's own style."""
    prefix = "toolu_" if request is not None and request.source == "claude" else "call_"
    return prefix + uuid_hex()[:24]


class _Call:
    """One upstream tool call, by its ``index``. It is announced (its ``BlockStart``)
    once it has both an id and a name; until then its arguments are held."""

    __slots__ = ("args", "block", "custom", "id", "key", "kind", "name", "sent")

    def __init__(self, key: int, kind: ir.ToolKind) -> None:
        self.key = key
        self.kind = kind
        self.custom = False  # a client custom tool sent as a JSON tool: unwrap "input"
        self.sent = False  # arguments written
        self.block: int | None = None  # the IR block, once announced
        self.id: str | None = None
        self.name: str | None = None
        self.args: list[str] = []


class ChatStreamDecoder(StreamDecoder):
    # a relayed stream of this format ends at its ``data: [DONE]`` line (``Passthrough``)
    ends_at_done: ClassVar[bool] = True

    __slots__ = (
        "_by_block",
        "_calls",
        "_done",
        "_finish",
        "_finished",
        "_next",
        "_open",
        "_refusal",
        "_said",
        "_seen_calls",
        "_sse",
        "_started",
        "_text",
        "_think",
        "_usage",
    )

    def __init__(self, request: ir.Request | None = None) -> None:
        super().__init__(request)
        self._sse = SSEDecoder()
        self._started = False
        self._done = False
        self._next = 0
        self._text: int | None = None
        self._refusal: int | None = None  # the open text block of ``delta.refusal`` pieces
        self._think: int | None = None
        self._calls: dict[int, _Call] = {}
        self._open: list[int] = []  # open tool-call blocks
        self._finished = False  # finish_reason seen: later deltas are ignored
        self._by_block: dict[int, _Call] = {}  # open tool-call blocks -> their calls
        self._seen_calls = False
        self._said = False  # a text block was opened
        self._finish: str | None = None
        self._usage: ir.Usage | None = None

    def decode(self, chunk: bytes) -> list[ir.Event]:
        out: list[ir.Event] = []
        if self._done:
            return out
        found = self._sse.one(chunk)
        if found is not None and found[0] is None:  # the common read: one unnamed frame
            self._frame(found[1], out)
            return out
        for ev in self._sse.decode(chunk):
            if not self._done:
                self._event(ev.event, ev.data, out)
        return out

    def flush(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        for ev in self._sse.flush():
            if not self._done:
                self._event(ev.event, ev.data, out, tail=True)
        if not self._done:
            if self._finish is not None:
                self._end(out)
            else:
                self._truncated(out)
        return out

    def _truncated(self, out: list[ir.Event]) -> None:
        """The stream ended with no finish_reason where one was due."""
        self._broken(out, "upstream stream ended before a finish_reason", "stream_truncated")

    def _broken(self, out: list[ir.Event], message: str, code: str) -> None:
        """End a stream the upstream broke: its blocks close as cut (a call keeps the
        arguments it got; encoders never hand it out as a call to run), then a 502."""
        self._close_all(out, cut=True)
        self._done = True
        out.append(ir.Error(message, status=502, type="server_error", code=code))

    # ------------------------------------------------------------------ frames

    def _event(self, name: str | None, data: bytes, out: list[ir.Event], tail: bool = False) -> None:
        """One SSE frame: a named error frame fails the stream, any other is a chunk."""
        if name is None or name.lower() not in _ERROR_KINDS:
            self._frame(data, out, tail)
            return
        text = data.strip()
        if not text:
            self._broken(out, "upstream error event ended without data", "upstream_error_event")
        elif text == DONE:
            self._broken(out, "upstream error event ended before [DONE]", "upstream_error_event")
        else:
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError:
                obj = None
            if type(obj) is dict:
                self._fail(_error_of(obj) or obj, out)
            elif tail:  # cut by the end of the stream: reported as a cut
                self._truncated(out)
            else:
                self._broken(out, "upstream sent an error event that is not JSON", "bad_upstream_event")

    def _fail(self, err: dict[str, Any], out: list[ir.Event]) -> None:
        """End the stream with the upstream's error ``err``."""
        self._close_all(out, cut=True)
        self._done = True
        code = err.get("code")
        message = err.get("message") or err.get("detail")
        out.append(
            ir.Error(
                message if isinstance(message, str) and message else "upstream error",
                status=error_status(err),
                type=err.get("type") if isinstance(err.get("type"), str) else None,
                code=None if code is None else str(code),
            )
        )

    def _frame(self, data: bytes, out: list[ir.Event], tail: bool = False) -> None:
        if data == DONE:
            if self._finish is None and (self._seen_calls or (self._next and not self._said)):
                # no finish_reason after a tool call or only reasoning: a cut stream, not an
                # answer (a client would run a call with partial arguments) (CPA)
                self._truncated(out)
            else:
                self._end(out)
            return
        if not data.strip():
            return  # an empty data line: a keep-alive
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            if tail:
                return  # an event cut by the end of the stream: reported as a cut below
            # a broken upstream (an HTML page, a proxy's text): never an empty success
            self._broken(out, "upstream sent a stream event that is not JSON", "bad_upstream_event")
            return
        self._object(obj, out)

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        if self._text is None or self._done or self._finished:  # no open text block to add to
            return self.decode(chunk)
        found = self._sse.one(chunk)
        if found is None or found[0] is not None:  # not one frame, or a named one
            return self.decode(chunk)
        data = found[1]
        out: list[ir.Event] = []
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:  # [DONE], a keep-alive or a broken frame
            self._frame(data, out)
            return out
        # one more piece of the open text block and nothing else (no other delta key,
        # finish_reason or usage): what _object turns into one TextDelta of that block
        if type(obj) is dict and type(choices := obj.get("choices")) is list and choices:
            choice = choices[0]
            if (
                type(choice) is dict
                and type(delta := choice.get("delta")) is dict
                and len(delta) == 1
                and type(text := delta.get("content")) is str
                and text
                and choice.get("index", 0) == 0
                and not choice.get("finish_reason")
                and type(obj.get("usage")) is not dict
            ):
                return self._text, text
        self._object(obj, out)
        return out

    def _object(self, obj: Any, out: list[ir.Event]) -> None:
        """One parsed chunk."""
        if type(obj) is not dict:
            return
        choices = obj.get("choices")
        if (not self._started or not choices) and self._head(obj, out):
            return
        if choices and not self._finished:
            choice = choices[0]
            if type(choice) is dict and choice.get("index", 0) == 0:
                delta = choice.get("delta")
                if type(delta) is dict:
                    content = delta.get("content")
                    if len(delta) == 1 and type(content) is str:  # one text fragment
                        if content:
                            if self._text is not None:  # the text block is open: one more delta
                                out.append(ir.TextDelta(self._text, content))
                            else:
                                self._text_delta(content, out)
                    elif delta:
                        self._delta(delta, out)
                fr = choice.get("finish_reason")
                if fr:
                    self._finish = str(fr)
                    self._finished = True
                    self._close_all(out, cut=self._finish in _CUT)
        usage = obj.get("usage")
        if type(usage) is dict:
            self._usage = parse_usage(usage)
            out.append(ir.UsageEvent(self._usage))

    def _head(self, obj: dict[str, Any], out: list[ir.Event]) -> bool:
        """An error chunk (True: the stream is over) or the first chunk's StreamStart."""
        if not obj.get("choices") and (err := _error_of(obj)) is not None:
            self._fail(err, out)
            return True
        if not self._started:
            self._started = True
            created = obj.get("created")
            out.append(
                ir.StreamStart(
                    id=str(obj.get("id") or ""),
                    model=str(obj.get("model") or ""),
                    created=created if type(created) is int else 0,
                )
            )
        return False

    def _delta(self, delta: dict[str, Any], out: list[ir.Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._thinking(reasoning, out)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text_delta(content, out)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal_delta(refusal, out)
        tcs = delta.get("tool_calls")
        if isinstance(tcs, list):
            for pos, tc in enumerate(tcs):
                if isinstance(tc, dict):
                    self._tool_delta(tc, pos, out)
        fc = delta.get("function_call")
        if isinstance(fc, dict):
            self._tool_delta({"index": 0, "function": fc}, 0, out)

    # ------------------------------------------------------------------ blocks

    def _open_block(self, kind: str, out: list[ir.Event], **kw: Any) -> int:
        index = self._next
        self._next += 1
        out.append(ir.BlockStart(index, kind, **kw))  # type: ignore[arg-type]
        return index

    def _stop_text(self, out: list[ir.Event]) -> None:
        if self._text is not None:
            out.append(ir.BlockStop(self._text))
            self._text = None
        if self._refusal is not None:
            out.append(ir.BlockStop(self._refusal))
            self._refusal = None

    def _stop_think(self, out: list[ir.Event]) -> None:
        if self._think is not None:
            out.append(ir.BlockStop(self._think))
            self._think = None

    def _thinking(self, text: str, out: list[ir.Event]) -> None:
        if self._think is None:
            self._stop_text(out)
            self._think = self._open_block("thinking", out, family="openai")
        out.append(ir.ThinkingDelta(self._think, text))

    def _text_delta(self, text: str, out: list[ir.Event]) -> None:
        if self._text is None:
            self._stop_think(out)
            self._stop_text(out)  # (a refusal before it)
            self._text = self._open_block("text", out)
            self._said = True
        out.append(ir.TextDelta(self._text, text))

    def _refusal_delta(self, text: str, out: list[ir.Event]) -> None:
        """A piece of ``delta.refusal``: a text block of its own, marked (``BlockStart.raw``)
        so that a Responses client gets a ``refusal`` part and a Chat client ``refusal``."""
        if self._refusal is None:
            self._stop_think(out)
            self._stop_text(out)
            self._refusal = self._open_block("text", out, raw=ir.REFUSAL)
            self._said = True
        out.append(ir.TextDelta(self._refusal, text))

    def _tool_delta(self, tc: dict[str, Any], pos: int, out: list[ir.Event]) -> None:
        key = tc.get("index", pos)
        if type(key) is not int:
            key = pos
        kind: ir.ToolKind = "custom" if tc.get("type") == "custom" or "custom" in tc else "function"
        body = tc.get(kind)
        if not isinstance(body, dict):
            body = {}
        tid = tc.get("id")
        tid = tid if isinstance(tid, str) and tid else None
        name = body.get("name")
        name = name if isinstance(name, str) and name else None
        call = self._calls.get(key)
        if call is not None and tid and call.id and tid != call.id:
            self._finish_call(call, out)  # a new call at a used index
            call = None
        if call is None:
            call = self._calls[key] = _Call(key, kind)
        if tid and not call.id:
            call.id = tid
        if name and not call.name:
            call.name = name
        args = body.get("input" if kind == "custom" else "arguments")
        if isinstance(args, str) and args:
            if call.block is None or call.custom:
                call.args.append(args)
            else:
                call.sent = True
                out.append(ir.ToolArgsDelta(call.block, args))
        if call.block is None and call.id and call.name:
            self._announce(call, out)

    def _announce(self, call: _Call, out: list[ir.Event]) -> None:
        self._stop_text(out)
        self._stop_think(out)
        call.block = self._next
        self._next += 1
        self._open.append(call.block)
        self._seen_calls = True
        real, ns = restore(call.name or "", self.request)
        if call.kind == "function" and is_custom(real, ns, self.request):
            call.kind = "custom"
            call.custom = True  # its raw text goes out whole at the block's end
        self._by_block[call.block] = call
        out.append(
            ir.BlockStart(call.block, "tool_call", id=call.id, name=real, tool_kind=call.kind, namespace=ns)
        )
        if call.args and not call.custom:
            call.sent = True
            out.append(ir.ToolArgsDelta(call.block, "".join(call.args)))
            call.args = []

    def _finish_call(self, call: _Call, out: list[ir.Event], cut: bool = False) -> None:
        """Open a call still waiting (made-up name/id where missing) and close it; a call
        that carried neither id, name nor arguments is dropped."""
        if call.block is None:
            if not (call.id or call.name or call.args):
                return
            call.name = call.name or self._lone_custom() or f"tool_{call.key}"
            call.id = call.id or synth_call_id(self.request)
            self._announce(call, out)
        if call.block is not None and call.block in self._open:
            self._open.remove(call.block)
            self._stop_call(call.block, out, cut)

    def _lone_custom(self) -> str | None:
        """The name of the request's one tool when it is a custom tool (CPA names an
        unnamed call after it)."""
        tools = [t for t in (self.request.tools or ()) if t.kind != "builtin"] if self.request else []
        names = {flat_name(t.name, t.namespace) for t in tools}
        if len(names) == 1 and all(t.kind == "custom" for t in tools):
            return names.pop()
        return None

    def _stop_call(self, block: int, out: list[ir.Event], cut: bool = False) -> None:
        call = self._by_block.pop(block, None)
        if call is not None and call.custom:
            text = raw_input("".join(call.args))
            if text:
                out.append(ir.ToolArgsDelta(block, text))
        elif call is not None and not call.sent and not cut:
            out.append(ir.ToolArgsDelta(block, "{}"))  # no arguments: valid JSON for every client
        out.append(ir.BlockStop(block, cut) if cut else ir.BlockStop(block))

    def _close_all(self, out: list[ir.Event], cut: bool = False) -> None:
        """Close every open block; ``cut``: the answer was cut short (its calls keep the
        arguments they got, none is made up)."""
        self._stop_think(out)
        self._stop_text(out)
        for block in self._open:
            self._stop_call(block, out, cut)
        self._open.clear()
        for key in sorted(self._calls):  # calls still waiting open now, in index order
            call = self._calls[key]
            if call.block is None:
                self._finish_call(call, out, cut)
        self._calls.clear()

    def _end(self, out: list[ir.Event]) -> None:
        self._close_all(out, cut=self._finish in _CUT)
        self._done = True
        stop: ir.StopReason = FINISH_TO_STOP.get(self._finish or "stop", "end_turn")
        if stop == "end_turn" and self._seen_calls:
            stop = "tool_use"
        extras = {"stop_raw": self._finish} if self._finish and self._finish not in FINISH_TO_STOP else None
        out.append(ir.StreamEnd(stop, usage=self._usage, extras=extras))
