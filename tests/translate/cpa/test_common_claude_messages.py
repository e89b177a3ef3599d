"""CPA internal/translator/common/claude_messages_test.go (ClaudeMessageAccumulator):
how turns are grouped when a Chat conversation is built for Claude. The accumulator is
CPA's private helper; its cases run here as Chat requests through the Claude builder."""

from __future__ import annotations

from typing import Any

from tests.translate.cpa._run import CLAUDE, OPENAI, get, req


def to_claude(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = req(OPENAI, CLAUDE, {"model": "gpt", "messages": messages}, "claude-x")[
        "messages"
    ]
    return out


def call(cid: str, name: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": "{}"}}


def test_groups_and_orders_assistant_parts() -> None:
    """TestClaudeMessageAccumulatorGroupsAndOrdersAssistantParts: consecutive assistant
    turns are one turn, tool uses last (in their order)."""
    msgs = to_claude(
        [
            {"role": "assistant", "content": None, "tool_calls": [call("call_1", "first")]},
            {"role": "assistant", "content": "answer"},
            {"role": "assistant", "content": None, "tool_calls": [call("call_2", "second")]},
        ]
    )
    assert len(msgs) == 1
    content = msgs[0]["content"]
    assert [b["type"] for b in content] == ["text", "tool_use", "tool_use"]
    assert [content[1]["id"], content[2]["id"]] == ["call_1", "call_2"]


def test_preserves_user_order_and_role_boundaries() -> None:
    """TestClaudeMessageAccumulatorPreservesUserOrderAndRoleBoundaries."""
    msgs = to_claude(
        [
            {"role": "assistant", "tool_calls": [call("call_1", "look")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            {"role": "user", "content": "continue"},
            {"role": "assistant", "content": "done"},
        ]
    )
    assert [m["role"] for m in msgs] == ["assistant", "user", "assistant"]
    assert get(msgs[1], "content.0.type") == "tool_result"
    assert get(msgs[1], "content.1.text") == "continue"


def test_skips_empty_messages_without_breaking_turn() -> None:
    """TestClaudeMessageAccumulatorSkipsEmptyMessagesWithoutBreakingTurn (an unknown role
    is a 400 here, so the case keeps the empty user turns only)."""
    msgs = to_claude(
        [
            {"role": "assistant", "content": "first"},
            {"role": "user", "content": None},
            {"role": "user", "content": ""},
            {"role": "user", "content": []},
            {"role": "assistant", "content": "second"},
        ]
    )
    assert len(msgs) == 1
    assert [b["text"] for b in msgs[0]["content"]] == ["first", "second"]


def test_consecutive_user_turns_merge() -> None:
    """TestClaudeMessageAccumulatorFlushPreservesExplicitBoundary. CPA keeps two user
    turns apart only where its translator flushes explicitly (none of its Chat paths do
    between two user messages); Claude merges consecutive user turns anyway, so we send
    them as one turn with both texts in order."""
    msgs = to_claude(
        [{"role": "user", "content": "system reminder"}, {"role": "user", "content": "question"}]
    )
    assert [b["text"] for m in msgs for b in m["content"]] == ["system reminder", "question"]


def test_preserves_block_cache_control() -> None:
    """TestClaudeMessageAccumulatorPreservesBlockCacheControl."""
    msgs = to_claude(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "user", "content": [{"type": "text", "text": "fresh"}]},
        ]
    )
    assert get(msgs[0], "content.0.cache_control.type") == "ephemeral"
    assert "cache_control" not in msgs[0]["content"][1]
