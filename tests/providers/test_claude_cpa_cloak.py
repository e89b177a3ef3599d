"""CPA's ``claude_executor_test.go`` cases on the cloak's body shaping, ported: the system
layout (mid-conversation system turns or legacy reminders), the count_tokens relocation,
the billing build hash, the caller system check and the web_search domain lists. Each
test names the CPA test it ports; the betas, ``context_management`` and currentDate cases
are in ``test_claude_cpa_executor.py``.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_sign as signing
from cliproxy.providers import claude_tools
from tests.providers.test_claude_cpa_executor import (
    EPHEMERAL,
    PLAIN,
    assert_date,
    assert_system_turn,
    assert_user_text,
    cloaked,
    reminder,
)

# ---------------------------------------------------------------- the cloak's system layout


def test_string_system_becomes_a_mid_conversation_turn() -> None:
    """TestCheckSystemInstructionsWithMode_StringSystemPreserved"""
    body = cloaked(
        {
            "model": "claude-opus-5",
            "system": "You are a helpful assistant.",
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    billing, identity = body["system"]
    assert "cc_entrypoint=cli;" in billing["text"]
    assert identity == {"type": "text", "text": cloaking.IDENTITY, "cache_control": EPHEMERAL}
    content = body["messages"][0]["content"]
    assert len(content) == 2
    assert_date(content[0])
    assert_user_text(content[1], "hi")
    assert_system_turn(body, 1, "You are a helpful assistant.")


def test_future_model_defaults_to_the_mid_system_turn() -> None:
    """TestCheckSystemInstructionsWithMode_FutureModelDefaultsToMidSystem"""
    body = cloaked(
        {
            "model": "claude-opus-6",
            "system": "future instructions",
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert len(body["system"]) == 2
    assert_system_turn(body, 1, "future instructions")


def test_legacy_model_uses_a_system_reminder() -> None:
    """TestCheckSystemInstructionsWithMode_LegacyModelUsesSystemReminder"""
    body = cloaked(
        {
            "model": "claude-opus-4-6",
            "system": "legacy instructions",
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert len(body["system"]) == 2 and len(body["messages"]) == 1
    content = body["messages"][0]["content"]
    assert_date(content[0])
    assert content[1] == {"type": "text", "text": reminder("legacy instructions")}
    assert_user_text(content[2], "hi")


def test_legacy_model_keeps_system_blocks_separate() -> None:
    """TestCheckSystemInstructionsWithMode_LegacyModelKeepsSystemBlocksSeparate"""
    system = [
        {"type": "text", "text": "first guidance", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "second guidance"},
    ]
    body = cloaked(
        {"model": "claude-opus-4-6", "system": system, "messages": [{"role": "user", "content": "hi"}]}
    )
    content = body["messages"][0]["content"]
    assert len(content) == 4
    assert_date(content[0])
    assert content[1:3] == [
        {"type": "text", "text": reminder("first guidance")},
        {"type": "text", "text": reminder("second guidance")},
    ]
    assert_user_text(content[3], "hi")


def test_strict_mode_keeps_only_claude_codes_system() -> None:
    """TestCheckSystemInstructionsWithMode_StringSystemStrict"""
    body = cloaked(
        {"system": "You are a helpful assistant.", "messages": [{"role": "user", "content": "hi"}]},
        strict=True,
    )
    assert len(body["system"]) == 2 and len(body["messages"]) == 1
    content = body["messages"][0]["content"]
    assert_date(content[0])
    assert_user_text(content[1], "hi")


def test_empty_string_system_is_ignored() -> None:
    """TestCheckSystemInstructionsWithMode_EmptyStringSystemIgnored"""
    body = cloaked({"system": "", "messages": [{"role": "user", "content": "hi"}]})
    assert len(body["system"]) == 2 and len(body["messages"]) == 1
    assert len(body["messages"][0]["content"]) == 2


def test_array_system_blocks_become_separate_turns() -> None:
    """TestCheckSystemInstructionsWithMode_ArraySystemStillWorks and
    TestCheckSystemInstructionsWithMode_ArraySystemKeepsBlocksAsSeparateMessages"""
    body = cloaked(
        {
            "model": "claude-opus-5",
            "system": [{"type": "text", "text": "Be concise."}],
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert_system_turn(body, 1, "Be concise.")
    system = [
        {"type": "text", "text": "first guidance", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "second guidance"},
    ]
    body = cloaked(
        {"model": "claude-opus-5", "system": system, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert len(body["messages"]) == 3
    assert_system_turn(body, 1, "first guidance")
    assert_system_turn(body, 2, "second guidance")


def test_special_characters_survive_the_move() -> None:
    """TestCheckSystemInstructionsWithMode_StringWithSpecialChars"""
    text = 'Use <xml> tags & "quotes" in output.'
    body = cloaked(
        {"model": "claude-opus-5", "system": text, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert_system_turn(body, 1, text)


def test_long_prompt_is_exact_and_idempotent_when_signed() -> None:
    """TestCheckSystemInstructionsWithSigningMode_LongPromptIsExactAndIdempotent (our cloak
    runs once per attempt on the client's body, so idempotence is the signature's: signing
    the signed bytes again gives the same bytes)."""
    text = (
        "\nPI_SYSTEM_BEGIN\nEmbedded reference: # currentDate\nToday's date is caller-owned text.\n"
        + "Preserve tools, policies, and caller semantics exactly.\n" * 560
        + "PI_SYSTEM_END  \n"
    )
    body = cloaked(
        {"model": "claude-opus-5", "system": text, "messages": [{"role": "user", "content": "hello"}]},
        signed=True,
    )
    assert len(body["system"]) == 2 and len(body["messages"]) == 2
    content = body["messages"][0]["content"]
    assert_date(content[0])
    assert_user_text(content[1], "hello")
    assert_system_turn(body, 1, text)
    signed = signing.sign(body)
    assert b"<system-reminder>" in signed and b"\\u003c" not in signed
    assert signing.sign(orjson.loads(signed)) == signed


def test_count_relocation_keeps_blocks_separate() -> None:
    """TestRelocateClaudeSystemPromptForCountTokensKeepsBlocksSeparate"""
    system = [{"type": "text", "text": "first guidance"}, {"type": "text", "text": "second guidance"}]
    body: dict[str, Any] = {
        "model": "claude-opus-5",
        "system": list(system),
        "messages": [{"role": "user", "content": "hi"}],
    }
    cloaking.relocate_for_count(body, PLAIN)
    assert "system" not in body and len(body["messages"]) == 3
    assert_system_turn(body, 1, "first guidance")
    assert_system_turn(body, 2, "second guidance")
    legacy: dict[str, Any] = {
        "model": "claude-opus-4-6",
        "system": list(system),
        "messages": [{"role": "user", "content": "hi"}],
    }
    cloaking.relocate_for_count(legacy, PLAIN)
    assert "system" not in legacy
    assert [b["text"] for b in legacy["messages"][0]["content"]] == [
        reminder("first guidance"),
        reminder("second guidance"),
        "hi",
    ]


def test_reminders_follow_tool_results_and_are_idempotent() -> None:
    """TestPrependClaudeSystemReminders_FollowsToolResultsAndIsIdempotent"""
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    messages: list[Any] = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}],
        },
        {"role": "user", "content": [result, {"type": "text", "text": "continue"}]},
    ]
    texts = ["first guidance", "second guidance"]
    cloaking._prepend_reminders(messages, texts)
    first = copy.deepcopy(messages)
    cloaking._prepend_reminders(messages, texts)
    assert messages == first
    assert messages[1]["content"] == [
        result,
        {"type": "text", "text": reminder("first guidance")},
        {"type": "text", "text": reminder("second guidance")},
        {"type": "text", "text": "continue"},
    ]


@pytest.mark.parametrize(
    ("roles", "want", "at"),
    [
        (["assistant", "user"], ["assistant", "user", "system"], 2),
        (["user", "assistant", "user"], ["user", "system", "assistant", "user"], 1),
        (["user", "user", "assistant"], ["user", "user", "system", "assistant"], 2),
    ],
    ids=["follows-tool-result-turn", "precedes-assistant", "follows-user-run"],
)
def test_mid_conversation_system_turn_placement(roles: list[str], want: list[str], at: int) -> None:
    """TestInsertClaudeMidConversationSystemMessages_FollowsToolResultUserTurn,
    _PrecedesExistingAssistantTurn and _FollowsConsecutiveUserRun.

    CPA: TestInsertClaudeMidConversationSystemMessages_PrecedesExistingAssistantTurn,
    TestInsertClaudeMidConversationSystemMessages_FollowsConsecutiveUserRun."""
    messages: list[Any] = [{"role": r, "content": r} for r in roles]
    body = {"messages": messages}
    cloaking._insert_system_messages(messages, ["guidance"])
    assert [m["role"] for m in messages] == want
    assert_system_turn(body, at, "guidance")


def test_mid_conversation_system_turns_once() -> None:
    """TestInsertClaudeMidConversationSystemMessages_IsIdempotent, as our cloak needs it: it
    runs once on the client's body per attempt, never on its own output, and a failover
    attempt starts again from the client's body."""
    messages: list[Any] = [{"role": "user", "content": "hello"}]
    cloaking._insert_system_messages(messages, ["first guidance", "second guidance"])
    body = {"messages": messages}
    assert len(messages) == 3
    assert_system_turn(body, 1, "first guidance")
    assert_system_turn(body, 2, "second guidance")


# ---------------------------------------------------------------- billing, caller system


def test_billing_build_hash_reads_the_latest_user_text() -> None:
    """TestClaudeBillingFingerprintUsesLatestUserText"""
    prompt = "CPA_OFFICIAL_BASEURL_CLI_SYSTEM_EMPTY_b82d4e"
    messages = [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": reminder("date")}, {"type": "text", "text": prompt}],
        },
    ]
    assert cloaking.user_text({"system": "must not seed the build hash", "messages": messages}) == prompt
    assert cloaking.billing_text("2.1.220", prompt, signed=False).endswith(
        "cc_version=2.1.220.e06; cc_entrypoint=cli;"
    )


@pytest.mark.parametrize(
    ("system", "path", "kind"),
    [
        ([{"type": "text", "text": "S1"}, {"type": "image", "source": {}}], "system.1.type", '"image"'),
        ([{"type": "input_file"}], "system.0.type", '"input_file"'),
        ([{"text": "S1"}], "system.0.type", '"unknown"'),
    ],
)
def test_non_text_caller_system_block_is_refused(system: list[Any], path: str, kind: str) -> None:
    """TestValidateClaudeCallerSystemBlocksRejectsNonTextBlock and
    TestApplyCloakingRejectsNonTextCallerSystemBlock: the error names the block's path and
    type, a 400 of the client's."""
    body = {"model": "claude-opus-5", "system": system, "messages": [{"role": "user", "content": "U1"}]}
    with pytest.raises(RequestError) as caught:
        cloaked(body)
    assert caught.value.status == 400
    assert path in str(caught.value) and kind in str(caught.value)


@pytest.mark.parametrize(
    "system", ["S1", [{"type": "text", "text": "S1"}, {"type": "text", "text": "S2"}], None]
)
def test_text_caller_system_is_accepted(system: Any) -> None:
    """TestValidateClaudeCallerSystemBlocksAcceptsTextOnly"""
    body: dict[str, Any] = {"model": "claude-opus-5", "messages": [{"role": "user", "content": "U1"}]}
    if system is not None:
        body["system"] = system
    assert len(cloaked(body)["system"]) == 2


def test_strict_mode_ignores_a_non_text_caller_system_block() -> None:
    """TestApplyCloakingStrictModeIgnoresNonTextCallerSystemBlock"""
    body = {
        "model": "claude-opus-5",
        "system": [{"type": "input_image"}],
        "messages": [{"role": "user", "content": "U1"}],
    }
    assert len(cloaked(body, strict=True)["system"]) == 2


# ---------------------------------------------------------------- tools


def test_empty_web_search_domain_lists_are_dropped() -> None:
    """TestSanitizeClaudeWebSearchDomains: an empty list (litellm sends one) is what
    Anthropic refuses as ambiguous; it means the same as no list."""
    tool = {
        "type": "web_search_20250305",
        "name": "web_search",
        "allowed_domains": ["anthropic.com"],
        "blocked_domains": [],
        "max_uses": 8,
    }
    body: dict[str, Any] = {"tools": [tool]}
    claude_tools.drop_empty_search_domains(body)
    assert body["tools"][0] == {
        "type": "web_search_20250305",
        "name": "web_search",
        "allowed_domains": ["anthropic.com"],
        "max_uses": 8,
    }
    assert "blocked_domains" in tool  # the client's own tool is not changed


def test_web_search_domain_lists_with_entries_and_other_tools_are_kept() -> None:
    """TestSanitizeClaudeWebSearchDomains_LeavesNonBuiltinAndNonEmpty"""
    tools = [
        {"type": "custom", "name": "x", "blocked_domains": []},
        {"type": "web_search_20250305", "name": "web_search", "blocked_domains": ["evil.com"]},
    ]
    body: dict[str, Any] = {"tools": copy.deepcopy(tools)}
    claude_tools.drop_empty_search_domains(body)
    assert body["tools"] == tools
