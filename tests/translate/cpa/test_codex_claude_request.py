"""Ported from CPA internal/translator/codex/claude/codex_claude_request_test.go: a Claude
Messages client's body for the Codex (Responses) upstream, the thinking signatures that
carry Codex's encrypted reasoning among them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ._run import CLAUDE, CODEX, get, req

CPA = "codex_claude_request_test.go"


def _codex(body: dict[str, Any], model: str = "gpt-5.4") -> dict[str, Any]:
    body = {"model": "claude-3-opus", "max_tokens": 1024, **body}
    return req(CLAUDE, CODEX, body, model)


HELLO = [{"role": "user", "content": "hello"}]

# CPA's validCodexReasoningSignature: Fernet-shaped (version 0x80, timestamp, IV, one AES
# block, HMAC), base64url
CODEX_SIGNATURE = base64.urlsafe_b64encode(bytes([0x80, 0, 0, 0, 0, 0, 0, 0, 1]) + bytes(64)).decode()
GROK_SIGNATURE = (
    "HmlYdr2aCAqCYP/m9mr8PS6KOsdMs72FGDigmydR+Jsmuv8KX97yWPlbOwmXJgWn0CbHaCacdQD3+n5EvpgLfPNmafS3kdICBjRu"
    "Df4bzHy7uBiUhNVhqPtp/ee1y9q4imPE4LYgD1VZ4J+bp9mTeqA1+nC9Oue58CiNEMV9SVaGenCD+aBnVuSTzQhD32Y+68i6HLJW"
    "0Dx6ifaRfb8hxYtA/sPM+/FTvAMW11nRho5a2BBSkpnzfqqAz/e/vGJ77/bygpXM823QA9wL9i0X"
)


def _reasoning_items(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in out["input"] if i.get("type") == "reasoning"]


def test_assistant_thinking_signature_to_reasoning_item() -> None:
    """TestConvertClaudeRequestToCodex_AssistantThinkingSignatureToReasoningItem: a thinking
    block whose signature is Codex's encrypted reasoning goes back as a reasoning item
    (summary [], content null); the thinking text the client saw is not sent."""
    out = _codex(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "thinking",
                            "thinking": "visible summary must not be replayed",
                            "signature": CODEX_SIGNATURE,
                        },
                        {"type": "text", "text": "visible answer"},
                    ],
                },
                {"role": "user", "content": "continue"},
            ]
        },
        "test-model",
    )
    items = out["input"]
    assert len(items) == 3
    assert items[0] == {
        "type": "reasoning",
        "summary": [],
        "content": None,
        "encrypted_content": CODEX_SIGNATURE,
    }
    assert items[1]["role"] == "assistant"
    part = items[1]["content"][0]
    assert (part["type"], part["text"]) == ("output_text", "visible answer")
    assert "visible summary must not be replayed" not in str(out)


@pytest.mark.parametrize(
    ("role", "signature"),
    [("user", CODEX_SIGNATURE), ("assistant", "Eo8Canthropic-state")],
    ids=["user thinking with a Codex-shaped signature", "Anthropic native signature"],
)
def test_ignores_non_codex_thinking_signatures(role: str, signature: str) -> None:
    """TestConvertClaudeRequestToCodex_IgnoresNonCodexThinkingSignatures."""
    content = [
        {"type": "thinking", "thinking": "some thinking", "signature": signature},
        {"type": "text", "text": "hello"},
    ]
    out = _codex({"messages": [{"role": role, "content": content}]}, "test-model")
    assert _reasoning_items(out) == []


@pytest.mark.parametrize("model", ["gpt-5.4", "claude-sonnet-4-6"])
def test_ignores_grok_signature_for_non_grok_targets(model: str) -> None:
    """TestConvertClaudeRequestToCodex_IgnoresGrokSignatureForNonGrokTargets."""
    thinking = {"type": "thinking", "thinking": "summary", "signature": GROK_SIGNATURE}
    messages = [
        {"role": "assistant", "content": [thinking, {"type": "text", "text": "answer"}]},
        {"role": "user", "content": "next"},
    ]
    assert _reasoning_items(_codex({"messages": messages}, model)) == []


def test_assistant_grok_signature_to_reasoning_item() -> None:
    """TestConvertClaudeRequestToCodex_AssistantGrokSignatureToReasoningItem: for a Grok
    model the Grok blob is the reasoning item, summary [] and content null as Codex's."""
    thinking = {"type": "thinking", "thinking": "summary", "signature": GROK_SIGNATURE}
    messages = [
        {"role": "assistant", "content": [thinking, {"type": "text", "text": "answer"}]},
        {"role": "user", "content": "next"},
    ]
    out = _codex({"model": "grok-4.5", "messages": messages}, "grok-4.5")
    assert out["input"][0] == {
        "type": "reasoning",
        "summary": [],
        "content": None,
        "encrypted_content": GROK_SIGNATURE,
    }


@pytest.mark.parametrize(
    ("extra", "texts"),
    [
        ({}, None),
        ({"system": ""}, None),
        ({"system": "Be helpful"}, ["Be helpful"]),
        (
            {
                "system": [
                    {"type": "text", "text": "x-anthropic-billing-header: tenant-123"},
                    {"type": "text", "text": "Block 1"},
                    {"type": "text", "text": "Block 2"},
                ]
            },
            ["Block 1", "Block 2"],
        ),
    ],
    ids=["no system", "empty string system", "string system", "array system with billing header"],
)
def test_system_message_scenarios(extra: dict[str, Any], texts: list[str] | None) -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_SystemMessageScenarios: the system
    prompt is a leading developer message (the billing header block is left out)."""
    out = _codex({**extra, "messages": HELLO})
    first = out["input"][0]
    if texts is None:
        assert first["role"] != "developer"
        assert out.get("instructions", "") == ""
        return
    assert first["role"] == "developer"
    assert [(p["type"], p["text"]) for p in first["content"]] == [("input_text", t) for t in texts]


@pytest.mark.parametrize(
    ("choice", "want"),
    [
        (None, True),
        ({"type": "auto", "disable_parallel_tool_use": True}, False),
        ({"type": "auto", "disable_parallel_tool_use": False}, True),
    ],
    ids=["default true", "client opts out", "client allows"],
)
def test_parallel_tool_calls(choice: dict[str, Any] | None, want: bool) -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_ParallelToolCalls."""
    body: dict[str, Any] = {
        "messages": HELLO,
        "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
    }
    if choice is not None:
        body["tool_choice"] = choice
    assert _codex(body)["parallel_tool_calls"] is want


@pytest.mark.parametrize(
    ("tier", "speed", "want"),
    [
        ("priority", None, "priority"),
        ("fast", None, "priority"),
        ("default", None, None),
        (True, None, None),
        (None, "fast", "priority"),
        (None, "standard", None),
        (None, True, None),
        ("auto", "fast", "priority"),
    ],
    ids=[
        "priority passes through",
        "fast tier normalizes to priority",
        "unsupported tier omitted",
        "non-string tier omitted",
        "fast speed maps to priority",
        "standard speed omitted",
        "non-string speed omitted",
        "fast speed overrides unsupported tier",
    ],
)
def test_service_tier(tier: Any, speed: Any, want: str | None) -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_ServiceTier (fast mode, Codex side)."""
    body: dict[str, Any] = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "Reply with OK"}]}
    if tier is not None:
        body["service_tier"] = tier
    if speed is not None:
        body["speed"] = speed
    out = _codex(body)
    assert out.get("service_tier") == want


def test_shorten_long_tool_use_ids() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_ShortenLongToolUseIDs."""
    long_id = "toolu_" + "a" * 62
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "run pwd"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": long_id, "name": "Bash", "input": {"cmd": "pwd"}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": long_id, "content": "ok"}],
                },
            ],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        }
    )
    call = next(i for i in out["input"] if i.get("type") == "function_call")
    result = next(i for i in out["input"] if i.get("type") == "function_call_output")
    assert call["call_id"] == result["call_id"]
    assert len(call["call_id"]) <= 64 and call["call_id"] != long_id


@pytest.mark.parametrize(
    ("choice", "want"),
    [({"type": "any"}, "required"), ({"type": "none"}, "none"), ({"type": "auto"}, "auto")],
    ids=["any", "none", "auto"],
)
def test_tool_choice_mode_mapping(choice: dict[str, Any], want: str) -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_ToolChoiceModeMapping."""
    out = _codex(
        {
            "tools": [
                {
                    "name": "lookup",
                    "description": "Lookup",
                    "input_schema": {"type": "object", "properties": {}},
                }
            ],
            "tool_choice": choice,
            "messages": HELLO,
        }
    )
    assert out["tool_choice"] == want


def test_tool_choice_specific_function_uses_converted_name() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_ToolChoiceSpecificFunctionUsesConvertedName."""
    long = "mcp__server_with_a_very_long_name_that_exceeds_sixty_four_characters__search"
    out = _codex(
        {
            "tools": [
                {"name": long, "description": "Search", "input_schema": {"type": "object", "properties": {}}}
            ],
            "tool_choice": {"type": "tool", "name": long},
            "messages": HELLO,
        }
    )
    assert out["tool_choice"]["type"] == "function"
    assert out["tool_choice"]["name"] == out["tools"][0]["name"] != long
    assert out["tools"][0]["name"] == "mcp__search"


def test_web_search_tool_mapping() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_WebSearchToolMapping."""
    out = _codex(
        {
            "tools": [
                {
                    "type": "web_search_20260209",
                    "name": "web_search",
                    "allowed_domains": ["example.com"],
                    "blocked_domains": ["blocked.example"],
                    "user_location": {
                        "type": "approximate",
                        "city": "Beijing",
                        "country": "CN",
                        "timezone": "Asia/Shanghai",
                    },
                }
            ],
            "tool_choice": {"type": "tool", "name": "web_search"},
            "messages": HELLO,
        }
    )
    tool = out["tools"][0]
    assert tool["type"] == "web_search"
    assert get(tool, "filters.allowed_domains") == ["example.com"]
    assert "blocked_domains" not in tool
    assert get(tool, "user_location.city") == "Beijing"
    assert out["tool_choice"]["type"] == "web_search"


def test_web_search_tool_choice_uses_declared_typed_tool_name() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_WebSearchToolChoiceUsesDeclaredTypedToolName."""
    out = _codex(
        {
            "tools": [
                {"type": "web_search_20250305", "name": "browser_search"},
                {
                    "name": "web_search",
                    "description": "Local search",
                    "input_schema": {"type": "object", "properties": {}},
                },
            ],
            "tool_choice": {"type": "tool", "name": "web_search"},
            "messages": HELLO,
        },
    )
    assert out["tool_choice"] == {"type": "function", "name": "web_search"}
    assert [t["type"] for t in out["tools"]] == ["web_search", "function"]


def test_preserves_base64_pdf_document_content() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_PreservesBase64PDFDocumentContent."""
    out = _codex(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "before"},
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVBERi0xLjQK",
                            },
                        },
                        {"type": "text", "text": "after"},
                    ],
                }
            ]
        },
        "gpt-5.6-sol",
    )
    content = get(out, "input.0.content")
    assert [p["type"] for p in content] == ["input_text", "input_file", "input_text"]
    assert content[0]["text"] == "before" and content[2]["text"] == "after"
    assert content[1]["file_data"] == "data:application/pdf;base64,JVBERi0xLjQK"
    assert content[1]["filename"].endswith(".pdf")


def test_preserves_content_order_across_tool_and_reasoning_items() -> None:
    """TestConvertClaudeRequestToCodex_PreservesContentOrderAcrossToolAndReasoningItems."""
    out = _codex(
        {
            "system": "system rules",
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "before reasoning"},
                        {"type": "thinking", "thinking": "", "signature": CODEX_SIGNATURE},
                        {"type": "text", "text": "before tool"},
                        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"query": "test"}},
                        {"type": "text", "text": "after tool"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [
                                {"type": "text", "text": "tool output"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": "aW1hZ2U=",
                                    },
                                },
                            ],
                        },
                        {"type": "text", "text": "continue"},
                    ],
                },
            ],
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
        }
    )
    items = out["input"]
    assert [i.get("type", "message") for i in items] == [
        "message",
        "message",
        "reasoning",
        "message",
        "function_call",
        "message",
        "function_call_output",
        "message",
    ]
    assert items[1]["content"][0]["text"] == "before reasoning"
    assert items[2]["encrypted_content"] == CODEX_SIGNATURE
    assert items[3]["content"][0]["text"] == "before tool"
    assert items[5]["content"][0]["text"] == "after tool"
    assert items[6]["output"][0]["type"] == "input_text"
    assert items[6]["output"][1]["image_url"] == "data:image/png;base64,aW1hZ2U="
    assert items[7]["content"][0]["text"] == "continue"


def test_leading_message_system_role_is_a_user_reminder() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_SystemMessageScenarios (message
    system role does not become developer): a ``role: system`` turn inside ``messages`` is
    not the system prompt (that is the body's ``system``), even first: a user reminder."""
    out = _codex({"messages": [{"role": "system", "content": "Follow the project instructions"}, *HELLO]})
    assert [i["role"] for i in out["input"]] == ["user", "user"]
    assert out["input"][0]["content"][0]["text"] == (
        "<system-reminder>\nFollow the project instructions\n</system-reminder>"
    )


def test_message_system_role_wraps_as_user_reminder() -> None:
    """codex_claude_request_test.go TestConvertClaudeRequestToCodex_MessageSystemRoleWrapsAsUserReminder."""
    out = _codex(
        {
            "system": [{"type": "text", "text": "Top-level rules"}],
            "messages": [
                {"role": "user", "content": "hello"},
                {"role": "system", "content": "Follow the project instructions"},
                {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                {"role": "system", "content": [{"type": "text", "text": "Use the current repo"}]},
            ],
        }
    )
    items = out["input"]
    assert len(items) == 5
    assert items[0]["role"] == "developer"
    assert items[2]["role"] == "user"
    assert (
        items[2]["content"][0]["text"]
        == "<system-reminder>\nFollow the project instructions\n</system-reminder>"
    )
    assert items[4]["role"] == "user"
    assert items[4]["content"][0]["text"] == "<system-reminder>\nUse the current repo\n</system-reminder>"


@pytest.mark.parametrize(
    ("thinking", "extra", "want"),
    [
        ({"type": "enabled", "budget_tokens": 512}, {}, "minimal"),
        ({"type": "enabled", "budget_tokens": 1024}, {}, "low"),
        ({"type": "enabled", "budget_tokens": 8000}, {}, "medium"),
        ({"type": "enabled", "budget_tokens": 20000}, {}, "high"),
        ({"type": "enabled", "budget_tokens": 32000}, {}, "xhigh"),
        ({"type": "enabled", "budget_tokens": -1}, {}, "auto"),
        ({"type": "enabled"}, {}, "medium"),
        ({"type": "enabled"}, {"output_config": {"effort": "low"}}, "medium"),
        ({"type": "enabled", "budget_tokens": 20000}, {"output_config": {"effort": "low"}}, "high"),
        ({"type": "adaptive"}, {}, "xhigh"),
        ({"type": "adaptive"}, {"output_config": {"effort": "max"}}, "max"),
        ({"type": "adaptive"}, {"output_config": {"effort": " LOW"}}, "low"),
        ({"type": "auto"}, {"output_config": {"effort": "low"}}, "low"),
        ({"type": "disabled"}, {}, "none"),
        ({"type": "disabled"}, {"output_config": {"effort": "high"}}, "none"),
        (None, {"output_config": {"effort": "low"}}, "medium"),
        (None, {}, "medium"),
    ],
    ids=[
        "512", "1024", "8000", "20000", "32000", "-1", "enabled", "enabled+effort", "budget+effort",
        "adaptive", "adaptive max", "adaptive LOW", "auto low", "disabled", "disabled+effort",
        "effort alone", "nothing",
    ],
)  # fmt: skip
def test_reasoning_effort_from_claude_thinking(
    thinking: dict[str, Any] | None, extra: dict[str, Any], want: str
) -> None:
    """codex_claude_request.go's thinking -> reasoning.effort mapping: "medium" unless the
    thinking type says otherwise; enabled is its budget_tokens by CPA's ConvertBudgetToLevel
    thresholds (-1 is auto; none given: medium); adaptive or auto is output_config.effort
    lower-cased and trimmed, as given (``max`` too: the thinking step fits it to the model),
    else the top level xhigh; disabled is none. An effort beside enabled or disabled
    thinking, or with no thinking, is not read (before, it replaced the translated value,
    so a Claude client's effort alone reached Codex instead of CPA's medium)."""
    body: dict[str, Any] = {"messages": HELLO, **extra}
    if thinking is not None:
        body["thinking"] = thinking
    out = _codex(body)
    assert get(out, "reasoning.effort") == want
