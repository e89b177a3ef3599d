"""Response normalizer plugins on a built-in provider's stream, as CPA's ``TranslateStream``
runs them: ``response.normalize_before`` on each upstream event before the host
translates it, ``response.normalize_after`` on each frame the client gets after it.

``Flow.stream_normalizers`` makes one per request, and only while such a plugin is
active: a stream without one never enters this module.

Upstream events cross the before chain as CPA's executors hand them to its translator:
a Gemini (or Interactions) upstream's bare ``data`` payload, any other upstream's
``data: <payload>`` line; the event's name is kept aside and put back. Client frames
follow what plugin executors use (``executor_answer``): the bare ``data`` payload for
Chat Completions and Gemini clients (each object of Gemini's JSON-array stream), the
whole event text for Claude and Responses clients. An empty or failed answer keeps the
chunk, so a normalizer cannot drop one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.sse import SSEDecoder, SSEEvent
from cliproxy.plugins import abi
from cliproxy.plugins.executor_answer import client_frames, wire_frame
from cliproxy.plugins.host import PluginHost
from cliproxy.plugins.translation import normalize_chain

__all__ = ["StreamNormalizers"]

BEFORE, AFTER = "response_before_translator", "response_after_translator"
_BARE_UPSTREAM = frozenset((Format.GEMINI.value, Format.INTERACTIONS.value))
_ARRAY_SEP = b",\r\n"  # between the objects of Gemini's JSON-array stream


class StreamNormalizers:
    """The normalizer chains of one stream; ``base`` holds the hooks' request fields
    (``translation.response_params``), encoded once."""

    __slots__ = ("_held", "after", "array", "bare", "base", "before", "client_format", "host")

    def __init__(
        self,
        host: PluginHost,
        base: dict[str, Any],
        client_format: Format,
        *,
        before: bool,
        after: bool,
        array: bool,
    ) -> None:
        self.host = host
        self.base = base
        self.client_format = client_format
        self.before = before
        self.after = after
        self.array = array  # the client reads Gemini's JSON array, not SSE
        self.bare = base["FromFormat"] in _BARE_UPSTREAM
        self._held = b""  # the client's bytes after their last whole event

    # ------------------------------------------------------------------ upstream side

    async def upstream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` (an upstream SSE body) cut into whole events, each through the
        before chain when one is active, framed again with ``\\n\\n`` line ends."""
        decoder = SSEDecoder()
        async for chunk in chunks:
            events = decoder.decode(chunk)
            if events:
                yield await self._events(events)
        events = decoder.flush()
        if events:
            yield await self._events(events)

    async def _events(self, events: list[SSEEvent]) -> bytes:
        out = []
        for ev in events:
            body = ev.data if self.bare else b"data: " + ev.data
            if ev.data and self.before:
                body = await normalize_chain(
                    self.host, BEFORE, abi.RESPONSE_NORMALIZE_BEFORE, self.base, body
                )
            out.append(_upstream_event(ev.event, body))
        return b"".join(out)

    # ------------------------------------------------------------------ client side

    async def client(self, out: bytes, *, end: bool = False) -> bytes:
        """``out``, bytes for the client, with each whole frame through the after chain
        (``end``: the stream's last bytes, so nothing is held back)."""
        if not self.after:
            return out
        if self.array:
            return await self._array(out)
        buf = self._held + out if self._held else out
        cut = len(buf) if end else buf.rfind(b"\n\n") + 2
        if cut < 2:
            self._held = buf
            return b""
        self._held = buf[cut:]
        fmt = self.client_format
        return b"".join([wire_frame(fmt, await self._after(f)) for f in client_frames(fmt, buf[:cut])])

    async def _array(self, out: bytes) -> bytes:
        """A piece of the JSON-array stream (``[`` or ``,\\r\\n`` before each object, ``]``
        at the end, as the Gemini encoder writes them) with each object normalized."""
        head = b"[" if out[:1] == b"[" else b""
        tail = b"]" if out[-1:] == b"]" else b""
        parts = out[len(head) : len(out) - len(tail)].split(_ARRAY_SEP)
        for i, part in enumerate(parts):
            if part.strip():
                parts[i] = await self._after(part)
        return head + _ARRAY_SEP.join(parts) + tail

    async def _after(self, frame: bytes) -> bytes:
        return await normalize_chain(self.host, AFTER, abi.RESPONSE_NORMALIZE_AFTER, self.base, frame)


def _upstream_event(name: str | None, body: bytes) -> bytes:
    """One upstream event as SSE again: a ``data:`` line (``data: `` added to a bare
    payload) under the event's ``name``; a body that is a whole event already (it names
    its ``event:``) is taken as it is."""
    if body.startswith(b"event:"):
        return body if body.endswith(b"\n\n") else body.rstrip(b"\n") + b"\n\n"
    line = body.rstrip(b"\n") if body.startswith(b"data:") else b"data: " + body
    return (b"event: " + name.encode() + b"\n" + line if name else line) + b"\n\n"
