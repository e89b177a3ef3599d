"""Ported from CPA internal/translator/antigravity/{claude,gemini,openai}/*_test.go: the cases
of CPA's Antigravity translators that showed a difference from ours (the rest already
passed, or are ported elsewhere under ``tests/translate/cpa/test_antigravity_*``).

Fixed here: an empty answer streamed to a Claude client holds one empty text block (CPA
``..._EmptyCandidateClosesMessage``); a Gemini client's tool-result images beside its
``functionResponse`` go inside it in every spelling CPA reads (``inline_data``, leading
images, no media type).

Deliberate differences, each asserted as ours with its reason beside it."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider

from ._run import CLAUDE, GEMINI, OPENAI, events, get, req, resp, sse, stream

CLAUDE_REQUEST = {
    "model": "gemini-3-flash-agent",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "x"}],
}
# CPA's testEmptyAntigravityResponse, its envelope taken off (our provider unwraps it)
EMPTY = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 64214, "totalTokenCount": 64214},
    "modelVersion": "gemini-3-flash-a",
    "responseId": "eBNcat8X5evPsg_lhqyQAg",
}
CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})


def _sent(body: dict[str, Any], model: str = "gemini-3-flash") -> dict[str, Any]:
    """What Antigravity gets for a Gemini client's body (passed through to the provider)."""
    up = AntigravityProvider().build(CRED, copy.deepcopy(body), model=model, stream=False, client_headers={})
    return orjson.loads(up.body)["request"]  # type: ignore[no-any-return]


def _claude_ag(body: dict[str, Any], model: str) -> dict[str, Any]:
    gemini = req(CLAUDE, GEMINI, {"model": model, "max_tokens": 1024, **body}, model)
    return _sent(gemini, model)


# ---- Claude responses


def test_non_stream_empty_candidate_returns_content_array() -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeNonStream_EmptyCandidateReturnsContentArray."""
    out = resp(GEMINI, CLAUDE, EMPTY, CLAUDE_REQUEST, "gemini-3-flash-agent")
    assert out["content"] == []
    assert out["stop_reason"] == "end_turn"


def test_stream_empty_candidate_closes_message() -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeStream_EmptyCandidateClosesMessage."""
    evs = events(stream(GEMINI, CLAUDE, sse(EMPTY, events=False), CLAUDE_REQUEST, "gemini-3-flash-agent"))
    names = [e["_event"] for e in evs]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert evs[1]["content_block"] == {"type": "text", "text": ""}
    assert evs[3]["delta"]["stop_reason"] == "end_turn"
    assert evs[3]["usage"]["input_tokens"] == 64214
    assert evs[3]["usage"]["output_tokens"] == 0


def test_stream_with_content_gets_no_extra_block() -> None:
    said = {
        **EMPTY,
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
    }
    evs = events(stream(GEMINI, CLAUDE, sse(said, events=False), CLAUDE_REQUEST, "gemini-3-flash-agent"))
    starts = [e["content_block"] for e in evs if e["_event"] == "content_block_start"]
    assert starts == [{"type": "text", "text": ""}]  # the one block the text goes into
    assert [e["delta"]["text"] for e in evs if e["_event"] == "content_block_delta"] == ["hi"]


# ---- Gemini clients: tool-result images


def _image_turn(parts: list[dict[str, Any]], calls: list[str]) -> dict[str, Any]:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "read file"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "read", "args": {}, "id": c}} for c in calls],
            },
            {"role": "user", "parts": parts},
        ]
    }
    return _sent(body)["contents"][2]  # type: ignore[no-any-return]


def _images(turn: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for part in turn["parts"]:
        fr = part["functionResponse"]  # nothing else is left beside the responses
        out[fr["id"]] = [(p["inlineData"]["mimeType"], p["inlineData"]["data"]) for p in fr.get("parts", ())]
    return out


def _fr(call_id: str, result: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"functionResponse": {"name": "read", "response": {"result": result}, "id": call_id, **extra}}


@pytest.mark.parametrize(
    ("parts", "calls", "want"),
    [
        pytest.param(
            [_fr("call_1"), {"inline_data": {"mime_type": "image/png", "data": "QUJD"}}],
            ["call_1"],
            {"call_1": [("image/png", "QUJD")]},
            id="snake_case sibling after single response",
        ),
        pytest.param(
            [_fr("call_1"), {"inlineData": {"mimeType": "image/webp", "data": "NEW"}}],
            ["call_1"],
            {"call_1": [("image/webp", "NEW")]},
            id="camelCase sibling after single response",
        ),
        pytest.param(
            [
                _fr("call_1", parts=[{"inlineData": {"mimeType": "image/gif", "data": "OLD"}}]),
                {"inlineData": {"mimeType": "image/webp", "data": "NEW"}},
            ],
            ["call_1"],
            {"call_1": [("image/gif", "OLD"), ("image/webp", "NEW")]},
            id="append sibling onto existing functionResponse.parts",
        ),
        pytest.param(
            [
                _fr("call_a", "A"),
                {"inline_data": {"mime_type": "image/png", "data": "AAA"}},
                _fr("call_b", "B"),
                {"inline_data": {"mime_type": "image/jpeg", "data": "BBB"}},
            ],
            ["call_a", "call_b"],
            {"call_a": [("image/png", "AAA")], "call_b": [("image/jpeg", "BBB")]},
            id="interleaved siblings attach to nearest response",
        ),
        pytest.param(
            [
                {"inline_data": {"mime_type": "image/png", "data": "LEAD"}},
                _fr("call_a", "A"),
                _fr("call_b", "B"),
            ],
            ["call_a", "call_b"],
            {"call_a": [("image/png", "LEAD")], "call_b": []},
            id="leading sibling attaches to first response",
        ),
        pytest.param(
            [_fr("call_1"), {"inlineData": {"data": "QUJD"}}],
            ["call_1"],
            {"call_1": [("image/png", "QUJD")]},
            id="missing mimeType defaults to image/png",
        ),
    ],
)
def test_sibling_inline_data_goes_to_nearest_function_response(
    parts: list[dict[str, Any]], calls: list[str], want: dict[str, list[tuple[str, str]]]
) -> None:
    """antigravity_gemini_request_test.go TestFixCLIToolResponse_AttachesSiblingInlineDataToNearestFunctionResponse."""
    assert _images(_image_turn(parts, calls)) == want


def test_sibling_tool_image_is_absorbed() -> None:
    """antigravity_gemini_request_test.go TestConvertGeminiRequestToAntigravity_PreservesSiblingToolImageOnUserRole.

    Ours: the turn, holding only the response now, goes with the role ``model``, as every
    response-only turn for Antigravity's Gemini models (antigravity_turns; CPA's executor
    does the same after its translator, where the test stops)."""
    turn = _image_turn(
        [
            _fr("call_1", "Read image file [image/png]"),
            {"inline_data": {"mime_type": "image/png", "data": "QUJD"}},
        ],
        ["call_1"],
    )
    assert turn["role"] == "model"
    assert len(turn["parts"]) == 1
    fr = turn["parts"][0]["functionResponse"]
    assert (fr["id"], fr["response"]["result"]) == ("call_1", "Read image file [image/png]")
    assert fr["parts"] == [{"inlineData": {"mimeType": "image/png", "data": "QUJD"}}]


def test_an_image_in_a_turn_without_responses_stays() -> None:
    """Where it is, in camelCase (``providers.antigravity_turns.camel_parts``: a
    deliberate difference, CPA sends a snake_case part as it came)."""
    body = {"contents": [{"role": "user", "parts": [{"text": "see"}, {"inline_data": {"data": "QUJD"}}]}]}
    assert _sent(body)["contents"] == [
        {"role": "user", "parts": [{"text": "see"}, {"inlineData": {"data": "QUJD"}}]}
    ]


# ---- deliberate differences (Claude clients)


@pytest.mark.parametrize("value", ["plain", [1, "two"], 42, True, None])
def test_tool_use_with_a_non_object_input(value: Any) -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolUsePreservesPresentNonObjectInput.

    Ours: ``args`` is ``{}``: Gemini's ``functionCall.args`` is a Struct (an object), and
    CPA's string or array ``args`` would be refused by the backend."""
    msg = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "call_123", "name": "run", "input": value}],
    }
    out = _claude_ag({"messages": [msg]}, "claude-sonnet-4-5")
    assert get(out, "contents.0.parts.0.functionCall") == {"name": "run", "args": {}}


def test_tool_result_image_given_by_url() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultImageNotBase64.

    Ours: the image is sent as a ``fileData`` part beside the response (CPA folds the block's
    JSON into the result text, where the model cannot see the image)."""
    content = [
        {"type": "text", "text": "some output"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/img.png"}},
    ]
    msg = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "NotB64-001", "content": content}],
    }
    parts = get(_claude_ag({"messages": [msg]}, "claude-sonnet-4-5"), "contents.0.parts")
    assert parts[0]["functionResponse"]["response"] == {"result": "some output"}
    assert "parts" not in parts[0]["functionResponse"]
    assert parts[1] == {"fileData": {"fileUri": "https://example.com/img.png", "mimeType": "image/png"}}


@pytest.mark.parametrize(
    ("source", "want"),
    [
        # Ours: an image without data is dropped (CPA sends inlineData with a media type only)
        ({"type": "base64", "media_type": "image/png"}, None),
        # Ours: no media type is image/png (the backend ignores inline data without one)
        ({"type": "base64", "data": "AAAA"}, [{"inlineData": {"data": "AAAA", "mimeType": "image/png"}}]),
    ],
    ids=["ToolResultImageMissingData", "ToolResultImageMissingMediaType"],
)
def test_tool_result_image_missing_a_field(source: dict[str, Any], want: Any) -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultImageMissingData,
    TestConvertClaudeRequestToAntigravity_ToolResultImageMissingMediaType."""
    content = [{"type": "text", "text": "output"}, {"type": "image", "source": source}]
    msg = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "X-001", "content": content}]}
    fr = get(_claude_ag({"messages": [msg]}, "claude-sonnet-4-5"), "contents.0.parts.0.functionResponse")
    assert fr["response"] == {"result": "output"}
    assert fr.get("parts") == want


def test_tool_result_with_multiple_images_and_texts() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultWithMultipleImagesAndTexts.

    Ours: the texts are one result string, joined by newlines, as for every backend (CPA
    sends an array of the text blocks' JSON)."""
    content = [
        {"type": "text", "text": "First text"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "text", "text": "Second text"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}},
    ]
    msg = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "Multi-001", "content": content}],
    }
    parts = get(_claude_ag({"messages": [msg]}, "claude-sonnet-4-5"), "contents.0.parts")
    assert len(parts) == 1
    fr = parts[0]["functionResponse"]
    assert fr["response"] == {"result": "First text\nSecond text"}
    assert [(p["inlineData"]["mimeType"], p["inlineData"]["data"]) for p in fr["parts"]] == [
        ("image/png", "AAAA"),
        ("image/jpeg", "BBBB"),
    ]


# ---- deliberate differences (OpenAI clients)


def test_response_format_json_schema() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityMapsResponseFormatJSONSchema.

    Ours: the schema goes as ``responseJsonSchema`` (the JSON Schema the client wrote; the
    backend reads proto JSON and takes both, CPA's executor notes), stale client keys gone."""
    body = {
        "model": "gemini-3.6-flash-high",
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "verdict",
                "schema": {
                    "type": "object",
                    "properties": {"score": {"type": "integer"}},
                    "required": ["score"],
                },
            },
        },
    }
    config = _sent(req(OPENAI, GEMINI, body, "gemini-3.6-flash-high"), "gemini-3.6-flash-high")[
        "generationConfig"
    ]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["score"]["type"] == "integer"
    assert "responseSchema" not in config


@pytest.mark.parametrize(
    "extra",
    [{"max_tokens": 100}, {"max_completion_tokens": 200}, {"max_tokens": 100, "max_completion_tokens": 200}],
)
def test_max_completion_tokens(extra: dict[str, Any]) -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravity_MaxCompletionTokens.

    Ours: an Antigravity Gemini model gets no ``maxOutputTokens`` at all (CPA's executor
    drops it after its translator set it, where the test stops: the answer would otherwise
    be cut while still thinking). With both fields, ``max_completion_tokens`` wins on every
    path of ours: it is the field OpenAI replaced ``max_tokens`` with (CPA takes ``max_tokens``)."""
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **extra}
    gemini = req(OPENAI, GEMINI, body, "gemini-2.5-flash")
    assert gemini["generationConfig"]["maxOutputTokens"] == extra.get("max_completion_tokens", 100)
    assert "maxOutputTokens" not in _sent(gemini, "gemini-2.5-flash").get("generationConfig", {})


def test_finish_reason_max_tokens() -> None:
    """antigravity_openai_response_test.go TestFinishReasonMaxTokens.

    Ours: ``length``, OpenAI's value for a cut answer, which SDKs and agents test for (CPA
    sends ``max_tokens``)."""
    chunks = (
        {"candidates": [{"content": {"parts": [{"text": "Hello"}]}}]},
        {"candidates": [{"finishReason": "MAX_TOKENS"}], "usageMetadata": {"promptTokenCount": 10}},
    )
    evs = events(stream(GEMINI, OPENAI, sse(*chunks, events=False), None, "model"))
    assert [c["finish_reason"] for e in evs for c in e["choices"] if c.get("finish_reason")] == ["length"]
