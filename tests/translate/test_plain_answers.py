"""Whole answers of the plain shape go straight to the client's format (issue 21,
translation added time): ``translate.plain_answers`` must write what the hub writes
(the upstream adapter's ``parse_response``, then the client adapter's ``build_response``),
and leave every other answer to the hub."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.plain_answers import (
    PLAIN_ANSWERS,
    chat_to_claude,
    claude_to_responses,
    gemini_to_chat,
)
from cliproxy.translate.registry import default_registry

USAGE = {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 12, "thoughtsTokenCount": 2}


def _gemini(parts: list[Any], **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": dict(USAGE),
        "responseId": "abc",
        "modelVersion": "gemini-2.5-flash",
    }
    body.update(top)
    return {k: v for k, v in body.items() if v is not None}


def _hub(upstream: Format, client: Format, body: dict[str, Any], req: ir.Request | None, model: str | None):
    reg = default_registry()
    resp = reg.adapter(upstream).parse_response(copy.deepcopy(body), req)
    if model:
        resp.model = model
    return reg.adapter(client).build_response(resp, req), resp.usage


def _same(fast: dict[str, Any], hub: dict[str, Any]) -> None:
    """Equal bytes but for the clock (``created``) and a random id when the upstream gave none."""
    if "created" in hub:
        assert abs(fast.pop("created") - hub.pop("created")) <= 1
    if fast["id"].startswith(("chatcmpl-resp-", "msg_")):
        assert len(fast["id"]) == len(hub["id"])
        fast["id"] = hub["id"]
    assert orjson.dumps(fast) == orjson.dumps(hub)


PLAIN = [
    _gemini([{"text": "Hi"}]),
    _gemini([{"text": "a"}, {"text": ""}, {"text": "b"}]),
    _gemini([]),
    _gemini([{"text": "x"}], responseId=None),
    _gemini([{"text": "x"}], responseId=""),
    _gemini([{"text": "x"}], responseId="chatcmpl-9"),
    _gemini([{"text": "x"}], modelVersion=None),
    _gemini([{"text": "x"}], usageMetadata=None),
    _gemini([{"text": "x"}], usageMetadata={"promptTokenCount": 4, "cachedContentTokenCount": 2}),
]


@pytest.mark.parametrize("model", [None, "alias"])
@pytest.mark.parametrize("with_request", [True, False])
@pytest.mark.parametrize("body", PLAIN)
def test_gemini_to_chat_writes_what_the_hub_writes(
    body: dict[str, Any], with_request: bool, model: str | None
) -> None:
    req = ir.Request(model="asked-model", source="openai") if with_request else None
    got = gemini_to_chat(copy.deepcopy(body), req, model)
    assert got is not None
    hub_body, hub_usage = _hub(Format.GEMINI, Format.OPENAI, body, req, model)
    assert got[1] == hub_usage
    _same(got[0], hub_body)


NOT_PLAIN = [
    _gemini([{"text": "t", "thought": True}, {"text": "x"}]),
    _gemini([{"functionCall": {"name": "f", "args": {}}}]),
    _gemini([{"text": "x", "thoughtSignature": "c2ln"}]),
    _gemini([{"text": "x"}], promptFeedback={"blockReason": "SAFETY"}),
    _gemini([{"text": "x"}], error={"code": 500}),
    _gemini([{"text": "x"}], responseId=7),
    {**_gemini([{"text": "x"}]), "candidates": []},
    {**_gemini([{"text": "x"}]), "candidates": [_gemini([{"text": "x"}])["candidates"][0]] * 2},
    {**_gemini([]), "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]},
    {
        **_gemini([]),
        "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP", "safetyRatings": []}],
    },
    {**_gemini([]), "candidates": [{"content": {"parts": [{"text": "x"}]}}]},
    {**_gemini([]), "candidates": [{"content": [{"text": "x"}], "finishReason": "STOP"}]},
    {**_gemini([]), "candidates": "x"},
    _gemini([{"text": 5}]),
    _gemini([{"text": None}]),
    _gemini(["x"]),
]


@pytest.mark.parametrize("body", NOT_PLAIN)
def test_gemini_to_chat_leaves_other_answers_to_the_hub(body: dict[str, Any]) -> None:
    assert gemini_to_chat(copy.deepcopy(body), None, None) is None


def test_the_registry_takes_the_plain_path_and_falls_back() -> None:
    reg = default_registry()
    assert PLAIN_ANSWERS[(Format.GEMINI, Format.OPENAI)] is gemini_to_chat
    out, usage = reg.translate_response_usage(
        Format.GEMINI, Format.OPENAI, _gemini([{"text": "Hi"}]), None, "m"
    )
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hi"} and out["model"] == "m"
    assert usage is not None and usage.output_tokens == 5
    out, _ = reg.translate_response_usage(Format.GEMINI, Format.OPENAI, NOT_PLAIN[0], None, None)
    assert out["choices"][0]["message"]["reasoning_content"] == "t"


def _chat(message: Any = None, finish: Any = "stop", **top: Any) -> dict[str, Any]:
    """An answer as OpenAI writes it (``refusal: null``, ``annotations: []``, usage details)."""
    if message is None:
        message = {"role": "assistant", "content": "Hi", "refusal": None, "annotations": []}
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 4,
            "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
        "service_tier": "default",
        "system_fingerprint": "fp",
    }
    body.update(top)
    return {k: v for k, v in body.items() if v is not None}


CHAT_PLAIN = [
    _chat(),
    _chat({"role": "assistant", "content": "x"}),
    _chat({"content": "x"}),
    _chat(id=None),
    _chat(id=42),
    _chat(model=None),
    _chat(usage=None),
    _chat(
        usage={"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {"cache_write_tokens": 3}}
    ),
    {**_chat(), "choices": [_chat()["choices"][0], _chat({"content": "other"})["choices"][0]]},
]


@pytest.mark.parametrize("model", [None, "alias"])
@pytest.mark.parametrize("with_request", [True, False])
@pytest.mark.parametrize("body", CHAT_PLAIN)
def test_chat_to_claude_writes_what_the_hub_writes(
    body: dict[str, Any], with_request: bool, model: str | None
) -> None:
    req = ir.Request(model="asked-model", source="claude") if with_request else None
    got = chat_to_claude(copy.deepcopy(body), req, model)
    assert got is not None
    hub_body, hub_usage = _hub(Format.OPENAI, Format.CLAUDE, body, req, model)
    assert got[1] == hub_usage
    _same(got[0], hub_body)


CHAT_NOT_PLAIN = [
    _chat(finish="length"),
    _chat(finish=None),
    _chat({"role": "assistant", "content": ""}),
    _chat({"role": "assistant", "content": None, "refusal": "no"}),
    _chat({"role": "assistant", "content": "x", "refusal": "no"}),
    _chat({"role": "assistant", "content": "x", "reasoning_content": "r"}),
    _chat({"role": "assistant", "content": [{"type": "text", "text": "x"}]}),
    _chat(
        {
            "role": "assistant",
            "content": "x",
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
        }
    ),
    _chat("x"),
    {**_chat(), "choices": []},
    {**_chat(), "choices": "x"},
    _chat(choices=None),
]


@pytest.mark.parametrize("body", CHAT_NOT_PLAIN)
def test_chat_to_claude_leaves_other_answers_to_the_hub(body: dict[str, Any]) -> None:
    assert chat_to_claude(copy.deepcopy(body), None, None) is None


def _claude(content: Any = None, stop: Any = "end_turn", **top: Any) -> dict[str, Any]:
    """A message as Anthropic writes it."""
    body: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "Hi"}] if content is None else content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 9,
            "output_tokens": 4,
            "cache_read_input_tokens": 2,
            "cache_creation_input_tokens": 3,
        },
    }
    body.update(top)
    return {k: v for k, v in body.items() if v is not None or k == "stop_sequence"}


def _responses_request(**extra: Any) -> ir.Request:
    """A Responses client's request, parsed as the pipeline parses it (instructions, settings)."""
    body = {
        "model": "asked-model",
        "instructions": "Be terse.",
        "input": "Hi",
        "max_output_tokens": 64,
        **extra,
    }
    return default_registry().adapter(Format.RESPONSES).parse_request(body)


CLAUDE_PLAIN = [
    _claude(),
    _claude([{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]),
    _claude([]),
    _claude(id="resp_7"),
    _claude(id=None),
    _claude(id=""),
    _claude(model=None),
    _claude(usage=None),
    _claude(stop_sequence="END"),
]


@pytest.mark.parametrize("model", [None, "alias"])
@pytest.mark.parametrize(
    "request_kind", ["responses", "responses-settings", "foreign", "none"], ids=lambda k: k
)
@pytest.mark.parametrize("body", CLAUDE_PLAIN)
def test_claude_to_responses_writes_what_the_hub_writes(
    body: dict[str, Any], request_kind: str, model: str | None
) -> None:
    req = {
        "responses": lambda: _responses_request(),
        "responses-settings": lambda: _responses_request(
            temperature=0.5, tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}]
        ),
        "foreign": lambda: ir.Request(model="asked-model", source="openai"),
        "none": lambda: None,
    }[request_kind]()
    got = claude_to_responses(copy.deepcopy(body), req, model)
    assert got is not None
    hub_body, hub_usage = _hub(Format.CLAUDE, Format.RESPONSES, body, req, model)
    assert got[1] == hub_usage
    assert abs(got[0].pop("created_at") - hub_body.pop("created_at")) <= 1
    if not body.get("id"):  # a random id either way, of one shape
        assert got[0]["id"].startswith("resp_") and len(got[0]["id"]) == len(hub_body["id"])
        got[0]["id"] = hub_body["id"]
    assert orjson.dumps(got[0]) == orjson.dumps(hub_body)


CLAUDE_NOT_PLAIN = [
    _claude(stop="max_tokens"),
    _claude(stop="tool_use"),
    _claude(stop="stop_sequence"),
    _claude(stop=None),
    _claude(stop="refusal"),
    _claude([{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "x"}]),
    _claude([{"type": "tool_use", "id": "t", "name": "f", "input": {}}]),
    _claude([{"type": "text", "text": "x", "citations": [{"type": "char_location"}]}]),
    _claude([{"type": "text", "text": 5}]),
    _claude(["x"]),
    _claude("x"),
    _claude(id=7),
    _claude(container={"id": "c"}),
    _claude(stop_details={"type": "refusal"}),
]


@pytest.mark.parametrize("body", CLAUDE_NOT_PLAIN)
def test_claude_to_responses_leaves_other_answers_to_the_hub(body: dict[str, Any]) -> None:
    assert claude_to_responses(copy.deepcopy(body), None, None) is None


def test_the_registry_takes_the_claude_to_responses_path_and_falls_back() -> None:
    reg = default_registry()
    assert PLAIN_ANSWERS[(Format.CLAUDE, Format.RESPONSES)] is claude_to_responses
    out, usage = reg.translate_response_usage(Format.CLAUDE, Format.RESPONSES, _claude(), None, "m")
    assert out["output"][0]["content"][0]["text"] == "Hi" and out["model"] == "m"
    assert usage is not None and usage.output_tokens == 4
    out, _ = reg.translate_response_usage(Format.CLAUDE, Format.RESPONSES, CLAUDE_NOT_PLAIN[5], None, None)
    assert [item["type"] for item in out["output"]] == ["reasoning", "message"]
