"""CPA internal/translator/claude/openai/responses/claude_openai-responses_request_test.go:
Responses (Codex) client -> Claude upstream, request side."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.translate.cpa._run import CLAUDE, RESPONSES, claude_attempt, get, req


def to_claude(body: dict[str, Any], model: str = "claude-test") -> dict[str, Any]:
    return req(RESPONSES, CLAUDE, {"model": "gpt-4.1", **body}, model)


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **extra}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def fn_call(cid: str, name: str, args: str = "{}", **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": cid, "name": name, "arguments": args, **extra}


def fn_out(cid: str, output: Any, kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": cid, "output": output}


def tools_named(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in out.get("tools", [])}


def test_sanitizes_tool_call_ids_for_claude() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SanitizesToolCallIDsForClaude."""
    out = to_claude(
        {
            "input": [
                fn_call("call.with space:1", "Read", '{"path":"README.md"}'),
                fn_out("call.with space:1", "ok"),
            ]
        },
        "claude-sonnet-4-5",
    )
    assert get(out, "messages.0.content.0.id") == "call_with_space_1"
    assert get(out, "messages.1.content.0.tool_use_id") == "call_with_space_1"


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _field(num: int, data: bytes) -> bytes:
    return bytes([(num << 3) | 2]) + _varint(len(data)) + data


def claude_signature() -> str:
    """CPA's testClaudeResponsesThinkingSignature: a protobuf-shaped Claude signature
    (channel 12, model claude-sonnet-4-6), base64; Claude-compatible as it is."""
    channel = bytes([1 << 3]) + _varint(12) + bytes([2 << 3]) + _varint(2) + _field(6, b"claude-sonnet-4-6")
    payload = _field(2, _field(1, channel)) + bytes([3 << 3]) + _varint(1)
    return base64.b64encode(payload).decode()


def reasoning_item(encrypted: str, summary: list[str], content: list[str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "encrypted_content": encrypted,
        "summary": [{"type": "summary_text", "text": t} for t in summary],
    }
    if content is not None:
        item["content"] = [{"type": "reasoning_text", "text": t} for t in content]
    return item


def test_reasoning_item_to_thinking_block() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_ReasoningItemToThinkingBlock."""
    sig = claude_signature()
    out = to_claude(
        {
            "input": [
                reasoning_item(sig, ["internal reasoning"]),
                assistant("visible answer"),
                user("continue"),
            ]
        }
    )
    first = out["messages"][0]
    assert first["role"] == "assistant"
    assert first["content"][0] == {"type": "thinking", "thinking": "internal reasoning", "signature": sig}
    assert first["content"][1] == {"type": "text", "text": "visible answer"}
    assert out["messages"][1]["role"] == "user"


def test_signature_only_reasoning_flushes_before_user() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SignatureOnlyReasoningFlushesBeforeUser."""
    sig = claude_signature()
    out = to_claude({"input": [reasoning_item(sig, []), user("continue")]})
    assert get(out, "messages.0.content.0") == {"type": "thinking", "thinking": "", "signature": sig}
    assert get(out, "messages.1.role") == "user"


def test_redacted_reasoning_item_restores_redacted_thinking() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_RedactedReasoningItemRestoresRedactedThinking."""
    out = to_claude(
        {
            "input": [
                reasoning_item("claude-redacted-thinking:EroBCkYIBRgCKkA", []),
                assistant("visible answer"),
                user("continue"),
            ]
        }
    )
    assert get(out, "messages.0.content.0") == {"type": "redacted_thinking", "data": "EroBCkYIBRgCKkA"}
    assert get(out, "messages.0.content.1.text") == "visible answer"


def test_empty_redacted_reasoning_item_is_dropped() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_EmptyRedactedReasoningItemIsDropped."""
    out = to_claude({"input": [reasoning_item("claude-redacted-thinking:", []), user("continue")]})
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_reasoning_content_text_rebuilds_thinking() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_ReasoningContentTextRebuildsThinking."""
    sig = claude_signature()
    out = to_claude({"input": [reasoning_item(sig, [], ["restored from content"]), user("continue")]})
    assert get(out, "messages.0.content.0.thinking") == "restored from content"
    assert get(out, "messages.0.content.0.signature") == sig


def test_summary_wins_over_duplicated_reasoning_content() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SummaryWinsOverDuplicatedReasoningContent."""
    out = to_claude(
        {
            "input": [
                reasoning_item(claude_signature(), ["chain of thought"], ["chain of thought"]),
                user("continue"),
            ]
        }
    )
    assert get(out, "messages.0.content.0.thinking") == "chain of thought"


def test_drops_incompatible_reasoning_signature() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DropsIncompatibleReasoningSignature: an
    OpenAI encrypted_content never becomes a Claude thinking block."""
    raw = bytearray(1 + 8 + 16 + 16 + 32)  # CPA's testGPTResponsesReasoningSignature
    raw[0], raw[8] = 0x80, 1
    for i in range(9, len(raw)):
        raw[i] = i
    gpt_sig = base64.urlsafe_b64encode(bytes(raw)).decode()
    out = to_claude(
        {
            "input": [
                {
                    "type": "reasoning",
                    "encrypted_content": gpt_sig,
                    "summary": [{"type": "summary_text", "text": "must not become Claude thinking"}],
                },
                user("continue"),
            ]
        }
    )
    assert get(out, "messages.0.content.0.type") != "thinking"
    assert get(out, "messages.0.content.0.signature") is None
    assert get(out, "messages.0.role") == "user"


def test_groups_assistant_and_tool_result_turns() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_GroupsAssistantAndToolResultTurns (the
    reasoning item of the CPA case is left to the signatures port)."""
    out = to_claude(
        {
            "input": [
                assistant("visible answer"),
                fn_call("call_first", "read_file", '{"path":"first"}'),
                fn_call("call_second", "read_file", '{"path":"second"}'),
                fn_out("call_first", "first result"),
                fn_out("call_second", "second result"),
            ]
        }
    )
    assert len(out["messages"]) == 2
    first, second = out["messages"]
    assert first["role"] == "assistant"
    assert [b["type"] for b in first["content"]] == ["text", "tool_use", "tool_use"]
    assert [b.get("id") for b in first["content"][1:]] == ["call_first", "call_second"]
    assert second["role"] == "user"
    assert [(b["type"], b["tool_use_id"]) for b in second["content"]] == [
        ("tool_result", "call_first"),
        ("tool_result", "call_second"),
    ]


def test_merges_consecutive_user_messages_and_preserves_cache_control() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_MergesConsecutiveUserMessagesAndPreservesCacheControl
    (defect 2)."""
    out = to_claude({"input": [user("first", cache_control={"type": "ephemeral"}), user("second")]})
    assert len(out["messages"]) == 1
    content = out["messages"][0]["content"]
    assert [b["text"] for b in content] == ["first", "second"]
    assert get(content[0], "cache_control.type") == "ephemeral"
    assert "cache_control" not in content[1]


def test_does_not_merge_across_role_changes() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DoesNotMergeAcrossRoleChanges."""
    out = to_claude(
        {"input": [assistant("first assistant"), user("user reply"), assistant("second assistant")]}
    )
    assert [m["role"] for m in out["messages"]] == ["assistant", "user", "assistant"]


def test_empty_string_content_does_not_break_assistant_turn() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_EmptyStringContentDoesNotBreakAssistantTurn."""
    out = to_claude(
        {
            "input": [
                {"type": "message", "role": "assistant", "content": "first assistant"},
                {"type": "message", "role": "user", "content": ""},
                {"type": "message", "role": "assistant", "content": "second assistant"},
            ]
        }
    )
    assert len(out["messages"]) == 1
    assert out["messages"][0]["role"] == "assistant"
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "first assistant"},
        {"type": "text", "text": "second assistant"},
    ]


def test_function_call_output_preserves_input_image() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_FunctionCallOutputPreservesInputImage."""
    out = to_claude(
        {
            "input": [
                fn_call("call_view_image_1", "view_image"),
                fn_out(
                    "call_view_image_1",
                    [
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,iVBORw0KGgo=",
                            "detail": "high",
                        }
                    ],
                ),
            ]
        }
    )
    result = get(out, "messages.1.content.0")
    assert result["type"] == "tool_result"
    assert get(result, "content.0.type") == "image"
    assert get(result, "content.0.source.media_type") == "image/png"
    assert get(result, "content.0.source.data") == "iVBORw0KGgo="
    assert "data:image" not in str(result["content"])


def test_keeps_tool_use_adjacent_to_tool_result() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_KeepsToolUseAdjacentToToolResult."""
    cid = "call_00_awGuheXs4aRbtedNK8LE3743"
    out = to_claude(
        {
            "input": [
                fn_call(
                    cid, "js", '{"code":"nodeRepl.write(\'ok\')","title":"List Obsidian vault contents"}'
                ),
                assistant("I'll check your Obsidian vault for articles."),
                fn_out(cid, 'Wall time: 0.1963 seconds\nOutput:\n[{"type":"text","text":""}]'),
            ]
        }
    )
    assert len(out["messages"]) == 2
    assert get(out, "messages.0.role") == "assistant"
    assert get(out, "messages.0.content.0.text") == "I'll check your Obsidian vault for articles."
    assert get(out, "messages.0.content.1.type") == "tool_use"
    assert get(out, "messages.0.content.1.id") == cid
    assert get(out, "messages.1.content.0.type") == "tool_result"
    assert get(out, "messages.1.content.0.tool_use_id") == cid


def test_drops_apply_patch_custom_tool() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DropsApplyPatchCustomTool."""
    out = to_claude(
        {
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "tools": [
                {
                    "type": "custom",
                    "name": "apply_patch",
                    "description": "Use the apply_patch tool to edit files.",
                    "format": {"type": "grammar", "syntax": "lark", "definition": "start: patch"},
                },
                {
                    "type": "function",
                    "name": "exec_command",
                    "description": "Runs a command.",
                    "parameters": {
                        "type": "object",
                        "properties": {"cmd": {"type": "string"}},
                        "required": ["cmd"],
                    },
                },
            ],
        }
    )
    assert [t["name"] for t in out["tools"]] == ["exec_command"]


def test_normalizes_root_tool_schema_union() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_NormalizesRootToolSchemaUnion (defect 3)."""
    out = to_claude(
        {
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "parameters": {
                        "type": "object",
                        "properties": {"query": {"type": "string"}, "id": {"type": "string"}},
                        "oneOf": [{"required": ["query"]}, {"required": ["id"]}],
                    },
                }
            ],
        }
    )
    schema = get(out, "tools.0.input_schema")
    assert schema["type"] == "object"
    assert "oneOf" not in schema
    assert set(schema["properties"]) == {"query", "id"}
    assert "required" not in schema


def test_merges_additional_tools_and_prefers_top_level() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_MergesAdditionalToolsAndPrefersTopLevel."""
    out = to_claude(
        {
            "tools": [
                {
                    "type": "function",
                    "name": "exec",
                    "description": "top-level exec",
                    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
                },
                {
                    "type": "namespace",
                    "name": "collaboration",
                    "tools": [
                        {
                            "type": "function",
                            "name": "spawn",
                            "description": "top-level spawn",
                            "parameters": {"type": "object", "properties": {}},
                        }
                    ],
                },
            ],
            "input": [
                {
                    "type": "additional_tools",
                    "role": "developer",
                    "tools": [
                        {"type": "custom", "name": "exec", "description": "additional exec"},
                        {
                            "type": "function",
                            "name": "wait",
                            "parameters": {"type": "object", "properties": {}},
                        },
                        {
                            "type": "namespace",
                            "name": "collaboration",
                            "tools": [
                                {
                                    "type": "function",
                                    "name": "spawn",
                                    "parameters": {"type": "object", "properties": {}},
                                },
                                {"type": "custom", "name": "send", "description": "send a message"},
                            ],
                        },
                    ],
                },
                user("hello"),
            ],
        }
    )
    tools = tools_named(out)
    assert len(out["tools"]) == 4
    assert tools["exec"]["description"] == "top-level exec"
    assert "wait" in tools and "collaboration__spawn" in tools
    assert get(tools["collaboration__send"], "input_schema.properties.input.type") == "string"


def test_deduplicates_expanded_tool_names() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DeduplicatesExpandedToolNames."""
    empty = {"type": "object", "properties": {}}
    out = to_claude(
        {
            "tools": [
                {
                    "type": "function",
                    "name": "collaboration__send",
                    "description": "top-level send",
                    "parameters": empty,
                }
            ],
            "input": [
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "collaboration",
                            "tools": [
                                {
                                    "type": "function",
                                    "name": "send",
                                    "description": "additional send",
                                    "parameters": empty,
                                },
                                {"type": "function", "name": "other", "parameters": empty},
                            ],
                        }
                    ],
                }
            ],
        }
    )
    tools = tools_named(out)
    assert len(out["tools"]) == 2
    assert tools["collaboration__send"]["description"] == "top-level send"
    assert "collaboration__other" in tools


def test_direct_tool_wins_over_earlier_namespace_collision() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DirectToolWinsOverEarlierNamespaceCollision."""
    out = to_claude(
        {
            "tools": [
                {
                    "type": "namespace",
                    "name": "n",
                    "tools": [
                        {"type": "function", "name": "x", "parameters": {"type": "object", "properties": {}}}
                    ],
                },
                {"type": "custom", "name": "n__x"},
            ],
            "tool_choice": {"type": "custom", "name": "n__x"},
        }
    )
    assert len(out["tools"]) == 1
    assert get(out, "tools.0.name") == "n__x"
    assert get(out, "tools.0.input_schema.properties.input.type") == "string"
    assert get(out, "tool_choice.name") == "n__x"


def test_prefers_direct_tool_across_additional_sources() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_PrefersDirectToolAcrossAdditionalSources."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "n",
                            "tools": [
                                {
                                    "type": "function",
                                    "name": "x",
                                    "description": "namespace x",
                                    "parameters": {"type": "object", "properties": {}},
                                }
                            ],
                        }
                    ],
                },
                {
                    "type": "additional_tools",
                    "tools": [{"type": "custom", "name": "n__x", "description": "direct x"}],
                },
            ]
        }
    )
    assert len(out["tools"]) == 1
    assert get(out, "tools.0.description") == "direct x"
    assert get(out, "tools.0.input_schema.properties.input.type") == "string"


def test_preserves_tool_declaration_order() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_PreservesToolDeclarationOrder."""
    empty = {"type": "object", "properties": {}}
    out = to_claude(
        {
            "tools": [
                {"type": "function", "name": "first", "parameters": empty},
                {
                    "type": "namespace",
                    "name": "n",
                    "tools": [{"type": "function", "name": "middle", "parameters": empty}],
                },
                {"type": "function", "name": "last", "parameters": empty},
            ]
        }
    )
    assert [t["name"] for t in out["tools"]] == ["first", "n__middle", "last"]


def test_replays_custom_tool_call_history() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_ReplaysCustomToolCallHistory (defect 7:
    the replayed custom input is kept, as ``input.input``)."""
    out = to_claude(
        {
            "input": [
                {"type": "custom_tool_call", "call_id": "call.custom:1", "name": "exec", "input": "pwd"},
                fn_out("call.custom:1", "/workspace", "custom_tool_call_output"),
            ]
        }
    )
    use = get(out, "messages.0.content.0")
    assert use["type"] == "tool_use"
    assert use["id"] == "call_custom_1"
    assert use["input"] == {"input": "pwd"}
    result = get(out, "messages.1.content.0")
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == "call_custom_1"
    assert result["content"] == "/workspace"


def test_replays_namespaced_function_call_history() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_ReplaysNamespacedFunctionCallHistory."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "mcp__node_repl",
                            "tools": [
                                {
                                    "type": "function",
                                    "name": "js",
                                    "parameters": {"type": "object", "properties": {}},
                                }
                            ],
                        }
                    ],
                },
                fn_call("call.namespace", "js", '{"code":"pwd"}', namespace="mcp__node_repl"),
                fn_out("call.namespace", "ok"),
            ]
        }
    )
    assert "mcp__node_repl__js" in tools_named(out)
    assert get(out, "messages.0.content.0.name") == "mcp__node_repl__js"
    assert get(out, "messages.1.content.0.tool_use_id") == "call_namespace"


def test_maps_custom_tool_choice() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_MapsCustomAndNamespacedToolChoice/custom."""
    out = to_claude(
        {"tools": [{"type": "custom", "name": "exec"}], "tool_choice": {"type": "custom", "name": "exec"}}
    )
    assert get(out, "tool_choice") == {"type": "tool", "name": "exec"}


def test_maps_namespaced_tool_choice() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_MapsCustomAndNamespacedToolChoice/namespace."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "mcp__node_repl",
                            "tools": [{"type": "function", "name": "js"}],
                        }
                    ],
                }
            ],
            "tool_choice": {"type": "function", "name": "js", "namespace": "mcp__node_repl"},
        }
    )
    assert get(out, "tool_choice") == {"type": "tool", "name": "mcp__node_repl__js"}


def test_maps_tool_choice_top_level_short_name_wins() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_MapsCustomAndNamespacedToolChoice/top-level-short-name-wins."""
    out = to_claude(
        {
            "tools": [{"type": "function", "name": "foo"}],
            "input": [
                {
                    "type": "additional_tools",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "mcp__tools",
                            "tools": [{"type": "function", "name": "foo"}],
                        }
                    ],
                }
            ],
            "tool_choice": {"type": "function", "name": "foo"},
        }
    )
    assert get(out, "tool_choice") == {"type": "tool", "name": "foo"}


@pytest.mark.parametrize(
    ("namespace", "child", "want"),
    [
        ("collab", "collaboration", "collab__collaboration"),
        ("collab", "collab__send", "collab__send"),
        ("collab__", "send", "collab__send"),
        ("mcp__node_repl", "mcp__node_repl__js", "mcp__node_repl__js"),
    ],
)
def test_qualify_namespace_tool_name_avoids_prefix_collision(namespace: str, child: str, want: str) -> None:
    """TestQualifyResponsesNamespaceToolNameAvoidsPrefixCollision."""
    out = to_claude(
        {"tools": [{"type": "namespace", "name": namespace, "tools": [{"type": "function", "name": child}]}]}
    )
    assert get(out, "tools.0.name") == want


def test_preserves_content_part_cache_control() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_PreservesContentPartCacheControl."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "cached prefix",
                            "cache_control": {"type": "ephemeral"},
                        },
                        {"type": "input_text", "text": "fresh question"},
                    ],
                }
            ]
        },
        "claude-sonnet-4-5",
    )
    content = get(out, "messages.0.content")
    assert isinstance(content, list)
    assert get(content[0], "cache_control.type") == "ephemeral"
    assert "cache_control" not in content[1]


def test_system_level_inputs_become_separate_system_blocks() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SystemLevelInputsBecomeSeparateSystemBlocks."""
    out = to_claude(
        {
            "instructions": "I1",
            "input": [
                {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "S1"}]},
                user("U1"),
                {"type": "message", "role": "developer", "content": "D1"},
                assistant("A1"),
                {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "S2"}]},
            ],
        },
        "claude-opus-5",
    )
    assert [(b["type"], b["text"]) for b in out["system"]] == [("text", t) for t in ("I1", "S1", "D1", "S2")]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant"]
    flat = str(out["messages"])
    assert "I1" not in flat and "S1" not in flat and "D1" not in flat


def test_system_only_input_keeps_fallback_user_message() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SystemOnlyInputKeepsFallbackUserMessage."""
    out = to_claude({"instructions": "I1"}, "claude-opus-5")
    assert len(out["system"]) == 1
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_system_non_text_part_is_left_out() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SystemNonTextPartKeptAsTypedMarker. CPA
    keeps a ``{"type": "input_image"}`` marker block in ``system``; Claude accepts only
    text blocks there, so we leave the image out (the text stays)."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "message",
                    "role": "developer",
                    "content": [
                        {"type": "input_text", "text": "D1"},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                    ],
                },
                user("U1"),
            ]
        },
        "claude-opus-5",
    )
    assert out["system"] == [{"type": "text", "text": "D1"}]


def test_system_item_cache_control_applies_to_last_block() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_SystemItemCacheControlAppliesToLastBlock (defect 2)."""
    out = to_claude(
        {
            "input": [
                {
                    "type": "message",
                    "role": "system",
                    "cache_control": {"type": "ephemeral"},
                    "content": [{"type": "input_text", "text": "S1"}, {"type": "input_text", "text": "S2"}],
                },
                user("U1"),
            ]
        },
        "claude-opus-5",
    )
    system = out["system"]
    assert len(system) == 2
    assert "cache_control" not in system[0]
    assert get(system[1], "cache_control.type") == "ephemeral"


def test_deduplicates_tool_outputs() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DeduplicatesToolOutputs (defect 10). CPA's
    orphan outputs (custom call.custom:dup and the empty call_id, with no call before
    them) are left out of this port: our Responses parser refuses an output with no call."""
    out = to_claude(
        {
            "input": [
                user("Use lookup."),
                fn_call("toolu_dup", "lookup"),
                fn_out("toolu_dup", "first result"),
                assistant("Intermediate step"),
                fn_call("toolu_parallel", "other"),
                fn_out("toolu_dup", "final result"),
                fn_out("toolu_parallel", "parallel result"),
            ]
        }
    )
    messages = out["messages"]
    assert messages[0]["role"] == "user"
    assert get(messages[1], "content.0.type") == "tool_use"
    assert get(messages[1], "content.0.id") == "toolu_dup"
    assert messages[2]["role"] == "user"
    assert get(messages[2], "content.0.tool_use_id") == "toolu_dup"
    assert get(messages[2], "content.0.content") == "final result"
    assert messages[3]["role"] == "assistant"
    assert get(messages[3], "content.0.text") == "Intermediate step"
    assert get(messages[3], "content.1.id") == "toolu_parallel"
    assert [(b["tool_use_id"], b["content"]) for b in messages[4]["content"]] == [
        ("toolu_parallel", "parallel result")
    ]


@pytest.mark.parametrize(
    ("tier", "effort", "speed"),
    [
        (None, None, None),
        ("default", None, None),
        ("standard", None, None),
        ("flex", None, None),
        ("priority", None, "fast"),
        ("priority", "low", "fast"),
        ("priority", "medium", "fast"),
        ("priority", "high", "fast"),
        ("priority", "xhigh", "fast"),
        ("priority", "max", "fast"),
    ],
    ids=[
        "absent service_tier omits speed",
        "default service_tier omits speed",
        "standard service_tier omits speed",
        "unsupported service_tier omits speed",
        "priority service_tier emits fast speed",
        "priority with low reasoning effort",
        "priority with medium reasoning effort",
        "priority with high reasoning effort",
        "priority with xhigh reasoning effort",
        "priority with max reasoning effort",
    ],
)
def test_service_tier_to_speed(tier: str | None, effort: str | None, speed: str | None) -> None:
    """TestConvertOpenAIResponsesRequestToClaude_ServiceTierToSpeed (Claude fast mode)."""
    body: dict[str, Any] = {"input": [user("hello")]}
    if tier is not None:
        body["service_tier"] = tier
    if effort is not None:
        body["reasoning"] = {"effort": effort}
    out = to_claude(body, "claude-3-7-sonnet-20250219")
    assert out.get("speed") == speed


@pytest.mark.parametrize(
    "user_id",
    [
        "custom-resp-user-123",
        'foo"bar\nbaz\\qux',
        '{"device_id":"' + "0" * 64 + '","session_id":"11111111-2222-4333-8444-555555555555"}',
    ],
    ids=["plain string", "special characters and json string", "claude code json format"],
)
def test_preserves_caller_supplied_metadata_user_id(user_id: str) -> None:
    """TestConvertOpenAIResponsesRequestToClaude_PreservesCallerSuppliedMetadataUserID."""
    out = to_claude({"metadata": {"user_id": user_id}, "input": [user("hello")]})
    assert get(out, "metadata.user_id") == user_id


def test_preserves_user_field() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_PreservesUserField."""
    out = to_claude({"user": "openai-resp-user-456", "input": [user("hello")]})
    assert get(out, "metadata.user_id") == "openai-resp-user-456"


def attempt(body: dict[str, Any]) -> dict[str, Any]:
    return claude_attempt(RESPONSES, {"model": "claude-test", **body}, "claude-test")


def derived(out: dict[str, Any]) -> str:
    """The attempt body's ``metadata.user_id``, checked to be a derived SHA-256."""
    value: str = get(out, "metadata.user_id")
    assert len(value) == 64 and int(value, 16) >= 0
    return value


def test_different_sessions_produce_different_user_ids() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DifferentSessionsProduceDifferentUserIDs.
    (The value is the attempt's: the Claude provider's carrier writes it, see
    test_common_claude_user_id.py; the translation alone leaves none.)"""
    a = derived(attempt({"prompt_cache_key": "resp-session-a", "input": [user("hello")]}))
    assert a != derived(attempt({"prompt_cache_key": "resp-session-b", "input": [user("hello")]}))


def test_different_user_content_with_same_system_prompt() -> None:
    """TestConvertOpenAIResponsesRequestToClaude_DifferentUserContentWithSameSystemPrompt."""

    def body(question: str) -> dict[str, Any]:
        return {
            "instructions": "global instruction",
            "input": [
                {"type": "message", "role": "system", "content": "system context"},
                {"type": "message", "role": "user", "content": question},
            ],
        }

    assert derived(attempt(body("user question A"))) != derived(attempt(body("user question B")))


def test_web_search_tool_maps_to_claude_server_tool() -> None:
    """CPA claude_openai-responses_request.go convertResponsesWebSearchToolToClaude (no Go
    test): a Responses web_search tool becomes Claude's web_search_20250305 with its
    domain filter and location; one barred from the web is left out."""
    out = to_claude(
        {
            "input": [user("search")],
            "tools": [
                {
                    "type": "web_search",
                    "filters": {"allowed_domains": ["example.com"]},
                    "user_location": {"type": "approximate", "country": "US"},
                },
                {"type": "web_search_preview", "external_web_access": False},
            ],
        }
    )
    assert out["tools"] == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "allowed_domains": ["example.com"],
            "user_location": {"type": "approximate", "country": "US"},
        }
    ]
