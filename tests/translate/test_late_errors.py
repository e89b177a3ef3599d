"""``LatePassthrough`` / ``ChatLatePassthrough`` (translate/late_errors.py) with the stream
cut into two reads at every byte: an answer flows byte for byte, an upstream's error after
the answer began ends the stream at that event, read as ``late_error`` (the e2e cases, with
the SDKs and the cooldown, are in tests/e2e/test_late_passthrough_errors.py)."""

from __future__ import annotations

import pytest

from cliproxy.formats import Format
from cliproxy.translate.late_errors import ChatLatePassthrough, LatePassthrough
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
    ("fmt", "answer", "error", "named", "status"),
    [
        (
            Format.OPENAI,
            CHAT,
            b'data: {"error":{"message":"api_key=sk-secret-1 broke","type":"server_error","code":null}}\n\n',
            b'data: {"error":{',
            500,
        ),
        (
            Format.OPENAI,
            CHAT,
            b'event: error\ndata: {"message":"api_key=sk-secret-1 broke"}\n\n',
            b"event: error\n",
            500,
        ),
        (Format.OPENAI, CHAT, b'data: {"code":429,"message":"api_key=sk-secret-1 broke"}\n\n', None, 429),
        (
            Format.CLAUDE,
            CLAUDE,
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
            b'"message":"api_key=sk-secret-1 broke"}}\n\n',
            b"event: error\n",
            529,
        ),
        (
            Format.GEMINI,
            GEMINI,
            b'data: {"error":{"code":503,"message":"api_key=sk-secret-1 broke","status":"UNAVAILABLE"}}\r\n\r\n',
            b'data: {"error":{',
            503,
        ),
    ],
    ids=["chat-error-object", "chat-named-frame", "chat-code-message", "claude", "gemini"],
)
def test_a_late_error_ends_the_stream_at_every_cut(
    fmt: Format, answer: bytes, error: bytes, named: bytes | None, status: int
) -> None:
    """Cut where the error event already names itself (or between events), the stream ends
    before it and ``late_error`` holds its status and its message, redacted. Cut inside
    its first bytes, before it names itself, its start went out and it cannot be taken
    back (the documented limit); a Chat chunk with only a top-level ``code`` is never held."""
    stream = answer + error + answer
    first = len(answer) + (len(named) if named is not None else len(error))
    for cut in [*range(1, len(answer) + 1), *range(first, len(stream))]:
        out, tr = _relay(fmt, stream, cut)
        assert tr.ended and out == answer, (cut, out)
        assert tr.late_error is tr.upstream_error and tr.late_error is not None
        assert tr.late_error.status == status and tr.late_error.message == "api_key=[REDACTED] broke", cut


def test_an_error_before_the_answer_is_the_decoders() -> None:
    """Before the first content the stream's decoder watches (an early error fails over):
    no late error is made of it."""
    stream = b'data: {"error":{"message":"early","type":"server_error"}}\n\n'
    _, tr = _relay(Format.OPENAI, stream, len(stream))
    assert tr.early_error is not None and tr.late_error is None and not tr.started
