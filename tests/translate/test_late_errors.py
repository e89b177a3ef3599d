"""``LatePassthrough`` / ``ChatLatePassthrough`` (translate/late_errors.py) with the stream
cut into two reads at every byte: an answer flows byte for byte, an upstream's error after
the answer began ends the stream at that event, read as ``late_error`` (the e2e cases, with
the SDKs and the cooldown, are in tests/e2e/test_late_passthrough_errors.py)."""

from __future__ import annotations

import pytest

from cliproxy.formats import Format
from cliproxy.translate.late_errors import HOLD_UNNAMED, ChatLatePassthrough, LatePassthrough
from cliproxy.translate.registry import default_registry

CHAT = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"an error in "}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"the \\"error\\" text"}}]}\n\n'
)
CHAT_END = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
CLAUDE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","role":"assistant",'
    b'"content":[],"usage":{"input_tokens":1,"output_tokens":0}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
)
GEMINI = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}]}\r\n\r\n'


def _relay(fmt: Format, stream: bytes, cut: int) -> tuple[bytes, LatePassthrough]:
    adapter = default_registry().adapter(fmt)
    kind = ChatLatePassthrough if fmt is Format.OPENAI else LatePassthrough
    tr = kind(adapter.stream_decoder(None), adapter.stream_decoder)
    out = tr.feed(stream[:cut])
    if not tr.ended:
        out += tr.feed(stream[cut:])
    return out + tr.finish(), tr


def test_a_chat_answer_that_says_error_flows_untouched_at_every_cut() -> None:
    stream = CHAT + CHAT_END
    for cut in range(1, len(stream)):
        out, tr = _relay(Format.OPENAI, stream, cut)
        assert out == stream and tr.late_error is None, cut


@pytest.mark.parametrize(
    ("fmt", "answer", "error", "status"),
    [
        (
            Format.OPENAI,
            CHAT,
            b'data: {"error":{"message":"api_key=sk-secret-1 broke","type":"server_error","code":null}}\n\n',
            500,
        ),
        (
            Format.OPENAI,
            CHAT,
            b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],'
            b'"error":{"message":"api_key=sk-secret-1 broke","code":503}}\n\n',
            503,
        ),
        (Format.OPENAI, CHAT, b'event: error\ndata: {"message":"api_key=sk-secret-1 broke"}\n\n', 500),
        (Format.OPENAI, CHAT, b'data: {"code":429,"message":"api_key=sk-secret-1 broke"}\n\n', 429),
        (
            Format.CLAUDE,
            CLAUDE,
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
            b'"message":"api_key=sk-secret-1 broke"}}\n\n',
            529,
        ),
        (
            Format.GEMINI,
            GEMINI,
            b'data: {"error":{"code":503,"message":"api_key=sk-secret-1 broke","status":"UNAVAILABLE"}}\r\n\r\n',
            503,
        ),
    ],
    ids=[
        "chat-error-object",
        "chat-error-after-id",
        "chat-named-frame",
        "chat-code-message",
        "claude",
        "gemini",
    ],
)
def test_a_late_error_ends_the_stream_at_every_cut(
    fmt: Format, answer: bytes, error: bytes, status: int
) -> None:
    """Cut anywhere, even inside the error event's first bytes before it names itself
    (``data: {"err`` | ``or":...``), and fed byte by byte, the stream ends before the error
    and ``late_error`` holds its status and its message, redacted: an unfinished event is
    held back until it shows what it is. Before, a cut ahead of the event's name let its
    start go out raw and the error was never read."""
    stream = answer + error + answer
    for cut in range(1, len(stream)):
        out, tr = _relay(fmt, stream, cut)
        assert tr.ended and out == answer, (cut, out)
        assert tr.late_error is tr.upstream_error and tr.late_error is not None
        assert tr.late_error.status == status and tr.late_error.message == "api_key=[REDACTED] broke", cut
    adapter = default_registry().adapter(fmt)
    tr = (ChatLatePassthrough if fmt is Format.OPENAI else LatePassthrough)(
        adapter.stream_decoder(None), adapter.stream_decoder
    )
    out = b"".join(tr.feed(stream[i : i + 1]) for i in range(len(stream)))
    assert out + tr.finish() == answer and tr.late_error is not None and tr.late_error.status == status


def test_an_unfinished_answer_event_is_held_only_while_short() -> None:
    """An answer's event split across reads is held back until whole while it is short,
    and flows as it comes once longer than ``HOLD_UNNAMED`` (a large image); a last event
    with no blank line after it goes out as it came."""
    big = b'data: {"candidates":[{"content":{"parts":[{"text":"' + b"x" * HOLD_UNNAMED + b'"}]}}]}\r\n\r\n'
    adapter = default_registry().adapter(Format.GEMINI)
    tr = LatePassthrough(adapter.stream_decoder(None), adapter.stream_decoder)
    assert tr.feed(GEMINI) == GEMINI
    assert tr.feed(GEMINI[:20]) == b""  # short: held
    assert tr.feed(GEMINI[20:]) == GEMINI
    assert tr.feed(big[:100]) == b""
    assert tr.feed(big[100:-10]) == big[:-10]  # past the limit: relayed
    assert tr.feed(big[-10:]) == big[-10:]
    assert tr.feed(GEMINI[:-4]) == b""
    assert tr.finish() == GEMINI[:-4] and tr.late_error is None


def test_an_error_before_the_answer_is_the_decoders() -> None:
    """Before the first content the stream's decoder watches (an early error fails over):
    no late error is made of it."""
    stream = b'data: {"error":{"message":"early","type":"server_error"}}\n\n'
    _, tr = _relay(Format.OPENAI, stream, len(stream))
    assert tr.early_error is not None and tr.late_error is None and not tr.started


@pytest.mark.parametrize(
    ("fmt", "answer", "event"),
    [
        (
            Format.OPENAI,
            CHAT,
            b'data: {"choices":[{"index":0,"delta":{"content":" more"}}]}\n'
            b'data: {"error":{"message":"api_key=sk-secret-1 broke","type":"server_error","code":503}}\n\n',
        ),
        (
            Format.CLAUDE,
            CLAUDE,
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            b'"delta":{"type":"text_delta","text":" more"}}\n'
            b'data: {"type":"error","error":{"type":"overloaded_error","message":"api_key=sk-secret-1 broke"}}\n\n',
        ),
        (
            Format.GEMINI,
            GEMINI,
            b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":" more"}]}}]}\r\n'
            b'data: {"error":{"code":503,"message":"api_key=sk-secret-1 broke","status":"UNAVAILABLE"}}\r\n\r\n',
        ),
    ],
    ids=["chat", "claude", "gemini"],
)
def test_the_lines_before_an_error_in_one_event_go_out_at_every_cut(
    fmt: Format, answer: bytes, event: bytes
) -> None:
    """One event holding an answer's chunk and the upstream's error on two ``data:`` lines
    (the blank line between them left out), cut anywhere: the chunk's line goes out as a
    frame of its own, then the stream ends at the error (CPA reads the lines one by one and
    relays the chunk before failing at the error's line). Before, the chunk was lost with
    the event."""
    lines = event.splitlines(keepends=True)
    head = lines[0] if fmt is Format.CLAUDE else b""
    chunk = lines[1] if fmt is Format.CLAUDE else lines[0]
    expected = answer + head + chunk.rstrip(b"\r\n") + b"\n\n"
    stream = answer + event + answer
    for cut in range(1, len(stream)):
        out, tr = _relay(fmt, stream, cut)
        assert tr.ended and out == expected, (cut, out)
        assert tr.late_error is not None and tr.late_error.message == "api_key=[REDACTED] broke", cut
