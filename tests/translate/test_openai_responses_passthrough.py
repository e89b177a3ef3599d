"""``ResponsesPassthrough`` (translate/openai_responses/passthrough.py) with the stream cut
into two reads at every byte: a completion flows byte for byte, an upstream's error event
comes out bounded and redacted, whole, and ends the stream (the e2e cases are in
tests/e2e/test_responses_stream_errors_cpa.py)."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.translate.openai_responses.passthrough import ResponsesPassthrough
from cliproxy.translate.registry import default_registry

DELTA = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"partial"}\n\n'
)
COMPLETED = (
    b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp-1",'
    b'"status":"completed","error":null,"output":[]}}\n\n'
)
SAFE = {"code": "failed", "message": "token=[REDACTED]"}


def _relay(stream: bytes, cut: int) -> tuple[bytes, ResponsesPassthrough]:
    tr = ResponsesPassthrough(default_registry().adapter(Format.RESPONSES).stream_decoder(None))
    out = tr.feed(stream[:cut])
    if not tr.ended:
        out += tr.feed(stream[cut:])
    return out + tr.finish(), tr


def test_a_completion_flows_untouched_at_every_cut() -> None:
    stream = DELTA + COMPLETED
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert out == stream and not tr.ended, cut


@pytest.mark.parametrize(
    "error",
    [
        b'event: error\ndata: {"type":"error","error":{"code":"failed","message":"token=payload-secret"},'
        b'"debug":"dump"}\n\n',
        b'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp-1",'
        b'"error":{"code":"failed","message":"token=payload-secret","trace":["dump"]}}}\n\n',
    ],
    ids=["error", "response.failed"],
)
def test_an_error_event_is_made_safe_at_every_cut(error: bytes) -> None:
    stream = DELTA + error + COMPLETED
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert tr.ended, cut
        assert out.startswith(DELTA) and out.endswith(b"\n\n"), (cut, out)
        assert b"payload-secret" not in out and b"dump" not in out and b"completed" not in out, (cut, out)
        name, data = out[len(DELTA) :].split(b"\ndata: ")
        payload = orjson.loads(data)
        assert name == error.split(b"\n")[0], cut
        assert (payload.get("error") or payload["response"]["error"]) == SAFE, cut


def test_a_data_only_error_is_made_safe_at_every_cut() -> None:
    """Cut anywhere, even inside its first bytes (``data: {"ty``), a data-only error event
    is made safe: frames go out whole (before, a frame whose first read named nothing yet
    went out as it came)."""
    error = b'data: {"type":"error","error":{"code":"failed","message":"token=payload-secret"}}\n\n'
    stream = DELTA + error
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert (
            tr.ended and out == DELTA + b'data: {"type":"error","error":' + orjson.dumps(SAFE) + b"}\n\n"
        ), cut


def test_an_error_at_the_end_without_a_blank_line_is_made_safe() -> None:
    """CPA TestForwardResponsesStreamReportsDataOnlyErrorFlushedAtEOF: the stream's last
    bytes are an error event no blank line ends."""
    stream = DELTA + b'data: {"type":"error","error":{"message":"api_key=sk-0123456789 failed at EOF"}}'
    out, tr = _relay(stream, len(DELTA) + 30)
    assert tr.ended
    assert out == DELTA + b'data: {"type":"error","error":{"message":"api_key=[REDACTED] failed at EOF"}}\n\n'


def test_frames_are_mended_without_a_line_reader_before_it() -> None:
    """CPA: TestResponsesSSEFramerWaitsForEventFieldAfterData,
    TestForwardResponsesStreamSeparatesDataOnlySSEChunks,
    TestForwardResponsesStreamReassemblesSplitSSEEventChunks,
    TestResponsesSSEFramerFlushesMultilineDataWithoutDelimiter,
    TestForwardResponsesStreamDropsIncompleteTrailingDataChunkOnFlush: the framing a
    Responses upstream's raw reads get (a Codex one's are cut into lines first, the e2e
    cases): a frame goes out whole, a whole ``data:`` line followed by a read that starts
    a field gets the line end left out, a last frame is relayed when its JSON is whole
    and dropped when it was cut."""
    done = b'data: {"type":"response.output_item.done","item":{"type":"message"}}'
    completed = b'data: {"type":"response.completed","response":{"id":"resp-1","output":[]}}'
    cases = [
        ([DELTA, done, completed], DELTA + done + b"\n\n" + completed + b"\n\n"),
        (
            [DELTA, completed, b"event: response.completed\n\n"],
            DELTA + completed + b"\nevent: response.completed\n\n",
        ),
        ([b"event: response.output_text.delta", DELTA[34:]], DELTA),
        ([DELTA, b'data: {"type":"response.completed",\ndata: "response":{}}'], None),
        ([DELTA, b'data: {"type":"response.output_text.delta","delta":"cut'], DELTA),
    ]
    for reads, want in cases:
        tr = ResponsesPassthrough(default_registry().adapter(Format.RESPONSES).stream_decoder(None))
        out = [tr.feed(read) for read in reads]
        assert all(not o or o.endswith(b"\n\n") for o in out), out  # whole frames only
        got = b"".join(out) + tr.finish()
        if want is None:
            want = reads[0] + reads[1] + b"\n\n"
        assert got == want and not tr.ended, (reads, got)


def test_an_error_on_a_later_data_line_is_made_safe_at_every_cut() -> None:
    """An event whose second ``data:`` line is the upstream's error (the blank line between
    two frames left out): cut anywhere, the delta on its first line goes out as a frame
    of its own, then the error made safe, and the stream ends there with the error read
    (CPA's Codex executor reads the lines one by one and fails at the error's). Before,
    the joined lines were not JSON and the event went out as it came."""
    second = b'{"type":"response.output_text.delta","delta":" more"}'
    error = b'{"type":"error","error":{"code":"failed","message":"token=payload-secret"},"debug":"dump"}'
    event = b"event: response.output_text.delta\ndata: " + second + b"\ndata: " + error + b"\n\n"
    want = (
        DELTA
        + b"event: response.output_text.delta\ndata: "
        + second
        + b"\n\ndata: "
        + orjson.dumps({"type": "error", "error": SAFE})
        + b"\n\n"
    )
    stream = DELTA + event + COMPLETED
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert tr.ended and out == want, (cut, out)
        assert tr.upstream_error is not None and tr.upstream_error.code == "failed", cut
