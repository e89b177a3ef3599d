"""An upstream body on its way to the replies (:mod:`cliproxy.replies`): its chunks mapped
by a step with state (an envelope taken off each payload, an attempt's line rewrite) and
pushed as the connection reads them when the answer can push, else iterated."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from cliproxy.calls import LazyStream
from cliproxy.formats.sse import FIELDS, Held, SSEDecoder, frame_data, line_end
from cliproxy.providers import decoding
from cliproxy.providers.base import Provider
from cliproxy.providers.fastconn import GO, STOP, Push
from cliproxy.providers.transport import UpstreamResponse

__all__ = ["Mapped", "pulled", "rewritten", "source_relay", "undeclared", "unwrapped"]


def unwrapped(
    chunks: AsyncIterator[bytes], provider: Provider, resp: UpstreamResponse | None = None
) -> AsyncIterator[bytes]:
    """``chunks``, the SSE body of a provider that wraps its payloads, with each payload's
    envelope taken off (``Provider.unwrap_chunk``): for a reader that needs the bytes
    unwrapped (a client of the upstream's own format, a rewrite hook, a decoder that
    cannot unwrap). ``resp``: the answer ``chunks`` is read from, when it may push."""
    decoder = SSEDecoder()
    unwrap = provider.unwrap_chunk
    data = decoder.decode_data

    def step(chunk: bytes) -> bytes:
        return b"".join([frame_data(unwrap(payload)) for payload in data(chunk)])

    def tail() -> bytes:
        return b"".join([frame_data(unwrap(ev.data)) for ev in decoder.flush()])

    return Mapped(chunks, step, tail, resp)


def rewritten(
    raw: AsyncIterator[bytes], rewrite: Callable[[bytes], bytes], resp: UpstreamResponse | None = None
) -> AsyncIterator[bytes]:
    """``raw`` cut after line ends, each run of complete lines passed through ``rewrite``
    (an attempt's ``UpstreamRequest.rewrite_chunk``); a line split across chunks is held
    back until its end arrives, unless the next read starts a field of its own and the
    held line is whole (its JSON parses: ``formats.sse.line_end``, CPA's framer): then it
    gets the line end (a blank line between two ``data:`` lines) the upstream left out,
    so that two frames are never glued into one. ``resp``: the answer ``raw`` is read
    from, when it may push (``relay``)."""
    held = Held()  # (bounded: an endless line fails the stream)

    def step(chunk: bytes) -> bytes:
        if held.parts and chunk.startswith(FIELDS):  # (a line split across reads, then a field's start)
            line = b"".join(held.parts)
            end = line_end(line, chunk)
            if end:  # (not a call of step itself: a closure calling itself is a cycle)
                held.join(b"")
                first = rewrite(line + end)
                cut = chunk.rfind(b"\n") + 1
                held.keep(chunk[cut:])
                return first + rewrite(chunk[:cut]) if cut else first
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            held.keep(chunk)
            return b""
        lines = held.join(chunk[:cut])
        held.keep(chunk[cut:])
        return rewrite(lines)

    def tail() -> bytes:
        return rewrite(held.join(b"")) if held.parts else b""

    return Mapped(raw, step, tail, resp)


async def undeclared(
    raw: AsyncIterator[bytes], head: bytes, resp: UpstreamResponse | None = None
) -> tuple[bytes, AsyncIterator[bytes]]:
    """A body whose first chunk ``head`` (already taken from ``raw``) starts with a byte of
    gzip's or zstd's magic number, with no Content-Encoding named: the first bytes decoded
    and the rest decoding as it comes when the whole magic number is there
    (:func:`.decoding.undeclared`; more chunks are read while ``head`` is under 4 bytes),
    else the bytes and ``raw`` as they were. A failure to decode is an ``UndecodableBody``."""
    while len(head) < 4:
        try:
            head += await raw.__anext__()
        except StopAsyncIteration:
            break
    decoder = decoding.undeclared(head)
    if decoder is None:
        return head, raw
    decompress, flush, decode = decoder.decompress, decoder.flush, decoding.decode

    def step(chunk: bytes) -> bytes:
        return decode(decompress, chunk)

    def tail() -> bytes:
        return decode(flush)

    return step(head), Mapped(raw, step, tail, resp)


class Mapped(LazyStream):
    """An upstream body whose chunks a step with state maps on their way (``rewritten``,
    the un-enveloping of ``chunks_of``), then ``tail()`` at its end: an async iterator, or
    pushed (``relay``)."""

    __slots__ = ("_done", "raw", "resp", "step", "tail")

    def __init__(
        self,
        raw: AsyncIterator[bytes],
        step: Callable[[bytes], bytes],
        tail: Callable[[], bytes],
        resp: UpstreamResponse | None,
    ) -> None:
        super().__init__()
        self.raw, self.step, self.tail, self.resp = raw, step, tail, resp
        self._done = False  # the tail is out (or not wanted)

    async def aclose(self) -> None:
        await super().aclose()
        close = getattr(self.raw, "aclose", None)  # (``async for`` leaves what it read open)
        if close is not None:
            await close()

    def _end(self) -> bytes:
        if self._done:
            return b""
        self._done = True
        return self.tail()

    async def _pull(self) -> AsyncGenerator[bytes, None]:
        step = self.step
        async for chunk in self.raw:
            out = step(chunk)
            if out:
                yield out
        out = self._end()
        if out:
            yield out

    def relay(self, push: Push, drain: Callable[[], Awaitable[None]]) -> Coroutine[Any, Any, None]:
        """Push mode: each mapped chunk to ``push``; the iterator a reader began (the first
        events are pulled) is closed first: it holds no chunk it did not map."""
        step = self.step

        def mapped(chunk: bytes) -> int:
            out = step(chunk)
            if not out:
                return GO
            state = push(out)
            if state == STOP:
                self._done = True  # (the consumer wants no more: no tail either)
            return state

        gen, self._gen = self._gen, None
        return self._relayed(gen, mapped, push, drain)

    async def _relayed(
        self,
        gen: AsyncGenerator[bytes, None] | None,
        mapped: Push,
        push: Push,
        drain: Callable[[], Awaitable[None]],
    ) -> None:
        if gen is not None:
            await gen.aclose()
        await source_relay(self.resp, self.raw, mapped, drain)
        out = self._end()
        if out:
            push(out)


def source_relay(
    resp: UpstreamResponse | None,
    source: AsyncIterator[bytes],
    push: Push,
    drain: Callable[[], Awaitable[None]],
) -> Coroutine[Any, Any, None]:
    """How ``source``, an upstream body, is pushed: its own ``relay`` (a mapped body), the
    answer's for the iterator it handed out (``FastResponse``: from the connection's
    reads), else iterated by :func:`pulled`."""
    own = getattr(source, "relay", None)
    if own is not None:
        pushed: Coroutine[Any, Any, None] = own(push, drain)
        return pushed
    relay = getattr(resp, "relay", None)
    inner = relay(source, push, drain) if relay is not None else None
    return inner if inner is not None else pulled(source, push, drain)


async def pulled(source: AsyncIterator[bytes], push: Push, drain: Callable[[], Awaitable[None]]) -> None:
    """A body that cannot push (aiohttp's, curl's, an encoded one, a tee), pushed all the
    same: iterated here, each chunk to ``push`` (no step of the layers above per chunk)."""
    try:
        async for chunk in source:
            state = push(chunk)
            if state:
                if state == STOP:
                    break
                await drain()
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
