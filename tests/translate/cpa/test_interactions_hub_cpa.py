"""The rest of CPA's Interactions translator cases, run through our IR hub: Gemini
(``internal/translator/gemini/interactions/interactions_gemini_common_test.go``), Claude
clients on an Interactions upstream (``internal/translator/interactions/claude``), Chat
Completions (``internal/translator/openai/interactions/chat-completions``), Codex
(``internal/translator/codex/interactions``) and Antigravity
(``internal/translator/antigravity/interactions``).

Where we differ on purpose the case says why in its docstring.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.translate.compat import prepare
from cliproxy.translate.gemini.build import for_antigravity
from cliproxy.translate.registry import default_registry
from tests.translate.cpa._run import CLAUDE, CODEX, GEMINI, OPENAI, events, get, req, resp, sse

I = Format.INTERACTIONS  # noqa: E741


def _feeds(upstream: Format, client: Format, request: dict[str, Any], *chunks: Any) -> list[list[dict]]:
    """The client events each upstream chunk gives (one SSE frame a feed), then the end's."""
    reg = default_registry()
    tr = reg.stream_translator(upstream, client, reg.adapter(client).parse_request(request), None)
    out = [events(tr.feed(sse(c, events=False))) for c in chunks]
    return [*out, events(tr.finish())]


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
    first, _ = _feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [part]}}]})
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
    evs = [e for batch in _feeds(GEMINI, I, STREAM, chunk) for e in batch]
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
    first, *_ = _feeds(GEMINI, I, STREAM, thought)
    assert "interaction.completed" not in _names(first) and "step.stop" not in _names(first)


def test_gemini_stream_traffic_only_usage_is_not_an_end():
    """TestConvertGeminiResponseToInteractionsStreamIgnoresTrafficOnlyUsageMetadata"""
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": []}}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
    }
    first, _ = _feeds(GEMINI, I, STREAM, chunk)
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


def test_gemini_unknown_generation_key_is_not_sent():
    """TestConvertInteractionsRequestToGeminiGenerationConfigPreservesLargeIntegers.
    Differs: a generation key the hub does not know (``large_identity``) is not sent on, so
    there is no number to keep; the known ones are (as with ...GenerationConfigAllFields)."""
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
        e for batch in _feeds(I, GEMINI, {"contents": [{"parts": [{"text": "hi"}]}]}, finish) for e in batch
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
    return [e for batch in _feeds(I, CLAUDE, {**CLAUDE_REQ, "stream": True}, *frames) for e in batch]


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


# ------------------------------------------------------------------ Chat Completions


def test_chat_upstream_tool_choice_without_tools_and_unsent_fields():
    """TestConvertInteractionsRequestToOpenAIPreservesExpressibleFields.
    Differs: with no tools the ``tool_choice`` is not sent (OpenAI refuses a tool_choice
    without tools); ``response_modalities`` and ``service_tier`` have no IR field for a Chat
    upstream (Interactions' tiers and modalities are not Chat's), so they are not sent."""
    body = {
        "model": "gpt-test",
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_modalities": ["text", "image"],
        "service_tier": "priority",
        "input": "hi",
    }
    out = req(I, OPENAI, body, "gpt-test")
    assert not {"tool_choice", "modalities", "service_tier"} & out.keys()
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    out = req(I, OPENAI, {**body, "tools": [tool]}, "gpt-test")
    assert out["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}


def test_chat_client_messages_tools_and_stream():
    """TestConvertOpenAIRequestToInteractionsMapsMessagesToolsAndStream"""
    body = {
        "model": "gemini-3.1-flash-lite",
        "stream": True,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "今天北京的天气怎么样？"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "weather",
                    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "auto",
        "max_completion_tokens": 128,
    }
    out = req(OPENAI, I, body, "gemini-3.1-flash-lite")
    assert out["model"] == "gemini-3.1-flash-lite" and out["stream"] is True
    assert out["system_instruction"] == "be brief"
    assert (
        get(out, "input.0.type") == "user_input"
        and get(out, "input.0.content.0.text") == "今天北京的天气怎么样？"
    )
    assert get(out, "tools.0.type") == "function" and get(out, "tools.0.name") == "get_weather"
    assert get(out, "tools.0.parameters.properties.location.type") == "string"
    assert out["generation_config"] == {"max_output_tokens": 128, "tool_choice": "auto"}


def test_chat_client_tool_calls_and_results():
    """TestConvertOpenAIRequestToInteractionsMapsToolCallsAndResults"""
    body = {
        "model": "g",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    }
    call, result = req(OPENAI, I, body, "g")["input"]
    assert call["type"] == "function_call" and call["call_id"] == "call_1" and call["arguments"] == {"q": "x"}
    assert result["type"] == "function_result" and result["result"] == "ok"


def test_chat_upstream_non_image_media():
    """TestConvertInteractionsRequestToOpenAIPreservesNonImageMediaContent"""
    media = [
        {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
        {"type": "video", "mime_type": "video/mp4", "data": "AAAAIGZ0eXA="},
        {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0="},
    ]
    content = get(
        req(I, OPENAI, {"model": "m", "input": [{"type": "user_input", "content": media}]}, "m"),
        "messages.0.content",
    )
    assert [c["type"] for c in content] == ["input_audio", "video_url", "file"]
    assert content[0]["input_audio"]["format"] == "wav"


def test_chat_client_file_data_url():
    """openai_interactions_file_data_test.go TestConvertOpenAIRequestToInteractionsNormalizesFileDataURL"""
    part = {
        "type": "file",
        "file": {"filename": "test.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    }
    out = req(OPENAI, I, {"model": "g", "messages": [{"role": "user", "content": [part]}]}, "g")
    assert get(out, "input.0.content.0") == {
        "type": "document",
        "mime_type": "application/pdf",
        "data": "JVBERi0xLjQK",
    }


def test_chat_client_interactions_shaped_part_is_not_chat():
    """openai_interactions_file_data_test.go TestConvertOpenAIRequestToInteractionsPreservesRawFileDataWithMIMEType.
    Differs: ``{"type": "document", "mime_type", "data"}`` is an Interactions part, not a
    Chat one; the Chat reader keeps a part it does not know only for a Chat upstream, so
    the Interactions upstream gets no such content."""
    part = {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0xLjQK"}
    out = req(OPENAI, I, {"model": "g", "messages": [{"role": "user", "content": [part]}]}, "g")
    assert out["input"] == []


def test_chat_client_agent_model_fields():
    """TestConvertOpenAIRequestToInteractions_AntigravitySanitizesGenerationConfigAndSetsAgentConfig,
    TestConvertOpenAIRequestToInteractions_PreservesEnvironmentIDAndPreviousInteractionID.
    Differs: Antigravity agent models (their ``agent_config`` and environments) are not
    served (an agent request is a 501), so an ``antigravity-*`` name is a model like any
    other: its sampling settings go as sent, and neither ``environment_id`` nor
    ``previous_response_id`` (the proxy's own response ids) is sent on."""
    body = {
        "model": "antigravity-preview-05-2026",
        "messages": [{"role": "user", "content": "search"}],
        "max_tokens": 1024,
        "temperature": 0.5,
        "previous_response_id": "v1_prev123",
        "environment_id": "env_456",
    }
    out = req(OPENAI, I, body, "antigravity-preview-05-2026")
    assert out["generation_config"] == {"temperature": 0.5, "max_output_tokens": 1024}
    assert not {"agent_config", "environment_id", "previous_interaction_id"} & out.keys()


def test_chat_stream_completes_on_done_without_usage():
    """TestConvertOpenAIResponseToInteractionsCompletesOnDoneWithoutUsage: a finish chunk
    does not complete; ``[DONE]`` does, once."""
    finish = {
        "id": "chatcmpl_1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    first, done, end = _feeds(OPENAI, I, {"model": "gpt", "input": "hi", "stream": True}, finish, "[DONE]")
    assert "interaction.completed" not in _names(first)
    assert _names(done) + _names(end) == ["interaction.completed"]


def test_chat_stream_created_uses_chunk_identity():
    """TestConvertOpenAIResponseToInteractionsStreamCreatedUsesChunkIdentity"""
    chunk = {
        "id": "chatcmpl_1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    first, _ = _feeds(OPENAI, I, {"input": "hi", "stream": True}, chunk)
    assert first[0]["interaction"]["id"] == "chatcmpl_1" and first[0]["interaction"]["model"] == "gpt-test"


CHAT_STREAM = {"model": "g", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def test_interactions_stream_tool_call_to_chat():
    """TestConvertInteractionsResponseToOpenAIStreamToolCall (usage on the last chunk as
    OpenAI sends it: when the client asked for ``stream_options.include_usage``)."""
    chunks = [
        c
        for batch in _feeds(
            I,
            OPENAI,
            {**CHAT_STREAM, "stream_options": {"include_usage": True}},
            {
                "event_type": "interaction.created",
                "interaction": {"id": "i1", "model": "gemini-3.1-flash-lite"},
            },
            {
                "event_type": "step.start",
                "index": 0,
                "step": {"type": "function_call", "id": "call_1", "name": "get_weather", "arguments": {}},
            },
            {
                "event_type": "step.delta",
                "index": 0,
                "delta": {"type": "arguments_delta", "arguments": '{"location":"北京"}'},
            },
            {"event_type": "step.stop", "index": 0},
            {
                "event_type": "interaction.completed",
                "interaction": {
                    "id": "i1",
                    "status": "requires_action",
                    "usage": {"total_input_tokens": 2, "total_output_tokens": 3, "total_tokens": 5},
                },
            },
        )
        for c in batch
    ]
    calls = [tc for c in chunks for ch in c.get("choices", []) for tc in ch["delta"].get("tool_calls", [])]
    assert calls[0]["id"] == "call_1" and calls[0]["function"]["name"] == "get_weather"
    assert "".join(tc["function"].get("arguments", "") for tc in calls) == '{"location":"北京"}'
    assert [ch["finish_reason"] for c in chunks for ch in c.get("choices", []) if ch["finish_reason"]] == [
        "tool_calls"
    ]
    assert next(c["usage"] for c in chunks if c.get("usage"))["prompt_tokens"] == 2


def test_interactions_finish_metadata_usage_to_chat():
    """TestConvertInteractionsResponseToOpenAIStreamFinishMetadataUsage.
    Differs: ``completion_tokens`` is 9, the output and the thought tokens, as OpenAI counts
    reasoning inside completion tokens (the Interactions API counts them apart; CPA copies
    the output count alone, 6)."""
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
    request = {**CHAT_STREAM, "stream_options": {"include_usage": True}}
    chunks = [c for batch in _feeds(I, OPENAI, request, finish) for c in batch]
    assert [ch["finish_reason"] for c in chunks for ch in c.get("choices", []) if ch["finish_reason"]] == [
        "stop"
    ]
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (2, 9, 11)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 3
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1


def test_interactions_whole_tool_call_to_chat():
    """TestConvertInteractionsResponseToOpenAINonStreamToolCall"""
    body = {
        "id": "i1",
        "model": "gemini-3.1-flash-lite",
        "steps": [
            {
                "type": "function_call",
                "id": "call_1",
                "name": "get_weather",
                "arguments": {"location": "北京"},
            }
        ],
        "usage": {"total_input_tokens": 2, "total_output_tokens": 3, "total_tokens": 5},
    }
    out = resp(I, OPENAI, body, CHAT_STREAM)
    call = get(out, "choices.0.message.tool_calls.0")
    assert call["id"] == "call_1" and call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"location": "北京"}
    assert get(out, "choices.0.finish_reason") == "tool_calls"


def test_interactions_environment_id_is_not_echoed():
    """TestConvertInteractionsResponseToOpenAINonStream_PreservesEnvironmentID,
    TestConvertInteractionsResponseToOpenAIStream_PreservesEnvironmentID,
    TestConvertInteractionsResponseToOpenAIResponsesNonStream_PreservesEnvironmentID,
    TestConvertInteractionsResponseToOpenAIResponsesStream_PreservesEnvironmentID,
    TestConvertInteractionsRequestToOpenAIResponses_PreservesEnvironmentID.
    Differs: agent environments are not served (an agent request is a 501), so an
    ``environment_id`` is neither sent to an OpenAI upstream nor echoed to a Chat or
    Responses client."""
    body = {
        "id": "i1",
        "model": "m",
        "environment_id": "env_chat123",
        "steps": [{"type": "model_output", "content": [{"type": "text", "text": "hello"}]}],
        "usage": {"total_tokens": 5},
    }
    assert "environment_id" not in resp(I, OPENAI, body, CHAT_STREAM)
    assert "environment_id" not in resp(I, Format.RESPONSES, body, {"model": "m", "input": "hi"})
    created = {
        "event_type": "interaction.created",
        "interaction": {"id": "i1", "model": "m", "environment_id": "e"},
    }
    assert not any("environment_id" in c for batch in _feeds(I, OPENAI, CHAT_STREAM, created) for c in batch)
    out = req(I, Format.RESPONSES, {"model": "m", "input": "hi", "environment_id": "env_abc"}, "m")
    assert "environment_id" not in out


# ------------------------------------------------------------------ Codex


def test_codex_media_in_model_output_is_left_out():
    """TestConvertInteractionsRequestToCodexPreservesNonImageMediaContent.
    Differs: media in a ``model_output`` step is not sent as assistant ``input_audio`` /
    ``input_file`` messages: a Responses assistant message holds only ``output_text`` and
    ``refusal``, so OpenAI would refuse the request (as for a Responses upstream)."""
    media = [
        {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
        {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0="},
    ]
    out = req(
        I, CODEX, {"model": "codex-test", "input": [{"type": "model_output", "content": media}]}, "codex-test"
    )
    assert out["input"] == []


def test_codex_canonical_tool_schema_is_kept():
    """noop_optimization_test.go TestCleanedCodexToolParametersPreservesCanonicalSchema: a
    schema with nothing to clean reaches Codex as it came.
    (TestSetInteractionsCodexRawIfDifferentReusesMatchingValue is about Go's byte slices: n.a.)"""
    schema = {"type": "object", "properties": {"value": {"type": "string"}}, "additionalProperties": False}
    tool = {"type": "function", "name": "v", "parameters": schema}
    out = req(I, CODEX, {"model": "codex-test", "input": "hi", "tools": [tool]}, "codex-test")
    assert get(out, "tools.0.parameters") == schema


# ------------------------------------------------------------------ Antigravity

CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})


def _antigravity(body: dict[str, Any], stream: bool = False) -> tuple[str, dict[str, Any]]:
    """The URL and body Antigravity gets for an Interactions body, translated as the
    pipeline does (Gemini builder for Antigravity, then the provider's envelope)."""
    reg = default_registry()
    parsed = reg.adapter(I).parse_request(body)
    parsed.model = "gemini-3-flash"
    gemini = reg.adapter(GEMINI).build_request(for_antigravity(parsed))
    up = AntigravityProvider().build(CRED, gemini, model="gemini-3-flash", stream=stream, client_headers={})
    return up.url, orjson.loads(up.body)


def test_antigravity_tool_turn():
    """TestConvertInteractionsRequestToAntigravityWithToolMessagesDirect.
    Differs: the schema goes as ``parameters`` (the provider's Antigravity schema step, see
    test_antigravity_tool_names.py), not ``parametersJsonSchema``."""
    _, body = _antigravity(
        {
            "model": "antigravity-test",
            "system_instruction": "be brief",
            "input": [
                {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
                {"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": {"q": "x"}},
                {"type": "function_result", "name": "lookup", "call_id": "call_1", "result": {"ok": True}},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                }
            ],
        }
    )
    r = body["request"]
    assert (
        get(r, "systemInstruction.parts.0.text") == "be brief" and get(r, "contents.0.parts.0.text") == "hi"
    )
    assert get(r, "contents.1.parts.0.functionCall.name") == "lookup"
    assert get(r, "contents.2.parts.0.functionResponse.name") == "lookup"
    decl = get(r, "tools.0.functionDeclarations.0")
    assert decl["name"] == "lookup" and get(decl, "parameters.properties.q.type") == "string"


def test_antigravity_generation_config():
    """TestConvertInteractionsRequestToAntigravityPreservesGenerationConfig (the executor
    case, TestAntigravityExecutorExecuteStreamTranslatesInteractionsRequest, runs through
    the proxy in tests/e2e/test_interactions_native_cpa.py).
    Differs: ``maxOutputTokens`` is not sent to a Gemini model on Antigravity (the
    provider drops it as CPA's executor does after the translator); the level is in
    Gemini's enum spelling."""
    url, body = _antigravity(
        {
            "model": "antigravity-test",
            "input": "hi",
            "generation_config": {
                "max_output_tokens": 16,
                "top_p": 0.8,
                "tool_choice": "auto",
                "thinking_level": "high",
                "thinking_summaries": "auto",
            },
            "stream": True,
        },
        stream=True,
    )
    r = body["request"]
    assert "input" not in body and "input" not in r and "stream" not in r
    assert url.endswith(":streamGenerateContent?alt=sse")
    cfg = r["generationConfig"]
    assert not {"toolChoice", "thinkingLevel", "thinkingSummaries", "maxOutputTokens"} & cfg.keys()
    assert get(r, "contents.0.parts.0.text") == "hi" and cfg["topP"] == 0.8
    assert (
        cfg["thinkingConfig"]["thinkingLevel"].lower() == "high"
        and cfg["thinkingConfig"]["includeThoughts"] is True
    )
    assert get(r, "toolConfig.functionCallingConfig.mode") == "AUTO"


@pytest.mark.parametrize(("summaries", "shown"), [("auto", True), ("none", False)])
def test_antigravity_summary_is_independent_of_level(summaries, shown):
    """TestConvertInteractionsReasoningToAntigravityKeepsSummaryIndependent (its explicit
    cases): a summary setting writes ``includeThoughts``, the level stays as asked.
    Differs: read from ``generation_config`` (the API's place); CPA's Antigravity-only
    top-level ``reasoning`` alias is not read, so every upstream reads the same fields."""
    cfg: dict[str, Any] = {"thinking_level": "high", "thinking_summaries": summaries}
    _, body = _antigravity({"model": "antigravity-test", "input": "hi", "generation_config": cfg})
    thinking = get(body, "request.generationConfig.thinkingConfig")
    assert thinking["thinkingLevel"].lower() == "high" and thinking.get("includeThoughts") is shown


def test_antigravity_openai_file_part_is_refused():
    """interactions_antigravity_file_data_test.go TestConvertInteractionsRequestToAntigravityNormalizesOpenAIFileDataURL.
    Differs: an OpenAI ``file`` part is not Interactions content; a 400 names it (as for
    a Gemini upstream)."""
    part = {
        "type": "file",
        "file": {"filename": "test.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    }
    with pytest.raises(RequestError, match="unsupported content type 'file'"):
        _antigravity({"model": "g", "input": [{"type": "user_input", "content": [part]}]})


def test_antigravity_name_mapping_keeps_one_name():
    """TestConvertInteractionsRequestToAntigravityPreservesNameMappingWhitespace: a name
    with spaces and a slash maps to one Gemini name, the same in the declaration, the call
    and the allowed list."""
    name = " read/file "
    _, body = _antigravity(
        {
            "input": [{"type": "function_call", "name": name, "arguments": {}}],
            "tools": [{"type": "function", "name": name, "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "function": {"name": name}},
        }
    )
    r = body["request"]
    decl = get(r, "tools.0.functionDeclarations.0.name")
    call = next(p["functionCall"]["name"] for c in r["contents"] for p in c["parts"] if "functionCall" in p)
    assert decl and call == decl and get(r, "toolConfig.functionCallingConfig.allowedFunctionNames") == [decl]


def test_antigravity_non_string_call_name_is_refused():
    """noop_optimization_test.go TestRewriteInteractionsFunctionNamesNormalizesNonStringNames.
    Differs: a ``function_call`` step whose name is not a string is a 400 naming it (the
    Interactions API's own rule), not sent as the string ``"true"``.
    (TestRewriteInteractionsFunctionNamesReusesNormalizedPayload is about Go's byte slices: n.a.)"""
    with pytest.raises(RequestError, match=r"input\[0\]\.name") as info:
        _antigravity({"input": [{"type": "function_call", "name": True, "arguments": {}}]})
    assert info.value.status == 400


def test_antigravity_answers_to_interactions():
    """TestConvertAntigravityResponseToInteractionsNonStream, TestConvertAntigravityResponseToInteractionsStream,
    TestConvertAntigravityResponseToInteractionsStreamFunctionCallStartHasCallID: once the
    provider has taken the answer out of its ``response`` envelope (tests/e2e
    test_interactions.py test_sdk_through_antigravity), the Gemini reader writes the steps."""
    text = {"text": "ok"}
    call = {"functionCall": {"name": "lookup", "id": "call_1", "args": {"q": "x"}}}
    answer = {
        "responseId": "resp_1",
        "candidates": [{"content": {"role": "model", "parts": [text, call]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
    }
    out = resp(GEMINI, I, answer, {"model": "antigravity-test", "input": "hi"})
    assert get(out, "steps.0.content.0.text") == "ok" and get(out, "steps.1.type") == "function_call"
    assert get(out, "usage.total_tokens") == 5
    first, _ = _feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [text]}}]})
    assert next(e for e in first if e["_event"] == "step.delta")["delta"]["text"] == "ok"
    first, _ = _feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [call]}}]})
    assert next(e for e in first if e["_event"] == "step.start")["step"]["call_id"] == "call_1"
