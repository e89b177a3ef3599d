"""Interactions client <-> the OpenAI family (Codex, Responses, Chat Completions), ported
from CPA ``internal/translator/codex/interactions/interactions_codex_test.go``,
``internal/translator/openai/interactions/chat-completions/interactions_openai_*_test.go`` and
``internal/translator/openai/interactions/responses/interactions_openai_responses_*_test.go``.

Through the IR hub some facts differ on purpose; each such case says why in one line.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from tests.translate.cpa._run import CODEX, OPENAI, RESPONSES, events, get, req, resp, sse, stream

I = Format.INTERACTIONS  # noqa: E741

TOOL_TURN = {
    "model": "codex-test",
    "system_instruction": "be brief",
    "input": [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
        {"type": "thought", "content": [{"type": "text", "text": "thinking"}]},
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


def _items(out: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [i for i in out["input"] if i.get("type") == kind]


def test_codex_tool_messages():
    """TestConvertInteractionsRequestToCodexWithToolMessagesDirect.
    Differs: the system text is a developer message (our Codex builder's place for it),
    and the unsigned thought is not replayed (reasoning items need OpenAI's own encrypted content)."""
    out = req(I, CODEX, TOOL_TURN, "codex-test")
    assert "contents" not in out and "systemInstruction" not in out
    assert get(_items(out, "message")[0], "content.0.text") == "be brief"
    assert get(_items(out, "message")[1], "content.0.text") == "hi"
    call, output = _items(out, "function_call")[0], _items(out, "function_call_output")[0]
    assert call["call_id"] == output["call_id"] == "call_1" and call["arguments"] == '{"q":"x"}'
    assert get(out, "tools.0.name") == "lookup"


def test_responses_keeps_tool_call_id_and_string_arguments():
    """interactions_openai_responses_request_test.go TestConvertInteractionsRequestToOpenAIResponsesPreservesToolCallID,
    TestConvertInteractionsRequestToOpenAIResponsesWithStringFunctionArguments"""
    body = {
        "model": "gpt-5",
        "input": [
            {"type": "function_call", "name": "lookup", "call_id": "call_9", "arguments": '{"q":"y"}'},
            {"type": "function_result", "name": "lookup", "call_id": "call_9", "result": "done"},
        ],
    }
    out = req(I, RESPONSES, body, "gpt-5")
    assert _items(out, "function_call")[0]["arguments"] == '{"q":"y"}'
    assert _items(out, "function_call_output")[0] == {
        "type": "function_call_output",
        "call_id": "call_9",
        "output": "done",
    }


def test_codex_thinking_level_and_stream():
    """TestConvertInteractionsRequestToCodexPreservesTopLevelThinkingLevel,
    TestConvertInteractionsRequestToCodexUsesBodyStream (Codex is always asked to stream)"""
    out = req(
        I,
        CODEX,
        {"model": "codex-test", "generation_config": {"thinking_level": "high"}, "input": "hi"},
        "codex-test",
    )
    assert get(out, "reasoning.effort") == "high" and out["stream"] is True


def test_codex_function_declarations():
    """TestConvertInteractionsRequestToCodexFunctionDeclarations (its ``$schema`` cleanup:
    test_audit_transoc_codex_tool_schemas.py)."""
    body = {
        "model": "codex-test",
        "input": "hi",
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "lookup",
                        "description": "Lookup data",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    }
                ]
            }
        ],
    }
    out = req(I, CODEX, body, "codex-test")
    assert get(out, "tools.0.type") == "function" and get(out, "tools.0.name") == "lookup"


def test_codex_incomplete_terminal():
    """TestConvertCodexResponseToInteractionsIncompleteTerminal (whole and streamed)"""
    body = {
        "id": "resp_1",
        "object": "response",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }
    assert resp(CODEX, I, body)["status"] == "incomplete"
    data = sse(
        {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}},
        {"type": "response.incomplete", "response": body},
    )
    evs = events(stream(CODEX, I, data, {"model": "codex-test", "input": "hi", "stream": True}))
    assert evs[-1]["_event"] == "interaction.completed" and evs[-1]["interaction"]["status"] == "incomplete"


def test_codex_response_whole():
    """TestConvertCodexResponseToInteractionsNonStream"""
    body = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "created_at": 1700000000,
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q":"x"}'},
        ],
    }
    out = resp(CODEX, I, body)
    assert [s["type"] for s in out["steps"]] == ["model_output", "thought", "function_call"]
    assert get(out, "steps.0.content.0.text") == "ok"
    assert get(out, "steps.2.arguments") == {"q": "x"}
    assert get(out, "usage.total_tokens") == 5


def test_codex_stream_function_call_start_has_call_id():
    """TestConvertCodexResponseToInteractionsStreamFunctionCallStartHasCallID (the whole
    sequence of ...StreamCompletesAfterSteps: test_interactions_hub_openai_cpa.py)"""
    data = sse(
        {
            "type": "response.created",
            "response": {"id": "resp_1", "model": "m", "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": "",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 0,
            "item_id": "fc_1",
            "delta": '{"q":"x"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": '{"q":"x"}',
            },
        },
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "status": "completed",
                "output": [],
                "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            },
        },
    )
    evs = events(stream(CODEX, I, data, {"model": "codex-test", "input": "hi", "stream": True}))
    start = next(e for e in evs if e["_event"] == "step.start")
    assert start["step"]["call_id"] == "call_1" and start["step"]["name"] == "lookup"
    names = [e["_event"] for e in evs]
    assert names.index("step.stop") < names.index("interaction.completed") == len(names) - 1


def test_chat_media_content():
    """interactions_openai_request_test.go TestConvertInteractionsRequestToOpenAIAcceptsImageContent,
    TestConvertInteractionsRequestToOpenAIPreservesNonImageMediaContent"""
    body = {
        "model": "gpt",
        "input": [
            {
                "type": "user_input",
                "content": [
                    {"type": "image", "mime_type": "image/png", "data": "aGVsbG8="},
                    {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0="},
                    {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
                ],
            }
        ],
    }
    content = get(req(I, OPENAI, body, "gpt"), "messages.0.content")
    assert [c["type"] for c in content] == ["image_url", "file", "input_audio"]
    assert content[0]["image_url"]["url"] == "data:image/png;base64,aGVsbG8="


def test_chat_tool_messages_and_expressible_fields():
    """TestConvertInteractionsRequestToOpenAIWithToolMessagesDirect"""
    body = {
        **TOOL_TURN,
        "model": "gpt",
        "generation_config": {"temperature": 0.3, "max_output_tokens": 10, "stop_sequences": ["END"]},
    }
    out = req(I, OPENAI, body, "gpt")
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant", "tool"]
    assert (
        get(out, "messages.2.tool_calls.0.id") == "call_1" and get(out, "messages.3.tool_call_id") == "call_1"
    )
    assert out["temperature"] == 0.3 and out["stop"] == ["END"]


def test_chat_response_whole_tool_call():
    """TestConvertOpenAIResponseToInteractionsNonStreamDirectToolCall"""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    out = resp(OPENAI, I, body)
    assert out["steps"] == [
        {
            "type": "function_call",
            "id": "call_1",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": {"q": "x"},
        }
    ]
    assert get(out, "usage.total_tokens") == 5


def test_chat_stream_usage_only_terminal_chunk():
    """TestConvertOpenAIResponseToInteractionsStreamUsageOnlyTerminalChunk,
    TestConvertOpenAIResponseToInteractionsStreamCreatedUsesChunkIdentity,
    TestConvertOpenAIResponseToInteractionsCompletesOnDoneWithoutUsage"""
    data = sse(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}}],
        },
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
        "[DONE]",
        events=False,
    )
    raw = stream(OPENAI, I, data, {"model": "gpt", "input": "hi", "stream": True})
    evs = events(raw)
    assert evs[0]["interaction"]["id"] == "c1"
    assert [e["_event"] for e in evs].count("interaction.completed") == 1
    assert evs[-1]["interaction"]["usage"]["total_tokens"] == 5
    assert raw.endswith(b"event: done\ndata: [DONE]\n\n")


def test_previous_interaction_id_is_kept_for_the_answer():
    """TestConvertInteractionsRequestToOpenAIResponsesPreservesPreviousInteractionID.
    Differs: only the answer echoes it; no upstream here can continue a stored interaction
    (Codex runs with ``store: false``), so it is not sent on as ``previous_response_id``."""
    out = resp(
        RESPONSES,
        I,
        {
            "id": "resp_2",
            "object": "response",
            "status": "completed",
            "output": [
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
            ],
        },
        {"model": "gpt-5", "input": "again", "previous_interaction_id": "interaction_1"},
    )
    assert out["previous_interaction_id"] == "interaction_1"
