"""Responses stream decoder (upstream -> IR) and encoder (IR -> client) framing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cliproxy.formats.openai_responses import ResponsesUsageSniffer
from cliproxy.formats.sse import SSEDecoder, frame
from cliproxy.translate import ir
from cliproxy.translate.openai_responses import ADAPTER, CODEX_ADAPTER
from cliproxy.translate.stream import Sequencer, StreamTranslator

DATA = Path(__file__).parent / "data" / "openai_responses"


def decode_all(data: bytes, splits: list[int] | None = None) -> list[ir.Event]:
    dec = ADAPTER.stream_decoder(None)
    out: list[ir.Event] = []
    if splits is None:
        out += dec.decode(data)
    else:
        prev = 0
        for cut in [*splits, len(data)]:
            out += dec.decode(data[prev:cut])
            prev = cut
    return out + dec.flush()


def frames(*events: dict) -> bytes:
    return b"".join(frame(e["type"], json.dumps(e).encode()) for e in events)


# --------------------------------------------------------------------------- decoder


def test_decode_reasoning_text_and_parallel_calls():
    events = decode_all((DATA / "stream_reasoning_text_tools.sse").read_bytes())
    assert isinstance(events[0], ir.StreamStart) and events[0].id == "resp_abc123"
    thinking = "".join(e.text for e in events if isinstance(e, ir.ThinkingDelta))
    assert thinking == "**Plan** the answer.\n\nSecond part."
    assert [e.signature for e in events if isinstance(e, ir.SignatureDelta)] == ["ZW5jcnlwdGVk"]
    assert "".join(e.text for e in events if isinstance(e, ir.TextDelta)) == "Héllo, world ✓"
    starts = [e for e in events if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.kind) for s in starts] == [
        (0, "thinking"),
        (1, "text"),
        (2, "tool_call"),
        (3, "tool_call"),
    ]
    assert [(s.id, s.name) for s in starts[2:]] == [("call_A", "get_weather"), ("call_B", "get_time")]
    args = {
        i: "".join(e.delta for e in events if isinstance(e, ir.ToolArgsDelta) and e.index == i)
        for i in (2, 3)
    }
    assert args == {2: '{"city":"Paris"}', 3: '{"tz":"CET"}'}
    end = events[-1]
    assert isinstance(end, ir.StreamEnd) and end.stop_reason == "tool_use"
    assert end.usage == ir.Usage(120, 60, cache_read_tokens=100, reasoning_tokens=20, total_tokens=180)
    stops = [e.index for e in events if isinstance(e, ir.BlockStop)]
    assert sorted(stops) == [0, 1, 2, 3]


@pytest.mark.parametrize("name", ["stream_reasoning_text_tools.sse", "stream_codex_hydrate.sse"])
def test_decode_any_split_gives_same_events(name):
    data = (DATA / name).read_bytes()
    whole = decode_all(data)
    assert decode_all(data, list(range(1, len(data)))) == whole  # one byte at a time
    rnd = random.Random(7)
    for _ in range(20):
        cuts = sorted(rnd.sample(range(1, len(data)), 15))
        assert decode_all(data, cuts) == whole


def test_decode_hydrates_calls_completed_only_at_the_end():
    events = decode_all((DATA / "stream_codex_hydrate.sse").read_bytes())
    starts = [e for e in events if isinstance(e, ir.BlockStart) and e.kind == "tool_call"]
    # a call announced without a name opens no block until it is named (CPA)
    assert [(s.index, s.id, s.name) for s in starts] == [
        (1, "call_9", "exec_command"),
        (2, "call_10", "exec_command"),
    ]
    args = [(e.index, e.delta) for e in events if isinstance(e, ir.ToolArgsDelta)]
    assert args == [(1, '{"cmd":"ls"}'), (2, '{"cmd":"pwd"}')]
    assert events[-1].stop_reason == "tool_use"
    # through the sequencer: two named, separate calls
    seq = Sequencer()
    out = [o for e in events for o in seq.feed(e)]
    named = [(o.index, o.name) for o in out if isinstance(o, ir.BlockStart) and o.kind == "tool_call"]
    assert named == [(1, "exec_command"), (2, "exec_command")]


def test_decode_done_only_items_and_refusal():
    data = frames(
        {"type": "response.created", "response": {"id": "resp_1", "model": "m", "created_at": 1}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m1"}},
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "refusal", "refusal": ""},
        },
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "No."},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "message", "id": "m1", "content": [{"type": "refusal", "refusal": "No."}]},
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {"type": "custom_tool_call", "call_id": "c1", "name": "patch", "input": "*** Begin"},
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        },
        {
            "type": "response.incomplete",
            "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
        },
    )
    events = decode_all(data)
    assert [e.text for e in events if isinstance(e, ir.TextDelta)] == ["No."]
    custom = next(e for e in events if isinstance(e, ir.BlockStart) and e.kind == "tool_call")
    assert (custom.tool_kind, custom.name) == ("custom", "patch")
    server = next(e for e in events if isinstance(e, ir.BlockStart) and e.kind == "server_tool")
    assert server.raw["id"] == "ws_1" and server.family == "openai"
    assert events[-1].stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (
            {
                "type": "error",
                "error": {
                    "type": "service_unavailable_error",
                    "code": "server_is_overloaded",
                    "message": "Our servers are currently overloaded.",
                },
                "sequence_number": 2,
            },
            503,
            "server_is_overloaded",
        ),
        (
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit reached.",
                },
            },
            429,
            "rate_limit_exceeded",
        ),
        (
            {
                "type": "response.failed",
                "response": {
                    "id": "resp_1",
                    "status": "failed",
                    "error": {
                        "code": "context_length_exceeded",
                        "message": "Your input exceeds the context window.",
                    },
                },
            },
            400,
            "context_length_exceeded",
        ),
        (
            {
                "type": "response.failed",
                "response": {"error": {"type": "usage_limit_reached", "message": "usage limit reached"}},
            },
            429,
            None,
        ),
        ({"type": "error", "code": "server_error", "message": "boom", "param": None}, 502, "server_error"),
    ],
)
def test_decode_in_band_errors(event, status, code):
    data = frames(
        {"type": "response.created", "response": {"id": "resp_1", "model": "m"}},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "x"},
        event,
    )
    events = decode_all(data)
    err = events[-1]
    assert isinstance(err, ir.Error) and err.status == status and err.code == code
    assert not any(isinstance(e, ir.StreamEnd) for e in events)


def test_decode_cut_stream_is_an_error():
    data = frames(
        {"type": "response.created", "response": {"id": "resp_1", "model": "m"}},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "x"},
    )
    events = decode_all(data[:-10])
    assert isinstance(events[-1], ir.Error) and events[-1].status == 408


# --------------------------------------------------------------------------- encoder


def encoded_events(events: list[ir.Event], request: ir.Request | None = None) -> list[dict]:
    enc = ADAPTER.stream_encoder(request, "gpt-x")
    seq = Sequencer()
    raw = b"".join(enc.encode(o) for e in events for o in seq.feed(e)) + enc.flush()
    out = []
    for sse in SSEDecoder().decode(raw):
        data = json.loads(sse.data)
        assert sse.event == data["type"]
        out.append(data)
    return out


def test_encoder_exact_sequence():
    events = [
        ir.StreamStart("resp_1", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "Hi"),
        ir.BlockStop(0),
        ir.BlockStart(1, "tool_call", id="c1", name="f"),
        ir.ToolArgsDelta(1, "{}"),
        ir.BlockStop(1),
        ir.StreamEnd("tool_use", ir.Usage(3, 4)),
    ]
    out = encoded_events(events)
    assert [e["type"] for e in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert out[0]["response"]["status"] == "in_progress" and out[0]["response"]["output"] == []
    assert out[2]["item"]["content"] == [] and out[8]["item"]["arguments"] == ""
    final = out[-1]["response"]
    assert final["status"] == "completed" and final["id"] == "resp_1"
    assert [i["type"] for i in final["output"]] == ["message", "function_call"]
    assert final["usage"]["total_tokens"] == 7
    assert out[4]["item_id"] == final["output"][0]["id"] and out[9]["output_index"] == 1


def test_encoder_openai_reasoning_keeps_encrypted_content_and_carries_redacted():
    events = [
        ir.StreamStart("r", "m"),
        ir.BlockStart(0, "redacted_thinking", signature="opaque", family="claude"),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking", id="rs_up", family="openai"),
        ir.ThinkingDelta(1, "t"),
        ir.SignatureDelta(1, "enc", "openai"),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="c1", name="patch", tool_kind="custom"),
        ir.ToolArgsDelta(2, "*** Begin"),
        ir.BlockStop(2),
        ir.BlockStart(3, "server_tool", family="openai", raw={"type": "web_search_call", "id": "ws_1"}),
        ir.BlockStop(3),
        ir.StreamEnd("end_turn"),
    ]
    out = encoded_events(events)
    final = out[-1]["response"]["output"]
    # CPA's carrier: a Claude redacted block rides in encrypted_content behind its marker
    redacted = final.pop(0)
    assert redacted["encrypted_content"] == "claude-redacted-thinking:opaque" and redacted["summary"] == []
    assert final[0] == {
        "id": "rs_up",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "t"}],
        "encrypted_content": "enc",
    }
    assert final[1]["type"] == "custom_tool_call" and final[1]["input"] == "*** Begin"
    assert final[2] == {"type": "web_search_call", "id": "ws_1"}
    assert "response.custom_tool_call_input.delta" in [e["type"] for e in out]
    assert [e["output_index"] for e in out if e["type"] == "response.output_item.added"] == [0, 1, 2, 3]


def test_encoder_error_before_start_still_opens_the_stream():
    out = encoded_events([ir.Error("overloaded", status=503, code="server_is_overloaded")])
    assert [e["type"] for e in out] == ["response.created", "response.in_progress", "response.failed"]
    assert out[-1]["response"]["error"] == {"code": "server_is_overloaded", "message": "overloaded"}


def test_passthrough_responses_to_responses_translation():
    data = (DATA / "stream_reasoning_text_tools.sse").read_bytes()
    tr = StreamTranslator(ADAPTER.stream_decoder(None), CODEX_ADAPTER.stream_encoder(None, "gpt-5.4"))
    raw = b"".join(tr.feed(data[i : i + 37]) for i in range(0, len(data), 37)) + tr.finish()
    events = [json.loads(e.data) for e in SSEDecoder().decode(raw)]
    final = events[-1]["response"]
    assert final["output"][0]["encrypted_content"] == "ZW5jcnlwdGVk"
    assert final["output"][1]["content"][0]["text"] == "Héllo, world ✓"
    assert [o["call_id"] for o in final["output"][2:]] == ["call_A", "call_B"]
    assert tr.usage.input_tokens == 120


# --------------------------------------------------------------------------- sniffer, speed


def test_usage_sniffer_reads_only_terminal_usage():
    data = (DATA / "stream_reasoning_text_tools.sse").read_bytes()
    sniffer = ADAPTER.usage_sniffer()
    assert isinstance(sniffer, ResponsesUsageSniffer)
    for i in range(0, len(data), 50):
        sniffer.feed(data[i : i + 50])
    assert sniffer.usage == ir.Usage(120, 60, cache_read_tokens=100, reasoning_tokens=20, total_tokens=180)


def test_count_tokens_shape():
    assert ADAPTER.count_tokens_response(42) == {"object": "response.input_tokens", "input_tokens": 42}
