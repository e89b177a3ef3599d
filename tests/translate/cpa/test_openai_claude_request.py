"""CPA internal/translator/openai/claude/openai_claude_request_test.go: Claude Messages
client -> OpenAI Chat Completions upstream, request side."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.translate.openai_chat.build import _object_properties
from tests.translate.cpa._run import CLAUDE, OPENAI, get, req


def to_chat(body: dict[str, Any], model: str = "test-model") -> dict[str, Any]:
    return req(CLAUDE, OPENAI, {"model": "claude-3-opus", **body}, model)


def texts(content: Any) -> list[str]:
    """The texts of a Chat ``content`` (a string or a parts list)."""
    if isinstance(content, str):
        return [content] if content else []
    if isinstance(content, list):
        return [p["text"] for p in content if p.get("type") == "text"]
    return []


def last_non_system(out: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in reversed(out["messages"]) if m["role"] != "system")


THINKING_CASES = [
    (
        "AC1: unsigned assistant thinking is dropped",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Let me analyze this step by step..."},
                    {"type": "text", "text": "Here is my response."},
                ],
            }
        ],
        None,
        "Here is my response.",
    ),
    (
        "AC2: redacted_thinking must be ignored",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "secret"},
                    {"type": "text", "text": "Visible response."},
                ],
            }
        ],
        None,
        "Visible response.",
    ),
    (
        "AC3: unsigned thinking-only message is dropped",
        [{"role": "assistant", "content": [{"type": "thinking", "thinking": "Internal reasoning only."}]}],
        None,
        None,
    ),
    (
        "AC4: thinking in user role must be ignored",
        [
            {
                "role": "user",
                "content": [
                    {"type": "thinking", "thinking": "Injected thinking"},
                    {"type": "text", "text": "User message."},
                ],
            }
        ],
        None,
        "User message.",
    ),
    (
        "AC5: empty thinking must be ignored",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": ""},
                    {"type": "text", "text": "Response with empty thinking."},
                ],
            }
        ],
        None,
        "Response with empty thinking.",
    ),
    (
        "AC5: whitespace-only thinking must be ignored",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "   \n\t  "},
                    {"type": "text", "text": "Response with whitespace thinking."},
                ],
            }
        ],
        None,
        "Response with whitespace thinking.",
    ),
    (
        "Unsigned thinking parts are dropped",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "First thought."},
                    {"type": "thinking", "thinking": "Second thought."},
                    {"type": "text", "text": "Final answer."},
                ],
            }
        ],
        None,
        "Final answer.",
    ),
    (
        "Mixed unsigned thinking and redacted_thinking",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Visible thought."},
                    {"type": "redacted_thinking", "data": "hidden"},
                    {"type": "text", "text": "Answer."},
                ],
            }
        ],
        None,
        "Answer.",
    ),
]


@pytest.mark.parametrize(
    ("name", "messages", "reasoning", "text"), THINKING_CASES, ids=[c[0] for c in THINKING_CASES]
)
def test_thinking_to_reasoning_content(
    name: str, messages: list[Any], reasoning: str | None, text: str | None
) -> None:
    """TestConvertClaudeRequestToOpenAI_ThinkingToReasoningContent."""
    out = to_chat({"messages": messages})
    if not out["messages"]:
        assert text is None
        return
    msg = last_non_system(out)
    assert msg.get("reasoning_content") == reasoning
    if text is None:
        assert texts(msg.get("content")) == []
    else:
        assert texts(msg.get("content"))[0] == text


def test_thinking_in_system_role_is_refused() -> None:
    """TestConvertClaudeRequestToOpenAI_ThinkingToReasoningContent/"AC4: thinking in system
    role must be ignored". CPA ignores a thinking block in ``system``; Claude itself
    refuses one there, and so do we, with a 400 naming the block."""
    body = {
        "system": [
            {"type": "thinking", "thinking": "Injected system thinking"},
            {"type": "text", "text": "System prompt."},
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }
    with pytest.raises(RequestError, match=r"system\[0\]"):
        to_chat(body)


def gpt_signature() -> str:
    """CPA's validGPTChatReasoningSignature: an encrypted_content-shaped payload."""
    raw = bytearray(1 + 8 + 16 + 16 + 32)
    raw[0], raw[8] = 0x80, 1
    for i in range(9, len(raw)):
        raw[i] = i
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("signature", "kept"),
    [
        pytest.param(gpt_signature(), True, id="GPT-compatible signature keeps reasoning_content"),
        pytest.param("claude#EjQ=", False, id="Claude signature drops reasoning_content"),
        pytest.param(
            "gemini#EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA",
            False,
            id="Gemini signature drops reasoning_content",
        ),
        pytest.param("not-a-provider-signature", False, id="Unknown signature drops reasoning_content"),
    ],
)
def test_signed_thinking_compatibility(signature: str, kept: bool) -> None:
    """TestConvertClaudeRequestToOpenAI_SignedThinkingCompatibility."""
    out = to_chat(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "provider state", "signature": signature},
                        {"type": "text", "text": "visible answer"},
                    ],
                }
            ]
        },
        "gpt-5",
    )
    msg = out["messages"][0]
    assert ("reasoning_content" in msg) is kept
    assert texts(msg["content"]) == ["visible answer"]


def test_unsigned_thinking_only_message_dropped() -> None:
    """TestConvertClaudeRequestToOpenAI_UnsignedThinkingOnlyMessageDropped."""
    out = to_chat(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "Let me calculate: 2+2=4"}],
                },
                {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
            ]
        }
    )
    assert len(out["messages"]) == 2
    assert all("reasoning_content" not in m for m in out["messages"])


def test_message_system_role_wraps_as_user_reminder() -> None:
    """TestConvertClaudeRequestToOpenAI_MessageSystemRoleWrapsAsUserReminder."""
    out = to_chat(
        {
            "system": [{"type": "text", "text": "Top-level rules"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "system", "content": "String mid-conversation rule"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hi there"}]},
                {"role": "system", "content": [{"type": "text", "text": "Array mid-conversation rule"}]},
                {"role": "user", "content": [{"type": "text", "text": "Follow up"}]},
            ],
        },
        "gpt-5",
    )
    messages = out["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "user", "assistant", "user", "user"]
    assert texts(messages[0]["content"]) == ["Top-level rules"]
    assert (
        get(messages[2], "content.0.text")
        == "<system-reminder>\nString mid-conversation rule\n</system-reminder>"
    )
    assert (
        get(messages[4], "content.0.text")
        == "<system-reminder>\nArray mid-conversation rule\n</system-reminder>"
    )


@pytest.mark.parametrize(
    ("system", "want"),
    [
        pytest.param(None, None, id="No system field"),
        pytest.param("", None, id="Empty string system field"),
        pytest.param("Be helpful", "Be helpful", id="String system field"),
        pytest.param(
            [{"type": "text", "text": "Array system"}], "Array system", id="Array system field with text"
        ),
        pytest.param(
            [{"type": "text", "text": "Block 1"}, {"type": "text", "text": "Block 2"}],
            "Block 2",
            id="Array system field with multiple text blocks",
        ),
    ],
)
def test_system_message_scenarios(system: Any, want: str | None) -> None:
    """TestConvertClaudeRequestToOpenAI_SystemMessageScenarios (several blocks stay
    separate parts; the last one is checked, as CPA does)."""
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}]}
    if system is not None:
        body["system"] = system
    out = to_chat(body)
    first = out["messages"][0]
    if want is None:
        assert first["role"] != "system"
    else:
        assert first["role"] == "system"
        assert texts(first["content"])[-1] == want


def test_tool_schema_adds_missing_object_properties() -> None:
    """TestConvertClaudeRequestToOpenAI_ToolSchemaAddsMissingObjectProperties."""
    out = to_chat(
        {
            "tools": [
                {"name": "empty_params", "description": "No args", "input_schema": {"type": "object"}},
                {
                    "name": "nested_params",
                    "description": "Nested args",
                    "input_schema": {
                        "type": "object",
                        "properties": {
                            "nested": {"type": "object"},
                            "items": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            ],
            "messages": [{"role": "user", "content": "hello"}],
        }
    )
    assert get(out, "tools.0.function.parameters.properties") == {}
    assert get(out, "tools.1.function.parameters.properties.nested.properties") == {}
    assert get(out, "tools.1.function.parameters.properties.items.items.properties") == {}


def tool_turn(result: Any, *before_after: str) -> list[dict[str, Any]]:
    user: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": "call_1", "content": result}]
    if before_after:
        user = [{"type": "text", "text": before_after[0]}, *user, {"type": "text", "text": before_after[1]}]
    return [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_1", "name": "do_work", "input": {"a": 1}}],
        },
        {"role": "user", "content": user},
    ]


def test_tool_result_order_and_content() -> None:
    """TestConvertClaudeRequestToOpenAI_ToolResultOrderAndContent (defect 5: the tool
    message comes right after the assistant's tool_calls)."""
    out = to_chat({"messages": tool_turn([{"type": "text", "text": "tool ok"}], "before", "after")})
    messages = out["messages"]
    assert len(messages) == 3
    assert messages[0]["role"] == "assistant" and messages[0]["tool_calls"]
    assert messages[1]["role"] == "tool"
    assert messages[1]["tool_call_id"] == "call_1"
    assert messages[1]["content"] == "tool ok"
    assert messages[2]["role"] == "user"
    assert texts(messages[2]["content"]) == ["before", "after"]


def test_tool_result_object_content() -> None:
    """TestConvertClaudeRequestToOpenAI_ToolResultObjectContent."""
    import orjson

    out = to_chat({"messages": tool_turn({"foo": "bar"})})
    messages = out["messages"]
    assert len(messages) == 2
    assert messages[1]["role"] == "tool"
    assert orjson.loads(messages[1]["content"]) == {"foo": "bar"}


def test_tool_result_text_and_image_content() -> None:
    """TestConvertClaudeRequestToOpenAI_ToolResultTextAndImageContent. CPA puts the
    image_url part inside the tool message; OpenAI accepts only text parts there, so the
    image follows the tool message in a user message (our documented difference)."""
    out = to_chat(
        {
            "messages": tool_turn(
                [
                    {"type": "text", "text": "tool ok"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBORw0KGgoAAAANSUhEUg==",
                        },
                    },
                ]
            )
        }
    )
    messages = out["messages"]
    assert messages[1] == {"role": "tool", "tool_call_id": "call_1", "content": "tool ok"}
    assert messages[2]["role"] == "user"
    assert get(messages[2], "content.0.type") == "image_url"
    assert get(messages[2], "content.0.image_url.url") == "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="


def test_tool_result_url_image_only() -> None:
    """TestConvertClaudeRequestToOpenAI_ToolResultURLImageOnly (a bare image block as
    the result; the image rides in the following user message, as above)."""
    out = to_chat(
        {
            "messages": tool_turn(
                {"type": "image", "source": {"type": "url", "url": "https://example.com/tool.png"}}
            )
        }
    )
    messages = out["messages"]
    assert messages[1]["role"] == "tool"
    assert get(messages[2], "content.0.type") == "image_url"
    assert get(messages[2], "content.0.image_url.url") == "https://example.com/tool.png"


def test_assistant_text_tool_use_text_order() -> None:
    """TestConvertClaudeRequestToOpenAI_AssistantTextToolUseTextOrder (defect 10: the
    texts around a tool call stay separate parts)."""
    out = to_chat(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "pre"},
                        {"type": "tool_use", "id": "call_1", "name": "do_work", "input": {"a": 1}},
                        {"type": "text", "text": "post"},
                    ],
                }
            ]
        }
    )
    assert len(out["messages"]) == 1
    msg = out["messages"][0]
    assert msg["role"] == "assistant"
    assert get(msg, "tool_calls.0.id") == "call_1"
    assert get(msg, "tool_calls.0.function.name") == "do_work"
    assert get(msg, "content.0.text") == "pre"
    assert get(msg, "content.1.text") == "post"


def test_assistant_thinking_tool_use_thinking_split() -> None:
    """TestConvertClaudeRequestToOpenAI_AssistantThinkingToolUseThinkingSplit."""
    out = to_chat(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t1"},
                        {"type": "text", "text": "pre"},
                        {"type": "tool_use", "id": "call_1", "name": "do_work", "input": {"a": 1}},
                        {"type": "thinking", "thinking": "t2"},
                        {"type": "text", "text": "post"},
                    ],
                }
            ]
        }
    )
    assert len(out["messages"]) == 1
    msg = out["messages"][0]
    assert texts(msg["content"]) == ["pre", "post"]
    assert msg["tool_calls"]
    assert "reasoning_content" not in msg


def test_strips_claude_code_attribution() -> None:
    """TestConvertClaudeRequestToOpenAI_StripsClaudeCodeAttribution (defect 10)."""
    out = to_chat(
        {
            "system": [
                {
                    "type": "text",
                    "text": "x-anthropic-billing-header: cc_version=2.1.63.abc; cc_entrypoint=cli; cch=12345;",
                },
                {"type": "text", "text": "User system prompt"},
            ],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        },
        "gpt-5",
    )
    first = out["messages"][0]
    assert first["role"] == "system"
    assert texts(first["content"]) == ["User system prompt"]


@pytest.mark.parametrize(
    "stop",
    [["</block>"], ["stop1", "stop2"]],
    ids=["single stop sequence is emitted as array", "multiple stop sequences are emitted as array"],
)
def test_stop_sequences(stop: list[str]) -> None:
    """TestConvertClaudeRequestToOpenAI_StopSequences."""
    out = to_chat({"stop_sequences": stop, "messages": [{"role": "user", "content": "hi"}]}, "gpt-4o")
    assert out["stop"] == stop


def test_tool_schema_properties_reach_into_arrays_and_copy_only_what_changes() -> None:
    """Ours: object nodes inside ``anyOf`` / ``prefixItems`` arrays get their ``properties``
    too; a node that needs none is the client's own object, and the client's schema is
    never edited."""
    kept = {"type": "string", "enum": ["a", "b"]}
    whole = {"type": "object", "properties": {"x": {"type": "integer"}}}
    schema = {
        "type": "object",
        "properties": {
            "choice": {"anyOf": [{"type": "object"}, kept, [{"type": "object"}, 3]]},
            "tuple": {"type": "array", "prefixItems": [kept, {"type": "object", "title": "t"}]},
            "whole": whole,
        },
    }
    before = copy.deepcopy(schema)
    out = _object_properties(schema)
    assert schema == before  # not edited
    choice = out["properties"]["choice"]["anyOf"]
    assert choice[0] == {"type": "object", "properties": {}}
    assert choice[1] is kept
    assert choice[2] == [{"type": "object", "properties": {}}, 3]
    assert out["properties"]["tuple"]["prefixItems"][1] == {"type": "object", "title": "t", "properties": {}}
    assert out["properties"]["tuple"]["prefixItems"][0] is kept
    assert out["properties"]["whole"] is whole  # nothing to add: not copied
    assert _object_properties(whole) is whole
    plain = [kept, 1, "x"]
    assert _object_properties(plain) is plain
