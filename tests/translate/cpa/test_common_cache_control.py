"""CPA internal/translator/common/cache_control_test.go (AttachCacheControl,
AttachMessageCacheControl), through Chat requests built for Claude (issue 15 defect 2)."""

from __future__ import annotations

from typing import Any

from tests.translate.cpa._run import CLAUDE, OPENAI, get, req


def first_block(message: dict[str, Any]) -> dict[str, Any]:
    out = req(OPENAI, CLAUDE, {"model": "gpt", "messages": [message]}, "claude-x")
    block: dict[str, Any] = get(out, "messages.0.content.0")
    return block


def test_attach_cache_control_copies_object() -> None:
    """TestAttachCacheControl_CopiesObject."""
    block = first_block(
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "5m"}}],
        }
    )
    assert block["cache_control"] == {"type": "ephemeral", "ttl": "5m"}


def test_attach_cache_control_ignores_missing() -> None:
    """TestAttachCacheControl_IgnoresMissing."""
    assert "cache_control" not in first_block({"role": "user", "content": [{"type": "text", "text": "hi"}]})


def test_attach_message_cache_control_promotes_string_content() -> None:
    """TestAttachMessageCacheControl_PromotesStringContent."""
    block = first_block({"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}})
    assert block == {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}


def test_attach_message_cache_control_skips_when_last_part_has_cache_control() -> None:
    """TestAttachMessageCacheControl_SkipsWhenLastPartHasCacheControl."""
    block = first_block(
        {
            "role": "user",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
        }
    )
    assert block["cache_control"] == {"type": "ephemeral"}
