"""CPA internal/translator/openai/openai/responses/openai_openai-responses_request_test.go:
Responses (Codex) client -> OpenAI Chat Completions upstream, request side.

CPA's table tests of its private helpers (responsesSingleCustomToolName,
splitResponsesQualifiedFunctionCallFromRequest, responsesCustomToolNames,
mergeResponsesRequestChatTools) are ported through what they decide: the tools sent
upstream and the name a call comes back under."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from tests.translate.cpa._run import CODEX, OPENAI, RESPONSES, get, req, resp

IMAGES_IN_TOOL = (
    "CPA puts images inside the tool message; OpenAI takes only text there, so ours follow "
    "in a user message (documented difference)"
)


def to_chat(body: dict[str, Any], model: str = "kimi-k2.6") -> dict[str, Any]:
    return req(RESPONSES, OPENAI, {"model": "gpt-test", **body}, model)


def fn_call(cid: str, name: str, args: str = "{}", **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": cid, "name": name, "arguments": args, **extra}


def fn_out(cid: str, output: Any, kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": cid, "output": output}


def user(content: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": content}


def assistant(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
        **extra,
    }


def reasoning(*texts: str) -> dict[str, Any]:
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": t} for t in texts]}


def texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content] if content else []
    return [p["text"] for p in content or () if p.get("type") == "text"]


def test_merge_consecutive_function_calls() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_MergeConsecutiveFunctionCalls."""
    out = to_chat(
        {
            "input": [
                fn_call("exec_command:0", "exec_command", '{"cmd":"ls"}'),
                fn_call("exec_command:1", "exec_command", '{"cmd":"pwd"}'),
                fn_out("exec_command:0", "ok0"),
                fn_out("exec_command:1", "ok1"),
            ]
        }
    )
    msgs = out["messages"]
    assert len(msgs) == 3
    assert msgs[0]["role"] == "assistant"
    assert [c["id"] for c in msgs[0]["tool_calls"]] == ["exec_command:0", "exec_command:1"]
    assert msgs[1]["tool_call_id"] == "exec_command:0"
    assert msgs[2]["tool_call_id"] == "exec_command:1"


def test_split_function_calls_when_interrupted() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_SplitFunctionCallsWhenInterrupted."""
    out = to_chat({"input": [fn_call("call_a", "tool_a"), user("next"), fn_call("call_b", "tool_b")]})
    msgs = out["messages"]
    assert len(msgs) == 3
    assert get(msgs[0], "tool_calls.0.id") == "call_a"
    assert get(msgs[2], "tool_calls.0.id") == "call_b"


def test_defers_message_until_tool_output() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_DefersMessageUntilToolOutput
    (defect 5: the tool message right after the assistant's tool_calls)."""
    out = to_chat(
        {
            "input": [
                fn_call("call_x", "exec_command", '{"cmd":"echo hi"}'),
                user("Approved command prefix saved"),
                fn_out("call_x", "ok"),
                user("next"),
            ]
        }
    )
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["assistant", "tool", "user", "user"]
    assert msgs[1]["tool_call_id"] == "call_x"
    assert msgs[2]["content"] == "Approved command prefix saved"
    assert msgs[3]["content"] == "next"


@pytest.mark.parametrize(
    ("output", "image_url", "text"),
    [
        pytest.param(
            '[{"type":"input_text","text":"Captured screenshot."},'
            '{"detail":"original","image_url":"data:image/png;base64,AA==","type":"input_image"}]',
            "data:image/png;base64,AA==",
            "Captured screenshot.",
            id="Codex input image",
        ),
        pytest.param(
            '[{"type":"image_url","image_url":{"url":"https://example.com/generated.png","detail":"high"}}]',
            "https://example.com/generated.png",
            None,
            id="OpenAI image URL",
        ),
    ],
)
def test_unwraps_stringified_tool_output_images(output: str, image_url: str, text: str | None) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_UnwrapsStringifiedToolOutputImages
    (the image rides in the user message after the tool message: our difference)."""
    out = to_chat({"input": [fn_call("call_image", "view_image"), fn_out("call_image", output)]}, "k3")
    msgs = out["messages"]
    assert msgs[1]["role"] == "tool"
    if text is not None:
        assert texts(msgs[1]["content"]) == [text]
    image = next(p for m in msgs[2:] for p in m["content"] if p.get("type") == "image_url")
    assert image["image_url"] == {"url": image_url, "detail": "high"}


def test_unwraps_stringified_custom_tool_output_images() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_UnwrapsStringifiedCustomToolOutputImages."""
    out = to_chat(
        {
            "input": [
                {"type": "custom_tool_call", "call_id": "call_image", "name": "view_image", "input": "{}"},
                fn_out(
                    "call_image",
                    '[{"type":"input_image","image_url":"data:image/png;base64,AA==","detail":"original"}]',
                    "custom_tool_call_output",
                ),
            ]
        },
        "kimi-k3",
    )
    image = next(p for m in out["messages"][2:] for p in m["content"] if p.get("type") == "image_url")
    assert image["image_url"] == {"url": "data:image/png;base64,AA==", "detail": "high"}


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param("plain output", "plain output", id="plain text"),
        pytest.param([{"type": "input_text", "text": "done"}], "done", id="text content array"),
    ],
)
def test_preserves_custom_tool_output_fallbacks(output: Any, expected: str) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesCustomToolOutputFallbacks."""
    out = to_chat(
        {
            "input": [
                {"type": "custom_tool_call", "call_id": "call_output", "name": "inspect", "input": "{}"},
                fn_out("call_output", output, "custom_tool_call_output"),
            ]
        },
        "kimi-k3",
    )
    content = out["messages"][1]["content"]
    assert isinstance(content, str)
    assert content == expected


def test_invalid_image_in_custom_tool_output_is_refused() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesCustomToolOutputFallbacks/
    "invalid image array": CPA sends an empty output for an input_image without a URL;
    we answer the client's mistake with a 400 naming the part."""
    body = {
        "input": [
            {"type": "custom_tool_call", "call_id": "call_output", "name": "inspect", "input": "{}"},
            fn_out("call_output", [{"type": "input_image", "detail": "low"}], "custom_tool_call_output"),
        ]
    }
    with pytest.raises(RequestError, match="input_image"):
        to_chat(body, "kimi-k3")


def test_converts_structured_tool_output_images() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_ConvertsStructuredToolOutputImages
    (image detail "original" becomes "high"; the image follows the tool message)."""
    out = to_chat(
        {
            "input": [
                fn_call("call_image", "view_image"),
                fn_out(
                    "call_image",
                    [
                        {"type": "input_text", "text": "Captured screenshot."},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,AA==",
                            "detail": "original",
                        },
                    ],
                ),
            ]
        },
        "k3",
    )
    msgs = out["messages"]
    assert msgs[1] == {"role": "tool", "tool_call_id": "call_image", "content": "Captured screenshot."}
    assert msgs[2]["role"] == "user"
    assert get(msgs[2], "content.0.image_url") == {"url": "data:image/png;base64,AA==", "detail": "high"}


@pytest.mark.parametrize(
    "output",
    [
        "plain output",
        '{"status":"ok"}',
        '[{"type":"input_text","text":"still text"}]',
        '[{"type":"input_image","detail":"low"}]',
        '[{"type":"input_image","image_url":"data:image/png;base64,AA=="}] trailing',
        '[{"type":"input_image","image_url":"data:image/png;base64,AA=="}',
        '[{"type":"input_image","image_url":123}]',
        '[{"type":"input_image","image_url":"data:image/png;base64,AA==","detail":123}]',
        '[{"type":"input_text","text":123},{"type":"input_image","image_url":"data:image/png;base64,AA=="}]',
    ],
    ids=[
        "plain text",
        "JSON object",
        "text-only array",
        "invalid image array",
        "image array with trailing text",
        "truncated image array",
        "non-string image URL",
        "non-string image detail",
        "non-string text in image array",
    ],
)
def test_keeps_non_image_tool_output_strings(output: str) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_KeepsNonImageToolOutputStrings."""
    out = to_chat({"input": [fn_call("call_output", "inspect"), fn_out("call_output", output)]}, "k3")
    assert out["messages"][1]["content"] == output


def test_attaches_reasoning_to_assistant_message() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_AttachesReasoningToAssistantMessage."""
    out = to_chat(
        {
            "input": [
                {**reasoning("first line\n", "second line"), "id": "rs_1"},
                assistant("answer"),
                user("next"),
            ]
        },
        "deepseek-v4-flash",
    )
    msgs = out["messages"]
    assert len(msgs) == 2
    assert msgs[0]["role"] == "assistant"
    assert msgs[0]["reasoning_content"] == "first line\nsecond line"
    assert texts(msgs[0]["content"]) == ["answer"]
    assert msgs[1]["role"] == "user"


def test_preserves_assistant_content_with_tool_calls() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesAssistantContentWithToolCalls."""
    out = to_chat(
        {
            "input": [
                {**reasoning("inspect the next step"), "id": "rs_1"},
                assistant("Step 3 completed; continue to step 4."),
                fn_call("call_4", "exec_command", '{"cmd":"pwd"}'),
                fn_out("call_4", "ok"),
            ]
        },
        "kimi-k3",
    )
    msgs = out["messages"]
    assert len(msgs) == 2
    assert msgs[0]["role"] == "assistant"
    assert msgs[0]["reasoning_content"] == "inspect the next step"
    assert texts(msgs[0]["content"]) == ["Step 3 completed; continue to step 4."]
    assert get(msgs[0], "tool_calls.0.id") == "call_4"
    assert msgs[1]["tool_call_id"] == "call_4"


def test_does_not_merge_tool_calls_across_user_message() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_DoesNotMergeToolCallsAcrossUserMessage."""
    out = to_chat(
        {
            "input": [
                assistant("done"),
                user([{"type": "input_text", "text": "next"}]),
                fn_call("call_next", "exec_command"),
                fn_out("call_next", "ok"),
            ]
        },
        "kimi-k3",
    )
    msgs = out["messages"]
    assert len(msgs) == 4
    assert "tool_calls" not in msgs[0]
    assert msgs[1]["role"] == "user"
    assert get(msgs[2], "tool_calls.0.id") == "call_next"


def test_merges_distinct_reasoning_within_assistant_turn() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_MergesDistinctReasoningWithinAssistantTurn."""
    out = to_chat(
        {
            "input": [
                reasoning("first"),
                assistant("working", reasoning_content="first"),
                reasoning("second"),
                fn_call("call_reasoning", "exec_command"),
            ]
        },
        "kimi-k3",
    )
    msgs = out["messages"]
    assert len(msgs) == 1
    assert msgs[0]["reasoning_content"] == "first\n\nsecond"
    assert get(msgs[0], "tool_calls.0.id") == "call_reasoning"


def test_replaces_unavailable_reasoning_within_assistant_turn() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_ReplacesUnavailableReasoningWithinAssistantTurn."""
    out = to_chat(
        {
            "input": [
                {"type": "reasoning", "summary": []},
                assistant("working", reasoning_content="real reasoning"),
                fn_call("call_real_reasoning", "exec_command"),
            ]
        },
        "kimi-k3",
    )
    msgs = out["messages"]
    assert len(msgs) == 1
    assert msgs[0]["reasoning_content"] == "real reasoning"


def test_attaches_reasoning_to_tool_call_message() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_AttachesReasoningToToolCallMessage."""
    out = to_chat(
        {
            "input": [
                {**reasoning("tool reasoning"), "id": "rs_tool"},
                fn_call("call_1", "exec_command", '{"cmd":"pwd"}'),
                fn_out("call_1", "ok"),
            ]
        },
        "deepseek-v4-flash",
    )
    msgs = out["messages"]
    assert len(msgs) == 2
    assert msgs[0]["role"] == "assistant"
    assert msgs[0]["reasoning_content"] == "tool reasoning"
    assert get(msgs[0], "tool_calls.0.id") == "call_1"
    assert msgs[1]["role"] == "tool"


def test_keeps_reasoning_before_user_message() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_KeepsReasoningBeforeUserMessage."""
    out = to_chat(
        {"input": [{"type": "reasoning", "id": "rs_empty", "summary": []}, user("continue")]},
        "deepseek-v4-flash",
    )
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["assistant", "user"]
    assert msgs[0]["reasoning_content"] == "[reasoning unavailable]"


def test_flattens_namespace_tools() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_FlattensNamespaceTools."""
    out = to_chat(
        {
            "input": [{"role": "user", "content": "Use add_numbers."}],
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__test_mcp__",
                    "description": "Tools in the mcp__test_mcp__ namespace.",
                    "tools": [
                        {
                            "type": "function",
                            "name": "add_numbers",
                            "description": "Add two numbers",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                                "required": ["a", "b"],
                            },
                        }
                    ],
                }
            ],
            "tool_choice": "auto",
        },
        "deepseek-v4-flash",
    )
    assert len(out["tools"]) == 1
    fn = get(out, "tools.0.function")
    assert get(out, "tools.0.type") == "function"
    assert fn["name"] == "mcp__test_mcp__add_numbers"
    assert fn["description"] == "Add two numbers"
    assert fn["parameters"]["required"][0] == "a"


def test_qualifies_namespace_function_call_history() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_QualifiesNamespaceFunctionCallHistory."""
    out = to_chat(
        {
            "input": [
                fn_call("call_get_me", "get_me", namespace="mcp__github"),
                fn_out("call_get_me", "ok"),
            ],
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__github",
                    "tools": [{"type": "function", "name": "get_me", "parameters": {"type": "object"}}],
                }
            ],
        },
        "deepseek-v4-flash",
    )
    history = get(out, "messages.0.tool_calls.0.function.name")
    assert history == "mcp__github__get_me"
    assert history == get(out, "tools.0.function.name")


@pytest.mark.parametrize("where", ["top-level tools", "additional tools"])
def test_flattens_namespace_custom_tools(where: str) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_FlattensNamespaceCustomTools:
    a custom tool goes to a Chat upstream as a JSON tool taking its text in "input"."""
    ns = {
        "type": "namespace",
        "name": "terminal",
        "tools": [{"type": "custom", "name": "exec", "description": "Run a command"}],
    }
    body: dict[str, Any] = (
        {"tools": [ns]}
        if where == "top-level tools"
        else {"input": [{"type": "additional_tools", "tools": [ns]}]}
    )
    out = to_chat(body, "gpt-5.4")
    assert len(out["tools"]) == 1
    fn = get(out, "tools.0.function")
    assert fn["name"] == "terminal__exec"
    assert fn["description"] == "Run a command"
    assert fn["parameters"]["type"] == "object"
    assert get(fn, "parameters.properties.input.type") == "string"
    assert fn["parameters"]["required"] == ["input"]


def test_preserves_structured_tool_choice() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesStructuredToolChoice."""
    out = to_chat(
        {
            "input": [{"role": "user", "content": "Run command."}],
            "tools": [{"type": "function", "name": "run_command", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "run_command"},
        },
        "gpt-5.4",
    )
    assert out["tool_choice"] == {"type": "function", "function": {"name": "run_command"}}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "input": [{"role": "user", "content": "say ok"}],
                "tools": [],
                "tool_choice": "auto",
                "parallel_tool_calls": False,
            },
            id="empty tools",
        ),
        pytest.param(
            {"tools": [{"type": "unsupported"}], "tool_choice": "auto", "parallel_tool_calls": False},
            id="unconvertible tools",
        ),
    ],
)
def test_omits_tool_settings_without_tools(body: dict[str, Any]) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_OmitsToolSettingsWithoutTools."""
    out = to_chat(body, "grok-4.5")
    for field in ("tools", "tool_choice", "parallel_tool_calls"):
        assert field not in out


def test_preserves_parallel_tool_calls_with_tools() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesParallelToolCallsWithTools."""
    out = to_chat(
        {
            "tools": [{"type": "function", "name": "run_command", "parameters": {"type": "object"}}],
            "parallel_tool_calls": False,
        },
        "grok-4.5",
    )
    assert out["parallel_tool_calls"] is False


def test_preserves_json_schema_text_format() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesJSONSchemaTextFormat."""
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    out = to_chat(
        {
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "description": "Structured answer",
                    "strict": True,
                    "schema": schema,
                }
            }
        },
        "deepseek-v4-flash",
    )
    rf = out["response_format"]
    assert rf["type"] == "json_schema"
    js = rf["json_schema"]
    assert js["name"] == "answer"
    assert js["description"] == "Structured answer"
    assert js["strict"] is True
    assert js["schema"] == schema


def test_preserves_json_object_text_format() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_PreservesJSONObjectTextFormat."""
    out = to_chat({"text": {"format": {"type": "json_object"}}}, "deepseek-v4-flash")
    assert out["response_format"] == {"type": "json_object"}


def test_omits_response_format_without_text_format() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_OmitsResponseFormatWithoutTextFormat."""
    out = to_chat({"input": "Return plain text."}, "deepseek-v4-flash")
    assert "response_format" not in out


@pytest.mark.parametrize(
    ("detail", "want"),
    [("high", "high"), ("original", "high"), ("medium", None), (123, None)],
    ids=["standard high", "Codex original", "unsupported value", "non-string value"],
)
def test_normalizes_input_image_detail(detail: Any, want: str | None) -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_NormalizesInputImageDetail (defect 10)."""
    out = to_chat(
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_image",
                            "image_url": "https://example.com/image.png",
                            "detail": detail,
                        }
                    ],
                }
            ]
        },
        "gpt-5.4",
    )
    image = get(out, "messages.0.content.0.image_url")
    assert image["url"] == "https://example.com/image.png"
    assert image.get("detail") == want


def test_deduplicates_tools_across_additional_tools() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_DeduplicatesToolsAcrossAdditionalTools."""
    out = to_chat(
        {
            "input": [
                {"role": "user", "content": "What time is it?"},
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "function",
                            "name": "get_time",
                            "description": "copy from additional_tools",
                            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
                        }
                    ],
                },
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "get_time",
                    "description": "authoritative top-level definition",
                    "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
                }
            ],
        },
        "deepseek-v4-flash",
    )
    assert len(out["tools"]) == 1
    fn = get(out, "tools.0.function")
    assert fn["name"] == "get_time"
    assert fn["description"] == "authoritative top-level definition"
    assert get(fn, "parameters.properties.timezone.type") == "string"


FLAT_FIRST = [
    {"type": "function", "name": "editor__apply_patch", "parameters": {"type": "object"}},
    {
        "type": "namespace",
        "name": "editor",
        "tools": [{"type": "function", "name": "apply_patch", "parameters": {"type": "object"}}],
    },
]


def test_deduplicates_namespace_qualified_collision() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_DeduplicatesNamespaceQualifiedCollision."""
    out = to_chat(
        {"input": [{"role": "user", "content": "Patch the file."}], "tools": FLAT_FIRST}, "deepseek-v4-flash"
    )
    assert [t["function"]["name"] for t in out["tools"]] == ["editor__apply_patch"]


def test_keeps_distinct_tools_from_both_sources() -> None:
    """TestConvertOpenAIResponsesRequestToOpenAIChatCompletions_KeepsDistinctToolsFromBothSources."""
    obj = {"type": "object"}
    out = to_chat(
        {
            "input": [
                {"role": "user", "content": "Do the thing."},
                {
                    "type": "additional_tools",
                    "tools": [
                        {"type": "function", "name": "get_date", "parameters": obj},
                        {"type": "function", "name": "get_time", "parameters": obj},
                    ],
                },
            ],
            "tools": [
                {"type": "function", "name": "get_time", "parameters": obj},
                {"type": "function", "name": "get_weather", "parameters": obj},
            ],
        },
        "deepseek-v4-flash",
    )
    assert [t["function"]["name"] for t in out["tools"]] == ["get_time", "get_weather", "get_date"]


def call_back(request: dict[str, Any], name: str, arguments: str = "{}") -> dict[str, Any]:
    """The Responses output item a Chat upstream's call to ``name`` comes back as."""
    upstream = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
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
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    out: dict[str, Any] = resp(OPENAI, RESPONSES, upstream, {"model": "gpt-test", **request})["output"][0]
    return out


def test_single_custom_tool_name_counts_deduplicated_tools() -> None:
    """TestResponsesSingleCustomToolName_CountsDeduplicatedTools: the one custom tool,
    given twice, is one tool upstream and its call comes back as a custom call."""
    request = {
        "input": [
            {"role": "user", "content": "Patch the file."},
            {
                "type": "additional_tools",
                "tools": [{"type": "custom", "name": "apply_patch", "description": "copy"}],
            },
        ],
        "tools": [{"type": "custom", "name": "apply_patch", "description": "authoritative"}],
    }
    out = to_chat(request, "deepseek-v4-flash")
    assert [t["function"]["name"] for t in out["tools"]] == ["apply_patch"]
    item = call_back(request, "apply_patch", '{"input":"*** Begin Patch"}')
    assert item["type"] == "custom_tool_call"
    assert item["input"] == "*** Begin Patch"


NAMESPACE_FIRST = [FLAT_FIRST[1], FLAT_FIRST[0]]
NAMESPACE_ONLY = [
    {
        "type": "namespace",
        "name": "mcp__github",
        "tools": [{"type": "function", "name": "get_me", "parameters": {"type": "object"}}],
    }
]


@pytest.mark.parametrize(
    ("tools", "called", "name", "namespace"),
    [
        pytest.param(
            FLAT_FIRST, "editor__apply_patch", "editor__apply_patch", None, id="flat declared first"
        ),
        # our difference: a tool declared under the flat name itself wins the name on the
        # way back whatever the order (CPA's Claude rule; its Chat rule takes the first)
        pytest.param(
            NAMESPACE_FIRST, "editor__apply_patch", "editor__apply_patch", None, id="namespace declared first"
        ),
        pytest.param(NAMESPACE_ONLY, "mcp__github__get_me", "get_me", "mcp__github", id="namespace only"),
        pytest.param(FLAT_FIRST, "something_else", "something_else", None, id="unknown name"),
    ],
)
def test_split_qualified_function_call_first_declaration_wins(
    tools: list[Any], called: str, name: str, namespace: str | None
) -> None:
    """TestSplitResponsesQualifiedFunctionCallFromRequest_FirstDeclarationWins."""
    item = call_back({"tools": tools}, called)
    assert item["name"] == name
    assert item.get("namespace") == namespace


def test_split_matches_merged_tool_identity() -> None:
    """TestSplitResponsesQualifiedFunctionCallFromRequest_MatchesMergedToolIdentity."""
    out = to_chat({"tools": FLAT_FIRST})
    assert len(out["tools"]) == 1
    emitted = get(out, "tools.0.function.name")
    item = call_back({"tools": FLAT_FIRST}, emitted)
    assert item["name"] == emitted
    assert "namespace" not in item or item["namespace"] is None


@pytest.mark.parametrize(
    "custom_first", [False, True], ids=["function declaration wins", "custom declaration wins"]
)
def test_custom_tool_names_follow_merged_declaration(custom_first: bool) -> None:
    """TestResponsesCustomToolNames_FollowsMergedDeclaration."""
    function = {"type": "function", "name": "exec", "parameters": {"type": "object"}}
    custom = {"type": "custom", "name": "exec", "description": "x"}
    top, extra = (custom, function) if custom_first else (function, custom)
    request = {"input": [{"type": "additional_tools", "tools": [extra]}], "tools": [top]}
    out = to_chat(request)
    assert len(out["tools"]) == 1
    assert ("input" in (get(out, "tools.0.function.parameters.properties") or {})) is custom_first
    item = call_back(request, "exec", '{"input":"ls"}')
    assert (item["type"] == "custom_tool_call") is custom_first


def test_custom_tool_names_only_report_merged_tools() -> None:
    """TestResponsesCustomToolNames_OnlyReportsMergedTools: the reachable custom tool of a
    namespace is sent (and comes back custom)."""
    request = {
        "tools": [
            {
                "type": "namespace",
                "name": "outer",
                "tools": [
                    {"type": "namespace", "name": "inner", "tools": [{"type": "custom", "name": "buried"}]},
                    {"type": "custom", "name": "reachable"},
                ],
            }
        ]
    }
    names = [t["function"]["name"] for t in to_chat(request)["tools"]]
    assert "outer__reachable" in names
    item = call_back(request, "outer__reachable", '{"input":"go"}')
    assert item["type"] == "custom_tool_call" and item["input"] == "go"


def test_nested_namespace_kept_for_a_responses_upstream() -> None:
    """Beside TestResponsesCustomToolNames_OnlyReportsMergedTools: the nested namespace a
    Chat upstream cannot take goes to a Responses (Codex) upstream where it was, and a
    namespace holding only namespaces as it came."""
    tools = [
        {
            "type": "namespace",
            "name": "outer",
            "description": "d",
            "tools": [
                {"type": "custom", "name": "first"},
                {"type": "namespace", "name": "inner", "tools": [{"type": "custom", "name": "buried"}]},
                {"type": "custom", "name": "reachable"},
            ],
        },
        {"type": "namespace", "name": "only", "tools": [{"type": "namespace", "name": "x", "tools": []}]},
    ]
    out = req(RESPONSES, CODEX, {"model": "gpt-test", "input": "hi", "tools": tools})
    assert out["tools"] == tools
    names = [t["function"]["name"] for t in to_chat({"tools": tools})["tools"]]
    assert names == ["outer__first", "outer__reachable"]


def test_long_tool_names_are_shortened_consistently() -> None:
    """Issue 15 defect 10 (CPA's shortenNameIfNeeded/buildShortNameMap rule): a tool name
    over 64 characters is sent shortened, in the declaration and in the history, and a
    call to the short name comes back under the client's own name."""
    long_ns = "mcp__" + "a_very_long_server_name_" * 3
    request = {
        "tools": [{"type": "namespace", "name": long_ns, "tools": [{"type": "function", "name": "lookup"}]}],
        "input": [fn_call("call_1", "lookup", namespace=long_ns), fn_out("call_1", "ok"), user("again")],
    }
    out = to_chat(request)
    short = get(out, "tools.0.function.name")
    assert short == "mcp__lookup"
    assert get(out, "messages.0.tool_calls.0.function.name") == short
    item = call_back(request, short)
    assert (item["name"], item["namespace"]) == ("lookup", long_ns)
    assert orjson.loads(item["arguments"]) == {}


def test_long_call_ids_are_shortened_consistently() -> None:
    """Issue 15 defect 10 (CPA's shortenCodexCallIDIfNeeded rule: the id's head and a
    hash): a call id over 64 characters is sent shortened, the same on the call and on
    its result, and two long ids stay apart."""
    long_a, long_b = "call_" + "a" * 80, "call_" + "a" * 79 + "b"
    out = to_chat(
        {
            "input": [
                fn_call(long_a, "look"),
                fn_call(long_b, "look"),
                fn_out(long_a, "one"),
                fn_out(long_b, "two"),
            ]
        }
    )
    ids = [c["id"] for c in out["messages"][0]["tool_calls"]]
    assert all(len(i) <= 64 for i in ids) and ids[0] != ids[1]
    assert [m["tool_call_id"] for m in out["messages"][1:]] == ids
