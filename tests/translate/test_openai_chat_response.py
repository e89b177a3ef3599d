"""Whole Chat Completions responses: parse, build, count tokens, and the openai SDK."""

from __future__ import annotations

import copy

import httpx2 as httpx
import openai
import orjson
import pytest

from cliproxy.translate import ir
from cliproxy.translate.openai_chat import ADAPTER

UPSTREAM = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-x",
    "system_fingerprint": "fp_9",
    "service_tier": "default",
    "choices": [
        {
            "index": 0,
            "logprobs": None,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "On it.",
                "refusal": None,
                "annotations": [],
                "reasoning_content": "plan",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    },
}


def test_parse_response():
    resp = ADAPTER.parse_response(copy.deepcopy(UPSTREAM))
    assert resp.stop_reason == "tool_use" and resp.id == "chatcmpl-1" and resp.created == 1700000000
    assert isinstance(resp.content[0], ir.Thinking) and resp.content[0].family == "openai"
    assert resp.content[1] == ir.Text("On it.")
    assert [(c.id, c.name, c.arguments) for c in resp.content[2:]] == [
        ("call_1", "a", '{"x":1}'),
        ("call_2", "b", "{}"),
    ]
    assert resp.usage == ir.Usage(10, 5, 4, 0, 2, 15)


def test_response_roundtrip_same_format():
    assert ADAPTER.build_response(ADAPTER.parse_response(copy.deepcopy(UPSTREAM))) == UPSTREAM


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "content_filter"),
    ],
)
def test_finish_reason_parse(finish, stop):
    body = {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "t"}}],
    }
    assert ADAPTER.parse_response(body).stop_reason == stop


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("content_filter", "content_filter"),
        (None, "stop"),
    ],
)
def test_finish_reason_build(stop, finish):
    resp = ir.Response(id="msg_1", model="m", content=[ir.Text("x")], stop_reason=stop, source="claude")
    assert ADAPTER.build_response(resp)["choices"][0]["finish_reason"] == finish


def test_build_from_claude_response():
    resp = ir.Response(
        id="msg_01",
        model="claude-x",
        source="claude",
        stop_reason="tool_use",
        content=[
            ir.Thinking("deep", signature="s", family="claude"),
            ir.Text("a"),
            ir.Text("b"),
            ir.ToolCall("toolu_1", "search", '{"q":1}', namespace="mcp"),
        ],
        usage=ir.Usage(input_tokens=100, output_tokens=20, cache_read_tokens=30, cache_write_tokens=40),
        extras={"container": 1},
    )
    out = ADAPTER.build_response(resp)
    assert out["id"] == "chatcmpl-msg_01" and out["object"] == "chat.completion" and out["created"] > 0
    msg = out["choices"][0]["message"]
    assert msg == {
        "role": "assistant",
        "content": "ab",
        "reasoning_content": "deep",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "mcp__search", "arguments": '{"q":1}'}}
        ],
    }
    assert out["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {
            "cached_tokens": 30,
            "cache_write_tokens": 40,
            "cached_creation_tokens": 40,
        },
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert "container" not in out


def test_usage_zeros_and_no_cache_write_field():
    out = ADAPTER.build_response(ir.Response(id="", model="m", source="gemini"))
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert out["choices"][0]["message"] == {"role": "assistant", "content": None}


def test_parse_cache_write_variants():
    for details in ({"cached_creation_tokens": 7}, {"cache_write_tokens": 7}):
        body = {
            "id": "x",
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 9, "prompt_tokens_details": details},
        }
        assert ADAPTER.parse_response(body).usage.cache_write_tokens == 7


def test_restores_namespace_from_request():
    req = ir.Request(model="m", tools=[ir.Tool("search", namespace="mcp")])
    body = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "mcp__search", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    }
    call = ADAPTER.parse_response(body, req).content[0]
    assert (call.name, call.namespace) == ("search", "mcp")


def test_count_tokens_shape():
    assert ADAPTER.count_tokens_response(42) == {"object": "response.input_tokens", "input_tokens": 42}


async def test_sdk_parses_build_response():
    resp = ir.Response(
        id="msg_7",
        model="claude-x",
        source="claude",
        stop_reason="tool_use",
        created=1700000002,
        content=[
            ir.Thinking("why"),
            ir.Text("Hello"),
            ir.ToolCall("t1", "a", '{"x":1}'),
            ir.ToolCall("t2", "b", "{}"),
        ],
        usage=ir.Usage(12, 8, 2, 0, 3),
    )
    payload = orjson.dumps(ADAPTER.build_response(resp))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = openai.AsyncOpenAI(api_key="sk", base_url="http://proxy.test/v1", http_client=http)
        done = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    msg = done.choices[0].message
    assert done.id == "chatcmpl-msg_7" and done.choices[0].finish_reason == "tool_calls"
    assert msg.content == "Hello" and msg.model_extra["reasoning_content"] == "why"
    assert [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in msg.tool_calls] == [
        ("t1", "a", {"x": 1}),
        ("t2", "b", {}),
    ]
    assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (12, 8, 20)
    assert done.usage.prompt_tokens_details.cached_tokens == 2
    assert done.usage.completion_tokens_details.reasoning_tokens == 3


def test_empty_string_content_roundtrips():
    body = copy.deepcopy(UPSTREAM)
    body["choices"][0]["message"]["content"] = ""
    assert ADAPTER.build_response(ADAPTER.parse_response(copy.deepcopy(body))) == body


# OpenAI's plain answer as it writes it: the reader takes it without the general walk
PLAIN = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "created": 1700000001,
    "model": "gpt-x",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 3,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_1",
}


def test_openais_plain_answer_reads_as_the_general_walk_reads_it():
    resp = ADAPTER.parse_response(copy.deepcopy(PLAIN))
    assert resp.content == [ir.Text("Hello.")] and resp.stop_reason == "end_turn"
    assert resp.usage == ir.Usage(9, 3, 2, 0, 0, 12)
    assert resp.extras == {
        "service_tier": "default",
        "system_fingerprint": "fp_1",
        "_message": {"refusal": None, "annotations": []},
    }
    assert list(resp.extras)[:2] == ["service_tier", "system_fingerprint"]  # in the body's order
    # the general walk (a reasoning member sends the message there) reads the rest the same
    walked = copy.deepcopy(PLAIN)
    walked["choices"][0]["message"]["reasoning_content"] = "r"
    general = ADAPTER.parse_response(walked)
    assert general.content[1:] == resp.content
    assert general.extras["_message"] == resp.extras["_message"]
    # and back to a Chat Completions client: the same bytes (but the usage's audio counts,
    # which no format carries on)
    assert orjson.dumps(_but_usage(ADAPTER.build_response(resp))) == orjson.dumps(_but_usage(PLAIN))


def _but_usage(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "usage"}


def test_what_is_not_openais_plain_answer_keeps_its_members():
    body = copy.deepcopy(PLAIN)
    body["choices"][0]["logprobs"] = {"content": []}
    cites = [{"type": "url_citation", "url_citation": {"url": "https://example.com"}}]
    body["choices"][0]["message"]["annotations"] = cites
    resp = ADAPTER.parse_response(copy.deepcopy(body))
    assert resp.extras["_choice"] == {"logprobs": {"content": []}}
    assert resp.extras["_message"] == {"refusal": None, "annotations": cites}
    assert _but_usage(ADAPTER.build_response(resp)) == _but_usage(body)
    refused = copy.deepcopy(PLAIN)
    refused["choices"][0]["message"]["refusal"] = "I can't."
    assert ADAPTER.parse_response(refused).content[1] == ir.Text("I can't.", extras={"_refusal": True})


def test_what_only_a_chat_client_is_given_back_is_kept_only_for_one():
    """Another format's client (its IR request says so) reads the same content, stop and
    usage, without the members only a Chat Completions client is given back."""
    body = copy.deepcopy(PLAIN)
    body["choices"].append({"index": 1, "message": {"role": "assistant", "content": "b"}})
    body["choices"][0]["logprobs"] = {"content": []}
    for source, kept in (("claude", False), ("gemini", False), ("openai", True), (None, True)):
        request = ir.Request("m", source=source) if source else None
        resp = ADAPTER.parse_response(copy.deepcopy(body), request)
        assert resp.content == [ir.Text("Hello.")] and resp.stop_reason == "end_turn"
        assert resp.usage == ir.Usage(9, 3, 2, 0, 0, 12)
        assert bool(resp.extras) is kept
        if kept:
            assert set(resp.extras) == {
                "service_tier",
                "system_fingerprint",
                "_message",
                "_choice",
                "_choices",
            }


def test_cache_writes_are_read_beside_openais_own_prompt_details():
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}
    for details in ({"cache_write_tokens": 5}, {"audio_tokens": 0, "cached_creation_tokens": 5}):
        u = {**usage, "prompt_tokens_details": {"cached_tokens": 2, **details}}
        assert ADAPTER.parse_response({"usage": u, "choices": []}).usage.cache_write_tokens == 5
