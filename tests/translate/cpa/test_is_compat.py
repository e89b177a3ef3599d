"""CPA's ``is-compat`` translators, run through our hub with ``translate.compat.prepare``
between parse and build (what the pipeline does for a model with ``is-compat: true``).

Ported from CPA internal/translator/codex/claude/codex_claude_compat_test.go,
claude/openai/responses/claude_openai_responses_compat_test.go,
gemini/claude/gemini_claude_compat_test.go,
claude/openai/chat-completions/claude_openai_request_test.go and
internal/runtime/executor/codex_executor_spawn_agent_test.go.
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.formats import Format
from cliproxy.translate.compat import prepare, rewrite_agent_messages
from cliproxy.translate.registry import default_registry
from cliproxy.translate.signatures import GEMINI_SKIP_VALIDATOR


def _translate(source: Format, target: Format, body: dict[str, Any], compat: bool) -> dict[str, Any]:
    reg = default_registry()
    req = reg.adapter(source).parse_request({"model": "deepseek-v4", **body})
    if compat:
        req = prepare(req, target)
    return reg.adapter(target).build_request(req)


_EMPTY_THINKING = {
    "messages": [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "reason", "signature": ""}]}
    ]
}


def test_claude_to_codex_preserves_empty_thinking() -> None:
    """TestConvertClaudeRequestToCodexWithCompatPreservesEmptyThinking: dropped by default;
    with compat a ``reasoning`` item carrying an (empty) ``encrypted_content``."""
    assert _translate(Format.CLAUDE, Format.CODEX, _EMPTY_THINKING, compat=False)["input"] == []
    item = _translate(Format.CLAUDE, Format.CODEX, _EMPTY_THINKING, compat=True)["input"][0]
    assert item["type"] == "reasoning"
    assert item["encrypted_content"] == ""


def test_claude_to_codex_compat_keeps_dropping_foreign_signatures() -> None:
    """convertClaudeRequestToCodex: compat only keeps blank signatures; a signature that
    is neither GPT's nor blank is still dropped."""
    body = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "r", "signature": "opaque"}]}
        ]
    }
    assert _translate(Format.CLAUDE, Format.CODEX, body, compat=True)["input"] == []


def test_responses_to_claude_preserves_empty_and_opaque_reasoning() -> None:
    """TestConvertOpenAIResponsesRequestToClaudeWithCompatPreservesEmptyReasoning: dropped
    by default; with compat a thinking block whose signature is the empty or opaque
    ``encrypted_content`` as it came."""
    empty = {
        "input": [
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "reason"}],
                "encrypted_content": "",
            }
        ]
    }
    assert _translate(Format.RESPONSES, Format.CLAUDE, empty, compat=False)["messages"] == []
    part = _translate(Format.RESPONSES, Format.CLAUDE, empty, compat=True)["messages"][0]["content"][0]
    assert part["type"] == "thinking" and part["signature"] == ""

    opaque = {
        "input": [
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "reason"}],
                "encrypted_content": "opaque-deepseek-id",
            }
        ]
    }
    part = _translate(Format.RESPONSES, Format.CLAUDE, opaque, compat=True)["messages"][0]["content"][0]
    assert part == {"type": "thinking", "thinking": "reason", "signature": "opaque-deepseek-id"}


def test_chat_to_claude_groups_assistant_thinking_text_and_tools() -> None:
    """TestConvertOpenAIRequestToClaudeWithCompat_GroupsAssistantThinkingTextAndTools (and
    CPA: TestConvertOpenAIRequestToClaudeWithCompatPreservesReasoningContent): one
    assistant turn: the reasoning_content as an unsigned thinking block, the text, both
    tool uses."""
    body = {
        "messages": [
            {"role": "assistant", "reasoning_content": "reason", "content": "answer"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "first", "arguments": "{}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "second", "arguments": "{}"}},
                ],
            },
        ]
    }
    messages = _translate(Format.OPENAI, Format.CLAUDE, body, compat=True)["messages"]
    assert len(messages) == 1
    content = messages[0]["content"]
    assert [b["type"] for b in content] == ["thinking", "text", "tool_use", "tool_use"]
    assert content[0] == {"type": "thinking", "thinking": "reason", "signature": ""}
    without = _translate(Format.OPENAI, Format.CLAUDE, body, compat=False)["messages"]
    assert [b["type"] for b in without[0]["content"]] == ["text", "tool_use", "tool_use"]


def test_claude_to_chat_maps_every_thinking_block_to_reasoning() -> None:
    """convertClaudeRequestToOpenAI with preserveThinkingBlocks: assistant thinking becomes
    reasoning_content whatever its signature (default: only GPT-compatible ones)."""
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "reason", "signature": "not-a-gpt-signature"},
                    {"type": "text", "text": "answer"},
                ],
            },
        ]
    }
    default = _translate(Format.CLAUDE, Format.OPENAI, body, compat=False)["messages"][-1]
    assert "reasoning_content" not in default
    compat = _translate(Format.CLAUDE, Format.OPENAI, body, compat=True)["messages"][-1]
    assert compat["reasoning_content"] == "reason" and compat["content"] == "answer"


@pytest.mark.parametrize(
    ("signature", "want"),
    [
        (
            "gemini#EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA",
            "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA",
        ),
        ("claude#opaque-signature-12345", GEMINI_SKIP_VALIDATOR),
        ("", GEMINI_SKIP_VALIDATOR),
    ],
    ids=[
        "preserves valid gemini signature",
        "foreign claude signature maps to bypass sentinel",
        "empty signature maps to bypass sentinel",
    ],
)
def test_claude_to_gemini_signature_compatibility(signature: str, want: str) -> None:
    """TestConvertClaudeRequestToGeminiWithCompat_SignatureCompatibility: with compat the
    thought part keeps its text; a Gemini signature survives (its ``gemini#`` prefix
    gone), anything else becomes the bypass sentinel."""
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "reason", "signature": signature}],
            }
        ]
    }
    part = _translate(Format.CLAUDE, Format.GEMINI, body, compat=True)["contents"][0]["parts"][0]
    assert part == {"text": "reason", "thought": True, "thoughtSignature": want}


def test_claude_to_gemini_preserves_empty_thinking() -> None:
    """TestConvertClaudeRequestToGeminiWithCompatPreservesEmptyThinking: with compat the
    thought part with the bypass signature. (Its default-mode half, where CPA drops the
    block, belongs to the Gemini translator's own tests.)"""
    part = _translate(Format.CLAUDE, Format.GEMINI, _EMPTY_THINKING, compat=True)["contents"][0]["parts"][0]
    assert part == {"text": "reason", "thought": True, "thoughtSignature": GEMINI_SKIP_VALIDATOR}


def test_prepare_leaves_other_pairs_and_user_turns_alone() -> None:
    """Only CPA's compat pairs change; a user turn's thinking is never promoted, and a
    request with nothing to keep is returned as it is (no copy)."""
    reg = default_registry()
    req = reg.adapter(Format.GEMINI).parse_request(
        {"contents": [{"role": "model", "parts": [{"text": "r", "thought": True}]}]}
    )
    assert prepare(req, Format.CLAUDE) is req
    claude = reg.adapter(Format.CLAUDE).parse_request(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    )
    assert prepare(claude, Format.CODEX) is claude


# ---------------------------------------------------------------------- agent_message


def _agent_payload() -> dict[str, Any]:
    return {
        "model": "deepseek-v4-flash",
        "input": [
            {
                "type": "agent_message",
                "id": "amsg_019f92c3-6d77-7880-a6e4-f920867dc6a0",
                "author": "/root",
                "recipient": "/root/arithmetic_question",
                "content": [
                    {
                        "type": "input_text",
                        "text": "Message Type: NEW_TASK\nTask name: /root/arithmetic_question\n",
                    },
                    {"type": "encrypted_content", "encrypted_content": "请出一道四则运算题。"},
                ],
                "internal_chat_message_metadata_passthrough": {"turn_id": "019f92c3"},
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
    }


def test_agent_message_becomes_a_user_message() -> None:
    """TestCodexExecutorIsCompatConvertsAgentMessage (and rewriteCodexAgentMessageInput as
    TestXAIExecutorPrepareResponsesRequestRewritesCodexAgentMessage asserts it): type
    ``message``, role ``user``, the encrypted part as ``input_text``; id, author,
    recipient and metadata stay; the client's own items are not touched."""
    body = _agent_payload()
    original = body["input"]
    assert rewrite_agent_messages(body) is True
    item = body["input"][0]
    assert item["type"] == "message" and item["role"] == "user"
    assert item["content"][1] == {"type": "input_text", "text": "请出一道四则运算题。"}
    assert item["id"] == "amsg_019f92c3-6d77-7880-a6e4-f920867dc6a0"
    assert item["author"] == "/root" and item["recipient"] == "/root/arithmetic_question"
    assert item["internal_chat_message_metadata_passthrough"] == {"turn_id": "019f92c3"}
    assert body["input"][1] is original[1]
    assert original[0]["type"] == "agent_message"  # copy-on-write: the client's list is intact
    assert rewrite_agent_messages({"input": [original[1]]}) is False


_READ = {"type": "tool_use", "id": "call_1", "name": "Read", "input": {}}


@pytest.mark.parametrize(
    ("content", "default", "compat"),
    [
        ([_READ], None, None),
        ([{"type": "thinking", "thinking": "reason", "signature": ""}], None, "reason"),
        ([{"type": "thinking", "thinking": "reason", "signature": "claude#opaque"}, _READ], None, "reason"),
        (
            [
                {"type": "thinking", "thinking": "reason", "signature": ""},
                {"type": "text", "text": "Reading files."},
                {**_READ, "input": {"path": "main.go"}},
            ],
            None,
            "reason",
        ),
    ],
    ids=["tools-no-thinking", "empty-signature", "incompatible-signature", "thinking-text-tools"],
)
def test_claude_to_chat_reasoning_only_from_thinking(
    content: list[dict[str, Any]], default: str | None, compat: str | None
) -> None:
    """CPA: TestConvertClaudeRequestToOpenAIWithCompatDoesNotAddReasoningWithoutThinking,
    TestConvertClaudeRequestToOpenAIWithoutCompatDoesNotAddReasoningForToolCalls,
    TestConvertClaudeRequestToOpenAIWithCompatPreservesEmptySignatureThinking,
    TestConvertClaudeRequestToOpenAIWithCompatPreservesIncompatibleThinking,
    TestConvertClaudeRequestToOpenAIWithCompatPreservesThinkingWithToolCalls: with compat any
    thinking (empty or foreign signature) is ``reasoning_content``; no thinking, none; by
    default none of these; tool calls always stay."""
    body = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": content}]}
    for mode, want in ((False, default), (True, compat)):
        msg = _translate(Format.CLAUDE, Format.OPENAI, body, compat=mode)["messages"][-1]
        assert msg.get("reasoning_content") == want
        assert [c["function"]["name"] for c in msg.get("tool_calls", ())] == [
            b["name"] for b in content if b["type"] == "tool_use"
        ]
