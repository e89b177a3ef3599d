"""Stream plumbing shared by every pair: the block sequencer and the stream translator."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder, StreamEncoder, UsageSniffer, unwraps
from cliproxy.translate.collect import merge_usage

__all__ = ["Passthrough", "Sequencer", "StreamTranslator"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_THINKING_DELTAS = (ir.ThinkingDelta, ir.SignatureDelta)
_ENDINGS = (ir.StreamEnd, ir.Error)

_CONTENT = (ir.BlockStart, ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta, ir.StreamEnd)
_WITH_USAGE = (ir.UsageEvent, ir.StreamEnd, ir.StreamStart)  # (Claude says its input usage at the start)
_DELTAS = frozenset((ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta))


class _Pending:
    __slots__ = ("cut", "events", "named", "start", "stopped")

    def __init__(self, start: ir.BlockStart) -> None:
        self.start = start
        self.events: list[ir.Event] = []
        self.stopped = False
        self.cut = False  # its BlockStop said the answer was cut short
        self.named = start.kind != "tool_call" or bool(start.name)


class Sequencer:
    """Puts interleaved block events into strict order for encoders.

    Out of it come, per block: one ``BlockStart``, its deltas, one ``BlockStop``; one block
    open at a time; indices renumbered 0, 1, 2... in output order. A block whose events
    arrive while another is open waits in a queue (in order of first appearance). A
    tool-call block is held until it has a name (OpenAI may send the name after the id),
    or until it stops nameless. ``StreamEnd`` and ``Error`` close everything first (an
    error's closes are ``cut``: what those blocks hold may be partial).
    """

    __slots__ = ("_blocks", "_current", "_next_out", "_order", "_out_index")

    def __init__(self) -> None:
        self._blocks: dict[int, _Pending] = {}
        self._order: list[int] = []  # input indices waiting, in first-seen order
        self._current: int | None = None  # input index being emitted
        self._out_index: dict[int, int] = {}
        self._next_out = 0

    def feed(self, ev: ir.Event) -> list[ir.Event]:
        if type(ev) in _DELTAS and ev.index == self._current:  # type: ignore[union-attr]
            # the common event: a delta of the block being written, renumbered
            ev.index = self._out_index[ev.index]  # type: ignore[union-attr]
            return [ev]
        out: list[ir.Event] = []
        if isinstance(ev, ir.BlockStart):
            pend = self._blocks.get(ev.index)
            if pend is None:
                pend = _Pending(ev)
                self._blocks[ev.index] = pend
                self._order.append(ev.index)
            else:  # a late start fills in id / name
                st = pend.start
                st.id = st.id or ev.id
                st.name = st.name or ev.name
                st.signature = st.signature or ev.signature
                st.family = st.family or ev.family
                st.namespace = st.namespace or ev.namespace
                if st.name:
                    pend.named = True
            self._pump(out)
            return out
        index = getattr(ev, "index", None)
        if index is None:
            if isinstance(ev, _ENDINGS):
                self._close_all(out, isinstance(ev, ir.Error))
            out.append(ev)
            return out
        pend = self._blocks.get(index)
        if pend is None:  # a delta with no start: make one up from the delta's kind
            pend = _Pending(ir.BlockStart(index, _kind_of(ev)))
            pend.named = True
            self._blocks[index] = pend
            self._order.append(index)
        if index == self._current:
            if isinstance(ev, ir.BlockStop):
                out.append(ir.BlockStop(self._out_index[index], ev.cut))
                self._finish(index)
                self._pump(out)
            else:
                out.append(_renumber(ev, self._out_index[index]))
            return out
        if isinstance(ev, ir.BlockStop):
            pend.stopped = True
            pend.cut = ev.cut
            pend.named = True
        else:
            pend.events.append(ev)
        self._pump(out)
        return out

    def _finish(self, index: int) -> None:
        self._current = None
        del self._blocks[index]

    def _pump(self, out: list[ir.Event]) -> None:
        while self._current is None and self._order:
            index = self._order[0]
            pend = self._blocks[index]
            if not pend.named:
                return
            self._order.pop(0)
            self._emit_start(index, pend, out)
            if pend.stopped:
                out.append(ir.BlockStop(self._out_index[index], pend.cut))
                self._finish(index)
            # else it stays current

    def _emit_start(self, index: int, pend: _Pending, out: list[ir.Event]) -> None:
        o = self._next_out
        self._next_out += 1
        self._out_index[index] = o
        st = pend.start
        st.index = o
        out.append(st)
        for e in pend.events:
            out.append(_renumber(e, o))
        pend.events = []
        self._current = index

    def _close_all(self, out: list[ir.Event], cut: bool = False) -> None:
        if self._current is not None:
            out.append(ir.BlockStop(self._out_index[self._current], cut))
            self._finish(self._current)
        for index in list(self._order):
            pend = self._blocks[index]
            self._emit_start(index, pend, out)
            out.append(ir.BlockStop(self._out_index[index], cut or pend.cut))
            self._finish(index)
        self._order.clear()


def _kind_of(ev: ir.Event) -> Literal["text", "thinking", "tool_call"]:
    if isinstance(ev, _THINKING_DELTAS):
        return "thinking"
    if isinstance(ev, ir.ToolArgsDelta):
        return "tool_call"
    return "text"


def _renumber(ev: ir.Event, index: int) -> ir.Event:
    ev.index = index  # type: ignore[union-attr]
    return ev


class StreamTranslator:
    """Upstream bytes in one format -> client bytes in another, event by event.

    ``started`` turns true at the first content (or the end of the stream);
    ``early_error`` holds an in-band error that came before it, so the caller can fail
    over to another credential while nothing has reached the client. ``ended`` turns
    true once an error went out: the caller stops reading the upstream. ``opened`` turns
    true at the first event that is not an error (a handshake such as ``response.created``).
    ``upstream_error`` keeps the first error the upstream's own events said (its status, code and
    reset: what cools the credential); not one that only says the stream ended early
    (the decoder's flush) nor one of :meth:`fail`.
    """

    __slots__ = (
        "_decoder",
        "_done",
        "_encoder",
        "_lane",
        "_seq",
        "early_error",
        "ended",
        "observe",
        "observe_text",
        "opened",
        "started",
        "upstream_error",
        "usage",
    )

    def __init__(self, decoder: StreamDecoder, encoder: StreamEncoder) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._seq = Sequencer()
        self._done = False
        self.usage: ir.Usage | None = None
        self.started = False
        self.opened = False
        self.ended = False
        self.early_error: ir.Error | None = None
        self.upstream_error: ir.Error | None = None
        self.observe: Callable[[ir.Event], None] | None = None  # sees every upstream event
        # False: ``observe`` has no use for text deltas, and those of the open block (the
        # common chunk's) may skip it, and their event, through the text lane
        self.observe_text = True
        # the decoder hands a lone text delta over as (block, text): no event is made for it
        # (a duck-typed decoder or encoder of a plugin's adapter may have neither method)
        lane = getattr(type(decoder), "decode_delta", None)
        self._lane = lane is not None and lane is not StreamDecoder.decode_delta and hasattr(encoder, "text")

    def read_usage(self) -> ir.Usage | None:
        """The usage the upstream's events gave, merged: the stream's, once it has ended
        (``StreamReply.read_usage``)."""
        return self.usage

    def unwrapping(self, unwrap: Callable[[Any], Any]) -> bool:
        """The decoder's :meth:`StreamDecoder.unwrapping` (see ``adapter.unwraps``)."""
        return unwraps(self._decoder, unwrap)

    def feed(self, chunk: bytes) -> bytes:
        if self._lane and self.started and (self.observe is None or not self.observe_text):
            got = self._decoder.decode_delta(chunk)
            if isinstance(got, tuple):  # a text delta: written as _run writes its event
                index, text = got
                seq = self._seq
                if index == seq._current:
                    return self._encoder.text(seq._out_index[index], text)
                return self._run([ir.TextDelta(index, text)])
            events = got
        else:
            events = self._decoder.decode(chunk)
        if len(events) == 1 and self.started and self.observe is None:
            ev = events[0]  # the common chunk: one delta of the open block (as _run does it)
            if type(ev) in _DELTAS and ev.index == self._seq._current:  # type: ignore[union-attr]
                ev.index = self._seq._out_index[ev.index]  # type: ignore[union-attr]
                return self._encoder.encode(ev)
        return self._run(events)

    def finish(self) -> bytes:
        if self._done:
            return b""
        self._done = True
        return self._run(self._decoder.flush()) + self._encoder.flush()

    def fail(self, error: ir.Error) -> bytes:
        """End a started stream with ``error`` in the client's format (open blocks closed)."""
        if self._done:
            return b""
        self._done = True
        return self._run([error]) + self._encoder.flush()

    def _run(self, events: list[ir.Event]) -> bytes:
        if not events:
            return b""
        parts: list[bytes] = []
        enc = self._encoder.encode
        sequencer = self._seq
        seq = sequencer.feed
        observe = self.observe
        for ev in events:
            if observe is not None:
                observe(ev)
            if type(ev) in _DELTAS and self.started and ev.index == sequencer._current:  # type: ignore[union-attr]
                # the common event: a delta of the block being written, renumbered (Sequencer.feed)
                ev.index = sequencer._out_index[ev.index]  # type: ignore[union-attr]
                b = enc(ev)
                if b:
                    parts.append(b)
                continue
            if not self.started:
                if isinstance(ev, _CONTENT):
                    self.started = True
                elif isinstance(ev, ir.Error):
                    self.early_error = ev
                if self.early_error is None:
                    self.opened = True
            if isinstance(ev, ir.Error):
                self.ended = True
                if not self._done and self.upstream_error is None:  # (finish and fail set _done first)
                    self.upstream_error = ev
            if isinstance(ev, _WITH_USAGE) and ev.usage is not None:
                self.usage = merge_usage(self.usage, ev.usage)
            for out in seq(ev):
                b = enc(out)
                if b:
                    parts.append(b)
        return b"".join(parts)


# an SSE data line whose payload cannot start a JSON value or [DONE]: HTML, plain text...
# (found where a line starts; unanchored, the search skips ahead by its literal prefix,
# five times faster than a MULTILINE ``^`` that is tried at every byte); it also finds a
# line that starts with "[" (a JSON array, or the ``[DONE]`` that ends a Chat Completions
# stream), judged apart, so that only a chunk holding one pays for seeing where a stream ends
_BAD_DATA = re.compile(rb"data:[ ]?[^{\r\n ]")
_JUDGE = 7  # bytes of a line's head that tell whether it is such a line ("data: " + one)
_EOL = (b"\n", b"\r")  # what ends a [DONE] line
_JUDGE_DONE = len(b"data: [DONE]") + 1  # the same, for a stream that ends at a [DONE] line
_EVENT_END = re.compile(rb"\n\r?\n")  # a blank line (LF or CRLF): where an SSE event ends


class Passthrough:
    """Same format in and out: bytes flow untouched.

    Until the first content the stream is also decoded, event by event, so an in-band
    error before it can still fail over; decoding stops at the first content, even in
    the middle of a chunk. With ``sse=True`` every chunk also gets one
    regular-expression scan for ``data:`` lines that cannot be JSON (an HTML page, a
    proxy's text): before the first content that is an ``early_error`` (fail over);
    after it such a line and what follows are not forwarded, and ``ended`` /
    ``late_error`` tell the caller to end the stream with an in-format error. A chunk
    that ends in the first few bytes of a new line holds them back until the next
    chunk, so a line split anywhere is judged whole. ``sniffer`` (optional) reads the
    stream's usage; the request trace sniffs the client's bytes itself. ``upstream_error``: the
    upstream's failure the stream ended with after its first content (what cools the
    credential; :class:`StreamTranslator` has the same).

    A stream whose decoder says ``ends_at_done`` (Chat Completions) ends at its
    ``data: [DONE]`` line: that frame goes out whole (its blank line written in the
    stream's line ends, whether or not the upstream's read holds it) and nothing after it, and ``ended`` turns true (no
    error: the caller stops reading). Some OpenAI-compatible upstreams write metadata
    after ``[DONE]`` that clients cannot parse (CPA drops it too).
    """

    __slots__ = (
        "_decoder",
        "_held",
        "_judge",
        "_line_start",
        "_sniffer",
        "_sse",
        "_to_done",
        "early_error",
        "ended",
        "late_error",
        "opened",
        "started",
        "upstream_error",
    )

    # a data: line right after another of the same event continues its payload (a
    # Responses frame's JSON over several lines, as CPA's framer joins them): not garbage
    _multiline = False

    def __init__(
        self, decoder: StreamDecoder, sniffer: UsageSniffer | None = None, *, sse: bool = True
    ) -> None:
        self._decoder: StreamDecoder | None = decoder
        self._sniffer = sniffer
        self._sse = sse
        self._line_start = True  # the next chunk starts a line
        self._held = b""
        self._to_done = bool(getattr(decoder, "ends_at_done", False))  # the stream ends at [DONE]
        self._judge = _JUDGE_DONE if self._to_done else _JUDGE
        self.started = False
        self.opened = False
        self.ended = False
        self.early_error: ir.Error | None = None
        self.late_error: ir.Error | None = None
        self.upstream_error: ir.Error | None = None

    @property
    def usage(self) -> ir.Usage | None:
        return None if self._sniffer is None else self._sniffer.usage

    def feed(self, chunk: bytes) -> bytes:
        if self.ended:
            return b""
        if (
            self._decoder is None
            and self._line_start
            and not self._held
            and chunk[-1:] == b"\n"
            and self._sse
            and _BAD_DATA.search(chunk) is None
        ):  # the common chunk once content flows: whole lines, none bad, relayed as they are
            if self._sniffer is not None:
                self._sniffer.feed(chunk)
            return chunk
        bad = done = -1
        if self._sse and chunk:
            if self._held:
                chunk, self._held = self._held + chunk, b""
            bad, done = self._bad_line(chunk)
            if done >= 0:  # the end of the stream: the [DONE] frame whole, nothing after it
                blank = b"\r\n\r\n" if chunk[done] == 13 else b"\n\n"  # in the stream's line ends
                chunk = chunk[:done] + blank
            elif bad >= 0:
                chunk = chunk[:bad]  # the garbage and what follows never reach the client
            else:
                chunk = self._hold_back(chunk)
        out = self._pass(chunk, bad >= 0)
        if done >= 0:
            self.ended = True
        return out

    def _pass(self, chunk: bytes, bad: bool) -> bytes:
        if self._sniffer is not None:
            self._sniffer.feed(chunk)
        if self._decoder is not None:
            self._decode(chunk)
        if bad:
            err = ir.Error("upstream sent a stream event that is not JSON", status=502)
            if self.started:
                self.late_error = self.upstream_error = err
                self.ended = True
            elif self.early_error is None:
                self.early_error = err
        return chunk

    def _decode(self, chunk: bytes) -> None:
        """Decode ``chunk`` event by event until the first content: what follows it in the
        chunk only flows. After an error the rest of the chunk is decoded unwatched."""
        decoder = self._decoder
        assert decoder is not None
        before = self.early_error
        pos = 0
        for m in _EVENT_END.finditer(chunk):
            end = m.end()
            self._watch(decoder.decode(chunk[pos:end]))
            if self._decoder is None:
                return
            if self.early_error is not before:
                if end < len(chunk):
                    decoder.decode(chunk[end:])
                return
            pos = end
        if pos < len(chunk):
            self._watch(decoder.decode(chunk[pos:] if pos else chunk))

    def _bad_line(self, chunk: bytes) -> tuple[int, int]:
        """Where a ``data:`` line that cannot be JSON starts in ``chunk`` (or -1), and
        where the line ``data: [DONE]`` that ends the stream ends, before its line end
        (or -1; only when the stream ends there): whichever comes first."""
        start = 0
        if not self._line_start:  # the chunk begins inside a line an earlier chunk started
            start = chunk.find(b"\n") + 1
            if not start:
                return -1, -1
        search = _BAD_DATA.search
        m = search(chunk, start)
        while m is not None:
            i = m.start()
            if i == 0 or chunk[i - 1] == 10:  # at a line's start
                end = m.end()
                if chunk[end - 1] != 91 and not (
                    self._multiline and i > 1 and chunk.startswith(b"data:", chunk.rfind(b"\n", 0, i - 1) + 1)
                ):  # not "[" nor the next line of a payload over several data: lines: garbage
                    return i, -1
                if self._to_done and chunk.startswith(b"DONE]", end) and chunk[end + 5 : end + 6] in _EOL:
                    return -1, end + 5  # (at the read's end, ``_hold_back`` keeps the line)
            m = search(chunk, i + 1)
        return -1, -1

    def _hold_back(self, chunk: bytes) -> bytes:
        """``chunk`` without a new line's first few bytes at its end (kept for the next)."""
        nl = chunk.rfind(b"\n")
        if nl < 0 and not self._line_start:
            return chunk  # still inside a line judged earlier
        tail = len(chunk) - nl - 1
        if 0 < tail < self._judge:
            self._held = chunk[nl + 1 :]
            chunk = chunk[: nl + 1]
            self._line_start = True
        else:
            self._line_start = tail == 0
        return chunk

    def finish(self) -> bytes:
        held, self._held = self._held, b""
        out = self._pass(held, False) if held and not self.ended else b""
        if self._decoder is not None:
            self._watch(self._decoder.flush())
        return out

    def _watch(self, events: list[ir.Event]) -> None:
        for ev in events:
            if isinstance(ev, _CONTENT):
                self.started = True
                self._decoder = None
                return
            if isinstance(ev, ir.Error):
                self.early_error = ev
                return
            self.opened = True
