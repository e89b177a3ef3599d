"""Stream plumbing against broken upstreams: decoders, ``Passthrough`` and the SSE framer.

Legitimate non-JSON lines (``[DONE]``, ``: ping`` comments, empty ``data:`` lines,
Anthropic ``event: ping``) pass; a ``data:`` line that cannot be JSON is an upstream
failure, whatever the chunk split.
"""

from __future__ import annotations

import time

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry
from cliproxy.translate.stream import Passthrough

REG = default_registry()


def sse(obj: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


CLAUDE = (
    sse(
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}},
        "message_start",
    )
    + sse(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        "content_block_start",
    )
    + b": keep-alive\n\n"
    + b"data:\n\n"
    + sse(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "see\ndata: not an event"},
        },
        "content_block_delta",
    )
    + sse({"type": "ping"}, "ping")
    + sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    + sse(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        "message_delta",
    )
    + sse({"type": "message_stop"}, "message_stop")
)
CHAT = (
    sse({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]})
    + b": OPENROUTER PROCESSING\n\n"
    + b"data:\n\n"
    + sse({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    + b"data: [DONE]\n\n"
)
GARBAGE = b"data: <html><body>502 Bad Gateway</body></html>\n\n"


def passthrough(fmt: Format) -> Passthrough:
    adapter = REG.adapter(fmt)
    return Passthrough(adapter.stream_decoder(None), adapter.usage_sniffer())


def feed_split(tr: Passthrough, data: bytes, at: int) -> bytes:
    return tr.feed(data[:at]) + tr.feed(data[at:]) + tr.finish()


@pytest.mark.parametrize(
    ("fmt", "data"), [(Format.CLAUDE, CLAUDE), (Format.OPENAI, CHAT)], ids=["claude", "chat"]
)
def test_passthrough_keeps_legitimate_lines_at_every_split(fmt, data):
    for at in range(len(data) + 1):
        tr = passthrough(fmt)
        assert feed_split(tr, data, at) == data, at
        assert tr.started and tr.early_error is None and tr.late_error is None, at


@pytest.mark.parametrize(
    ("fmt", "data"), [(Format.CLAUDE, CLAUDE), (Format.OPENAI, CHAT)], ids=["claude", "chat"]
)
def test_passthrough_garbage_before_content_is_an_early_error(fmt, data):
    tr = passthrough(fmt)
    tr.feed(GARBAGE + data)
    assert not tr.started and tr.early_error is not None and tr.early_error.status == 502


def test_passthrough_garbage_after_content_is_cut_at_every_split():
    first = CLAUDE.index(b"event: content_block_delta")
    data = CLAUDE[:first] + sse(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        "content_block_delta",
    )
    stream = data + GARBAGE + CLAUDE[first:]
    for at in range(len(data), len(stream) + 1):
        tr = passthrough(Format.CLAUDE)
        out = tr.feed(stream[: len(data)])
        out += tr.feed(stream[len(data) : at]) + tr.feed(stream[at:])
        assert tr.started and tr.ended and tr.late_error is not None, at
        assert out == data, at  # nothing from the garbage line on


@pytest.mark.parametrize(
    ("fmt", "frame"),
    [
        (Format.CLAUDE, b"event: content_block_delta\ndata: <html>oops</html>\n\n"),
        (Format.OPENAI, b"data: upstream overloaded, try later\n\n"),
        (Format.RESPONSES, b"event: response.output_text.delta\ndata: <!DOCTYPE html>\n\n"),
        (Format.GEMINI, b"data: <html>oops</html>\n\n"),
    ],
    ids=["claude", "chat", "responses", "gemini"],
)
def test_decoders_turn_non_json_events_into_502_errors(fmt, frame):
    decoder = REG.adapter(fmt).stream_decoder(None)
    events = decoder.decode(frame)  # at once, not only as a cut stream at the end
    errors = [e for e in events if isinstance(e, ir.Error)]
    assert errors and errors[0].status == 502 and "JSON" in errors[0].message, events
    assert not any(isinstance(e, ir.StreamEnd) for e in events + decoder.flush())


@pytest.mark.parametrize("fmt", [Format.CLAUDE, Format.OPENAI, Format.GEMINI])
def test_decoders_call_an_empty_or_html_body_an_error(fmt):
    for body in (b"", b"<html><body>maintenance</body></html>"):
        decoder = REG.adapter(fmt).stream_decoder(None)
        events = decoder.decode(body) + decoder.flush()
        assert isinstance(events[-1], ir.Error), (body, events)


def test_sse_decoder_is_linear_in_a_long_event():
    payload = b"x" * (8 * 1024 * 1024)
    data = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    started = time.perf_counter()
    events = []
    for i in range(0, len(data), 4096):
        events += decoder.decode(data[i : i + 4096])
    assert time.perf_counter() - started < 2.0
    assert len(events) == 1 and events[0].data == payload


def test_sse_decoder_flush_keeps_each_line_of_an_unterminated_event():
    decoder = SSEDecoder()
    assert decoder.decode(b"event: message_stop\ndata: {}") == []
    events = decoder.flush()
    assert [(e.event, e.data) for e in events] == [("message_stop", b"{}")]


AFTER_DONE = b'data: {"choices":[],"cost":"0"}\n\n'


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_passthrough_chat_stream_ends_at_done_at_every_split(eol):
    """TestOpenAICompatExecutorStreamDropsChunksAfterDone: what an OpenAI-compatible
    upstream writes after ``data: [DONE]`` never reaches a Chat client, however the reads
    fall; the stream ends there (``ended``) with no error."""
    data = CHAT.replace(b"\n", eol)
    stream = data + AFTER_DONE.replace(b"\n", eol)
    for at in range(len(stream) + 1):
        tr = passthrough(Format.OPENAI)
        out = tr.feed(stream[:at])
        out += tr.feed(stream[at:]) + tr.finish()
        assert out == data, at
        assert tr.ended and tr.late_error is None and tr.early_error is None, at


def test_passthrough_done_line_written_whole_when_the_read_ends_in_it():
    """A ``[DONE]`` line whose blank line never comes still goes out as a whole frame."""
    for data in (CHAT, CHAT.replace(b"\n", b"\r\n")):
        tr = passthrough(Format.OPENAI)
        assert tr.feed(data[:-1]) == data and tr.ended


def test_passthrough_other_formats_and_json_arrays_do_not_end_at_done():
    """Only a Chat stream ends at ``[DONE]``; a ``data: [`` line that is JSON goes on."""
    tr = passthrough(Format.CLAUDE)
    assert feed_split(tr, CLAUDE + b"data: [DONE]\n\n" + CLAUDE, 3) == CLAUDE + b"data: [DONE]\n\n" + CLAUDE
    assert not tr.ended
    arrays = CHAT.replace(b"data: [DONE]", b"data: [1, 2]\n\ndata: [DONE]")
    tr = passthrough(Format.OPENAI)
    assert feed_split(tr, arrays + AFTER_DONE, 5) == arrays and tr.late_error is None
