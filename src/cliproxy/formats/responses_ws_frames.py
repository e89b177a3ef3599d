"""The SSE stream of a reply cut into its events' ``data``, for the Responses WebSocket
(``cliproxy.responses_ws``): each event's JSON goes to the client as one message, and the
events one upstream read brought go together.

The stream is the upstream's own or our encoder's: ``\n`` line ends and one ``data:`` line
per JSON event, cut at blank lines with ``bytes.split``; a stream with ``\r`` goes through
the general ``SSEDecoder``, and so does a frame of several ``data:`` lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cliproxy.formats.sse import SSEDecoder

__all__ = ["Frames", "batches"]


async def batches(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The ``data`` of the SSE events of a stream reply, as they arrive: one list per
    chunk read (a chunk that completes no event yields nothing)."""
    frames = Frames()
    batch = frames.feed(first)
    if batch:
        yield batch
    async for chunk in rest:
        batch = frames.feed(chunk)
        if batch:
            yield batch
    batch = frames.flush()
    if batch:
        yield batch


class Frames:
    """SSE bytes -> each event's ``data``, cut at blank lines with ``bytes.split`` (the
    stream is the upstream's own or our encoder's: ``\n`` line ends, one ``data:`` line
    per JSON event); a stream with ``\r`` goes through the general ``SSEDecoder``."""

    __slots__ = ("_held", "_slow")

    def __init__(self) -> None:
        self._held = b""
        self._slow: SSEDecoder | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._slow is None and chunk.find(b"\r") >= 0:
            self._slow = SSEDecoder()
            chunk, self._held = self._held + chunk, b""
        if self._slow is not None:
            return _data_of(self._slow.decode(chunk))
        if self._held:
            chunk, self._held = self._held + chunk, b""
        end = chunk.rfind(b"\n\n")
        if end < 0:
            self._held = chunk
            return []
        self._held = chunk[end + 2 :]
        out = []
        for frame in chunk[:end].split(b"\n\n"):
            data = _frame_data(frame)
            if data is None:
                out.extend(_data_of(SSEDecoder().decode(frame + b"\n\n")))
            elif data and data != b"[DONE]":
                out.append(data)
        return out

    def flush(self) -> list[bytes]:
        if self._slow is not None:
            return _data_of(self._slow.flush())
        held, self._held = self._held, b""
        data = _frame_data(held.rstrip(b"\n"))
        if data is None:
            return _data_of(SSEDecoder().decode(held.rstrip(b"\n") + b"\n\n"))
        return [data] if data and data != b"[DONE]" else []


def _frame_data(frame: bytes) -> bytes | None:
    """The ``data`` of one SSE frame of one ``data:`` line (or none); ``None`` for a frame
    of several, which ``SSEDecoder`` reads: one payload when they join into one (JSON over
    several lines), each its own when each is whole (the blank line between two frames
    left out: CPA's executors read an upstream's lines one by one)."""
    at = frame.find(b"data: ")  # the common frame: its last line is its one data line
    if (at == 0 or (at > 0 and frame[at - 1] == 10)) and frame.find(b"\n", at) < 0:
        return frame[at + 6 :] if frame.count(b"data:", 0, at) == 0 else _joined(frame)
    return _joined(frame)


def _joined(frame: bytes) -> bytes | None:
    parts = []
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value[:1] == b" " else value)
    return None if len(parts) > 1 else b"".join(parts)


def _data_of(events: Any) -> list[bytes]:
    return [e.data for e in events if e.data and e.data != b"[DONE]"]
