"""Claude stream decoder and encoder, checked against the official anthropic SDK."""

from __future__ import annotations

import json
import random
from pathlib import Path

import anthropic
import httpx2
import pytest

from cliproxy.formats.claude import ClaudeUsageSniffer
from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER
from cliproxy.translate.stream import Sequencer, StreamTranslator

STREAM = (Path(__file__).parent / "data" / "claude" / "stream_thinking_tools.sse").read_bytes()
SIG = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"


def decode_all(data: bytes, sizes=None) -> list[ir.Event]:
    dec = ADAPTER.stream_decoder()
    events: list[ir.Event] = []
    pos = 0
    while pos < len(data):
        n = sizes(pos) if sizes else len(data)
        events += dec.decode(data[pos : pos + n])
        pos += n
    return events + dec.flush()


EXPECTED = [
    ir.StreamStart(
        "msg_01XYZ",
        "claude-sonnet-4-6",
        usage=ir.Usage(input_tokens=2125, output_tokens=1, cache_read_tokens=2000, cache_write_tokens=100),
    ),
    ir.BlockStart(0, "thinking", family="claude"),
    ir.ThinkingDelta(0, "Let me check "),
    ir.ThinkingDelta(0, "the weather. ☀"),
    ir.SignatureDelta(0, SIG, "claude"),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "I'll look up "),
    ir.TextDelta(1, "both cities."),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="toolu_01A", name="get_weather"),
    ir.ToolArgsDelta(2, '{"city": "Pa'),
    ir.ToolArgsDelta(2, 'ris"}'),
    ir.BlockStop(2),
    ir.BlockStart(3, "tool_call", id="toolu_01B", name="get_weather"),
    ir.ToolArgsDelta(3, '{"city": "Tokyo"}'),
    ir.BlockStop(3),
    ir.BlockStart(
        4,
        "server_tool",
        family="claude",
        raw={
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_search",
            "input": {"query": "weather"},
        },
    ),
    ir.BlockStop(4),
    ir.StreamEnd(
        "tool_use",
        ir.Usage(input_tokens=2125, output_tokens=89, cache_read_tokens=2000, cache_write_tokens=100),
    ),
]


def test_decoder_reads_documented_stream():
    assert decode_all(STREAM) == EXPECTED


def test_decoder_any_split_gives_same_events():
    assert decode_all(STREAM, lambda _: 1) == EXPECTED
    rng = random.Random(7)
    for _ in range(30):
        assert decode_all(STREAM, lambda _: rng.randint(1, 40)) == EXPECTED
    assert decode_all(STREAM.replace(b"\n", b"\r\n"), lambda _: 3) == EXPECTED


def test_decoder_cut_stream_is_an_error():
    cut = STREAM[: STREAM.index(b"event: message_delta")]
    events = decode_all(cut)
    assert isinstance(events[-1], ir.Error) and events[-1].status >= 500
    assert not any(isinstance(e, ir.StreamEnd) for e in events)


def test_decoder_error_event():
    data = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x",'
        b'"usage":{"input_tokens":1,"output_tokens":0}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    events = decode_all(data)
    assert events[-1] == ir.Error("Overloaded", status=529, type="overloaded_error")
    assert sum(isinstance(e, ir.Error) for e in events) == 1


def test_decoder_message_delta_usage_overrides_start():
    data = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x",'
        b'"usage":{"input_tokens":0,"output_tokens":0}}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"refusal"},'
        b'"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    end = decode_all(data)[-1]
    assert end == ir.StreamEnd("refusal", ir.Usage(input_tokens=15, output_tokens=3, cache_read_tokens=5))


# --------------------------------------------------------------------------- encoder


def ir_events() -> list[ir.Event]:
    """A non-Claude-looking upstream: usage only at the end, interleaved parallel calls."""
    return [
        ir.StreamStart("chatcmpl-1", "upstream-model"),
        ir.BlockStart(0, "thinking", family="claude"),
        ir.ThinkingDelta(0, "Think"),
        ir.ThinkingDelta(0, "ing."),
        ir.SignatureDelta(0, "sig-", "claude"),
        ir.SignatureDelta(0, "part2", "claude"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Hello "),
        ir.TextDelta(1, "world"),
        ir.BlockStart(2, "tool_call", id="call_a", name="get_weather"),
        ir.BlockStart(3, "tool_call", id="call.b", name="get_time"),
        ir.ToolArgsDelta(2, '{"city":'),
        ir.ToolArgsDelta(3, '{"tz": "UTC"}'),
        ir.ToolArgsDelta(2, ' "Paris"}'),
        ir.BlockStop(1),
        ir.BlockStop(2),
        ir.BlockStop(3),
        ir.BlockStart(4, "server_tool", family="openai", raw={"type": "web_search_call"}),
        ir.BlockStop(4),
        ir.UsageEvent(
            ir.Usage(
                input_tokens=1200,
                output_tokens=40,
                cache_read_tokens=1000,
                cache_write_tokens=50,
                reasoning_tokens=12,
            )
        ),
        ir.StreamEnd("end_turn"),
    ]


def encode_all(events: list[ir.Event], model: str | None = "claude-sonnet-4-6") -> bytes:
    enc = ADAPTER.stream_encoder(model=model)
    seq = Sequencer()
    out = b"".join(enc.encode(e) for ev in events for e in seq.feed(ev))
    return out + enc.flush()


def sdk_client(body: bytes, content_type: str = "text/event-stream") -> anthropic.AsyncAnthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return anthropic.AsyncAnthropic(
        api_key="k", base_url="http://upstream.test", http_client=http, max_retries=0
    )


def check_final(msg) -> None:
    assert msg.model == "claude-sonnet-4-6"
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert msg.content[0].thinking == "Thinking." and msg.content[0].signature == "sig-part2"
    assert msg.content[1].text == "Hello world"
    assert (msg.content[2].id, msg.content[2].name, msg.content[2].input) == (
        "call_a",
        "get_weather",
        {"city": "Paris"},
    )
    assert (msg.content[3].id, msg.content[3].name, msg.content[3].input) == (
        "call_b",
        "get_time",
        {"tz": "UTC"},
    )
    assert (
        msg.stop_reason == "tool_use"
    )  # tool calls present: the end_turn of an OpenAI-like upstream is fixed
    u = msg.usage
    assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens, u.output_tokens) == (
        150,
        1000,
        50,
        40,
    )


async def test_sdk_stream_helper_accumulates_encoder_output():
    client = sdk_client(encode_all(ir_events()))
    async with (
        client,
        client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]) as s,
    ):
        msg = await s.get_final_message()
    check_final(msg)


async def test_sdk_raw_stream_parses_every_event():
    client = sdk_client(encode_all(ir_events()))
    async with client:
        stream = await client.messages.create(
            model="m", max_tokens=10, stream=True, messages=[{"role": "user", "content": "q"}]
        )
        kinds = [ev.type async for ev in stream]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 4


def test_encoder_exact_framing():
    out = encode_all(
        [
            ir.StreamStart("msg_1", "x", usage=ir.Usage(input_tokens=7)),
            ir.BlockStart(0, "text"),
            ir.TextDelta(0, "hi"),
            ir.BlockStop(0),
            ir.StreamEnd("max_tokens", ir.Usage(output_tokens=2)),
        ],
        model=None,
    )
    frames = out.split(b"\n\n")
    assert frames[-1] == b""
    parsed = [(f.split(b"\n")[0], json.loads(f.split(b"\n")[1][6:])) for f in frames[:-1]]
    assert [p[0] for p in parsed] == [b"event: " + p[1]["type"].encode() for p in parsed]
    assert parsed[0][1]["message"] == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "x",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        },
    }
    assert parsed[2][1] == {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "hi"},
    }
    assert parsed[4][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {
            "input_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 2,
        },
    }
    assert parsed[5][1] == {"type": "message_stop"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_encoder_error_frame(status, kind):
    enc = ADAPTER.stream_encoder(model="m")
    out = enc.encode(ir.StreamStart("m1", "m")) + enc.encode(ir.Error("boom", status=status)) + enc.flush()
    last = out.split(b"\n\n")[-2]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1]) == {
        "type": "error",
        "error": {"type": kind, "message": "boom"},
    }
    assert b"message_stop" not in out


async def test_claude_to_claude_through_ir_keeps_stream():
    tr = StreamTranslator(ADAPTER.stream_decoder(), ADAPTER.stream_encoder(model="claude-sonnet-4-6"))
    out = b"".join(tr.feed(STREAM[i : i + 17]) for i in range(0, len(STREAM), 17)) + tr.finish()
    assert decode_all(out) == EXPECTED
    client = sdk_client(out)
    async with (
        client,
        client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]) as s,
    ):
        msg = await s.get_final_message()
    assert msg.content[0].signature == SIG and msg.content[4].input == {"query": "weather"}
    assert msg.usage.cache_read_input_tokens == 2000 and msg.usage.input_tokens == 25


def test_usage_sniffer_any_split():
    for size in (1, 5, 64, len(STREAM)):
        sn = ClaudeUsageSniffer()
        for i in range(0, len(STREAM), size):
            sn.feed(STREAM[i : i + size])
        assert sn.usage == ir.Usage(
            input_tokens=2125, output_tokens=89, cache_read_tokens=2000, cache_write_tokens=100
        )
