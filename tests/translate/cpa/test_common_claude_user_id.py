"""CPA internal/translator/common/claude_user_id_test.go (DeriveClaudeUserID): the
``metadata.user_id`` a request translated to Claude gets from the client's own body
(``cliproxy.translate.claude.user_id``). Bodies are CPA's, parsed as the server parses them."""

from __future__ import annotations

import hashlib
import re

import orjson
import pytest

from cliproxy.translate.claude.user_id import derive

HEX = re.compile(r"^[0-9a-f]{64}$")


def uid(raw: str) -> str:
    return derive(orjson.loads(raw))


def two(raw_a: str, raw_b: str) -> tuple[str, str]:
    """Both derived values, each a SHA-256 (never empty, never "unknown")."""
    a, b = uid(raw_a), uid(raw_b)
    assert HEX.match(a) and HEX.match(b)
    return a, b


def test_same_conversation_is_stable() -> None:
    """TestDeriveClaudeUserID_SameConversationIsStable."""
    raw = '{"model":"claude-test","messages":[{"role":"user","content":"hello"}]}'
    assert HEX.match(uid(raw)) and uid(raw) == uid(raw)


@pytest.mark.parametrize(
    "value",
    ["caller-123", "  caller-spaces  ", 'foo"bar\nbaz\\qux', '{"device_id":"dev-1","session_id":"sess-1"}'],
    ids=["plain string", "whitespace preserved", "special characters", "claude code json string"],
)
def test_preserves_caller_supplied_metadata_user_id(value: str) -> None:
    """TestDeriveClaudeUserID_PreservesCallerSuppliedMetadataUserID."""
    body = {
        "model": "claude-test",
        "metadata": {"user_id": value},
        "messages": [{"role": "user", "content": "hello"}],
    }
    assert derive(body) == value


def test_preserves_openai_user_field() -> None:
    """TestDeriveClaudeUserID_PreservesOpenAIUserField."""
    raw = '{"model":"claude-test","user":"openai-user-456","messages":[{"role":"user","content":"hello"}]}'
    assert uid(raw) == "openai-user-456"


def test_metadata_user_id_takes_priority_over_user_field() -> None:
    """TestDeriveClaudeUserID_MetadataUserIDTakesPriorityOverUserField."""
    raw = '{"model":"claude-test","metadata":{"user_id":"meta-user-1"},"user":"openai-user-2","messages":[]}'
    assert uid(raw) == "meta-user-1"


def test_case_insensitive_user_role() -> None:
    """TestDeriveClaudeUserID_CaseInsensitiveUserRole."""
    a, b = two(
        '{"model":"claude-test","messages":[{"role":"User","content":"message A"}]}',
        '{"model":"claude-test","messages":[{"role":"USER","content":"message B"}]}',
    )
    assert a != b


def test_ignores_non_string_metadata_user_id_or_user() -> None:
    """TestDeriveClaudeUserID_IgnoresNonStringMetadataUserIDOrUser. (Through the proxy a
    Chat or Responses ``user`` that is not a string is refused with a 400, as OpenAI
    refuses it; a Gemini body's or a ``metadata.user_id`` number is derived over.)"""
    raw = '{"model":"claude-test","metadata":{"user_id":12345},"user":true,"messages":[{"role":"user","content":"hello"}]}'
    assert HEX.match(uid(raw))


def test_different_sessions_are_different() -> None:
    """TestDeriveClaudeUserID_DifferentSessionsAreDifferent."""
    msgs = '"messages":[{"role":"user","content":"hello"}]'
    a, b = two(
        '{"model":"claude-test","prompt_cache_key":"session-a",' + msgs + "}",
        '{"model":"claude-test","prompt_cache_key":"session-b",' + msgs + "}",
    )
    assert a != b


def test_session_id_variants() -> None:
    """TestDeriveClaudeUserID_SessionIDVariants."""
    msgs = '"messages":[{"role":"user","content":"hello"}]'
    a, b = two(
        '{"model":"claude-test","session_id":"sess-a",' + msgs + "}",
        '{"model":"claude-test","sessionId":"sess-b",' + msgs + "}",
    )
    assert a != b


def test_conversation_id_variants() -> None:
    """TestDeriveClaudeUserID_ConversationIDVariants."""
    msgs = '"messages":[{"role":"user","content":"hello"}]'
    ids = {
        uid('{"model":"claude-test","conversation":{"id":"conv-1"},' + msgs + "}"),
        uid('{"model":"claude-test","conversation":"conv-2",' + msgs + "}"),
        uid('{"model":"claude-test","conversation_id":"conv-3",' + msgs + "}"),
        uid('{"model":"claude-test",' + msgs + "}"),
    }
    assert len(ids) == 4 and all(HEX.match(i) for i in ids)


def test_turn_growth_keeps_same_user_id() -> None:
    """TestDeriveClaudeUserID_TurnGrowthKeepsSameUserID."""
    first = '{"model":"claude-test","prompt_cache_key":"session-1","messages":[{"role":"user","content":"hello"}]}'
    second = (
        '{"model":"claude-test","prompt_cache_key":"session-1","messages":[{"role":"user","content":"hello"},'
        '{"role":"assistant","content":"hi"},{"role":"user","content":"follow up"}]}'
    )
    assert uid(first) == uid(second)


def test_turn_growth_without_session_key_keeps_same_user_id() -> None:
    """TestDeriveClaudeUserID_TurnGrowthWithoutSessionKeyKeepsSameUserID."""
    first, second = two(
        '{"model":"claude-test","messages":[{"role":"user","content":"first prompt"}]}',
        '{"model":"claude-test","messages":[{"role":"user","content":"first prompt"},'
        '{"role":"assistant","content":"hi"},{"role":"user","content":"second prompt"}]}',
    )
    assert first == second


def test_gemini_turn_growth_without_session_key_keeps_same_user_id() -> None:
    """TestDeriveClaudeUserID_GeminiTurnGrowthWithoutSessionKeyKeepsSameUserID."""
    first, second = two(
        '{"contents":[{"role":"user","parts":[{"text":"first gemini prompt"}]}]}',
        '{"contents":[{"role":"user","parts":[{"text":"first gemini prompt"}]},'
        '{"role":"model","parts":[{"text":"answer"}]},{"role":"user","parts":[{"text":"second prompt"}]}]}',
    )
    assert first == second


def test_first_message_fallback() -> None:
    """TestDeriveClaudeUserID_FirstMessageFallback."""
    a, b = two(
        '{"model":"claude-test","messages":[{"role":"user","content":"message A"}]}',
        '{"model":"claude-test","messages":[{"role":"user","content":"message B"}]}',
    )
    assert a != b


def test_responses_input_string() -> None:
    """TestDeriveClaudeUserID_ResponsesInputString."""
    a, b = two(
        '{"model":"claude-test","input":"hello world A"}', '{"model":"claude-test","input":"hello world B"}'
    )
    assert a != b


def test_responses_input_array_skips_system_level_items() -> None:
    """TestDeriveClaudeUserID_ResponsesInputArraySkipsSystemLevelItems."""

    def body(text: str) -> str:
        return orjson.dumps(
            {
                "model": "claude-test",
                "input": [
                    {"type": "message", "role": "system", "content": "system prompt"},
                    {"type": "message", "role": "developer", "content": "dev prompt"},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
                ],
            }
        ).decode()

    a, b = two(body("user message A"), body("user message B"))
    assert a != b


def test_gemini_contents_default_role() -> None:
    """TestDeriveClaudeUserID_GeminiContentsDefaultRole."""
    a, b = two(
        '{"contents":[{"parts":[{"text":"gemini message A"}]}]}',
        '{"contents":[{"parts":[{"text":"gemini message B"}]}]}',
    )
    assert a != b


def test_gemini_contents_multiple_text_parts() -> None:
    """TestDeriveClaudeUserID_GeminiContentsMultipleTextParts."""
    a, b = two(
        '{"contents":[{"role":"user","parts":[{"text":"Prefix"},{"text":"Question A"}]}]}',
        '{"contents":[{"role":"user","parts":[{"text":"Prefix"},{"text":"Question B"}]}]}',
    )
    assert a != b


def test_gemini_contents_skips_thought_parts() -> None:
    """TestDeriveClaudeUserID_GeminiContentsSkipsThoughtParts."""
    with_thought = '{"contents":[{"role":"user","parts":[{"thought":true,"text":"internal thought"},{"text":"visible content"}]}]}'
    visible = '{"contents":[{"role":"user","parts":[{"text":"visible content"}]}]}'
    assert uid(with_thought) == uid(visible)


def test_gemini_system_instruction() -> None:
    """TestDeriveClaudeUserID_GeminiSystemInstruction."""
    a, b = two(
        '{"systemInstruction":{"parts":[{"text":"system rule A"}]}}',
        '{"system_instruction":{"parts":[{"text":"system rule B"}]}}',
    )
    assert a != b


def test_nothing_to_derive_from_is_unknown() -> None:
    """CPA claude_user_id.go (no Go test): a body with no signal at all gives "unknown";
    a seed is CPA's, so a value matches CPA's for the same first user text."""
    assert uid('{"messages":[]}') == "unknown"
    assert (
        uid('{"messages":[{"role":"user","content":" hello "}]}')
        == hashlib.sha256(b"content:hello").hexdigest()
    )
