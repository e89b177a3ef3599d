"""A Chat Completions, Claude, Gemini or Interactions stream relayed as it is, ended at its upstream's error.

Same format in and out: the bytes flow untouched until the upstream writes an error into
a stream whose answer already began (an OpenAI-compatible upstream's ``{"error": ...}``
chunk, a frame named ``event: error``, a top-level ``code`` with a ``message``; Claude's
``event: error``; Gemini's ``{"error": ...}`` object; the Interactions API's ``error``
event). That event is read by the format's own stream decoder, as the translated path
reads it (CPA's OpenAI-compatible executor fails the stream there:
``openAICompatStreamDataError``): the stream ends, nothing after the event goes out,
``late_error`` / ``upstream_error`` hold the failure and the reader (``replies_stream``)
writes it in the client's format and cools the credential. An event whose ``data:`` lines
each hold a payload (the blank lines between frames left out) is read line by line: the
lines before its error still go out, as a frame of their own (CPA's executors read a
stream line by line).

What the client gets is the error as the format's stream encoder writes one (a Chat
client: a ``data: {"error": {...}}`` frame and no ``[DONE]``, as CPA writes a stream's
terminal error; Claude: ``event: error``; Gemini: an ``{"error": ...}`` object), its message
redacted and bounded; never the upstream's own event (an Interactions client: the
encoder's ``event: error``, no ``done`` after it). For a Chat client that differs from
CPA on purpose: CPA relays the payload as it is, and a named ``error`` frame whose data has
no ``error`` object (``{"message": ..., "code": ...}``) reaches the openai SDK as an
ordinary chunk, where here the SDK raises.

An error event split across reads is caught wherever the split falls, even ahead of what
names it (``data: {"err`` in one read, ``or": ...`` in the next): once the answer began, an
unfinished event at the end of a read is held back until whole while it is shorter than
:data:`HOLD_UNNAMED` (see :mod:`~cliproxy.translate.screened`); only a read that ends
inside an event pays for that.

The cost on the success path is one ``bytes.find`` a chunk (``"error"`` with its quotes: a
JSON key or value, never text inside a string, whose quotes are escaped) on top of what
:class:`~cliproxy.translate.stream.Passthrough` pays, whose common chunk ``feed`` tests
inline to spare a call. A Chat stream pays a second one for ``"code"`` and looks for
``error`` without quotes, which also finds an ``event: error`` line (an answer whose text
says "error" then costs a look at each event of its chunk, no parse).
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy.formats.stream_errors import (
    MESSAGE_LIMIT,
    bound,
    data_frame,
    error_event_parts,
    payload_lines,
    redact,
)
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.screened import ScreenedPassthrough
from cliproxy.translate.stream import _BAD_DATA, Passthrough

__all__ = ["HOLD_UNNAMED", "ChatLatePassthrough", "LatePassthrough"]

_ENDS = (b"\n\n", b"\r\n\r\n")  # a chunk that ends an event (the usual one)
_LINE_STARTS = (b"data:", b"event:", b":", b"id:", b"retry:")
_relay = Passthrough.feed  # (called as a plain function: no ``super()`` per chunk)
HOLD_UNNAMED = 16 << 10  # bytes of an unfinished event held back before it shows what it is


class LatePassthrough(ScreenedPassthrough):
    """A Claude, Gemini or Interactions stream relayed as it is, ended at its upstream's error event
    once the answer began (see the module). ``errors`` makes a decoder of the stream's
    format, one for each event that may be an error."""

    __slots__ = ("_errors",)

    # an error event split across reads is held back until whole, wherever the split falls:
    # an upstream's error event is far shorter than this (an answer's event that is not, a
    # large image, flows as it comes)
    _hold_unnamed = HOLD_UNNAMED

    def __init__(self, decoder: StreamDecoder, errors: Callable[[None], StreamDecoder]) -> None:
        Passthrough.__init__(self, decoder)  # (ScreenedPassthrough's own: one frame less a stream)
        self._tail = b""
        self._errors = errors

    def feed(self, chunk: bytes) -> bytes:
        if (
            self._decoder is None
            and self._line_start
            and not self._held
            and not self._tail
            and chunk.endswith(_ENDS)
            and chunk.find(b'"error"') < 0
            and _BAD_DATA.search(chunk) is None
        ):  # Passthrough.feed's common chunk (whole events, no sniffer here), and no error in it
            return chunk
        out = _relay(self, chunk)
        if self._tail:
            out, self._tail = self._tail + out, b""
        elif not out or not self.started or (out.endswith(_ENDS) and out.find(b'"error"') < 0):
            return out  # whole events, none suspect; or before the answer (the decoder watches)
        return self._screen(out)

    def _suspect(self, data: bytes) -> bool:
        return data.find(b'"error"') >= 0

    def _rewrite(self, event: bytes) -> bytes | None:
        """``b""`` (or the end of a line the client has in part) when ``event`` is the
        upstream's error: it is kept as ``late_error``; ``None`` when it is not one."""
        if not self._suspect(event):
            return None
        for ev in self._errors(None).decode(event + b"\n\n"):
            if type(ev) is ir.Error:
                ev.message = bound(redact(ev.message), MESSAGE_LIMIT)
                self.late_error = self.upstream_error = ev
                if event.startswith(_LINE_STARTS):
                    return self._before_error(event)
                # the event begins with the end of a line an earlier read began (often the
                # blank line that ended the event before): the client has its start, so it
                # gets its end, then a blank line before the error when that was no blank line
                # (and the lines of the rest before its error, when they are payloads)
                cut = event.find(b"\n") + 1
                if not cut:
                    return event + b"\n\n" if event.strip() else event + b"\n"
                head = event[:cut]
                return (head + b"\n" if head.strip() else head) + self._before_error(event[cut:])
        return None

    def _before_error(self, event: bytes) -> bytes:
        """What of error ``event`` the client still gets: when its ``data:`` lines each hold
        a payload (the upstream left out the blank lines between frames) and a later one is
        the error, the lines before it, as a frame of their own (CPA's executors read the
        stream line by line and relay them before failing at the error's line); else
        nothing (the event is the error)."""
        parts = error_event_parts(event)
        if parts is None or len(parts[2]) < 2:
            return b""
        head, _, data = parts
        lines = payload_lines(data)
        for at, line in enumerate(lines):
            if not self._suspect(line):
                continue
            frame = head + b"data: " + line + b"\n\n"
            if any(type(ev) is ir.Error for ev in self._errors(None).decode(frame)):
                return data_frame(head, lines[:at]) if at else b""
        return b""


class ChatLatePassthrough(LatePassthrough):
    """:class:`LatePassthrough` for a Chat Completions stream: an error there may also be
    a named frame (``event: error``) or a chunk with a top-level ``code`` and ``message``
    (CPA ``openAICompatStreamDataError``)."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> bytes:
        if (
            self._decoder is None
            and self._line_start
            and not self._held
            and not self._tail
            and chunk.endswith(_ENDS)
            and chunk.find(b"error") < 0
            and chunk.find(b'"code"') < 0
            and _BAD_DATA.search(chunk) is None
        ):  # Passthrough.feed's common chunk (whole events, no sniffer here), and no error in it
            return chunk
        out = _relay(self, chunk)
        if self._tail:
            out, self._tail = self._tail + out, b""
        elif (
            not out
            or not self.started
            or (out.endswith(_ENDS) and out.find(b"error") < 0 and out.find(b'"code"') < 0)
        ):
            return out  # whole events, none suspect; or before the answer (the decoder watches)
        return self._screen(out)

    def _suspect(self, data: bytes) -> bool:
        return data.find(b'"error"') >= 0 or data.find(b'"code"') >= 0 or data.find(b"event:") >= 0
