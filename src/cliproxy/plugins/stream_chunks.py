"""A stream's bytes for the client cut into the chunks stream-chunk interceptors see.

CPA hands ``response.intercept_stream_chunk`` one chunk of its executor's stream at a
time, and its executors send one chunk per event, already in the client's format: the
bare ``data`` payload for Chat Completions and Gemini clients (its handler adds
``data: `` and the blank line, and writes Chat's ``[DONE]`` itself, never as a chunk),
the whole event text for Claude, Responses and Interactions clients. The bytes cliproxy
streams are read off the network, so one read can hold several events, or part of one:
:class:`StreamChunks` holds a partial event back until its end comes, passes each whole
event through the chain on its own, and frames what the chain keeps again. A Gemini
client's JSON-array stream (no ``?alt=sse``) is cut at its objects. (CPA's Codex executor
hands a Responses client's passthrough stream over line by line, an ``event:`` line apart
from its ``data:`` line; here the event comes whole, as in CPA's translated Responses
streams, so a plugin that drops an event leaves no stray line.)

``Flow`` makes one per stream, only while a stream-chunk interceptor is active: a stream
without one never enters this module.
"""

from __future__ import annotations

from cliproxy.formats import Format
from cliproxy.plugins import rules
from cliproxy.plugins.executor_answer import client_frames, wire_frame
from cliproxy.plugins.host import PluginHost

__all__ = ["StreamChunks"]

_ARRAY_SEP = b",\r\n"  # between the objects of Gemini's JSON-array stream
_DONE = b"data: [DONE]"


class StreamChunks:
    """The stream-chunk chain of one stream, fed the client's bytes as they come."""

    __slots__ = ("_held", "_sent", "array", "fmt", "host", "st")

    def __init__(self, host: PluginHost, st: rules.ChunkState, fmt: Format, *, alt: str | None) -> None:
        self.host = host
        self.st = st
        self.fmt = fmt
        self.array = fmt is Format.GEMINI and alt != "sse"  # Gemini's JSON array, not SSE
        self._held = b""  # bytes after the last whole event
        self._sent = False  # (array) an object went out: the next one follows a separator

    async def feed(self, data: bytes, *, end: bool = False) -> bytes:
        """``data`` with each whole event through the chain (a dropped one gone); a partial
        event at its end waits for the next call (``end``: the stream's last bytes)."""
        if self.array:
            return await self._array(data, end)
        buf = self._held + data if self._held else data
        cr = b""
        if buf.find(b"\r") >= 0:  # CRLF line ends (Gemini's) as LF; a last CR may be half of one
            if not end and buf[-1:] == b"\r":
                buf, cr = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = len(buf) if end else buf.rfind(b"\n\n") + 2
        if cut < 2:
            self._held = buf + cr
            return b""
        self._held = buf[cut:] + cr
        out: list[bytes] = []
        for block in buf[:cut].split(b"\n\n"):
            if not block.strip():
                continue
            if block == _DONE or block.find(b"data:") < 0:  # no chunk of CPA's: as it is
                out.append(block + b"\n\n")
                continue
            kept = await rules.stream_chunk(self.host, self.st, client_frames(self.fmt, block)[0])
            if kept:
                out.append(wire_frame(self.fmt, kept))
        return b"".join(out)

    async def _array(self, data: bytes, end: bool) -> bytes:
        """A piece of the JSON-array stream (``[`` before the first object, ``,\\r\\n``
        before each later one, ``]`` at the end, as the Gemini encoder writes them, whole
        objects only) with each object through the chain; separators follow what is kept."""
        head = 1 if data[:1] == b"[" else 0
        tail = 1 if data[-1:] == b"]" else 0
        out: list[bytes] = []
        for part in data[head : len(data) - tail].split(_ARRAY_SEP):
            if not part.strip():
                continue
            kept = await rules.stream_chunk(self.host, self.st, part)
            if kept:
                out.append((_ARRAY_SEP if self._sent else b"[") + kept)
                self._sent = True
        if tail:
            out.append(b"]" if self._sent else b"[]")
            self._sent = True
        return b"".join(out)
