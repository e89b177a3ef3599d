"""CPA internal/translator/claude/openai/chat-completions/claude_openai_request_test.go:
Chat Completions client -> Claude upstream, request side."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import compat
from cliproxy.translate.registry import default_registry
from tests.translate.cpa._run import CLAUDE, OPENAI, claude_attempt, get, req


def to_claude(body: dict[str, Any], model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    return req(OPENAI, CLAUDE, {"model": "gpt-4.1", **body}, model)


def call(cid: str, name: str, args: str = "{}") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def test_groups_assistant_thinking_text_and_tools_with_compat() -> None:
    """TestConvertOpenAIRequestToClaudeWithCompat_GroupsAssistantThinkingTextAndTools: with
    ``is-compat`` the unsigned reasoning_content is kept as a thinking block, first in
    the one assistant turn, before the text and the tool uses."""
    body = {
        "model": "gpt-4.1",
        "messages": [
            {"role": "assistant", "reasoning_content": "reason", "content": "answer"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [call("call_1", "first"), call("call_2", "second")],
            },
        ],
    }
    reg = default_registry()
    parsed = reg.adapter(OPENAI).parse_request(body)
    out = reg.adapter(CLAUDE).build_request(compat.prepare(parsed, CLAUDE))
    assert len(out["messages"]) == 1
    assert [b["type"] for b in out["messages"][0]["content"]] == ["thinking", "text", "tool_use", "tool_use"]


def test_groups_assistant_text_and_tools_without_compat() -> None:
    """TestConvertOpenAIRequestToClaudeWithCompat_GroupsAssistantThinkingTextAndTools, in
    CPA's default (non-compat) mode: two assistant turns merge into one, text before the
    tool uses; unsigned reasoning_content is not sent to Claude."""
    out = to_claude(
        {
            "messages": [
                {"role": "assistant", "reasoning_content": "reason", "content": "answer"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [call("call_1", "first"), call("call_2", "second")],
                },
            ]
        }
    )
    assert len(out["messages"]) == 1
    assert [b["type"] for b in out["messages"][0]["content"]] == ["text", "tool_use", "tool_use"]


def test_merges_tool_result_with_adjacent_user_content() -> None:
    """TestConvertOpenAIRequestToClaude_MergesToolResultWithAdjacentUserContent."""
    out = to_claude(
        {
            "messages": [
                {"role": "assistant", "tool_calls": [call("call_1", "work")]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
                {"role": "user", "content": "continue"},
            ]
        }
    )
    assert len(out["messages"]) == 2
    user = out["messages"][1]["content"]
    assert len(user) == 2
    assert user[0]["type"] == "tool_result"
    assert user[1]["text"] == "continue"


def test_system_does_not_break_user_turn_and_cache_boundary() -> None:
    """TestConvertOpenAIRequestToClaude_SystemDoesNotBreakUserTurnAndCacheBoundary
    (defect 2: message-level cache_control lands on the message's block)."""
    out = to_claude(
        {
            "messages": [
                {"role": "user", "content": "first", "cache_control": {"type": "ephemeral"}},
                {"role": "system", "content": "system rule"},
                {"role": "user", "content": "second"},
            ]
        }
    )
    assert len(out["messages"]) == 1
    content = out["messages"][0]["content"]
    assert len(content) == 2
    assert content[0]["text"] == "first"
    assert get(content[0], "cache_control.type") == "ephemeral"
    assert content[1]["text"] == "second"
    assert "cache_control" not in content[1]
    assert get(out, "system.0.text") == "system rule"


def test_sanitizes_tool_call_ids_for_claude() -> None:
    """TestConvertOpenAIRequestToClaude_SanitizesToolCallIDsForClaude."""
    out = to_claude(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [call("call.with space:1", "Read", '{"path":"README.md"}')],
                },
                {"role": "tool", "tool_call_id": "call.with space:1", "content": "ok"},
            ]
        }
    )
    assert get(out, "messages.0.content.0.id") == "call_with_space_1"
    assert get(out, "messages.1.content.0.tool_use_id") == "call_with_space_1"


def test_groups_consecutive_parallel_tool_results() -> None:
    """TestConvertOpenAIRequestToClaude_GroupsConsecutiveParallelToolResults (a tool
    message's cache_control stays on its tool_result)."""
    out = to_claude(
        {
            "messages": [
                {"role": "user", "content": "Use both tools."},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [call("call_1", "tool_a"), call("call_2", "tool_b")],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": "one",
                    "cache_control": {"type": "ephemeral"},
                },
                {"role": "tool", "tool_call_id": "call_2", "content": "two"},
                {"role": "assistant", "content": "Done."},
            ]
        }
    )
    messages = out["messages"]
    assert len(messages) == 4
    assert messages[2]["role"] == "user"
    results = messages[2]["content"]
    assert [(r["type"], r["tool_use_id"], r["content"]) for r in results] == [
        ("tool_result", "call_1", "one"),
        ("tool_result", "call_2", "two"),
    ]
    assert get(results[0], "cache_control.type") == "ephemeral"
    assert get(messages[3], "content.0.text") == "Done."


def test_drops_temperature() -> None:
    """TestConvertOpenAIRequestToClaude_DropsTemperature (defect 4: with top_p also set,
    temperature goes; newer Claude models refuse the pair)."""
    out = to_claude(
        {"temperature": 0.2, "top_p": 0.8, "messages": [{"role": "user", "content": "hi"}]}, "claude-sonnet-5"
    )
    assert "temperature" not in out
    assert out["top_p"] == 0.8


def test_temperature_alone_is_kept() -> None:
    """TestConvertOpenAIRequestToClaude_DropsTemperature, our difference: CPA never sends
    temperature from Chat; we keep it when it is the only sampling setting, which every
    Claude model accepts."""
    out = to_claude({"temperature": 0.2, "messages": [{"role": "user", "content": "hi"}]})
    assert out["temperature"] == 0.2


def test_tool_result_text_and_base64_image() -> None:
    """TestConvertOpenAIRequestToClaude_ToolResultTextAndBase64Image."""
    out = to_claude(
        {
            "messages": [
                {"role": "assistant", "content": "", "tool_calls": [call("call_1", "do_work", '{"a":1}')]},
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": [
                        {"type": "text", "text": "tool ok"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="},
                        },
                    ],
                },
            ]
        }
    )
    assert len(out["messages"]) == 2
    result = get(out, "messages.1.content.0")
    assert result["type"] == "tool_result" and result["tool_use_id"] == "call_1"
    content = result["content"]
    assert isinstance(content, list)
    assert content[0] == {"type": "text", "text": "tool ok"}
    assert content[1]["type"] == "image"
    assert content[1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgoAAAANSUhEUg==",
    }


def test_tool_result_url_image_only() -> None:
    """TestConvertOpenAIRequestToClaude_ToolResultURLImageOnly."""
    out = to_claude(
        {
            "messages": [
                {"role": "assistant", "content": "", "tool_calls": [call("call_1", "do_work", '{"a":1}')]},
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": [{"type": "image_url", "image_url": {"url": "https://example.com/tool.png"}}],
                },
            ]
        }
    )
    assert len(out["messages"]) == 2
    content = get(out, "messages.1.content.0.content")
    assert isinstance(content, list)
    assert content[0]["type"] == "image"
    assert content[0]["source"] == {"type": "url", "url": "https://example.com/tool.png"}


def test_system_role_becomes_top_level_system() -> None:
    """TestConvertOpenAIRequestToClaude_SystemRoleBecomesTopLevelSystem."""
    out = to_claude(
        {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello"},
            ]
        }
    )
    assert out["system"] == [{"type": "text", "text": "You are a helpful assistant."}]
    assert len(out["messages"]) == 1
    assert out["messages"][0]["role"] == "user"
    assert get(out, "messages.0.content.0.text") == "Hello"


def test_multiple_system_messages_merged_into_top_level_system() -> None:
    """TestConvertOpenAIRequestToClaude_MultipleSystemMessagesMergedIntoTopLevelSystem."""
    out = to_claude(
        {
            "messages": [
                {"role": "system", "content": "Rule 1"},
                {"role": "system", "content": [{"type": "text", "text": "Rule 2"}]},
                {"role": "user", "content": "Hello"},
            ]
        }
    )
    assert [b["text"] for b in out["system"]] == ["Rule 1", "Rule 2"]
    assert len(out["messages"]) == 1
    assert get(out, "messages.0.content.0.text") == "Hello"


def test_system_only_input_keeps_fallback_user_message() -> None:
    """TestConvertOpenAIRequestToClaude_SystemOnlyInputKeepsFallbackUserMessage."""
    out = to_claude({"messages": [{"role": "system", "content": "You are a helpful assistant."}]})
    assert [b["text"] for b in out["system"]] == ["You are a helpful assistant."]
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": ""}]}]


def test_preserves_content_part_cache_control() -> None:
    """TestConvertOpenAIRequestToClaude_PreservesContentPartCacheControl."""
    out = to_claude(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "cached prefix", "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "fresh question"},
                    ],
                }
            ]
        }
    )
    assert get(out, "messages.0.content.0.cache_control.type") == "ephemeral"
    assert "cache_control" not in get(out, "messages.0.content.1")
    assert get(out, "messages.0.content.0.text") == "cached prefix"


def test_preserves_message_level_cache_control() -> None:
    """TestConvertOpenAIRequestToClaude_PreservesMessageLevelCacheControl (defect 2)."""
    out = to_claude(
        {
            "messages": [
                {"role": "user", "content": "cache me", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ]
        }
    )
    assert get(out, "messages.0.content.0.cache_control") == {"type": "ephemeral", "ttl": "1h"}


def test_preserves_tool_cache_control() -> None:
    """TestConvertOpenAIRequestToClaude_PreservesToolCacheControl."""
    out = to_claude(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "description": "Lookup something",
                        "parameters": {"type": "object", "properties": {}},
                    },
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        }
    )
    assert get(out, "tools.0.cache_control.type") == "ephemeral"
    assert get(out, "tools.0.name") == "lookup"


def test_normalizes_root_tool_schema_unions() -> None:
    """TestConvertOpenAIRequestToClaude_NormalizesRootToolSchemaUnions (defect 3)."""
    out = to_claude(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "without_type",
                        "parameters": {
                            "anyOf": [
                                {"type": "object", "properties": {"a": {"type": "string"}}},
                                {"type": "object", "properties": {"b": {"type": "string"}}},
                            ]
                        },
                    },
                },
                {
                    "type": "function",
                    "function": {
                        "name": "constraint_union",
                        "parametersJsonSchema": {
                            "type": "object",
                            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                            "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
                        },
                    },
                },
            ],
        }
    )
    for tool in out["tools"]:
        schema = tool["input_schema"]
        assert schema["type"] == "object", tool["name"]
        assert "anyOf" not in schema
        assert set(schema["properties"]) == {"a", "b"}
        assert "required" not in schema


def test_part_cache_control_wins_over_message_level() -> None:
    """TestConvertOpenAIRequestToClaude_PartCacheControlWinsOverMessageLevel."""
    out = to_claude(
        {
            "messages": [
                {
                    "role": "user",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    "content": [
                        {"type": "text", "text": "part cached", "cache_control": {"type": "ephemeral"}}
                    ],
                }
            ]
        }
    )
    assert get(out, "messages.0.content.0.cache_control") == {"type": "ephemeral"}


def test_developer_role_becomes_top_level_system() -> None:
    """TestConvertOpenAIRequestToClaude_DeveloperRoleBecomesTopLevelSystem."""
    out = to_claude(
        {
            "messages": [
                {"role": "system", "content": "S1"},
                {
                    "role": "developer",
                    "content": [{"type": "text", "text": "D1"}, {"type": "text", "text": "D2"}],
                },
                {"role": "user", "content": "Hello"},
            ]
        }
    )
    assert [(b["type"], b["text"]) for b in out["system"]] == [("text", "S1"), ("text", "D1"), ("text", "D2")]
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_developer_message_cache_control_applies_to_last_block() -> None:
    """TestConvertOpenAIRequestToClaude_DeveloperMessageCacheControlAppliesToLastBlock (defect 2)."""
    out = to_claude(
        {
            "messages": [
                {
                    "role": "developer",
                    "content": [{"type": "text", "text": "D1"}, {"type": "text", "text": "D2"}],
                    "cache_control": {"type": "ephemeral"},
                },
                {"role": "user", "content": "Hello"},
            ]
        }
    )
    system = out["system"]
    assert len(system) == 2
    assert "cache_control" not in system[0]
    assert get(system[1], "cache_control.type") == "ephemeral"


def test_deduplicates_tool_results() -> None:
    """TestConvertOpenAIRequestToClaude_DeduplicatesToolResults (defect 10): a repeated
    result is sent once, where it first appeared, with the last payload."""
    out = to_claude(
        {
            "messages": [
                {"role": "user", "content": "Run tools"},
                {"role": "assistant", "tool_calls": [call("call_dup", "lookup")]},
                {"role": "tool", "tool_call_id": "call_dup", "content": "first output"},
                {"role": "assistant", "content": "Next step", "tool_calls": [call("call_other", "search")]},
                {"role": "tool", "tool_call_id": "call_dup", "content": "final output"},
                {"role": "tool", "tool_call_id": "call_other", "content": "search output"},
            ]
        }
    )
    messages = out["messages"]
    assert get(messages[1], "content.0.id") == "call_dup"
    assert get(messages[2], "content.0.type") == "tool_result"
    assert get(messages[2], "content.0.tool_use_id") == "call_dup"
    assert get(messages[2], "content.0.content") == "final output"
    assert get(messages[3], "content.0.text") == "Next step"
    assert get(messages[3], "content.1.id") == "call_other"
    assert [(b["tool_use_id"], b["content"]) for b in messages[4]["content"]] == [
        ("call_other", "search output")
    ]


def test_tool_result_with_empty_id_answers_the_pending_call() -> None:
    """TestConvertOpenAIRequestToClaude_DeduplicatesToolResults, its empty-id result: CPA's
    Claude translator forwards a tool_result with tool_use_id "" (Claude answers 400); we
    repair the history as CPA's Codex translator does, for every upstream: a tool message
    with no id answers the turn's next unanswered call."""
    body = {
        "messages": [
            {"role": "assistant", "tool_calls": [call("call_1", "lookup")]},
            {"role": "tool", "tool_call_id": "", "content": "empty id output"},
        ]
    }
    out = to_claude(body)
    assert out["messages"][1]["content"][0]["tool_use_id"] == "call_1"


@pytest.mark.parametrize(
    ("body", "want"),
    [
        pytest.param({"max_completion_tokens": 128000}, 128000, id="only max_completion_tokens"),
        pytest.param({"max_tokens": 4096}, 4096, id="only max_tokens"),
        pytest.param(
            {"max_tokens": 4096, "max_completion_tokens": 128000},
            128000,
            id="both present: max_completion_tokens (documented difference)",
        ),
        pytest.param({}, 32000, id="neither present uses default limit"),
    ],
)
def test_max_tokens_and_max_completion_tokens(body: dict[str, Any], want: int) -> None:
    """TestConvertOpenAIRequestToClaude_MaxTokensAndMaxCompletionTokens. With both given
    CPA takes max_tokens; we take max_completion_tokens, the field OpenAI made current
    (max_tokens is deprecated) and the one every other target of ours honours."""
    out = to_claude({"messages": [{"role": "user", "content": "hi"}], **body}, "claude-3-7-sonnet-20250219")
    assert out["max_tokens"] == want


@pytest.mark.parametrize(
    "user_id",
    [
        "custom-user-123",
        'foo"bar\nbaz\\qux',
        '{"device_id":"' + "0" * 64 + '","session_id":"11111111-2222-4333-8444-555555555555"}',
    ],
    ids=["plain string", "special characters and json string", "claude code json format"],
)
def test_preserves_caller_supplied_metadata_user_id(user_id: str) -> None:
    """TestConvertOpenAIRequestToClaude_PreservesCallerSuppliedMetadataUserID."""
    out = to_claude({"metadata": {"user_id": user_id}, "messages": [{"role": "user", "content": "hello"}]})
    assert get(out, "metadata.user_id") == user_id


def test_preserves_openai_user_field() -> None:
    """TestConvertOpenAIRequestToClaude_PreservesOpenAIUserField."""
    out = to_claude({"user": "openai-user-456", "messages": [{"role": "user", "content": "hello"}]})
    assert get(out, "metadata.user_id") == "openai-user-456"


def attempt(body: dict[str, Any]) -> dict[str, Any]:
    return claude_attempt(OPENAI, {"model": "claude-test", **body}, "claude-test")


def derived(out: dict[str, Any]) -> str:
    """The attempt body's ``metadata.user_id``, checked to be a derived SHA-256."""
    value: str = get(out, "metadata.user_id")
    assert len(value) == 64 and int(value, 16) >= 0
    return value


def test_different_sessions_produce_different_user_ids() -> None:
    """TestConvertOpenAIRequestToClaude_DifferentSessionsProduceDifferentUserIDs. (The
    value is the attempt's: the Claude provider's carrier writes it, see
    test_common_claude_user_id.py; the translation alone leaves none.)"""
    msgs = [{"role": "user", "content": "hello"}]
    a = derived(attempt({"prompt_cache_key": "session-a", "messages": msgs}))
    assert a != derived(attempt({"prompt_cache_key": "session-b", "messages": msgs}))


def test_deterministic_without_session_key() -> None:
    """TestConvertOpenAIRequestToClaude_DeterministicWithoutSessionKey."""
    first = [{"role": "user", "content": "stable first message"}]
    second = [*first, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "second message"}]
    assert derived(attempt({"messages": first})) == derived(attempt({"messages": second}))
