"""CPA's Responses stream framing cases (sdk/api/handlers/openai/
openai_responses_handlers_stream_test.go) through a running proxy: a Codex upstream writes
SSE bytes cut at awkward places (a frame over several writes, a field order CPA's framer
accepts, no final blank line), and the Responses client must get whole frames, the right
terminal event and a completion that lists its output."""

from __future__ import annotations

import orjson

from tests.e2e import test_responses_stream_errors_cpa as raw
from tests.e2e.test_responses_stream_errors_cpa import DELTA, events, events_lenient, post

upstream = raw.upstream  # the fixtures: a Codex upstream writing scripted bytes, a proxy on it
proxy = raw.proxy

DONE_CALL = (
    b'data: {"type":"response.output_item.done","output_index":0,"item":{"type":"function_call",'
    b'"id":"fc_1","call_id":"call_1","name":"shell","arguments":"{}","status":"completed"}}'
)
COMPLETED_JSON = b'{"type":"response.completed","response":{"id":"resp-1","object":"response","status":"completed","output":[]}}'


async def test_an_event_field_after_its_data_still_names_the_frame(proxy, upstream) -> None:
    """CPA: TestResponsesSSEFramerWaitsForEventFieldAfterData: the completion's ``data:``
    line and its ``event:`` line come in separate writes, data first; the client gets one
    ``response.completed`` and no failure."""
    upstream.chunks = [DELTA, b"data: " + COMPLETED_JSON + b"\n", b"event: response.completed\n\n"]
    status, _, body = await post(proxy)
    assert status == 200
    assert events_lenient(body)[-1] == "response.completed"
    assert b"response.failed" not in body


async def test_a_last_multiline_frame_without_its_blank_line_is_flushed(proxy, upstream) -> None:
    """CPA: TestResponsesSSEFramerFlushesMultilineDataWithoutDelimiter: the completion is the
    last write, its JSON over two ``data:`` lines and no blank line after it; it is still
    delivered as the completion."""
    upstream.chunks = [
        DELTA,
        b'event: response.completed\ndata: {"type":"response.completed",\n'
        b'data: "response":{"id":"resp-1","object":"response","status":"completed","output":[]}}',
    ]
    status, _, body = await post(proxy)
    assert status == 200
    assert events_lenient(body)[-1] == "response.completed"
    assert b"response.failed" not in body


async def test_a_failed_payload_wins_over_a_completed_event_name(proxy, upstream) -> None:
    """CPA: TestResponsesSSEFramerUsesPayloadErrorOverCompletedEvent: a frame named
    ``response.completed`` whose payload is a ``response.failed`` ends the stream as a
    failure, once, with no completion."""
    upstream.chunks = [
        DELTA,
        b'data: {"type":"response.failed","response":{"id":"resp-1","status":"failed",'
        b'"error":{"code":"server_error","message":"boom"}}}\nevent: response.completed\n\n',
    ]
    status, _, body = await post(proxy)
    assert status == 200
    got = events(body)
    assert [name for name, _ in got][-1] in ("response.failed", "")
    assert got[-1][1]["type"] == "response.failed"
    assert sum(1 for _, data in got if data.get("type") == "response.failed") == 1
    assert b"response.completed" not in body


async def test_data_only_frames_in_separate_writes_stay_separate(proxy, upstream) -> None:
    """CPA: TestForwardResponsesStreamSeparatesDataOnlySSEChunks,
    TestForwardResponsesStreamRepairsEmptyCompletedOutputFromDoneItems: two ``data:``-only
    frames with no blank line between them reach the client as two frames, and the
    completion's empty output is filled from the done item."""
    upstream.chunks = [DELTA, DONE_CALL, b"data: " + COMPLETED_JSON]
    status, _, body = await post(proxy)
    assert status == 200
    got = events(body)
    assert [data["type"] for _, data in got] == [
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]
    assert [item["name"] for item in got[-1][1]["response"]["output"]] == ["shell"]


async def test_a_completion_over_several_data_lines_gets_its_output(proxy, upstream) -> None:
    """CPA: TestForwardResponsesStreamRepairsMultilineCompletedOutputAsSSEDataLines: the
    completion's JSON comes over two ``data:`` lines (in one write, or the second line in a
    write of its own) with an empty output; the client gets it with the done item as its
    output, every line of its frame a ``data:`` line."""
    first = b'data: {"type":"response.completed",\n'
    second = b'data: "response":{"id":"resp-1","object":"response","status":"completed","output":[]}}\n\n'
    for writes in ([first + second], [first, second]):
        upstream.chunks = [DELTA, DONE_CALL + b"\n\n", *writes]
        status, _, body = await post(proxy)
        assert status == 200
        last = body.rstrip(b"\n").split(b"\n\n")[-1]
        assert all(line.startswith(b"data: ") for line in last.split(b"\n")), last
        assert [item["name"] for item in events(body)[-1][1]["response"]["output"]] == ["shell"]


async def test_a_data_payload_split_over_two_writes_is_joined(proxy, upstream) -> None:
    """CPA: TestForwardResponsesStreamBuffersSplitDataPayloadChunks: one ``data:`` line's
    JSON arrives in two writes; the client gets it whole, then (no terminal event follows)
    a failure."""
    upstream.chunks = [DELTA, b'data: {"type":"response.output_text.delta"', b',"delta":"second"}']
    status, _, body = await post(proxy)
    assert status == 200
    got = events(body)
    assert [data.get("delta") for _, data in got[:2]] == ["partial", "second"]
    assert got[-1][1]["type"] == "response.failed"


async def test_an_incomplete_last_data_line_is_dropped(proxy, upstream) -> None:
    """CPA: TestForwardResponsesStreamDropsIncompleteTrailingDataChunkOnFlush: the stream
    ends inside a ``data:`` line's JSON; the broken line is not passed on and the stream
    ends in a failure."""
    upstream.chunks = [DELTA, b'data: {"type":"response.output_text.delta","delta":"cut']
    status, _, body = await post(proxy)
    assert status == 200
    assert b'"delta":"cut' not in body
    assert events(body)[-1][1]["type"] == "response.failed"
    assert orjson.loads(body.split(b"data: ")[1].split(b"\n")[0])["delta"] == "partial"


async def test_an_error_event_name_or_a_nested_error_ends_the_stream(proxy, upstream) -> None:
    """CPA: TestResponsesSSEFramerUsesErrorEventOverPayloadType: a frame named ``error``
    whose payload has another type, or a ``data:``-only payload holding
    ``response.error``, is the stream's terminal error: nothing is added after it."""
    for frame in (
        b'event: error\ndata: {"type":"provider.error","message":"failed"}\n\n',
        b'data: {"response":{"error":{"message":"failed"}}}\n\n',
    ):
        upstream.chunks = [DELTA, frame]
        status, _, body = await post(proxy)
        assert status == 200
        got = events(body)
        assert len(got) == 2 and "failed" in orjson.dumps(got[1][1]).decode()
        assert b"response.completed" not in body


async def test_a_first_frame_split_into_its_event_and_data_lines_is_served(proxy, upstream) -> None:
    """CPA: TestExecuteStreamWithAuthManager_AllowsSplitOpenAIResponsesSSEEventLines: the
    first (and only) frame comes as its ``event:`` line and its ``data:`` line in two
    writes; it is one valid frame, not a broken stream."""
    completed = COMPLETED_JSON.replace(
        b'"output":[]',
        b'"output":[{"type":"message","id":"msg_1","role":"assistant","status":"completed",'
        b'"content":[{"type":"output_text","text":"hi","annotations":[]}]}]',
    )
    upstream.chunks = [b"event: response.completed\n", b"data: " + completed + b"\n\n"]
    status, _, body = await post(proxy)
    assert status == 200
    assert [(name, data["type"]) for name, data in events(body)] == [
        ("response.completed", "response.completed")
    ]


async def test_a_first_frame_that_is_not_json_is_an_error_status(proxy, upstream) -> None:
    """CPA: TestExecuteStreamWithAuthManager_ValidatesOpenAIResponsesStreamDataJSON: the
    stream's only frame has JSON cut short; the client gets an error status with a JSON
    error, no 200. Difference: 408 ``stream_incomplete`` (the stream also ended before its
    terminal event, CPA's Codex executor's status for that) where CPA's handler check of
    the frame's JSON answers 502."""
    upstream.chunks = [b'event: response.completed\ndata: {"type"']
    status, ctype, body = await post(proxy)
    assert status == 408
    assert ctype.startswith("application/json") and orjson.loads(body)["error"]["message"]
