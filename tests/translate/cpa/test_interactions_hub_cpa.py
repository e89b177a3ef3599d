"""The rest of CPA's Interactions translator cases for Gemini
(``internal/translator/gemini/interactions/interactions_gemini_common_test.go``) and for
Claude clients on an Interactions upstream (``internal/translator/interactions/claude``),
run through our IR hub. Chat Completions and Codex cases are in
test_interactions_hub_openai_cpa.py, Antigravity's in test_interactions_hub_antigravity_cpa.py.

Where we differ on purpose the case says why in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import cliproxy.translate.interactions as interactions_pkg
from cliproxy.formats import Format
from cliproxy.translate.collect import Collector
from cliproxy.translate.compat import prepare
from cliproxy.translate.registry import default_registry
from tests.translate.cpa._run import CLAUDE, GEMINI, feeds, get, req, resp, sse

I = Format.INTERACTIONS  # noqa: E741


def _names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["_event"] for e in evs]


STREAM = {"model": "gemini-3.5-flash", "input": "hi", "stream": True}


# ------------------------------------------------------------------ Gemini upstream


def test_gemini_gateway_call_id_whole_and_streamed():
    """TestConvertGeminiResponseToInteractionsNonStreamFunctionCallPreservesCallID,
    TestConvertGeminiResponseToInteractionsStreamFunctionCallCallID: a gateway's
    ``functionCall.call_id`` is the call's id, in a whole answer and in a stream."""
    part = {"functionCall": {"name": "lookup", "call_id": "call_response_1", "args": {"q": "x"}}}
    whole = resp(
        GEMINI, I, {"responseId": "r", "candidates": [{"content": {"role": "model", "parts": [part]}}]}
    )
    assert get(whole, "steps.0.call_id") == "call_response_1"
    part = {"functionCall": {"name": "lookup", "call_id": "call_stream_1", "args": {"q": "x"}}}
    first, _ = feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [part]}}]})
    start = next(e for e in first if e["_event"] == "step.start")
    delta = next(e for e in first if e["_event"] == "step.delta")
    assert start["step"]["id"] == "call_stream_1" and delta["delta"]["arguments"] == '{"q":"x"}'


def test_gemini_stream_usage_fields():
    """TestConvertGeminiResponseToInteractionsStreamSnakeCaseUsage, in camelCase: every
    usage count reaches ``interaction.completed``, which comes once.
    Differs: ``usage_metadata`` in snake case is not read; Google's REST API sends it in
    camelCase only (proto3 JSON), and the hot chunk loop reads that one key."""
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 11,
            "candidatesTokenCount": 22,
            "totalTokenCount": 33,
            "thoughtsTokenCount": 44,
            "cachedContentTokenCount": 55,
        },
    }
    evs = [e for batch in feeds(GEMINI, I, STREAM, chunk) for e in batch]
    assert _names(evs).count("interaction.completed") == 1
    usage = evs[-1]["interaction"]["usage"]
    assert [usage[k] for k in ("total_input_tokens", "total_output_tokens", "total_thought_tokens")] == [
        11,
        22,
        44,
    ]
    assert (usage["total_tokens"], usage["total_cached_tokens"]) == (33, 55)


def test_gemini_stream_non_terminal_usage_does_not_complete():
    """TestConvertGeminiResponseToInteractionsStreamDoesNotCompleteOnNonTerminalUsage: a
    chunk with usage but no finish reason neither stops its step nor completes."""
    thought = {
        "candidates": [{"content": {"role": "model", "parts": [{"thought": True, "text": "thinking"}]}}],
        "usageMetadata": {"promptTokenCount": 124, "totalTokenCount": 124},
    }
    first, *_ = feeds(GEMINI, I, STREAM, thought)
    assert "interaction.completed" not in _names(first) and "step.stop" not in _names(first)


def test_gemini_stream_traffic_only_usage_is_not_an_end():
    """TestConvertGeminiResponseToInteractionsStreamIgnoresTrafficOnlyUsageMetadata"""
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": []}}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
    }
    first, _ = feeds(GEMINI, I, STREAM, chunk)
    assert "interaction.completed" not in _names(first)


def test_gemini_protocol_fields_become_gemini_settings():
    """TestConvertInteractionsRequestToGeminiGenerationConfigProtocolFields: ``tool_choice``,
    ``thinking_level`` and ``thinking_summaries`` are not sent as generation settings but as
    ``toolConfig`` and ``thinkingConfig``; ``stream`` is not a body field.
    Differs: the level is written in Gemini's enum spelling (``HIGH``), which the API
    takes as CPA's ``high``."""
    out = req(
        I,
        GEMINI,
        {
            "model": "gemini-3.5-flash",
            "generation_config": {
                "tool_choice": "auto",
                "thinking_level": "high",
                "thinking_summaries": "auto",
            },
            "stream": True,
            "input": "hi",
        },
        "gemini-3.5-flash",
    )
    cfg = out["generationConfig"]
    assert "stream" not in out and not {"toolChoice", "thinkingLevel", "thinkingSummaries"} & cfg.keys()
    assert get(out, "toolConfig.functionCallingConfig.mode") == "AUTO"
    assert cfg["thinkingConfig"]["thinkingLevel"].lower() == "high"
    assert cfg["thinkingConfig"]["includeThoughts"] is True


def test_gemini_level_alone_leaves_summaries_unset():
    """TestConvertInteractionsRequestToGeminiGenerationConfigProtocolFields (without
    ``thinking_summaries``): the level alone writes no ``includeThoughts``; whether thoughts
    are shown stays the API's default, as in CPA (a Claude or Chat client's thinking, by
    contrast, is shown whenever it is on)."""
    body = {"model": "g", "generation_config": {"thinking_level": "high"}, "input": "hi"}
    thinking = req(I, GEMINI, body, "gemini-3-flash")["generationConfig"]["thinkingConfig"]
    assert thinking["thinkingLevel"].lower() == "high" and "includeThoughts" not in thinking


def test_gemini_unknown_generation_key_is_not_sent():
    """TestConvertInteractionsRequestToGeminiGenerationConfigPreservesLargeIntegers.
    Differs: a generation key the hub does not know (``large_identity``) is not sent on, so
    there is no number to keep; the known ones are (as with
    TestConvertInteractionsRequestToGeminiGenerationConfigAllFields)."""
    body = {
        "model": "gemini-3.5-flash",
        "generation_config": {"max_output_tokens": 32, "large_identity": 9223372036854775807},
        "input": "hi",
    }
    cfg = req(I, GEMINI, body, "gemini-3.5-flash")["generationConfig"]
    assert cfg == {"maxOutputTokens": 32}


def test_gemini_client_media_and_thought_to_interactions():
    """TestConvertGeminiRequestToInteractionsMultimodal, TestConvertGeminiRequestToInteractionsThought"""
    audio = {"inlineData": {"mimeType": "audio/wav", "data": "aGVsbG8="}}
    out = req(GEMINI, I, {"contents": [{"role": "user", "parts": [audio]}]}, "gemini-3.5-flash")
    assert get(out, "input.0.type") == "user_input"
    assert get(out, "input.0.content.0") == {"type": "audio", "mime_type": "audio/wav", "data": "aGVsbG8="}
    thought = {"text": "thinking", "thought": True}
    out = req(GEMINI, I, {"contents": [{"role": "model", "parts": [thought]}]}, "gemini-3.5-flash")
    assert get(out, "input.0.type") == "thought"


@pytest.mark.parametrize("key", ["id", "call_id"])
def test_gemini_client_call_ids_to_interactions(key):
    """TestConvertGeminiRequestToInteractionsFunctionCallPreservesID (``id``),
    TestConvertGeminiRequestToInteractionsFunctionCallPreservesCallID (a gateway's ``call_id``)"""
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "lookup", key: "call_9", "args": {"q": "x"}}}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "lookup", key: "call_9", "response": {"ok": True}}}],
            },
        ]
    }
    out = req(GEMINI, I, body, "gemini-3.5-flash")
    assert [get(out, "input.0.call_id"), get(out, "input.1.call_id")] == ["call_9", "call_9"]


def test_gemini_client_generation_config_to_interactions():
    """TestConvertGeminiRequestToInteractionsGenerationConfig.
    Differs: ``thinkingBudget`` is not written as ``thinking_config.thinking_budget`` (the
    Interactions API has no budget); the pipeline's thinking step turns it into a
    ``thinking_level`` (tests/e2e/test_interactions_native_cpa.py shows it)."""
    body = {
        "generationConfig": {"maxOutputTokens": 32, "topP": 0.8, "thinkingConfig": {"thinkingBudget": 1024}},
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    }
    cfg = req(GEMINI, I, body, "gemini-3.5-flash")["generation_config"]
    assert cfg["max_output_tokens"] == 32 and cfg["top_p"] == 0.8


def test_interactions_finish_metadata_usage_to_gemini():
    """TestConvertInteractionsResponseToGeminiStreamFinishMetadataUsage: a ``finish`` event's
    ``metadata.total_usage`` ends a Gemini client's stream with STOP and every count."""
    finish = {
        "event_type": "finish",
        "metadata": {
            "total_usage": {
                "total_input_tokens": 2,
                "total_output_tokens": 6,
                "total_thought_tokens": 3,
                "total_cached_tokens": 1,
                "total_tokens": 11,
            }
        },
    }
    chunks = [
        e for batch in feeds(I, GEMINI, {"contents": [{"parts": [{"text": "hi"}]}]}, finish) for e in batch
    ]
    last = chunks[-1]
    assert get(last, "candidates.0.finishReason") == "STOP"
    assert last["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 6,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 1,
        "totalTokenCount": 11,
    }


# ------------------------------------------------------------------ Claude client, Interactions upstream

CLAUDE_REQ = {"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def test_claude_client_messages_tools_and_stream():
    """TestConvertClaudeRequestToInteractionsMapsMessagesToolsAndStream"""
    body = {
        "model": "gemini-3.1-flash-lite",
        "stream": True,
        "max_tokens": 1024,
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            }
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "今天北京的天气怎么样？"}]}],
    }
    out = req(CLAUDE, I, body, "gemini-3.1-flash-lite")
    assert out["model"] == "gemini-3.1-flash-lite" and out["stream"] is True
    assert get(out, "generation_config.max_output_tokens") == 1024
    assert get(out, "input.0") == {
        "type": "user_input",
        "content": [{"type": "text", "text": "今天北京的天气怎么样？"}],
    }
    assert get(out, "tools.0.type") == "function"
    assert get(out, "tools.0.parameters.properties.location.type") == "string"


def test_claude_client_tool_use_and_result():
    """TestConvertClaudeRequestToInteractionsMapsToolUseAndResult: a text tool result goes
    as the plain string the API takes."""
    body = {
        "model": "gemini-3.1-flash-lite",
        "max_tokens": 10,
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "北京"},
                    }
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "晴"}]},
        ],
    }
    call, result = req(CLAUDE, I, body, "gemini-3.1-flash-lite")["input"]
    assert call["type"] == "function_call" and call["call_id"] == "toolu_1"
    assert result["type"] == "function_result" and result["result"] == "晴"


def test_claude_client_empty_thinking_needs_compat():
    """TestConvertClaudeRequestToInteractionsWithCompatPreservesEmptyThinking: an empty
    unsigned thinking block is dropped, unless the model is ``is-compat`` (then a ``thought``
    step; tests/e2e/test_interactions_native_cpa.py runs it through the proxy)."""
    body = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": ""}]}
        ]
    }
    reg = default_registry()
    parsed = reg.adapter(CLAUDE).parse_request({"model": "deepseek-v4", "max_tokens": 5, **body})
    assert reg.adapter(I).build_request(parsed)["input"] == []
    assert get(reg.adapter(I).build_request(prepare(parsed, I)), "input.0.type") == "thought"


def _claude_stream(*frames: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for batch in feeds(I, CLAUDE, {**CLAUDE_REQ, "stream": True}, *frames) for e in batch]


def test_interactions_stream_to_claude():
    """TestConvertInteractionsResponseToClaudeStream"""
    evs = _claude_stream(
        {
            "interaction": {"id": "interaction_1", "model": "gemini-3.1-flash-lite"},
            "event_type": "interaction.created",
        },
        {"index": 0, "step": {"type": "model_output"}, "event_type": "step.start"},
        {"index": 0, "delta": {"type": "text", "text": "北京今天晴"}, "event_type": "step.delta"},
        {"index": 0, "event_type": "step.stop"},
        {
            "interaction": {
                "id": "interaction_1",
                "model": "gemini-3.1-flash-lite",
                "usage": {"total_input_tokens": 3, "total_output_tokens": 4},
            },
            "event_type": "interaction.completed",
        },
        "[DONE]",
    )
    by = {e["type"]: e for e in evs}
    assert by["message_start"]["message"]["model"] == "gemini-3.1-flash-lite"
    assert by["content_block_delta"]["delta"]["text"] == "北京今天晴"
    assert by["message_delta"]["usage"]["output_tokens"] == 4
    assert evs[-1]["type"] == "message_stop"


def test_interactions_stream_tool_call_to_claude():
    """TestConvertInteractionsResponseToClaudeStreamToolCall.
    Differs: the call's Gemini signature rides in an empty thinking block right before the
    ``tool_use`` (CPA's cpa-gemini-carrier-v1, as for every Claude client of a Gemini
    upstream), not on the ``tool_use`` block, which has no such field in Anthropic's API."""
    evs = _claude_stream(
        {
            "interaction": {"id": "interaction_1", "model": "gemini-3.1-flash-lite"},
            "event_type": "interaction.created",
        },
        {
            "index": 0,
            "step": {
                "type": "function_call",
                "id": "toolu_1",
                "signature": "sig_1",
                "name": "get_weather",
                "arguments": {},
            },
            "event_type": "step.start",
        },
        {
            "index": 0,
            "delta": {"type": "arguments_delta", "arguments": '{"location":"北京"}'},
            "event_type": "step.delta",
        },
        {"index": 0, "event_type": "step.stop"},
        {
            "interaction": {"usage": {"total_input_tokens": 1, "total_output_tokens": 2}},
            "event_type": "interaction.completed",
        },
    )
    starts = [e["content_block"] for e in evs if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "tool_use"] and starts[1]["id"] == "toolu_1"
    sig = next(e["delta"]["signature"] for e in evs if e.get("delta", {}).get("type") == "signature_delta")
    assert sig.startswith("cpa-gemini-carrier-v1:next:function:")
    args = next(
        e["delta"]["partial_json"] for e in evs if e.get("delta", {}).get("type") == "input_json_delta"
    )
    assert args == '{"location":"北京"}'
    assert next(e for e in evs if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"


def test_interactions_finish_metadata_usage_to_claude():
    """TestConvertInteractionsResponseToClaudeStreamFinishMetadataUsage"""
    evs = _claude_stream(
        {
            "event_type": "finish",
            "metadata": {
                "total_usage": {"total_input_tokens": 2, "total_output_tokens": 6, "total_tokens": 8}
            },
        }
    )
    usage = next(e for e in evs if e["type"] == "message_delta")["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (2, 6)


def test_interactions_whole_answer_to_claude():
    """TestConvertInteractionsResponseToClaudeNonStream (the signature differs as in the
    stream case: it rides in the empty thinking block before the ``tool_use``)."""
    body = {
        "id": "interaction_1",
        "model": "gemini-3.1-flash-lite",
        "steps": [
            {"type": "model_output", "content": [{"type": "text", "text": "ok"}]},
            {
                "type": "function_call",
                "call_id": "toolu_1",
                "signature": "sig_1",
                "name": "lookup",
                "arguments": {"q": "x"},
            },
        ],
        "usage": {"total_input_tokens": 3, "total_output_tokens": 4},
    }
    out = resp(I, CLAUDE, body, CLAUDE_REQ)
    assert [b["type"] for b in out["content"]] == ["text", "thinking", "tool_use"]
    assert get(out, "content.0.text") == "ok" and get(out, "content.1.signature").endswith(":c2lnXzE")
    assert out["stop_reason"] == "tool_use" and get(out, "usage.input_tokens") == 3


def test_claude_stream_collected_for_a_whole_interactions_answer():
    """TestConvertClaudeSSEToInteractionsNonStream: a Claude stream collected into one
    whole answer (the proxy's path for an upstream that streams to a whole request) gives
    the text and the usage, input and output added up.
    (We ask Claude itself for a whole answer when the client asked for one, where CPA's
    executor streams from Claude for every other client format; this is the collecting.)
    Differs: the stream ends with ``message_stop`` here; one that ends without it was cut
    and is an upstream error (502), where CPA answers with what came."""
    data = sse(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-test",
                "usage": {"input_tokens": 3, "output_tokens": 0},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    )
    reg = default_registry()
    request = reg.adapter(I).parse_request({"model": "claude-test", "input": "hi"})
    decoder = reg.adapter(CLAUDE).stream_decoder(request)
    collector = Collector()
    collector.feed(decoder.decode(data))
    collector.feed(decoder.flush())
    out = reg.adapter(I).build_response(collector.response(None), request)
    assert get(out, "steps.0.content.0.text") == "ok" and get(out, "usage.total_tokens") == 5


def test_interactions_adapter_does_not_import_gemini_translator():
    """import_boundary_test.go TestInteractionsTranslatorsDoNotImportGeminiTranslators: the
    Interactions format stands on its own; no module of ``translate.interactions`` imports
    ``translate.gemini`` (CPA's rule for its non-Gemini Interactions translators)."""
    root = Path(interactions_pkg.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.startswith("cliproxy.translate.gemini")]
    assert not found
