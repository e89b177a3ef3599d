"""Chat Completions streams: decoder, encoder, usage sniffer, and the openai SDK on our bytes."""

from __future__ import annotations

import random
from pathlib import Path

import httpx2 as httpx
import openai
import orjson
import pytest

from cliproxy.formats.openai_chat import ChatUsageSniffer
from cliproxy.translate import ir
from cliproxy.translate.openai_chat import ADAPTER
from cliproxy.translate.stream import Sequencer, StreamTranslator

DATA = Path(__file__).parent / "data" / "openai_chat"
PARALLEL = (DATA / "parallel_tools.sse").read_bytes()


def decode_all(raw: bytes, sizes=None, request=None) -> list:
    dec = ADAPTER.stream_decoder(request)
    events = []
    if sizes is None:
        events += dec.decode(raw)
    else:
        pos = 0
        for n in sizes:
            events += dec.decode(raw[pos : pos + n])
            pos += n
        events += dec.decode(raw[pos:])
    return events + dec.flush()


def frames(*chunks, done=True) -> bytes:
    out = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def chunk(delta=None, fr=None, **top):
    return {
        "id": "x",
        "model": "m",
        "created": 1,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": fr}],
        **top,
    }


# --------------------------------------------------------------------------- decoder


def test_decoder_parallel_tools():
    ev = decode_all(PARALLEL)
    assert ev[0] == ir.StreamStart("chatcmpl-abc", "gpt-x", 1700000000)
    kinds = [type(e).__name__ for e in ev]
    assert kinds[-2:] == ["UsageEvent", "StreamEnd"]
    starts = [e for e in ev if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.kind, s.id, s.name) for s in starts] == [
        (0, "thinking", None, None),
        (1, "text", None, None),
        (2, "tool_call", "call_A", "get_weather"),
        (3, "tool_call", "call_B", "get_time"),
    ]
    args = {}
    for e in ev:
        if isinstance(e, ir.ToolArgsDelta):
            args[e.index] = args.get(e.index, "") + e.delta
    assert args == {2: '{"city":"Paris"}', 3: '{"tz":"UTC"}'}
    assert "".join(e.text for e in ev if isinstance(e, ir.ThinkingDelta)) == "Let me think."
    assert "".join(e.text for e in ev if isinstance(e, ir.TextDelta)) == "Checking both."
    assert sorted(e.index for e in ev if isinstance(e, ir.BlockStop)) == [0, 1, 2, 3]
    end = ev[-1]
    assert end.stop_reason == "tool_use"
    assert end.usage == ir.Usage(100, 40, 20, 0, 10, 140)


def test_decoder_any_split_gives_same_events():
    whole = decode_all(PARALLEL)
    assert decode_all(PARALLEL, sizes=[1] * len(PARALLEL)) == whole
    rng = random.Random(7)
    for _ in range(30):
        sizes = [rng.randint(1, 90) for _ in range(60)]
        assert decode_all(PARALLEL.replace(b"\n\n", b"\r\n\r\n"), sizes) == whole


def test_decoder_same_index_new_ids_are_separate_calls():
    raw = frames(
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":1}'}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk(fr="tool_calls"),
    )
    ev = decode_all(raw)
    starts = [e for e in ev if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.id, s.name) for s in starts] == [(0, "a", "f"), (1, "b", "g")]
    assert [e for e in ev if isinstance(e, ir.ToolArgsDelta)] == [
        ir.ToolArgsDelta(0, '{"x":1}'),
        ir.ToolArgsDelta(1, "{}"),
    ]


def test_decoder_late_name_and_missing_id():
    raw = frames(
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "late", "arguments": ":1}"}}]}),
        chunk(fr="stop"),
    )
    ev = decode_all(raw)
    # the call opens once it is named; without an id it waits for the finish (CPA)
    starts = [e for e in ev if isinstance(e, ir.BlockStart)]
    assert len(starts) == 1 and starts[0].name == "late" and starts[0].id.startswith("call_")
    assert [e.delta for e in ev if isinstance(e, ir.ToolArgsDelta)] == ['{"a":1}']
    assert ev[-1].stop_reason == "tool_use"  # "stop" with tool calls
    seq = Sequencer()
    out = [o for e in ev for o in seq.feed(e)]
    named = [e for e in out if isinstance(e, ir.BlockStart)]
    assert len(named) == 1 and named[0].name == "late"


def test_decoder_restores_namespaced_names():
    req = ir.Request(model="m", tools=[ir.Tool("search", namespace="mcp")])
    raw = frames(
        chunk(
            {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "mcp__search", "arguments": ""}}]}
        ),
        chunk(fr="tool_calls"),
    )
    start = next(e for e in decode_all(raw, request=req) if isinstance(e, ir.BlockStart))
    assert (start.name, start.namespace) == ("search", "mcp")


HEAD = frames(chunk({"role": "assistant", "content": "partial"}), done=False)
ERROR_SHAPES = {
    # TestOpenAICompatExecutorResponsesStreamPreservesNamedErrorEvent
    "named error event": (
        b'event: error\ndata: {"code":"upstream_failed",\ndata: "message":"upstream failed"}\n\n'
        b"data: [DONE]\n\n",
        ir.Error("upstream failed", 500, None, "upstream_failed"),
    ),
    # TestOpenAICompatExecutorResponsesStreamHandlesAdditionalErrorShapes
    "response failed payload": (
        b'data: {"type":"response.failed","response":{"error":{"type":"server_error",'
        b'"code":"upstream_failed","message":"response failed upstream"}}}\n\ndata: [DONE]\n\n',
        ir.Error("response failed upstream", 500, "server_error", "upstream_failed"),
    ),
    "data before named error": (
        b'data: {"detail":"data before event failure"}\nevent: error\n\ndata: [DONE]\n\n',
        ir.Error("data before event failure", 500),
    ),
    "done immediately after error event": (
        b"event: error\ndata: [DONE]\n\n",
        ir.Error("upstream error event ended before [DONE]", 502, "server_error", "upstream_error_event"),
    ),
    "error event without data": (
        b"event: response.failed\n\ndata: [DONE]\n\n",
        ir.Error("upstream error event ended without data", 502, "server_error", "upstream_error_event"),
    ),
    "top-level code and message": (
        b'data: {"code":"429","message":"slow down"}\n\n',
        ir.Error("slow down", 429, None, "429"),
    ),
}


@pytest.mark.parametrize("case", list(ERROR_SHAPES))
def test_decoder_error_shapes_end_the_stream_at_every_split(case):
    """CPA's named ``event: error`` frames, error-typed chunks and bare code + message
    chunks after output end the stream in the error (the text block closed), never
    in a StreamEnd; ``[DONE]`` after it changes nothing. Differs: a status CPA does not
    find is 500 from the error's type (502 for our own messages), CPA's 502 throughout."""
    tail, want = ERROR_SHAPES[case]
    raw = HEAD + tail
    whole = decode_all(raw)
    assert whole[-2:] == [ir.BlockStop(0), want]
    assert not any(isinstance(e, ir.StreamEnd) for e in whole)
    for at in range(len(HEAD), len(raw)):
        assert decode_all(raw, sizes=[len(HEAD), at - len(HEAD)]) == whole, at


def test_decoder_named_frames_on_the_text_lane():
    """A one-read named frame while text flows: an error one ends the stream through
    ``decode_delta`` too; any other name is read as a chunk, and nothing after [DONE] is."""
    dec = ADAPTER.stream_decoder(None)
    dec.decode(HEAD)
    assert dec.decode_delta(b'event: message\ndata: {"choices":[{"delta":{"content":"x"}}]}\n\n') == [
        ir.TextDelta(0, "x")
    ]
    out = dec.decode_delta(b'event: error\ndata: {"error":"went away"}\n\n')
    assert out[-1] == ir.Error("went away", 500)
    dec = ADAPTER.stream_decoder(None)
    ev = dec.decode(HEAD + frames(chunk(fr="stop")))
    assert isinstance(ev[-1], ir.StreamEnd)
    assert dec.decode(b"event: error\ndata: [DONE]\n\n" + frames({"choices": [], "cost": "0"})) == []
    assert dec.flush() == []


def test_decoder_error_frame_and_truncation():
    ev = decode_all(
        frames(
            chunk({"content": "hi"}),
            {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}},
            done=False,
        )
    )
    assert ev[-1] == ir.Error("slow down", 429, "rate_limit_error", "rate_limit")
    assert isinstance(ev[-2], ir.BlockStop)
    cut = decode_all(frames(chunk({"content": "hi"}), done=False))
    assert isinstance(cut[-1], ir.Error) and cut[-1].status == 502
    no_done = decode_all(frames(chunk({"content": "hi"}, fr="length"), done=False))
    assert no_done[-1] == ir.StreamEnd("max_tokens")


def test_decoder_reasoning_alias_usage_in_final_chunk_and_cache_writes():
    raw = frames(
        chunk({"reasoning": "r"}),
        chunk({"content": "t"}),
        chunk(
            fr="stop",
            usage={
                "prompt_tokens": 5,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 1, "cached_creation_tokens": 3},
            },
        ),
    )
    ev = decode_all(raw)
    assert ev[-1].stop_reason == "end_turn"
    assert ev[-1].usage == ir.Usage(5, 2, 1, 3, 0, None)
    assert any(isinstance(e, ir.ThinkingDelta) and e.text == "r" for e in ev)


# --------------------------------------------------------------------------- encoder


def script() -> list:
    return [
        ir.StreamStart("msg_1", "upstream-model", 1700000001),
        ir.BlockStart(0, "thinking", family="claude"),
        ir.ThinkingDelta(0, "Pondering"),
        ir.SignatureDelta(0, "sig", "claude"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Hello "),
        ir.TextDelta(1, "world"),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="toolu_1", name="get_weather"),
        ir.ToolArgsDelta(2, '{"city":'),
        ir.ToolArgsDelta(2, '"Paris"}'),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="toolu_2", name="search", namespace="mcp"),
        ir.ToolArgsDelta(3, '{"q":"x"}'),
        ir.BlockStop(3),
        ir.UsageEvent(ir.Usage(input_tokens=50)),
        ir.StreamEnd("tool_use", ir.Usage(50, 30, 10, 5, 7)),
    ]


def encode(events, request=None, model="client-model") -> bytes:
    enc = ADAPTER.stream_encoder(request, model)
    return b"".join(enc.encode(e) for e in events) + enc.flush()


def test_encoder_framing():
    raw = encode(script())
    datas = [f[6:] for f in raw.split(b"\n\n") if f]
    assert datas[-1] == b"[DONE]"
    chunks = [orjson.loads(d) for d in datas[:-1]]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        ("chatcmpl-msg_1", 1700000001, "client-model", "chat.completion.chunk")
    }
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    tool_starts = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "id" in c["choices"][0]["delta"].get("tool_calls", [{}])[0]
    ]
    assert [(t["index"], t["id"], t["function"]["name"]) for t in tool_starts] == [
        (0, "toolu_1", "get_weather"),
        (1, "toolu_2", "mcp__search"),
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 50,
        "completion_tokens": 30,
        "total_tokens": 80,
        "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 5, "cached_creation_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }


def test_encoder_usage_only_when_client_asked():
    asked = ADAPTER.parse_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    silent = ADAPTER.parse_request(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    )
    assert b'"usage"' in encode(script(), asked)
    assert b'"usage"' not in encode(script(), silent)


@pytest.mark.parametrize(
    ("status", "etype"),
    [
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "invalid_request_error"),
        (429, "rate_limit_error"),
        (503, "server_error"),
        (400, "invalid_request_error"),
    ],
)
def test_encoder_error_frame(status, etype):
    raw = encode([ir.StreamStart("a", "m"), ir.Error("boom", status, code="x")])
    last = raw.split(b"\n\n")[-2]
    assert orjson.loads(last[6:]) == {"error": {"message": "boom", "type": etype, "code": "x"}}
    assert b"[DONE]" not in raw


def summary(events) -> tuple:
    """What a client ends up with: texts by kind, tool calls by id, stop and usage."""
    kind, calls, text, think = {}, {}, "", ""
    for e in events:
        if isinstance(e, ir.BlockStart):
            kind[e.index] = e
            if e.kind == "tool_call" and e.name:
                calls.setdefault(e.id, [e.name, ""])
        elif isinstance(e, ir.TextDelta):
            text += e.text
        elif isinstance(e, ir.ThinkingDelta):
            think += e.text
        elif isinstance(e, ir.ToolArgsDelta):
            calls[kind[e.index].id][1] += e.delta
    return text, think, calls, events[-1]


def test_translator_openai_to_openai_roundtrips_semantics():
    tr = StreamTranslator(ADAPTER.stream_decoder(), ADAPTER.stream_encoder(None, "gpt-x"))
    out = b"".join(tr.feed(PARALLEL[i : i + 37]) for i in range(0, len(PARALLEL), 37)) + tr.finish()
    assert summary(decode_all(out)) == summary(decode_all(PARALLEL))
    assert tr.usage.input_tokens == 100


# --------------------------------------------------------------------------- usage sniffer


def test_usage_sniffer_any_split():
    for step in (1, 7, 64, len(PARALLEL)):
        s = ChatUsageSniffer()
        for i in range(0, len(PARALLEL), step):
            s.feed(PARALLEL[i : i + step])
        assert s.usage == ir.Usage(100, 40, 20, 0, 10, 140)
    s = ChatUsageSniffer()
    s.feed(frames(chunk({"content": "no usage here"})))
    assert s.usage is None


# --------------------------------------------------------------------------- official SDK


def sdk_client(payload: bytes, content_type: str) -> tuple[openai.AsyncOpenAI, httpx.AsyncClient]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return openai.AsyncOpenAI(api_key="sk-test", base_url="http://proxy.test/v1", http_client=http), http


TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
    for n in ("get_weather", "mcp__search")
]


async def test_sdk_stream_helper_accumulates_our_stream():
    client, http = sdk_client(encode(script()), "text/event-stream")
    async with (
        http,
        client.chat.completions.stream(
            model="client-model",
            messages=[{"role": "user", "content": "hi"}],
            tools=TOOLS,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    msg = final.choices[0].message
    assert msg.content == "Hello world"
    assert msg.model_extra["reasoning_content"] == "Pondering"
    assert [(c.id, c.function.name, c.function.arguments) for c in msg.tool_calls] == [
        ("toolu_1", "get_weather", '{"city":"Paris"}'),
        ("toolu_2", "mcp__search", '{"q":"x"}'),
    ]
    assert [orjson.loads(c.function.arguments) for c in msg.tool_calls] == [{"city": "Paris"}, {"q": "x"}]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.prompt_tokens == 50 and final.usage.completion_tokens == 30
    assert final.usage.prompt_tokens_details.cached_tokens == 10
    assert final.usage.completion_tokens_details.reasoning_tokens == 7


async def test_sdk_plain_create_stream():
    client, http = sdk_client(encode(script()), "text/event-stream")
    async with http:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text, calls, usage = "", {}, None
        async for c in stream:
            if c.usage:
                usage = c.usage
            for ch in c.choices:
                text += ch.delta.content or ""
                for tc in ch.delta.tool_calls or ():
                    slot = calls.setdefault(tc.index, {"id": tc.id, "name": "", "args": ""})
                    slot["name"] += (tc.function.name or "") if tc.id else ""
                    slot["args"] += tc.function.arguments or ""
        await stream.close()
    assert text == "Hello world"
    assert [(v["id"], v["name"], orjson.loads(v["args"])) for v in calls.values()] == [
        ("toolu_1", "get_weather", {"city": "Paris"}),
        ("toolu_2", "mcp__search", {"q": "x"}),
    ]
    assert usage.total_tokens == 80


async def test_sdk_sees_in_band_error():
    raw = encode(
        [
            ir.StreamStart("a", "m"),
            ir.BlockStart(0, "text"),
            ir.TextDelta(0, "x"),
            ir.Error("upstream overloaded", 503),
        ]
    )
    client, http = sdk_client(raw, "text/event-stream")
    async with http:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="upstream overloaded"):
            async for _ in stream:
                pass
        await stream.close()


def test_custom_tool_calls_both_ways():
    raw = frames(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "type": "custom", "custom": {"name": "patch", "input": ""}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "custom": {"input": "*** Begin"}}]}),
        chunk(fr="tool_calls"),
    )
    ev = decode_all(raw)
    start = next(e for e in ev if isinstance(e, ir.BlockStart))
    assert start.tool_kind == "custom" and start.name == "patch"
    assert [e.delta for e in ev if isinstance(e, ir.ToolArgsDelta)] == ["*** Begin"]
    out = encode(
        [
            ir.StreamStart("a", "m"),
            start,
            ir.ToolArgsDelta(start.index, "*** Begin"),
            ir.BlockStop(start.index),
            ir.StreamEnd("tool_use"),
        ]
    )
    chunks = [orjson.loads(f[6:]) for f in out.split(b"\n\n") if f and f != b"data: [DONE]"]
    assert chunks[1]["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "c", "type": "custom", "custom": {"name": "patch", "input": ""}}
    ]
    assert chunks[2]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "custom": {"input": "*** Begin"}}]


def test_encoder_without_stream_start_and_without_tool_id():
    out = encode(
        [
            ir.BlockStart(0, "tool_call", name="f"),
            ir.ToolArgsDelta(0, "{}"),
            ir.BlockStop(0),
            ir.StreamEnd("end_turn"),
        ]
    )
    chunks = [orjson.loads(f[6:]) for f in out.split(b"\n\n") if f and f != b"data: [DONE]"]
    assert chunks[0]["id"].startswith("chatcmpl-") and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"].startswith("call_")
    assert chunks[3]["choices"][0]["finish_reason"] == "tool_calls"
