"""Interactions client <-> Gemini upstream, ported from CPA
``internal/translator/gemini/interactions/interactions_gemini_common_test.go``,
``interactions_gemini_file_data_test.go`` and ``sdk/api/handlers/gemini/interactions_handlers_test.go``.

We translate through the IR hub, so a few facts differ on purpose; each such case says
why in one line.
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.formats.interactions import validate
from cliproxy.translate.registry import default_registry
from cliproxy.usage.tokens import body_usage
from tests.translate.cpa._run import GEMINI, events, get, req, resp, sse, stream

I = Format.INTERACTIONS  # noqa: E741


def _gemini(body: dict[str, Any]) -> dict[str, Any]:
    return req(I, GEMINI, body, body.get("model") or "gemini-3.5-flash")


def _stream(*chunks: dict[str, Any], request: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    body = request or {"model": "gemini-3.5-flash", "input": "hi", "stream": True}
    return events(stream(GEMINI, I, sse(*chunks, events=False), body))


def _names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["_event"] for e in evs]


# ------------------------------------------------------------------ requests


def test_string_input():
    """TestConvertInteractionsRequestToGeminiStringInput"""
    out = _gemini({"model": "gemini-3.5-flash", "input": "hello"})
    assert get(out, "contents.0.role") == "user" and get(out, "contents.0.parts.0.text") == "hello"


def test_system_and_generation_config():
    """TestConvertInteractionsRequestToGeminiSystemAndGenerationConfig"""
    out = _gemini(
        {
            "model": "gemini-3.5-flash",
            "system_instruction": {"text": "be brief"},
            "generation_config": {"max_output_tokens": 32, "top_p": 0.8},
            "input": "hi",
        }
    )
    assert get(out, "systemInstruction.parts.0.text") == "be brief"
    assert get(out, "generationConfig.maxOutputTokens") == 32
    assert get(out, "generationConfig.topP") == 0.8


def test_string_system_instruction():
    """TestConvertInteractionsRequestToGeminiStringSystemInstruction"""
    out = _gemini({"model": "gemini-3.5-flash", "system_instruction": "be brief", "input": "hi"})
    assert get(out, "systemInstruction.parts.0.text") == "be brief"


def test_turn_input():
    """TestConvertInteractionsRequestToGeminiTurnInput"""
    body = {
        "model": "g",
        "input": {"role": "user", "steps": [{"type": "user_input", "content": [{"text": "hi"}]}]},
    }
    assert get(_gemini(body), "contents.0.parts.0.text") == "hi"


def test_turn_array_input():
    """TestConvertInteractionsRequestToGeminiTurnArrayInput"""
    body = {
        "model": "g",
        "input": [
            {"role": "user", "steps": [{"type": "user_input", "content": [{"text": "hi"}]}]},
            {"role": "assistant", "steps": [{"type": "model_output", "content": [{"text": "ok"}]}]},
        ],
    }
    out = _gemini(body)
    assert [get(out, "contents.0.role"), get(out, "contents.0.parts.0.text")] == ["user", "hi"]
    assert [get(out, "contents.1.role"), get(out, "contents.1.parts.0.text")] == ["model", "ok"]


def test_tool_choice_function_names_one_allowed_function():
    """TestConvertInteractionsRequestToGeminiPreservesExpressibleTopLevelFields (tool_choice).
    Differs: response_modalities and service_tier have no IR field, so the hub does not carry them."""
    out = _gemini(
        {
            "model": "g",
            "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "input": "hi",
        }
    )
    assert get(out, "toolConfig.functionCallingConfig.mode") == "ANY"
    assert get(out, "toolConfig.functionCallingConfig.allowedFunctionNames") == ["lookup"]


def test_native_content_input():
    """TestConvertInteractionsRequestToGeminiContentInput"""
    out = _gemini({"model": "g", "input": {"role": "user", "parts": [{"text": "hi"}]}})
    assert get(out, "contents.0.role") == "user" and get(out, "contents.0.parts.0.text") == "hi"


def test_native_content_array_input():
    """TestConvertInteractionsRequestToGeminiContentArrayInput"""
    body = {
        "model": "g",
        "input": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "assistant", "parts": [{"text": "ok"}]},
        ],
    }
    out = _gemini(body)
    assert get(out, "contents.1.role") == "model" and get(out, "contents.1.parts.0.text") == "ok"


def test_image_content():
    """TestConvertInteractionsRequestToGeminiImageContent"""
    body = {
        "model": "g",
        "input": [
            {
                "type": "user_input",
                "content": [{"type": "image", "mime_type": "image/png", "data": "aGVsbG8="}],
            }
        ],
    }
    out = _gemini(body)
    assert get(out, "contents.0.parts.0.inlineData") == {"mimeType": "image/png", "data": "aGVsbG8="}


def test_model_output_typed_content():
    """TestConvertInteractionsRequestToGeminiModelOutputTypedContent"""
    body = {
        "model": "g",
        "input": [
            {
                "type": "model_output",
                "content": [
                    {"type": "image", "mime_type": "image/png", "data": "aGVsbG8="},
                    {"type": "document", "mime_type": "application/pdf", "file_uri": "gs://bucket/doc.pdf"},
                ],
            }
        ],
    }
    out = _gemini(body)
    assert get(out, "contents.0.role") == "model"
    assert get(out, "contents.0.parts.0.inlineData.mimeType") == "image/png"
    assert get(out, "contents.0.parts.1.fileData") == {
        "mimeType": "application/pdf",
        "fileUri": "gs://bucket/doc.pdf",
    }


def test_thought_typed_content():
    """TestConvertInteractionsRequestToGeminiThoughtTypedContent"""
    body = {
        "model": "g",
        "input": [
            {
                "type": "thought",
                "content": [
                    {"type": "text", "text": "thinking"},
                    {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
                ],
            }
        ],
    }
    out = _gemini(body)
    assert (
        get(out, "contents.0.parts.0.text") == "thinking" and get(out, "contents.0.parts.0.thought") is True
    )
    assert get(out, "contents.0.parts.1.inlineData.mimeType") == "audio/wav"


def test_generation_config_all_fields():
    """TestConvertInteractionsRequestToGeminiGenerationConfigAllFields.
    Differs: a response schema is sent as ``responseJsonSchema`` (with its JSON mime type),
    our Gemini builder's spelling; unknown config keys have no IR field."""
    body = {
        "model": "g",
        "generation_config": {
            "max_output_tokens": 32,
            "response_schema": {"type": "object"},
            "seed": 42,
            "thinking_config": {"thinking_budget": 1024, "include_thoughts": True},
        },
        "input": "hi",
    }
    cfg = _gemini(body)["generationConfig"]
    assert cfg["maxOutputTokens"] == 32 and cfg["seed"] == 42
    assert cfg["responseJsonSchema"] == {"type": "object"}
    assert cfg["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


def test_function_call_and_result_keep_call_id():
    """TestConvertInteractionsRequestToGeminiFunctionCallPreservesCallID,
    TestConvertInteractionsRequestToGeminiFunctionResultPreservesCallID.
    Differs: our Gemini builder sends no ids a Gemini client did not send (the call and
    its result pair by name, as generateContent does)."""
    body = {
        "model": "g",
        "input": [
            {"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": {"q": "x"}},
            {"type": "function_result", "name": "lookup", "call_id": "call_1", "result": {"ok": True}},
        ],
    }
    out = _gemini(body)
    assert get(out, "contents.0.parts.0.functionCall.name") == "lookup"
    assert get(out, "contents.0.parts.0.functionCall.args") == {"q": "x"}
    assert get(out, "contents.1.parts.0.functionResponse.name") == "lookup"


def test_turn_with_model_role():
    """TestConvertInteractionsRequestToGeminiTurnWithModelRole"""
    body = {
        "model": "g",
        "input": [
            {
                "role": "model",
                "steps": [{"type": "model_output", "content": [{"type": "text", "text": "ok"}]}],
            }
        ],
    }
    assert get(_gemini(body), "contents.0.role") == "model"


def test_openai_file_data_url():
    """interactions_gemini_file_data_test.go TestConvertInteractionsRequestToGeminiNormalizesOpenAIFileDataURL.
    Differs: an OpenAI ``file`` part is not Interactions content; we answer 400 naming it."""
    body = {
        "model": "g",
        "input": [
            {
                "type": "user_input",
                "content": [
                    {
                        "type": "file",
                        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                    }
                ],
            }
        ],
    }
    with pytest.raises(RequestError, match="unsupported content type 'file'"):
        _gemini(body)


# ------------------------------------------------------------------ whole answers


def test_response_whole():
    """TestConvertGeminiResponseToInteractionsNonStream"""
    out = resp(
        GEMINI,
        I,
        {
            "responseId": "resp_1",
            "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3},
        },
        {"model": "gemini-3.5-flash", "input": "hi"},
    )
    assert get(out, "steps.0.type") == "model_output" and get(out, "steps.0.content.0.text") == "ok"
    assert (
        get(out, "usage.total_tokens") == 3
        and out["object"] == "interaction"
        and out["status"] == "completed"
    )


def test_response_whole_usage_with_thoughts_and_cache():
    """TestConvertGeminiResponseToInteractionsNonStreamSnakeCaseUsage (camelCase: our Gemini
    reader takes the wire's spelling)."""
    out = resp(
        GEMINI,
        I,
        {
            "responseId": "r",
            "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 11,
                "candidatesTokenCount": 22,
                "totalTokenCount": 33,
                "thoughtsTokenCount": 44,
                "cachedContentTokenCount": 55,
            },
        },
    )
    usage = out["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["reasoning_tokens"]) == (11, 22, 44)
    assert (usage["total_tokens"], usage["cached_tokens"]) == (33, 55)
    assert (usage["total_input_tokens"], usage["total_output_tokens"], usage["total_thought_tokens"]) == (
        11,
        22,
        44,
    )


def test_response_whole_function_call():
    """TestConvertGeminiResponseToInteractionsNonStreamFunctionCall"""
    out = resp(
        GEMINI,
        I,
        {
            "responseId": "r",
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"functionCall": {"id": "call_response_1", "name": "lookup", "args": {"q": "x"}}}
                        ],
                    }
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 1,
                "candidatesTokenCount": 2,
                "totalTokenCount": 3,
                "cachedContentTokenCount": 4,
            },
        },
    )
    step = out["steps"][0]
    assert step["type"] == "function_call" and step["name"] == "lookup" and step["arguments"] == {"q": "x"}
    assert step["call_id"] == step["id"] == "call_response_1"
    assert get(out, "usage.cached_tokens") == 4


def test_response_whole_image():
    """TestConvertGeminiResponseToInteractionsNonStreamImage"""
    out = resp(
        GEMINI,
        I,
        {
            "responseId": "r",
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": "aGVsbG8="}}],
                    }
                }
            ],
        },
    )
    assert get(out, "steps.0.content.0") == {"type": "image", "mime_type": "image/png", "data": "aGVsbG8="}


# ------------------------------------------------------------------ streams


def test_stream_step_lifecycle():
    """TestConvertGeminiResponseToInteractionsStreamStepLifecycle (plus CPA's closing
    ``done`` frame, which ``events`` leaves out as ``[DONE]``)."""
    evs = _stream(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "answer"}]}}]},
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "lookup", "id": "call_1", "args": {"q": "x"}}}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 4,
                "totalTokenCount": 7,
                "thoughtsTokenCount": 2,
            },
        },
    )
    assert _names(evs) == [
        "interaction.created",
        "interaction.status_update",
        "step.start",
        "step.delta",
        "step.stop",
        "step.start",
        "step.delta",
        "step.stop",
        "step.start",
        "step.delta",
        "step.stop",
        "interaction.completed",
    ]
    starts = [e for e in evs if e["_event"] == "step.start"]
    assert [s["step"]["type"] for s in starts] == ["thought", "model_output", "function_call"]
    deltas = [e for e in evs if e["_event"] == "step.delta"]
    assert [d["delta"]["type"] for d in deltas] == ["thought_summary", "text", "arguments_delta"]
    assert starts[2]["step"]["id"] == "call_1" and deltas[2]["delta"]["arguments"] == '{"q":"x"}'
    usage = evs[-1]["interaction"]["usage"]
    assert (usage["total_input_tokens"], usage["total_output_tokens"], usage["total_thought_tokens"]) == (
        3,
        4,
        2,
    )


def test_stream_function_call_thought_signature():
    """TestConvertGeminiResponseToInteractionsStreamFunctionCallThoughtSignature.
    Differs: the call's signature rides on its own ``function_call`` step (``step.signature``),
    where the Interactions API keeps it, not on a separate thought step."""
    evs = _stream(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "I will call the tool."}]}}]},
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "thoughtSignature": "sig-call",
                                "functionCall": {"name": "lookup", "id": "call_1", "args": {"q": "x"}},
                            }
                        ],
                    }
                }
            ]
        },
    )
    call = [e for e in evs if e["_event"] == "step.start"][2]
    assert call["index"] == 2 and call["step"]["type"] == "function_call"
    assert call["step"]["id"] == "call_1" and call["step"]["signature"] == "sig-call"


def test_stream_thought_signature_delta():
    """A signed thought keeps its Gemini signature as a ``thought_signature`` delta (CPA
    appendInteractionsThoughtSignature)."""
    evs = _stream(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "hm", "thought": True, "thoughtSignature": "sig-1"}],
                    }
                }
            ]
        }
    )
    sig = [e for e in evs if e["_event"] == "step.delta" and e["delta"]["type"] == "thought_signature"]
    assert sig and sig[0]["delta"]["signature"] == "sig-1"


def test_stream_completes_once_with_last_usage():
    """TestConvertGeminiResponseToInteractionsStreamEmitsTerminalOnce,
    TestConvertGeminiResponseToInteractionsStreamDoesNotCompleteOnNonTerminalUsage (its whole
    stream; chunk by chunk in test_interactions_hub_cpa.py)"""
    evs = _stream(
        {
            "candidates": [{"content": {"role": "model", "parts": [{"thought": True, "text": "thinking"}]}}],
            "usageMetadata": {"promptTokenCount": 124, "totalTokenCount": 124},
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "好的"}]}}],
            "usageMetadata": {
                "promptTokenCount": 124,
                "candidatesTokenCount": 17,
                "totalTokenCount": 452,
                "thoughtsTokenCount": 311,
            },
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "functionCall": {
                                    "name": "get_weather",
                                    "args": {"location": "北京"},
                                    "id": "nriii75p",
                                }
                            }
                        ],
                    }
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 124,
                "candidatesTokenCount": 33,
                "totalTokenCount": 468,
                "thoughtsTokenCount": 311,
            },
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 124,
                "candidatesTokenCount": 33,
                "totalTokenCount": 468,
                "thoughtsTokenCount": 311,
            },
        },
    )
    assert _names(evs).count("interaction.completed") == 1 and _names(evs)[-1] == "interaction.completed"
    assert evs[-1]["interaction"]["usage"]["total_tokens"] == 468


def test_stream_ends_with_done_frame():
    """TestConvertGeminiResponseToInteractionsStreamCompletesOnDoneWithoutUsage: a stream
    with no usage still completes, then ``event: done`` / ``data: [DONE]``."""
    raw = stream(
        GEMINI,
        I,
        sse({"candidates": [{"finishReason": "STOP"}]}, events=False),
        {"model": "g", "input": "hi"},
    )
    assert raw.endswith(b"event: done\ndata: [DONE]\n\n")
    assert raw.count(b"event: interaction.completed") == 1


# ------------------------------------------------------------------ the entry checks


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"model": "gemini-3.5-flash", "input": "hi"}, True),
        ({"model": "models/gemini-3.5-flash", "input": "hi"}, True),
        ({"input": "hi"}, False),
        ({"model": "gemini-3.5-flash", "agent": "agents/test-agent", "input": "hi"}, False),
        ({"model": "gemini-3.5-flash", "stream": "true", "input": "hi"}, False),
        ({"model": "gemini-3.5-flash", "stream": True, "input": "hi"}, True),
    ],
)
def test_parse_request_target(body, ok):
    """handlers/gemini/interactions_handlers_test.go TestParseInteractionsRequestTarget"""
    if ok:
        validate(body)
    else:
        with pytest.raises(RequestError) as info:
            validate(body)
        assert info.value.status == 400


def test_agent_needs_native_execution():
    """TestParseInteractionsRequestTarget (agent case) / TestInteractionsAgentUsesNativeInteractionsEndpoint.
    Differs: cliproxy has no native Interactions upstream yet, so an agent is a clear 501."""
    with pytest.raises(RequestError) as info:
        validate({"agent": "agents/test-agent", "input": "hi"})
    assert info.value.status == 501 and "native interactions" in info.value.message


def test_models_prefix_is_dropped():
    """TestPrepareInteractionsExecutionTargetNormalizesModelResourceName"""
    ir_req = default_registry().adapter(I).parse_request({"model": "models/gemini-3.5-flash", "input": "hi"})
    assert ir_req.model == "gemini-3.5-flash"


def test_bare_model_is_kept():
    """TestPrepareInteractionsExecutionTargetPreservesBareModel"""
    ir_req = default_registry().adapter(I).parse_request({"model": "gemini-3.5-flash", "input": "hi"})
    assert ir_req.model == "gemini-3.5-flash"


# ------------------------------------------------------------------ the other way: an Interactions upstream


def test_interactions_stream_function_call_to_gemini():
    """TestConvertInteractionsResponseToGeminiStreamFunctionCall: a Gemini client reading an
    Interactions stream gets the call whole, with its id, signature and usage."""
    data = sse(
        {"interaction": {"id": "i1", "model": "gemini-3.1-flash-lite"}, "event_type": "interaction.created"},
        {
            "index": 0,
            "step": {
                "type": "function_call",
                "id": "call_1",
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
            "interaction": {
                "id": "i1",
                "status": "requires_action",
                "usage": {
                    "total_input_tokens": 2,
                    "total_output_tokens": 3,
                    "total_tokens": 5,
                    "total_thought_tokens": 1,
                    "total_cached_tokens": 4,
                },
            },
            "event_type": "interaction.completed",
        },
        "[DONE]",
        events=False,
    )
    chunks = events(stream(I, GEMINI, data, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
    parts = [p for c in chunks for p in get(c, "candidates.0.content.parts") or []]
    call = next(p for p in parts if "functionCall" in p)
    assert call["functionCall"]["name"] == "get_weather" and call["functionCall"]["args"] == {
        "location": "北京"
    }
    assert call["thoughtSignature"] == "sig_1"
    last = chunks[-1]
    assert (
        get(last, "usageMetadata.promptTokenCount") == 2 and get(last, "usageMetadata.totalTokenCount") == 5
    )


def test_interactions_whole_function_call_to_gemini():
    """TestConvertInteractionsResponseToGeminiNonStreamFunctionCall"""
    body = {
        "id": "i1",
        "model": "gemini-3.1-flash-lite",
        "steps": [
            {
                "type": "function_call",
                "call_id": "call_1",
                "signature": "sig_1",
                "name": "get_weather",
                "arguments": {"location": "北京"},
            }
        ],
        "usage": {"total_input_tokens": 2, "total_output_tokens": 3, "total_tokens": 5},
    }
    out = resp(I, GEMINI, body)
    part = get(out, "candidates.0.content.parts.0")
    assert part["functionCall"]["name"] == "get_weather" and part["functionCall"]["args"] == {
        "location": "北京"
    }
    assert part["thoughtSignature"] == "sig_1"
    assert get(out, "usageMetadata.totalTokenCount") == 5


def test_gemini_request_to_interactions():
    """TestConvertGeminiRequestToInteractionsStringSystemInstruction,
    TestConvertGeminiRequestToInteractionsFunctionCall,
    TestConvertGeminiRequestToInteractionsTextContentType,
    TestConvertGeminiRequestToInteractionsGenerationConfig (its budget: test_interactions_hub_cpa.py)"""
    body = {
        "systemInstruction": {"parts": [{"text": "be brief"}, {"text": "answer directly"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"id": "call_1", "name": "lookup", "args": {"q": "x"}}}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"id": "call_1", "name": "lookup", "response": {"ok": True}}}],
            },
        ],
        "generationConfig": {"maxOutputTokens": 16, "thinkingConfig": {"thinkingLevel": "low"}},
    }
    out = req(GEMINI, I, body, "gemini-3.5-flash")
    assert out["model"] == "gemini-3.5-flash"
    assert out["system_instruction"] == "be brief\nanswer directly"
    steps = out["input"]
    assert steps[0] == {"type": "user_input", "content": [{"type": "text", "text": "hi"}]}
    assert (
        steps[1]["type"] == "function_call"
        and steps[1]["id"] == "call_1"
        and steps[1]["arguments"] == {"q": "x"}
    )
    assert steps[2]["type"] == "function_result" and steps[2]["call_id"] == "call_1"
    assert out["generation_config"]["max_output_tokens"] == 16
    assert out["generation_config"]["thinking_level"] == "low"


def test_whole_answer_usage_is_read_for_records():
    """CPA ``common/interactions_usage.go`` InteractionsUsage: usage is found at ``usage``
    (and the other paths CPA lists), so a passed-through native answer is counted."""
    body = b'{"id":"i1","steps":[],"usage":{"total_input_tokens":7,"total_output_tokens":3,"total_thought_tokens":2,"total_cached_tokens":1,"total_tokens":12}}'
    u = body_usage(I, body)
    assert u is not None and (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.cache_read_tokens) == (
        7,
        5,
        2,
        1,
    )
    nested = b'{"metadata":{"total_usage":{"total_input_tokens":2,"total_output_tokens":6}}}'
    assert body_usage(I, nested) is not None and body_usage(I, nested).input_tokens == 2
