"""A Responses stream relayed as it is, except its upstream's error events.

Same format in and out (a Codex or Responses upstream, a Responses client): the bytes flow
untouched (:class:`~cliproxy.translate.stream.Passthrough`), but an in-stream error event
(``error``, ``response.failed``, ``response.error``, or any payload with a non-null
``error`` / ``response.error``, or a top-level ``code`` with a ``message``) is written
again with only what the client may see of it (``cliproxy.formats.stream_errors``: the
error's fields bounded and redacted, a ``debug`` dump dropped), and nothing after it goes
out: the failure ends the stream (CPA's ``responsesSSEFramer.repairErrorPayload``). The
event keeps its kind: an ``error`` stays an ``error`` (CPA turns it into ``response.failed``
for Codex clients and the reverse for others). An ``error`` or ``response.failed`` event is
also read as the translated path reads it (``upstream_error``: its status, code and reset, what
cools the credential), the one cost of it being on this error path.

Frames go out whole (CPA's ``responsesSSEFramer``): a read that does not end a frame is
held until the frame's blank line comes, and a held frame's last line that is whole (its
JSON parses) gets the line end the upstream left out when the next read starts a field of
its own (``formats.sse.line_end``: a blank line between two ``data:``-only frames, a line
end before a late ``event:`` line of the same frame). The stream's last frame with no
blank line after it goes out when its JSON is whole and is dropped when it was cut (the
stream then ends in the failure ``replies_stream`` adds); a payload over several
``data:`` lines is relayed, not taken for garbage. An event whose ``data:`` lines each hold
a payload of their own (the blank line between two frames left out) is read line by
line when it is suspect, as CPA's Codex executor reads a stream: an error on a later line
ends the stream there, the lines before it relayed as a frame.

The cost on the success path (a read of whole frames) is an ``endswith`` and two
``bytes.find`` a chunk (``"error"``, ``"code"``, with their quotes: a JSON key or value,
never text inside a string, whose quotes are escaped); only a chunk that has one is cut
into events and the suspect ones parsed (a ``response.created`` / ``response.completed``,
whose ``"error":null`` matches).

A Codex upstream's ``response.created`` / ``response.in_progress`` that does not name its
model gets the one the client asked for (``model``, given only for a Responses client of a
Codex upstream), as CPA's Codex to Responses translator fills it; the openai SDK's
``Response.model`` is otherwise missing. The final snapshot (``response.completed``...)
goes out as the upstream wrote it, as in CPA. Only the stream's first snapshot is looked at
when it names its model (real Codex always does): a ``bytes.find`` over the chunks until
it, then nothing more. Whether it names one is read off its bytes (a ``"model"`` key
anywhere in its line whose value is not ``""``: an empty name is none, which CPA's
``response.model`` ``Exists`` takes for one), so a snapshot without a model whose
echoed request has a ``"model"`` key elsewhere (a tool's parameter) keeps going out
without one. A stream whose first snapshot names none is watched to its end (a
``bytes.find`` a chunk), and each opening snapshot is parsed and written again with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats.sse import FIELDS, flushable, line_end, named_whole
from cliproxy.formats.stream_errors import (
    data_frame,
    error_event_parts,
    is_error_payload,
    payload_lines,
    safe_payload,
)
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder, UsageSniffer
from cliproxy.translate.openai_responses.decode import ResponsesDecoder
from cliproxy.translate.screened import ScreenedPassthrough
from cliproxy.translate.stream import Passthrough

__all__ = ["ResponsesPassthrough"]

_ENDS = (b"\n\n", b"\r\n\r\n")  # a chunk that ends an event (the usual one)
_EOL = (b"\n", b"\r")
FRAME_LIMIT = 50 << 20  # the largest frame held until it is whole (CPA's Codex line reader's cap)
_OWED = b"\n(owed)"  # held alone: a frame went out with a blank line the next read may bring
_ERROR_EVENTS = frozenset({"error", "response.failed", "response.error"})
_SNAPSHOT = b'"response":'  # (the key of an event's response object)
# the snapshots CPA names the model in (the final one stays the upstream's own bytes)
_OPENING = (b'"response.created"', b'"response.in_progress"')
_relay = Passthrough.feed  # (called as a plain function: no ``super()`` per chunk)


def _names_model(line: bytes) -> bool:
    """Whether a snapshot's ``data:`` line has a ``"model"`` key whose value is not ``""``
    (an empty name is none: CPA's ``Exists`` counts it; ours fills it)."""
    at = line.find(b'"model"')
    while at >= 0:
        rest = line[at + 7 : at + 80].lstrip()
        if not rest.startswith(b":") or not rest[1:].lstrip().startswith(b'""'):
            return True
        at = line.find(b'"model"', at + 7)
    return False


def _suspect(data: bytes) -> bool:
    return data.find(b'"error"') >= 0 or data.find(b'"code"') >= 0


class ResponsesPassthrough(ScreenedPassthrough):
    """:class:`~cliproxy.translate.screened.ScreenedPassthrough` for a Responses client,
    with its upstream's error events made safe (see the module). ``scrub`` (optional) also
    runs over a rewritten event's bytes: the credential's own secrets
    (``providers.secrets.without_secrets``). ``model`` (optional): the name a response
    snapshot that names no model gets (see the module)."""

    __slots__ = ("_model", "_open", "_scrub")
    _multiline = True  # a frame's JSON over several data: lines is relayed (CPA joins them)

    def __init__(
        self,
        decoder: StreamDecoder,
        sniffer: UsageSniffer | None = None,
        *,
        scrub: Callable[[bytes], bytes] | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(decoder, sniffer)
        self._scrub = scrub
        self._open: list[bytes] = []  # an unfinished frame, held until it is whole
        self._model = model or None  # while set, snapshots are watched for a missing model

    def feed(self, chunk: bytes) -> bytes:
        if self._open or not chunk.endswith(_ENDS):
            out = self._framed(chunk)  # a frame over several reads (or not ended by one)
        else:
            out = _relay(self, chunk)  # (what it cuts short, at a line it refuses, ends the stream)
            if out.find(b'"error"') < 0 and out.find(b'"code"') < 0:  # none suspect (``_suspect``, inline)
                if self._model is None:
                    return out
                return self._named(out)
            out = self._screened(out)
        return out if self._model is None else self._named(out)

    def finish(self) -> bytes:
        parts, self._open = self._open, []
        out = b""
        if parts and parts[0] is not _OWED and not self.ended:
            frame = b"".join(parts)
            # the last frame with no blank line after it: relayed when its JSON is whole,
            # dropped when it was cut (the stream then ends in a failure: replies_stream)
            if flushable(frame):
                out = self._whole(frame.rstrip(b"\r\n") + b"\n\n")
        out += ScreenedPassthrough.finish(self)
        return out if self._model is None else self._named(out)

    def _named(self, out: bytes) -> bytes:
        """``out`` (whole frames) with the client's model name written into each response
        snapshot's ``data:`` line that names none; the first one that names a model ends
        the watch (``_model`` unset)."""
        at = out.find(_SNAPSHOT)
        if at < 0:
            return out
        pieces: list[bytes] = []
        pos = 0
        while at >= 0:
            start = out.rfind(b"\n", 0, at) + 1
            end = out.find(b"\n", at)
            if end < 0:
                end = len(out)
            line = out[start:end]
            if line.startswith(b"data:"):
                if _names_model(line):  # named: the upstream names its model (see the module)
                    self._model = None
                    break
                filled = self._filled(line)
                if filled is not None:
                    pieces += (out[pos:start], filled)
                    pos = end
            at = out.find(_SNAPSHOT, end)
        if not pieces:
            return out
        pieces.append(out[pos:])
        return b"".join(pieces)

    def _filled(self, line: bytes) -> bytes | None:
        """Data line ``line`` of a response snapshot that names no model, with the client's
        model in its ``response``; ``None`` when it is no such snapshot (or not JSON)."""
        if line.find(_OPENING[0]) < 0 and line.find(_OPENING[1]) < 0:
            return None  # (a final snapshot, or another event: not parsed)
        cr = line.endswith(b"\r")
        try:
            obj = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            return None
        if type(obj) is not dict or obj.get("type") not in ("response.created", "response.in_progress"):
            return None
        resp = obj.get("response")
        if type(resp) is not dict:
            return None
        resp["model"] = self._model
        return b"data: " + orjson.dumps(obj) + (b"\r" if cr else b"")

    def _framed(self, chunk: bytes) -> bytes:
        """The whole frames ``chunk`` completes, relayed; what it leaves unfinished is held
        (``_open``) until its blank line comes (or the stream ends), or until its lines
        name it and hold its whole JSON (``formats.sse.named_whole``). A held last line
        that is whole, followed by a read that starts a field, gets the line end the
        upstream left out (``formats.sse.line_end``)."""
        parts = self._open
        head = b""
        if parts and parts[0] is _OWED:  # the blank line we wrote for the upstream: not twice
            parts.clear()
            chunk = chunk[1:] if chunk[:1] == b"\n" else chunk[2:] if chunk[:2] == b"\r\n" else chunk
        if parts and chunk.startswith(FIELDS) and parts[-1][-1:] not in _EOL:
            frame = b"".join(parts)
            end = line_end(frame[frame.rfind(b"\n") + 1 :], chunk)
            if end == b"\n\n":  # the held frame was whole: it goes out alone
                parts.clear()
                head = self._whole(frame + end)
                if self.ended:
                    return head
            elif end:
                parts[:] = [frame, end]
        cut = _last_end(chunk)
        if cut < 0 and parts:
            cut = _end_across(parts[-1], chunk)
        if cut < 0:
            if parts or chunk.strip():  # (blank lines between frames are not held)
                parts.append(chunk)
                if len(parts) > 64 and sum(map(len, parts)) > FRAME_LIMIT:
                    return head + self._too_large()
        else:
            if parts:
                frames = b"".join((*parts, chunk[:cut]))
                parts.clear()
            else:
                frames = chunk[:cut]
            head += self._whole(frames)
            if self.ended:
                return head
            if chunk[cut:].strip():
                parts.append(chunk[cut:])
        if parts and parts[-1][-1:] == b"\n":  # (a frame's line just ended)
            frame = b"".join(parts)
            if named_whole(frame):  # whole enough to go without its blank line (CPA)
                parts[:] = [_OWED]
                head += self._whole(frame + (b"\r\n" if frame.endswith(b"\r\n") else b"\n"))
        return head

    def _too_large(self) -> bytes:
        """A frame that never ends (or one larger than CPA's line reader takes): the stream
        ends in a failure, nothing of it relayed."""
        self._open = []
        err = ir.Error("upstream sent a stream event too large to relay", status=502)
        if self.started:
            self.late_error = err
            self.ended = True
        elif self.early_error is None:
            self.early_error = err
        return b""

    def _whole(self, frames: bytes) -> bytes:
        """Whole frames through the relay and the screening."""
        return self._screened(_relay(self, frames))

    def _screened(self, out: bytes) -> bytes:
        if self._tail:
            out, self._tail = self._tail + out, b""
        elif not out or (out.endswith(_ENDS) and not _suspect(out)):
            return out
        return self._screen(out)

    def _suspect(self, data: bytes) -> bool:
        return _suspect(data)

    def _rewrite(self, event: bytes) -> bytes | None:
        """The safe form of ``event`` (one SSE event, no blank line) when it is an error.
        What comes before its ``data:`` lines stays (the end of a line an earlier chunk
        began, which the client already has in part); an ``event:`` line is bounded."""
        if not _suspect(event):
            return None
        parts = error_event_parts(event)
        if parts is None:
            return None
        head, name, data = parts
        try:
            obj = orjson.loads(b"\n".join(data))
        except orjson.JSONDecodeError:
            return self._rewrite_lines(head, name, data) if len(data) > 1 else None
        if not isinstance(obj, dict):
            return None
        kind = obj.get("type")
        if name not in _ERROR_EVENTS and kind not in _ERROR_EVENTS and not is_error_payload(obj):
            return None
        return head + self._safe(name, obj)

    def _rewrite_lines(self, head: bytes, name: str, data: list[bytes]) -> bytes | None:
        """An event whose ``data:`` lines each hold a payload of their own (the upstream
        left out the blank lines between frames; ``formats.sse.SSEDecoder`` reads them
        apart): when one of them is an error, the lines before it go out as a frame (with
        the event's ``event:`` line) and the error after it, made safe, as a ``data:``-only
        event (as it comes when a read ends between the lines); CPA's Codex executor reads
        the lines one by one and fails the stream at the first error. ``None`` when none
        is one. An event named an error (or whose first line is the error) becomes that
        line, made safe, the lines before it dropped (CPA's framer fails a frame named an
        error whatever its payload)."""
        lines = payload_lines(data)
        if len(lines) < 2:
            return None  # (one payload over several lines, or lines that are not payloads)
        for at, line in enumerate(lines):
            if not _suspect(line):
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(obj, dict):
                continue
            kind = obj.get("type")
            if kind not in _ERROR_EVENTS and not is_error_payload(obj):
                continue
            if name in _ERROR_EVENTS or not at:
                return head + self._safe(name, obj)
            return data_frame(head, lines[:at]) + self._safe("", obj)
        return None

    def _safe(self, name: str, obj: dict[str, Any]) -> bytes:
        """The ``data:`` line (and blank line) of error payload ``obj`` made safe; the
        first one read is what the stream failed with (``upstream_error``)."""
        body = orjson.dumps(safe_payload(obj))
        if self._scrub is not None:
            body = self._scrub(body)
        if self.upstream_error is None:  # read from what the client gets: nothing secret is kept
            self.upstream_error = _failure(name, body)
        return b"data: " + body + b"\n\n"


def _failure(name: str, data: bytes) -> ir.Error | None:
    """What an upstream's error event says, read by the Responses decoder (status, code,
    a usage limit's reset); ``None`` for an error payload of another kind, which fails no
    credential (CPA's Codex executor fails a stream at ``error`` and ``response.failed``)."""
    head = b"event: " + name.encode() + b"\n" if name else b""
    for ev in ResponsesDecoder().decode(head + b"data: " + data + b"\n\n"):
        if type(ev) is ir.Error:
            return ev
    return None


def _last_end(chunk: bytes) -> int:
    """Where the last blank line in ``chunk`` ends (LF or CRLF), or -1."""
    lf = chunk.rfind(b"\n\n")
    crlf = chunk.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else -1, crlf + 4 if crlf >= 0 else -1)


def _end_across(before: bytes, chunk: bytes) -> int:
    """Where in ``chunk`` a blank line ends that began at the end of ``before`` (the held
    read), or -1."""
    tail = before[-3:]
    end = _last_end(tail + chunk[:3]) - len(tail)
    return end if end > 0 else -1
