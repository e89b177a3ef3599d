"""CPA's Interactions translator cases for Chat Completions
(``internal/translator/openai/interactions/chat-completions``, and the environment cases of
``.../openai/interactions/responses``) and Codex (``internal/translator/codex/interactions``)
not ported elsewhere, run through our IR hub.

Where we differ on purpose the case says why in its docstring.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import Format
from tests.translate.cpa._run import CODEX, OPENAI, events, feeds, get, req, resp, sse, stream

I = Format.INTERACTIONS  # noqa: E741


def _names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["_event"] for e in evs]


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


def test_chat_client_interactions_shaped_part_is_a_document():
    """openai_interactions_file_data_test.go TestConvertOpenAIRequestToInteractionsPreservesRawFileDataWithMIMEType:
    ``{"type": "document", "mime_type", "data"}`` in Chat content reaches Interactions as
    a document with its MIME type and the base64 data unchanged."""
    part = {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0xLjQK"}
    out = req(OPENAI, I, {"model": "g", "messages": [{"role": "user", "content": [part]}]}, "g")
    document = out["input"][0]["content"][0]
    assert (document["type"], document["mime_type"], document["data"]) == (
        "document",
        "application/pdf",
        "JVBERi0xLjQK",
    )


def test_chat_client_agent_model_fields():
    """TestConvertOpenAIRequestToInteractions_AntigravitySanitizesGenerationConfigAndSetsAgentConfig,
    TestConvertOpenAIRequestToInteractions_PreservesEnvironmentIDAndPreviousInteractionID,
    TestConvertOpenAIResponsesRequestToInteractions_AntigravitySanitizesGenerationConfigAndSetsAgentConfig.
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
    responses = {"model": body["model"], "input": "search", "max_output_tokens": 1024, "temperature": 0.5}
    out = req(Format.RESPONSES, I, responses, "antigravity-preview-05-2026")
    assert out["generation_config"] == {"temperature": 0.5, "max_output_tokens": 1024}
    assert "agent_config" not in out


def test_chat_stream_completes_on_done_without_usage():
    """TestConvertOpenAIResponseToInteractionsCompletesOnDoneWithoutUsage: a finish chunk
    does not complete; ``[DONE]`` does, once."""
    finish = {
        "id": "chatcmpl_1",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    first, done, end = feeds(OPENAI, I, {"model": "gpt", "input": "hi", "stream": True}, finish, "[DONE]")
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
    first, _ = feeds(OPENAI, I, {"input": "hi", "stream": True}, chunk)
    assert first[0]["interaction"]["id"] == "chatcmpl_1" and first[0]["interaction"]["model"] == "gpt-test"


CHAT_STREAM = {"model": "g", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def test_interactions_stream_tool_call_to_chat():
    """TestConvertInteractionsResponseToOpenAIStreamToolCall (usage on the last chunk as
    OpenAI sends it: when the client asked for ``stream_options.include_usage``)."""
    chunks = [
        c
        for batch in feeds(
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
    chunks = [c for batch in feeds(I, OPENAI, request, finish) for c in batch]
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
    assert not any("environment_id" in c for batch in feeds(I, OPENAI, CHAT_STREAM, created) for c in batch)
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


def test_codex_stream_completes_after_steps():
    """TestConvertCodexResponseToInteractionsStreamCompletesAfterSteps: a text delta and a
    call known only from its done item each make a whole step, then one completion with
    the usage, then ``done``."""
    data = sse(
        {"type": "response.created", "response": {"id": "resp_1", "model": "codex-test"}},
        {"type": "response.output_text.delta", "delta": "我将调用工具。"},
        {
            "type": "response.output_item.done",
            "item": {
                "type": "function_call",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": '{"q":"weather"}',
            },
            "output_index": 1,
        },
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "output": [],
                "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
            },
        },
    )
    raw = stream(CODEX, I, data, {"model": "codex-test", "input": "hi", "stream": True})
    evs = events(raw)
    assert _names(evs) == [
        "interaction.created",
        "interaction.status_update",
        "step.start",
        "step.delta",
        "step.stop",
        "step.start",
        "step.delta",
        "step.stop",
        "interaction.completed",
    ]
    assert raw.endswith(b"event: done\ndata: [DONE]\n\n")
    assert evs[-1]["interaction"]["usage"]["total_tokens"] == 3
