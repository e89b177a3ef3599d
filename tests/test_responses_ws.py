"""``cliproxy.formats.responses_ws_frames``: the SSE-to-event cutter the session reads stream replies with
(every split of the bytes gives the same events, as ``SSEDecoder`` would)."""

from __future__ import annotations

import pytest

from cliproxy.formats.responses_ws_frames import Frames as _Frames
from cliproxy.formats.sse import SSEDecoder

STREAM = (
    b'event: response.created\ndata: {"type":"response.created"}\n\n'
    b": keep-alive\n\n"
    b'data: {"type":"response.output_text.delta","delta":"a\\nb"}\n\n'
    b"event: x\ndata: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
    b'data: {"type":"response.completed"}'
)


def _expected(stream: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    events = [*decoder.decode(stream), *decoder.flush()]
    return [e.data for e in events if e.data and e.data != b"[DONE]"]


def _cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    frames = _Frames()
    out: list[bytes] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        out.extend(frames.feed(stream[last:cut]))
        last = cut
    return out + frames.flush()


@pytest.mark.parametrize("stream", [STREAM, STREAM.replace(b"\n", b"\r\n")], ids=["lf", "crlf"])
def test_every_split_gives_the_decoder_s_events(stream: bytes) -> None:
    """CPA TestWebsocketJSONPayloadsFromChunk: each event's JSON, ``event:`` lines,
    comments and ``[DONE]`` left out."""
    expected = _expected(stream)
    assert len(expected) == 4
    assert _cut(stream, []) == expected
    for at in range(1, len(stream)):
        assert _cut(stream, [at]) == expected, at


def test_byte_by_byte() -> None:
    assert _cut(STREAM, list(range(1, len(STREAM)))) == _expected(STREAM)
