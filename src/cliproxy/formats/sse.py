"""Server-sent events: an incremental decoder and frame writers.

``SSEDecoder.decode(chunk)`` takes bytes as they arrive (split anywhere, even inside a
``\\r\\n``) and returns the events that are complete; ``flush()`` returns a last event
that had no blank line after it. Nothing is buffered beyond the current event, and a
long event (a 10 MB base64 image in one ``data:`` line) arriving in many chunks costs
linear time: its pieces are kept in a list and joined once, when its blank line comes.
An event that grows past :data:`MAX_EVENT_BYTES` without its blank line (an upstream that
streams one endless line) raises :class:`EventTooLarge`, a 502: memory stays bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from cliproxy.errors import UpstreamError

__all__ = [
    "FIELDS",
    "MAX_EVENT_BYTES",
    "EventTooLarge",
    "Held",
    "SSEDecoder",
    "SSEEvent",
    "flushable",
    "frame",
    "frame_data",
    "line_end",
    "lines_with",
    "named_whole",
]


MAX_EVENT_BYTES = 64 << 20
"""The most an unfinished event may hold (CPA's scanners stop at 50 MB a line): an
upstream's event is far smaller (a 10 MB base64 image), so past it the stream is broken."""


class EventTooLarge(UpstreamError):
    """An upstream event grew past :data:`MAX_EVENT_BYTES` without ending: the stream fails
    (a 502 before its first byte, an error event after)."""


def too_large(size: int) -> EventTooLarge:
    return EventTooLarge(
        f"upstream stream sent an event of {size} bytes without its end "
        f"(at most {MAX_EVENT_BYTES}); the stream was stopped",
        status=502,
    )


class Held:
    """The unfinished end of a stream's reads (a line whose end has not come), kept in
    pieces and joined once, when its end comes (linear time: ``held + chunk`` on every read
    is quadratic), and bounded: past :data:`MAX_EVENT_BYTES` :meth:`keep` raises
    :class:`EventTooLarge`, or with ``drop`` forgets what it held (a reader that only looks
    at short lines, a usage sniffer). ``parts`` is empty when nothing is held."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def keep(self, piece: bytes, *, drop: bool = False) -> None:
        if piece:
            self.parts.append(piece)
            self.size += len(piece)
            if self.size > MAX_EVENT_BYTES:
                size = self.size
                self.parts, self.size = [], 0
                if not drop:
                    raise too_large(size)

    def join(self, chunk: bytes) -> bytes:
        """What is held, then ``chunk``; nothing is held after."""
        if not self.parts:
            return chunk
        out = b"".join((*self.parts, chunk))
        self.parts, self.size = [], 0
        return out


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: bytes
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE parser (WHATWG rules: ``\\n``, ``\\r\\n`` or ``\\r`` line ends,
    ``data:`` lines joined by ``\\n``, ``:`` comments ignored, a leading space after the
    colon dropped). One departure: an event whose ``data:`` lines each hold a whole payload
    that their join is not (``data: {a}\\ndata: {b}``) comes out as one event per line, as
    CPA's executors read an upstream's stream line by line; an event of one ``data:`` line
    never pays for that check."""

    __slots__ = ("_buf", "_data", "_event", "_held", "_id", "_parts", "_pending_cr", "_retry")

    def __init__(self) -> None:
        self._buf = b""
        self._parts: list[bytes] = []  # an unfinished event that spans chunks, after _buf
        self._held = 0  # the bytes in _parts
        self._pending_cr = False
        self._event: str | None = None
        self._data: list[bytes] = []
        self._id: str | None = None
        self._retry: int | None = None

    def one(self, chunk: bytes) -> tuple[str | None, bytes] | None:
        """``(event name or None, data)`` when ``chunk`` is exactly one whole ``data: Y``
        or ``event: X\ndata: Y`` event with LF line ends and no earlier event is
        unfinished (the common read of a stream): what :meth:`decode` would return, with no
        event made; None otherwise (then :meth:`decode` reads it)."""
        if self._buf or self._pending_cr or chunk[-2:] != b"\n\n" or chunk.find(b"\r") >= 0:
            return None
        nl = chunk.find(b"\n")
        if nl == len(chunk) - 2:
            return (None, chunk[6:-2]) if chunk[:6] == b"data: " else None
        if (
            chunk[:7] == b"event: "
            and chunk.startswith(b"data: ", nl + 1)
            and chunk.find(b"\n", nl + 1) == len(chunk) - 2
        ):
            return chunk[7:nl].decode(), chunk[nl + 7 : -2]
        return None

    def decode(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if chunk[-2:] == b"\n\n":
            found = self.one(chunk)  # the common read: exactly one whole frame
            if found is not None:
                return [SSEEvent(*found)]
        elif (
            chunk[-4:] == b"\r\n\r\n"
            and not self._buf
            and not self._pending_cr
            and chunk[:6] == b"data: "
            and chunk.find(b"\r") == len(chunk) - 4
            and chunk.find(b"\n") == len(chunk) - 3
        ):  # the same from Gemini, whose frames end in CRLF CRLF
            return [SSEEvent(None, chunk[6:-4])]
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if chunk.find(b"\r") >= 0:
            if chunk.endswith(b"\r"):
                # a lone CR may be the first half of CRLF: decide when more arrives
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._buf:
            last = self._parts[-1] if self._parts else self._buf
            if chunk.find(b"\n\n") < 0 and not (last[-1:] == b"\n" and chunk[:1] == b"\n"):
                if chunk:
                    self._parts.append(chunk)  # still inside the same event
                    self._held += len(chunk)
                    if self._held + len(self._buf) > MAX_EVENT_BYTES:
                        self._too_large()
                return []
            buf = b"".join((self._buf, *self._parts, chunk))
            self._parts = []
            self._held = 0
        else:
            buf = chunk
        out: list[SSEEvent] = []
        start = 0
        find = buf.find
        # whole events only: a partial event stays in the buffer until its blank line comes
        while (end := find(b"\n\n", start)) >= 0:
            block = buf[start:end]
            start = end + 2
            if block.startswith(b"data: ") and block.find(b"\n") < 0:  # OpenAI, Gemini
                out.append(SSEEvent(None, block[6:]))
                continue
            if block.startswith(b"event: "):  # Claude, Responses: "event: X\ndata: Y"
                nl = block.find(b"\n")
                if nl > 0 and block.startswith(b"data: ", nl + 1) and block.find(b"\n", nl + 1) < 0:
                    out.append(SSEEvent(block[7:nl].decode(), block[nl + 7 :]))
                    continue
            for line in block.split(b"\n"):
                self._line(line, out)
            self._line(b"", out)
        self._buf = buf[start:]
        return out

    def decode_data(self, chunk: bytes) -> list[bytes]:
        """Only the ``data`` of the events ``chunk`` completes, for framings whose events
        have no names (OpenAI Chat, Gemini): the common one-frame read makes no event."""
        if not self._buf and not self._pending_cr and chunk[:6] == b"data: ":
            if chunk[-2:] == b"\n\n":
                if chunk.find(b"\n") == len(chunk) - 2 and chunk.find(b"\r") < 0:
                    return [chunk[6:-2]]
            elif (
                chunk[-4:] == b"\r\n\r\n"
                and chunk.find(b"\r") == len(chunk) - 4
                and chunk.find(b"\n") == len(chunk) - 3
            ):  # Gemini's CRLF frame
                return [chunk[6:-4]]
        return [ev.data for ev in self.decode(chunk)]

    @property
    def idle(self) -> bool:
        """No part of an event is held: the next chunk starts a new event."""
        return not self._buf and not self._pending_cr

    def _too_large(self) -> None:
        held = self._held + len(self._buf)
        self._buf, self._parts, self._held, self._data = b"", [], 0, []
        raise too_large(held)

    def flush(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._parts:
            self._buf = b"".join((self._buf, *self._parts))
            self._parts = []
            self._held = 0
        if self._buf:
            for line in self._buf.split(b"\n"):
                self._line(line, out)
            self._buf = b""
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event is not None:
                data = self._data
                parts = _apart(data) if len(data) > 1 else None
                if parts is None:
                    out.append(SSEEvent(self._event, b"\n".join(data), self._id, self._retry))
                else:  # one event for each payload (CPA reads an upstream's data: lines one by one)
                    out.extend([SSEEvent(self._event, part, self._id, self._retry) for part in parts])
                self._event = None
                self._data = []
                self._retry = None
            return
        if line[0] == 58:  # ':' comment / keep-alive
            return
        colon = line.find(b":")
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)


def lines_with(buf: bytes, needle: bytes, end: int) -> list[bytes]:
    """The lines of ``buf[:end]`` (split at ``\\n``) that contain ``needle``, in order:
    ``[x for x in buf[:end].split(b"\\n") if needle in x]`` without splitting the rest."""
    out: list[bytes] = []
    find = buf.find
    pos = find(needle, 0, end)
    while pos >= 0:
        stop = find(b"\n", pos, end)
        if stop < 0:
            stop = end
        out.append(buf[buf.rfind(b"\n", 0, pos) + 1 : stop])
        pos = find(needle, stop, end)
    return out


def frame(event: str, data: bytes) -> bytes:
    """One ``event: X`` + ``data: Y`` frame (Claude, Responses)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def frame_data(data: bytes) -> bytes:
    """One ``data: Y`` frame (OpenAI Chat, Gemini ``alt=sse``)."""
    return b"data: " + data + b"\n\n"


# what a read starts with when it starts a field line (a ``:`` comment included)
FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":")
_NAME = re.compile(rb"event: ?[A-Za-z0-9._-]+[ \t]*")


def _whole_data(payload: bytes) -> bool:
    """A ``data:`` payload that is whole: JSON that parses, or ``[DONE]``."""
    payload = payload.strip()
    if payload == b"[DONE]":
        return True
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return True


def _apart(data: list[bytes]) -> list[bytes] | None:
    """The payloads of an event's several ``data:`` lines when each line holds one of its
    own (JSON that parses, or ``[DONE]``) but joined they are none (``{a}\\n{b}``): an
    upstream that left out the blank line between two frames; None when the lines are one
    payload (JSON over several lines) or not whole payloads (then the join is read, and
    fails as it should)."""
    if _whole_data(b"\n".join(data)):
        return None
    parts = [line for line in data if line.strip()]
    return parts if len(parts) > 1 and all(_whole_data(part) for part in parts) else None


def line_end(line: bytes, nxt: bytes) -> bytes:
    """What an upstream left out between ``line`` (the last line so far, its line end not
    come) and the next read ``nxt``, which starts a field of its own (CPA's Responses
    framer, whose reads are lines): ``b"\n\n"`` when ``line`` is a whole ``data:`` line
    (its JSON parses) and ``nxt`` another ``data:`` line (two frames: joined they would be
    one payload no client can parse); ``b"\n"`` when ``line`` is a whole ``data:`` or
    ``event:`` line and ``nxt`` another field of the same frame; ``b""`` when ``line`` may
    go on in ``nxt`` (a read cut inside a JSON value, whose next bytes may well read
    ``data:``)."""
    if not nxt.startswith(FIELDS):
        return b""
    if line.startswith(b"data:"):
        if not _whole_data(line[5:]):
            return b""
        return b"\n\n" if nxt.startswith(b"data:") else b"\n"
    if _NAME.fullmatch(line) is not None:
        return b"\n"
    return b""


def flushable(frame: bytes) -> bool:
    """Whether ``frame``, the last of a stream with no blank line after it, is whole
    enough to relay (CPA ``responsesSSECanFlushWithoutDelimiter``): it has ``data:``
    lines and their payload, joined, is JSON that parses (or ``[DONE]``, or empty); a
    frame cut inside its JSON is not."""
    data = [line[5:].strip() for line in frame.replace(b"\r", b"").split(b"\n") if line.startswith(b"data:")]
    if not data:
        return False
    joined = b"\n".join(data)
    return not joined.strip() or _whole_data(joined)


def named_whole(frame: bytes) -> bool:
    """Whether ``frame``, whole lines with no blank line after them yet, is a whole frame
    all the same (CPA ``responsesSSECanEmitWithoutDelimiter``): it has an ``event:`` line
    and ``data:`` lines whose payload is JSON that parses. (A payload over several
    ``data:`` lines does not parse until its last one is in.)"""
    if not frame.startswith(b"event:") and frame.find(b"\nevent:") < 0:
        return False
    return frame.find(b"data:") >= 0 and flushable(frame)
