"""Ported from CPA internal/translator/antigravity/claude/antigravity_claude_request_test.go: a
Claude Messages client's body for the Antigravity upstream (our Gemini request inside the
Antigravity envelope, as ``AntigravityProvider.build`` sends it). The signature,
bypass-mode and signature-cache cases of that file belong to the signatures work.

Documented differences kept as assertions: call ids are not sent (CPA sends
``functionCall.id``); a tool result's text is ``{"result": "<text>"}``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider

from ._run import CLAUDE, GEMINI, get, req

CPA = "antigravity_claude_request_test.go"
HINT = "Interleaved thinking is enabled"


def _ag(body: dict[str, Any], model: str) -> dict[str, Any]:
    gemini = req(CLAUDE, GEMINI, {"model": model, "max_tokens": 1024, **body}, model)
    cred = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
    up = AntigravityProvider().build(cred, gemini, model=model, stream=False, client_headers={})
    return orjson.loads(up.body)  # type: ignore[no-any-return]


WEATHER = [
    {
        "name": "get_weather",
        "description": "Get weather",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
]
HELLO = [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
THINKING = {"type": "enabled", "budget_tokens": 8000}


def _hinted(out: dict[str, Any]) -> bool:
    return any(HINT in p.get("text", "") for p in get(out, "request.systemInstruction.parts") or ())


def test_tool_and_thinking_hint_injected() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolAndThinking_HintInjected."""
    out = _ag(
        {
            "messages": HELLO,
            "system": [{"type": "text", "text": "You are helpful."}],
            "tools": WEATHER,
            "thinking": THINKING,
        },
        "claude-sonnet-4-5-thinking",
    )
    assert _hinted(out)
    assert get(out, "request.systemInstruction.parts.0.text") == "You are helpful."


def test_tools_only_no_hint() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolsOnly_NoHint."""
    out = _ag(
        {"messages": HELLO, "system": [{"type": "text", "text": "You are helpful."}], "tools": WEATHER},
        "claude-sonnet-4-5",
    )
    assert not _hinted(out)


def test_thinking_only_no_hint() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ThinkingOnly_NoHint."""
    out = _ag(
        {"messages": HELLO, "system": [{"type": "text", "text": "You are helpful."}], "thinking": THINKING},
        "claude-sonnet-4-5-thinking",
    )
    assert not _hinted(out)


def test_tool_and_thinking_no_existing_system() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolAndThinking_NoExistingSystem."""
    out = _ag({"messages": HELLO, "tools": WEATHER, "thinking": THINKING}, "claude-sonnet-4-5-thinking")
    assert _hinted(out)


def test_basic_structure() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_BasicStructure."""
    out = _ag(
        {"messages": HELLO, "system": [{"type": "text", "text": "You are helpful"}]}, "claude-sonnet-4-5"
    )
    assert out["model"] == "claude-sonnet-4-5"
    assert get(out, "request.contents.0.role") == "user"
    assert get(out, "request.systemInstruction.parts.0.text") == "You are helpful"


def test_role_mapping() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_RoleMapping (the
    trailing assistant turn is a prefill that Claude models behind Antigravity keep)."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
            ]
        },
        "claude-sonnet-4-5",
    )
    assert get(out, "request.contents.1.role") == "model"


def test_strips_claude_code_attribution() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_StripsClaudeCodeAttribution."""
    out = _ag(
        {
            "system": [
                {
                    "type": "text",
                    "text": "x-anthropic-billing-header: cc_version=2.1.63.abc; cc_entrypoint=cli; cch=12345;",
                },
                {"type": "text", "text": "User system prompt"},
            ],
            "messages": HELLO,
        },
        "claude-sonnet-4-5",
    )
    assert [p["text"] for p in get(out, "request.systemInstruction.parts")] == ["User system prompt"]


def test_tool_declarations() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolDeclarations."""
    out = _ag(
        {
            "messages": HELLO,
            "tools": [
                {
                    "name": "test_tool",
                    "description": "A test tool",
                    "input_schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                }
            ],
        },
        "gemini-1.5-pro",
    )
    decl = get(out, "request.tools.0.functionDeclarations.0")
    assert decl["name"] == "test_tool" and "input_schema" not in decl
    assert "parameters" in decl or "parametersJsonSchema" in decl


def test_maps_tool_result_name_once() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_MapsToolResultNameOnce."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call_1", "name": "read/file", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}],
                },
            ],
            "tools": [
                {"name": "read/file", "input_schema": {"type": "object"}},
                {"name": "read_file", "input_schema": {"type": "object"}},
            ],
        },
        "gemini-3-flash",
    )
    call = get(out, "request.contents.1.parts.0.functionCall.name")
    assert call and get(out, "request.contents.2.parts.0.functionResponse.name") == call


def test_tool_choice_specific_tool() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolChoice_SpecificTool."""
    out = _ag(
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "tools": [
                {
                    "name": "json",
                    "description": "A JSON tool",
                    "input_schema": {"type": "object", "properties": {}},
                }
            ],
            "tool_choice": {"type": "tool", "name": "json"},
        },
        "gemini-3-flash-preview",
    )
    fcc = get(out, "request.toolConfig.functionCallingConfig")
    assert fcc["mode"] == "ANY" and fcc["allowedFunctionNames"] == ["json"]


def test_tool_result_with_image_nested_in_function_response() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultWithImage (issue 15:
    tool-result images inside ``functionResponse.parts``)."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "Read-123-456", "name": "Read", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "Read-123-456",
                            "content": [
                                {"type": "text", "text": "File content here"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": "iVBORw0KGgoAAAANSUhEUg==",
                                    },
                                },
                            ],
                        }
                    ],
                },
            ],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
        },
        "claude-sonnet-4-5",
    )
    parts = get(out, "request.contents.2.parts")
    assert len(parts) == 1
    fr = parts[0]["functionResponse"]
    assert fr["response"] == {"result": "File content here"}
    assert fr["parts"][0]["inlineData"] == {"data": "iVBORw0KGgoAAAANSUhEUg==", "mimeType": "image/png"}


def test_tool_result_with_only_images() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultWithOnlyMultipleImages."""
    img = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="},
    }
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "Read-789-012", "name": "Read", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "Read-789-012", "content": [img, img]}
                    ],
                },
            ],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
        },
        "claude-sonnet-4-5",
    )
    parts = get(out, "request.contents.2.parts")
    assert len(parts) == 1
    assert [p["inlineData"]["mimeType"] for p in parts[0]["functionResponse"]["parts"]] == [
        "image/jpeg",
        "image/jpeg",
    ]


def test_tool_result_no_content() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultNoContent."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "MyTool-123-456",
                            "name": "MyTool",
                            "input": {"key": "value"},
                        }
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "MyTool-123-456"}]},
            ],
            "tools": [{"name": "MyTool", "input_schema": {"type": "object"}}],
        },
        "claude-opus-4-6-thinking",
    )
    fr = get(out, "request.contents.2.parts.0.functionResponse")
    assert fr["name"] == "MyTool" and "response" in fr


def test_strips_property_names() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravityStripsPropertyNames."""
    out = _ag(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "name": "notion-create-pages",
                    "input_schema": {
                        "type": "object",
                        "properties": {
                            "records": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string"}},
                                    "propertyNames": {"type": "string"},
                                },
                            }
                        },
                    },
                },
                {
                    "name": "notion-update-page",
                    "input_schema": {
                        "type": "object",
                        "properties": {"properties": {"type": "object", "propertyNames": {"type": "string"}}},
                    },
                },
            ],
        },
        "claude-sonnet-4-5",
    )
    decls = get(out, "request.tools.0.functionDeclarations")
    assert len(decls) == 2
    assert b"propertyNames" not in orjson.dumps(decls)
    schema0 = decls[0].get("parameters") or decls[0]["parametersJsonSchema"]
    schema1 = decls[1].get("parameters") or decls[1]["parametersJsonSchema"]
    assert get(schema0, "properties.records.items.properties.name") is not None
    assert get(schema1, "properties.properties") is not None


def test_image_content() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ImageContent."""
    out = _ag(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Describe"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                }
            ]
        },
        "claude-sonnet-4-5",
    )
    assert get(out, "request.contents.0.parts.1.inlineData") == {
        "data": "iVBORw0KGgo=",
        "mimeType": "image/png",
    }


def test_generation_config() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_GenerationConfig."""
    out = _ag(
        {"messages": HELLO, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "max_tokens": 2000},
        "claude-sonnet-4-5",
    )
    gc = get(out, "request.generationConfig")
    assert (gc["temperature"], gc["topP"], gc["topK"], gc["maxOutputTokens"]) == (0.7, 0.9, 40, 2000)


def test_thinking_config() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ThinkingConfig: a
    budget goes over as thinkingBudget, and includeThoughts stays out when the Claude client
    sends no ``display`` (before, it was true); a ``display`` sent is followed."""
    out = _ag({"messages": HELLO, "thinking": THINKING}, "claude-sonnet-4-5-thinking")
    assert get(out, "request.generationConfig.thinkingConfig") == {"thinkingBudget": 8000}
    hidden = _ag(
        {"messages": HELLO, "thinking": {**THINKING, "display": "omitted"}}, "claude-sonnet-4-5-thinking"
    )
    assert get(hidden, "request.generationConfig.thinkingConfig.includeThoughts") is False


# ---------------------------------------------------------------------- part order (CPA issue #989)


def test_reorder_text_after_function_call() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ReorderTextAfterFunctionCall:
    Antigravity splits a turn at a functionCall, so text after it goes before it."""
    out = _ag(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check..."},
                        {"type": "tool_use", "id": "call_abc", "name": "Read", "input": {"file": "test.go"}},
                        {"type": "text", "text": "Reading the file now"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_abc", "content": "file content"}
                    ],
                },
            ]
        },
        "claude-sonnet-4-5",
    )
    parts = get(out, "request.contents.0.parts")
    assert [p.get("text") for p in parts[:2]] == ["Let me check...", "Reading the file now"]
    assert parts[2]["functionCall"]["name"] == "Read" and len(parts) == 3


def test_reorder_parallel_function_calls() -> None:
    """TestConvertClaudeRequestToAntigravity_ReorderParallelFunctionCalls: the texts first, the
    calls after them in their order."""
    out = _ag(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Reading both files."},
                        {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"file": "a.go"}},
                        {"type": "text", "text": "And this one too."},
                        {"type": "tool_use", "id": "call_2", "name": "Read", "input": {"file": "b.go"}},
                    ],
                }
            ]
        },
        "claude-sonnet-4-5",
    )
    parts = get(out, "request.contents.0.parts")
    assert [p.get("text") for p in parts[:2]] == ["Reading both files.", "And this one too."]
    assert [p["functionCall"]["args"] for p in parts[2:]] == [{"file": "a.go"}, {"file": "b.go"}]


def test_converts_message_system_role_to_user_content() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ConvertsMessageSystemRoleToUserContent
    (no system role in contents; we merge the consecutive user turns into one content, CPA sends three)."""
    out = _ag(
        {
            "system": [{"type": "text", "text": "Top-level rules"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "system", "content": "String mid-conversation rule"},
                {"role": "system", "content": [{"type": "text", "text": "Array mid-conversation rule"}]},
            ],
        },
        "gemini-3-flash-agent",
    )
    assert [c["role"] for c in get(out, "request.contents")] == ["user"]
    assert [p["text"] for p in get(out, "request.contents.0.parts")] == [
        "Hello",
        "<system-reminder>\nString mid-conversation rule\n</system-reminder>",
        "<system-reminder>\nArray mid-conversation rule\n</system-reminder>",
    ]
    assert [p["text"] for p in get(out, "request.systemInstruction.parts")] == ["Top-level rules"]


def _calls_and_results(model: str, calls: list[tuple[str, str]], content: Any = "ok") -> dict[str, Any]:
    uses = [{"type": "tool_use", "id": i, "name": n, "input": {"k": "v"}} for i, n in calls]
    results = [{"type": "tool_result", "tool_use_id": i, "content": content} for i, _ in calls]
    messages = [{"role": "user", "content": "go"}, {"role": "assistant", "content": uses}]
    tools = [{"name": n, "input_schema": {"type": "object"}} for _, n in calls]
    return _ag({"messages": [*messages, {"role": "user", "content": results}], "tools": tools}, model)


@pytest.mark.parametrize(
    "calls",
    [
        pytest.param([("get_weather-call-123", "get_weather")], id="plain"),
        pytest.param(
            [
                ("toolu_tool-48fca351f12844eabf49dad8b63886d2", "Glob"),
                ("toolu_tool-cf2d061f75f845c49aacc18ee75ee708", "Bash"),
            ],
            id="toolu",
        ),
        pytest.param([("Read-1773420180464065165-1327", "Read")], id="custom"),
    ],
)
def test_tool_result_is_named_from_its_tool_use(calls: list[tuple[str, str]]) -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResult,
    TestConvertClaudeRequestToAntigravity_ToolResultName_TouluFormat and
    TestConvertClaudeRequestToAntigravity_ToolResultName_CustomFormat (no response id: see the
    module docstring)."""
    out = _calls_and_results("claude-sonnet-4-5", calls)
    assert [p["functionResponse"]["name"] for p in get(out, "request.contents.2.parts")] == [
        n for _, n in calls
    ]


def test_tool_result_null_content() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultNullContent:
    a null content is a result with nothing in it, not a broken body."""
    out = _calls_and_results("claude-opus-4-6-thinking", [("MyTool-123-456", "MyTool")], None)
    fr = get(out, "request.contents.2.parts.0.functionResponse")
    assert fr["name"] == "MyTool" and "response" in fr


def test_tool_result_with_single_image() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_ToolResultWithSingleImage:
    the image goes inside the functionResponse, not beside it."""
    img = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="},
    }
    for content in (img, [img]):  # CPA's case is the lone object
        out = _calls_and_results("claude-sonnet-4-5", [("Read-789-012", "Read")], content)
        parts = get(out, "request.contents.2.parts")
        assert len(parts) == 1
        fr = parts[0]["functionResponse"]
        assert fr["parts"] == [{"inlineData": {"data": "/9j/4AAQSkZJRgABAQ==", "mimeType": "image/jpeg"}}]
        assert not fr["response"].get("result")
