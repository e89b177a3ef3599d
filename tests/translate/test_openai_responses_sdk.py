"""The official openai SDK consumes what the Responses encoder and build_response write."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.openai_responses import ADAPTER
from cliproxy.translate.stream import Sequencer

USAGE = ir.Usage(input_tokens=100, output_tokens=40, cache_read_tokens=30, reasoning_tokens=12)


def ir_events() -> list[ir.Event]:
    """Text, thinking, two parallel (interleaved) tool calls, usage; as a decoder emits."""
    return [
        ir.StreamStart("msg_01abc", "claude-x", created=1763700000),
        ir.BlockStart(0, "thinking", family="claude"),
        ir.ThinkingDelta(0, "Let me "),
        ir.ThinkingDelta(0, "think."),
        ir.SignatureDelta(0, "claude-signature", "claude"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Hello"),
        ir.TextDelta(1, ", world"),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="call_1", name="get_weather"),
        ir.BlockStart(3, "tool_call", id="call_2", name="get_time"),
        ir.ToolArgsDelta(2, '{"city":'),
        ir.ToolArgsDelta(3, '{"tz":'),
        ir.ToolArgsDelta(2, '"Paris"}'),
        ir.ToolArgsDelta(3, '"CET"}'),
        ir.BlockStop(2),
        ir.BlockStop(3),
        ir.UsageEvent(USAGE),
        ir.StreamEnd("tool_use", USAGE),
    ]


def encode(events: list[ir.Event], request: ir.Request | None = None) -> bytes:
    enc = ADAPTER.stream_encoder(request, "gpt-test")
    seq = Sequencer()
    out = b"".join(enc.encode(e) for ev in events for e in seq.feed(ev))
    return out + enc.flush()


def client_for(body: bytes, content_type: str) -> openai.AsyncOpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/responses"
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return openai.AsyncOpenAI(api_key="sk-test", base_url="http://test/v1", http_client=http)


def check_final(final) -> None:
    assert final.output_text == "Hello, world"
    kinds = [o.type for o in final.output]
    assert kinds == ["reasoning", "message", "function_call", "function_call"]
    assert final.output[0].summary[0].text == "Let me think."
    # CPA's carrier: the Claude signature rides in encrypted_content so the client sends it back
    assert final.output[0].encrypted_content in ("claude-signature", "sig")
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_time", {"tz": "CET"}),
    ]
    assert final.usage.input_tokens == 100 and final.usage.output_tokens == 40
    assert final.usage.input_tokens_details.cached_tokens == 30
    assert final.usage.output_tokens_details.reasoning_tokens == 12
    assert final.usage.total_tokens == 140
    assert final.status == "completed" and final.model == "gpt-test"


async def test_sdk_responses_stream_helper():
    client = client_for(encode(ir_events()), "text/event-stream")
    async with client, client.responses.stream(model="gpt-test", input="hi") as stream:
        types = [ev.type async for ev in stream]
        final = await stream.get_final_response()
    check_final(final)
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in types
    assert types.count("response.function_call_arguments.delta") == 4


async def test_sdk_responses_create_stream_true():
    client = client_for(encode(ir_events()), "text/event-stream")
    async with client:
        stream = await client.responses.create(model="gpt-test", input="hi", stream=True)
        events = [ev async for ev in stream]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    check_final(events[-1].response)


async def test_sdk_stream_max_tokens_is_incomplete():
    events = [
        ir.StreamStart("resp_x", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "cut"),
        ir.BlockStop(0),
        ir.StreamEnd("max_tokens", ir.Usage(5, 7)),
    ]
    client = client_for(encode(events), "text/event-stream")
    async with client:
        stream = await client.responses.create(model="gpt-test", input="hi", stream=True)
        events_out = [ev async for ev in stream]
    last = events_out[-1]
    assert last.type == "response.incomplete"
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output_text == "cut"


async def test_sdk_stream_error_is_response_failed():
    events = [
        ir.StreamStart("resp_x", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "par"),
        ir.Error("Rate limit reached", status=429),
    ]
    client = client_for(encode(events), "text/event-stream")
    async with client:
        stream = await client.responses.create(model="gpt-test", input="hi", stream=True)
        events_out = [ev async for ev in stream]
    last = events_out[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed"
    assert last.response.error.code == "rate_limit_exceeded"
    assert last.response.error.message == "Rate limit reached"
    assert last.response.output_text == "par"


def response_ir() -> ir.Response:
    return ir.Response(
        id="msg_1",
        model="claude-x",
        source=Format.CLAUDE.value,
        stop_reason="tool_use",
        usage=USAGE,
        content=[
            ir.Thinking("Let me think.", signature="sig", family="claude"),
            ir.Text("Hello, world"),
            ir.ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
            ir.ToolCall("call_2", "get_time", '{"tz":"CET"}'),
        ],
    )


async def test_sdk_non_stream_create_parses_build_response():
    body = ADAPTER.build_response(response_ir(), None)
    body["model"] = "gpt-test"
    client = client_for(json.dumps(body).encode(), "application/json")
    async with client:
        final = await client.responses.create(model="gpt-test", input="hi")
    check_final(final)
    assert final.id.startswith("resp_")


@pytest.mark.parametrize("stream", [False, True])
async def test_sdk_namespace_tool_echo(stream):
    req = ADAPTER.parse_request(
        {
            "model": "gpt-test",
            "input": "hi",
            "tools": [
                {
                    "type": "namespace",
                    "name": "crm",
                    "description": "CRM",
                    "tools": [
                        {
                            "type": "function",
                            "name": "lookup",
                            "parameters": {"type": "object", "properties": {}},
                        }
                    ],
                }
            ],
        }
    )
    # an upstream of another family saw the flat name crm__lookup
    call = ir.ToolCall("call_9", "crm__lookup", '{"id":1}')
    if stream:
        events = [
            ir.StreamStart("r", "gpt-test"),
            ir.BlockStart(0, "tool_call", id="call_9", name="crm__lookup"),
            ir.ToolArgsDelta(0, '{"id":1}'),
            ir.BlockStop(0),
            ir.StreamEnd("tool_use", ir.Usage(1, 1)),
        ]
        client = client_for(encode(events, req), "text/event-stream")
    else:
        body = ADAPTER.build_response(ir.Response("r", "gpt-test", [call], "tool_use"), req)
        client = client_for(json.dumps(body).encode(), "application/json")
    async with client:
        if stream:
            async with client.responses.stream(model="gpt-test", input="hi") as s:
                final = await s.get_final_response()
        else:
            final = await client.responses.create(model="gpt-test", input="hi")
    fc = final.output[0]
    assert (fc.type, fc.name, fc.namespace, fc.call_id) == ("function_call", "lookup", "crm", "call_9")
    assert final.tools[0].type == "namespace" and final.tools[0].tools[0].name == "lookup"
