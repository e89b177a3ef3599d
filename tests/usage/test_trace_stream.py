"""The client stream a trace watches: iterated, stepped by hand (the keep-alive writer) or
closed early, it yields every chunk, feeds the usage sniffer, closes its source and ends
the trace exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from cliproxy.calls import StreamReply
from cliproxy.config import Config
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.trace import RequestTrace
from tests.usage.helpers import begin_chat


class _Source:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.closed = 0

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> bytes:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed += 1


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


CHUNKS = [
    _frame({"choices": [{"delta": {"content": "a"}}]}),
    _frame({"choices": [{"delta": {"content": "b"}}]}),
    _frame({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
    b"data: [DONE]\n\n",
]


def _trace(tmp_path: Path) -> tuple[Recorder, RequestTrace, list[RequestTrace]]:
    rec = Recorder(tmp_path / "config.yaml")
    rec.sync(Config(), management=False)
    rec.stats.ledger = None
    rec.stats._deferred = None
    rec.translations = default_registry()
    ended: list[RequestTrace] = []
    real = rec.finished

    def finished(t: RequestTrace) -> None:
        ended.append(t)
        real(t)

    rec.finished = finished  # type: ignore[method-assign]
    trace = begin_chat(rec)
    return rec, trace, ended


async def test_iterating_yields_every_chunk_reads_the_usage_and_ends_once(tmp_path: Path) -> None:
    rec, trace, ended = _trace(tmp_path)
    source = _Source(CHUNKS[1:])
    wrapped = trace.reply(StreamReply({}, CHUNKS[0], source))
    assert isinstance(wrapped, StreamReply) and wrapped.first == CHUNKS[0]
    got = [chunk async for chunk in wrapped.rest]
    assert got == CHUNKS[1:]
    assert ended == [trace] and source.closed == 1
    assert trace.usage is not None and trace.usage.input_tokens == 3 and trace.usage.output_tokens == 4
    await wrapped.rest.aclose()  # the server's finally: nothing more happens
    assert ended == [trace] and source.closed == 1
    rec.close()


async def test_stepping_by_hand_works_like_iterating(tmp_path: Path) -> None:
    rec, trace, ended = _trace(tmp_path)
    source = _Source(CHUNKS)
    wrapped = trace.reply(StreamReply({}, b"", source))
    rest: AsyncIterator[bytes] = wrapped.rest
    got = []
    while True:
        try:
            got.append(await rest.__anext__())
        except StopAsyncIteration:
            break
    assert got == CHUNKS and ended == [trace] and trace.first_byte
    assert trace.usage is not None and trace.usage.total == 7
    rec.close()


async def test_closing_mid_stream_closes_the_source_and_ends_the_trace(tmp_path: Path) -> None:
    rec, trace, ended = _trace(tmp_path)
    source = _Source(CHUNKS)
    wrapped = trace.reply(StreamReply({}, b"", source))
    rest = wrapped.rest
    async for chunk in rest:
        assert chunk == CHUNKS[0]
        break
    assert ended == []
    await rest.aclose()  # type: ignore[attr-defined]
    assert ended == [trace] and source.closed == 1 and trace.usage is None
    rec.close()


async def test_a_stream_that_reads_its_own_usage_is_not_sniffed(tmp_path: Path) -> None:
    """``StreamReply.read_usage`` (a translated stream's, from its upstream's events) is the
    usage recorded at the end; the client's bytes are not sniffed for one."""
    rec, trace, ended = _trace(tmp_path)
    told = ir.Usage(input_tokens=11, output_tokens=22)
    reads: list[int] = []

    def read_usage() -> ir.Usage:
        reads.append(1)
        return told

    wrapped = trace.reply(StreamReply({}, CHUNKS[0], _Source(CHUNKS[1:]), None, read_usage))
    assert isinstance(wrapped, StreamReply) and wrapped.read_usage is read_usage  # passed on
    assert [chunk async for chunk in wrapped.rest] == CHUNKS[1:]
    assert ended == [trace] and reads == [1]
    assert trace.usage is told  # not the 3 + 4 the chunks carry
    rec.close()
