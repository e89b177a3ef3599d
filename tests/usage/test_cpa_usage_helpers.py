"""CPA's usage readers (``internal/runtime/executor/helps/usage_helpers_test.go``), ported
to the readers every path of ours shares: ``body_usage`` (a whole answer), the stream
sniffers (a passed-through stream) and the format parsers the translators call.

Our IR keeps CPA's totals in one convention (input includes cache reads and writes,
output includes reasoning), so where CPA asserts its separate ``TokenBreakdown`` we assert
the same numbers through ``token_breakdown`` of the usage record. CPA's ``CachedTokens``
(cache reads, else cache writes, for Claude) has no twin: we record reads and writes
apart, always.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.formats import Format, ir
from cliproxy.formats.claude import ClaudeUsageSniffer
from cliproxy.formats.gemini import GeminiUsageSniffer
from cliproxy.formats.interactions import InteractionsUsageSniffer
from cliproxy.formats.openai_chat import ChatUsageSniffer
from cliproxy.usage.record import token_breakdown
from cliproxy.usage.tokens import body_usage


def _whole(fmt: Format, obj: Any) -> ir.Usage | None:
    return body_usage(fmt, orjson.dumps(obj))


def _sniffed(sniffer: Any, *payloads: Any) -> ir.Usage | None:
    for payload in payloads:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        sniffer.feed(b"data: " + data + b"\n\n")
    return sniffer.usage  # type: ignore[no-any-return]


def test_chat_completions_usage() -> None:
    """TestParseOpenAIUsageChatCompletions."""
    u = _whole(
        Format.OPENAI,
        {
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 6,
                "total_tokens": 16,
                "prompt_tokens_details": {"cached_tokens": 4},
                "completion_tokens_details": {"reasoning_tokens": 5},
            }
        },
    )
    assert u == ir.Usage(10, 6, 4, 0, 5, 16)
    b = token_breakdown(u)
    assert b["quality"] == "complete"
    assert b["input"]["uncached_tokens"] == 6 and b["output"]["non_reasoning_tokens"] == 1


RESPONSES_NAMED = {
    "input_tokens": 10,
    "output_tokens": 20,
    "total_tokens": 30,
    "input_tokens_details": {"cached_tokens": 7},
    "output_tokens_details": {"reasoning_tokens": 9},
}


@pytest.mark.parametrize("fmt", [Format.RESPONSES, Format.OPENAI])
def test_responses_named_usage(fmt: Format) -> None:
    """TestParseOpenAIUsageResponses: CPA's OpenAI reader takes the Responses names too, so
    a Chat Completions answer that spells its usage that way (some OpenAI-compatible
    upstreams do) is not counted as zero input and output."""
    u = _whole(fmt, {"service_tier": "default", "usage": RESPONSES_NAMED})
    assert u == ir.Usage(10, 20, 7, 0, 9, 30)
    b = token_breakdown(u)
    assert b["input"]["uncached_tokens"] == 3 and b["output"]["non_reasoning_tokens"] == 11


def test_chat_stream_usage_with_responses_names() -> None:
    """TestParseOpenAIStreamUsageResponsesFields: the same in a passed-through stream."""
    chunk = {"id": "chunk_1", "object": "chat.completion.chunk", "service_tier": "flex", "choices": []}
    usage = {
        "input_tokens": 8,
        "output_tokens": 5,
        "total_tokens": 13,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens_details": {"reasoning_tokens": 2},
    }
    assert _sniffed(ChatUsageSniffer(), {**chunk, "usage": usage}) == ir.Usage(8, 5, 3, 0, 2, 13)


def test_total_only_usage_is_unclassified() -> None:
    """TestParseOpenAIUsageTotalOnlyIsUnclassified."""
    u = _whole(Format.OPENAI, {"usage": {"total_tokens": 42}})
    assert u is not None and u.total == 42
    b = token_breakdown(u)
    assert b["quality"] == "unclassified" and b["unclassified_tokens"] == 42


def test_partial_buckets_keep_known_tokens() -> None:
    """TestParseOpenAIUsagePartialBucketsPreserveKnownTokens."""
    u = _whole(Format.RESPONSES, {"usage": {"input_tokens": 10, "total_tokens": 15}})
    b = token_breakdown(u)
    assert b["quality"] == "unclassified"
    assert b["input"]["total_tokens"] == 10 and b["unclassified_tokens"] == 5


def test_explicit_zero_buckets_under_a_total() -> None:
    """TestParseOpenAIUsageExplicitZeroBucketsRemainInconsistent: differs on purpose. CPA
    calls 0 + 0 under a total of 42 "inconsistent" because the buckets were named; our
    record cannot tell a named zero from a missing one and calls it "unclassified". The
    42 tokens are recorded either way; only the quality label differs."""
    u = _whole(Format.RESPONSES, {"usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 42}})
    assert u is not None and u.total == 42
    assert token_breakdown(u)["quality"] == "unclassified"


def test_codex_usage_with_cache_writes() -> None:
    """TestParseCodexUsageIncludesCacheWriteTokens."""
    body = {
        "response": {
            "service_tier": "priority",
            "usage": {
                "input_tokens": 100,
                "output_tokens": 20,
                "total_tokens": 120,
                "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 40},
            },
        }
    }
    u = _whole(Format.CODEX, body)
    assert u == ir.Usage(100, 20, 30, 40, 0, 120)
    b = token_breakdown(u)
    assert b["input"]["uncached_tokens"] == 30 and b["input"]["cache_write_tokens"] == 40


@pytest.mark.parametrize(
    ("fmt", "usage"),
    [
        (
            Format.RESPONSES,
            {
                "input_tokens": 10,
                "output_tokens": 2,
                "total_tokens": 12,
                "input_tokens_details": {"cache_creation_tokens": 4},
            },
        ),
        (
            Format.OPENAI,
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "prompt_tokens_details": {"cache_creation_tokens": 4},
            },
        ),
    ],
)
def test_cache_creation_alias(fmt: Format, usage: dict[str, Any]) -> None:
    """TestParseOpenAIUsageNormalizesCacheCreationAlias: ``cache_creation_tokens`` names
    cache writes as ``cache_write_tokens`` does."""
    u = _whole(fmt, {"usage": usage})
    assert u is not None and u.cache_write_tokens == 4


def test_null_usage_is_no_usage() -> None:
    """TestParseOpenAIUsageIgnoresNullUsage and TestParseOpenAIStreamUsageIgnoresNullUsage."""
    assert _whole(Format.OPENAI, {"usage": None}) is None
    chunk = {
        "id": "chunk_1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
        "usage": None,
    }
    assert _sniffed(ChatUsageSniffer(), chunk) is None


def test_stream_keeps_the_last_usage() -> None:
    """TestStreamUsageBufferKeepsLastUsage."""
    first = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    last = {
        "choices": [],
        "usage": {
            "prompt_tokens": 39320,
            "completion_tokens": 26,
            "total_tokens": 39346,
            "prompt_tokens_details": {"cached_tokens": 33280},
        },
    }
    assert _sniffed(ChatUsageSniffer(), first, last) == ir.Usage(39320, 26, 33280, 0, 0, 39346)


def test_stream_state_is_not_changed_by_irrelevant_chunks() -> None:
    """TestStreamUsageBufferObserveOpenAIStreamStateTransitions ("irrelevant and invalid
    chunks do not change state", "zero token usage is retained")."""
    sniffer = ChatUsageSniffer()
    _sniffed(sniffer, {"content": 'the word "usage" appears here'}, b'{"usage":', {"usage": None})
    assert sniffer.usage is None
    _sniffed(sniffer, {"usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
    assert sniffer.usage == ir.Usage(0, 0, 0, 0, 0, 0)


def test_claude_total_counts_cache_tokens() -> None:
    """TestParseClaudeUsageIncludesCacheTokensInTotal."""
    wire = {
        "input_tokens": 3085,
        "output_tokens": 253,
        "cache_read_input_tokens": 7,
        "cache_creation_input_tokens": 19514,
    }
    u = _whole(Format.CLAUDE, {"usage": wire})
    assert u is not None
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (
        22606,
        253,
        7,
        19514,
    )
    assert u.total == 22859
    b = token_breakdown(u)
    assert b["input"]["total_tokens"] == 22606 and b["input"]["uncached_tokens"] == 3085


def test_claude_cache_writes_only() -> None:
    """TestParseClaudeUsageFallsBackCachedTokensToCacheCreation: the total is CPA's; CPA's
    single "cached" field falls back to cache writes, ours keeps reads (0) and writes
    (19514) apart on purpose, since a cache write is billed unlike a read."""
    u = _whole(
        Format.CLAUDE,
        {"usage": {"input_tokens": 3085, "output_tokens": 253, "cache_creation_input_tokens": 19514}},
    )
    assert u is not None and u.total == 22852
    assert (u.cache_read_tokens, u.cache_write_tokens) == (0, 19514)


THINKING = {
    "input_tokens": 2,
    "cache_creation_input_tokens": 831,
    "cache_read_input_tokens": 44225,
    "output_tokens": 244,
    "output_tokens_details": {"thinking_tokens": 40},
}


def test_claude_thinking_tokens_are_reasoning() -> None:
    """TestParseClaudeUsagePreservesThinkingTokensAsReasoningSubset."""
    u = _whole(Format.CLAUDE, {"usage": THINKING})
    assert u is not None and (u.output_tokens, u.reasoning_tokens, u.total) == (244, 40, 45302)
    b = token_breakdown(u)
    assert b["quality"] == "complete"
    assert b["output"] == {"total_tokens": 244, "non_reasoning_tokens": 204, "reasoning_tokens": 40}


def test_claude_stream_thinking_tokens() -> None:
    """TestParseClaudeStreamUsagePreservesThinkingTokensAsReasoningSubset."""
    event = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": THINKING,
    }
    u = _sniffed(ClaudeUsageSniffer(), event)
    assert u is not None and (u.output_tokens, u.reasoning_tokens, u.total) == (244, 40, 45302)


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 3, "output_tokens": 10, "thinking_tokens": 4},
        {"input_tokens": 3, "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 4}},
    ],
)
def test_claude_thinking_aliases(usage: dict[str, Any]) -> None:
    """TestParseClaudeUsageFallsBackToTopLevelThinkingTokens (and the
    ``output_tokens_details.reasoning_tokens`` alias CPA reads before it)."""
    u = _whole(Format.CLAUDE, {"usage": usage})
    assert u is not None and (u.output_tokens, u.reasoning_tokens, u.total) == (10, 4, 13)
    assert token_breakdown(u)["output"]["non_reasoning_tokens"] == 6


def test_gemini_cached_content() -> None:
    """TestParseGeminiUsageNormalizesCachedContent."""
    meta = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 2,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 12,
    }
    u = _whole(Format.GEMINI, {"usageMetadata": meta})
    assert u is not None and u.cache_read_tokens == 4
    b = token_breakdown(u)
    assert b["input"]["uncached_tokens"] == 6 and b["total_tokens"] == 12


def test_gemini_tool_use_prompt_is_input() -> None:
    """TestParseGeminiUsageIncludesToolUsePromptTokens: the prompt of a tool Gemini ran is
    input (it is in Google's total, not in promptTokenCount)."""
    meta = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 2,
        "thoughtsTokenCount": 3,
        "toolUsePromptTokenCount": 5,
        "totalTokenCount": 20,
    }
    u = _whole(Format.GEMINI, {"usageMetadata": meta})
    assert u is not None and (u.input_tokens, u.total, u.reasoning_tokens) == (15, 20, 3)
    b = token_breakdown(u)
    assert b["quality"] == "complete" and b["input"]["uncached_tokens"] == 15


def test_gemini_stream_skips_a_zero_placeholder() -> None:
    """TestParseGeminiStreamUsageSkipsZeroPlaceholder, in both orders: a zero usage never
    replaces a real one."""
    zero = {
        "usageMetadata": {
            "promptTokenCount": 0,
            "candidatesTokenCount": 0,
            "thoughtsTokenCount": 0,
            "totalTokenCount": 0,
        }
    }
    real = {
        "usageMetadata": {
            "promptTokenCount": 17984,
            "candidatesTokenCount": 2668,
            "thoughtsTokenCount": 1028,
            "totalTokenCount": 21680,
        }
    }
    want = ir.Usage(17984, 2668 + 1028, 0, 0, 1028, 21680)
    assert _sniffed(GeminiUsageSniffer(), zero, real) == want
    assert _sniffed(GeminiUsageSniffer(), real, zero) == want


@pytest.mark.parametrize(
    "meta",
    [
        {"promptTokenCount": 10, "toolUsePromptTokenCount": -1, "totalTokenCount": 10},
        {
            "promptTokenCount": 9223372036854775807,
            "toolUsePromptTokenCount": 1,
            "totalTokenCount": 9223372036854775807,
        },
    ],
)
def test_gemini_invalid_tool_use_counts(meta: dict[str, Any]) -> None:
    """TestParseGeminiUsageRejectsInvalidToolUseSums: differs in form. A negative count is
    ignored (input stays 10, never below zero); Python integers do not overflow, so the
    int64 case is a plain sum, which the record's breakdown calls "inconsistent" (the
    input exceeds the total), as CPA does."""
    u = _whole(Format.GEMINI, {"usageMetadata": meta})
    assert u is not None and u.input_tokens >= 0
    if meta["toolUsePromptTokenCount"] < 0:
        assert u.input_tokens == 10
    else:
        assert token_breakdown(u)["quality"] == "inconsistent"


def test_interactions_usage() -> None:
    """TestParseInteractionsUsage: CPA's output 4 and reasoning 5 are our output 9 (output
    includes reasoning in the IR); the total is 12 either way."""
    u = _whole(
        Format.INTERACTIONS,
        {"usage": {"input_tokens": 3, "output_tokens": 4, "reasoning_tokens": 5, "cached_tokens": 2}},
    )
    assert u == ir.Usage(3, 9, 2, 0, 5, None)
    assert u is not None and u.total == 12
    b = token_breakdown(u)
    assert b["input"]["uncached_tokens"] == 1 and b["output"]["total_tokens"] == 9


def test_reasoning_is_not_counted_twice() -> None:
    """TestNormalizeUsageDetailTotalDoesNotDoubleCountReasoning."""
    u = ir.Usage(100, 30, 0, 0, 12)
    assert u.total == 130
    b = token_breakdown(u)
    assert b["quality"] == "complete" and b["output"]["reasoning_tokens"] == 12


@pytest.mark.parametrize("key", ["cache_write_tokens", "cache_creation_tokens"])
def test_interactions_cache_write_alias(key: str) -> None:
    """TestParseInteractionsUsageNormalizesCacheWriteAlias."""
    u = _whole(Format.INTERACTIONS, {"usage": {"input_tokens": 3, key: 2}})
    assert u is not None and u.cache_write_tokens == 2


def test_interactions_tool_use_tokens_are_input() -> None:
    """TestParseInteractionsUsageIncludesToolUseTokens."""
    wire = {
        "total_input_tokens": 2,
        "total_output_tokens": 6,
        "total_thought_tokens": 3,
        "total_tool_use_tokens": 4,
        "total_tokens": 15,
    }
    u = _whole(Format.INTERACTIONS, {"usage": wire})
    assert u == ir.Usage(6, 9, 0, 0, 3, 15)
    b = token_breakdown(u)
    assert (
        b["quality"] == "complete" and b["input"]["uncached_tokens"] == 6 and b["output"]["total_tokens"] == 9
    )


def test_interactions_stream_usage() -> None:
    """TestParseInteractionsStreamUsage and TestParseInteractionsStreamUsageOfficialMetadata."""
    done = {
        "type": "interaction.completed",
        "interaction": {"usage": {"input_tokens": 2, "output_tokens": 6, "total_tokens": 8}},
    }
    u = _sniffed(InteractionsUsageSniffer(), done)
    assert u is not None and u.total == 8
    finish = {
        "event_type": "finish",
        "metadata": {
            "total_usage": {
                "total_input_tokens": 2,
                "total_output_tokens": 6,
                "total_thought_tokens": 3,
                "total_cached_tokens": 1,
                "total_tokens": 11,
            }
        },
    }
    assert _sniffed(InteractionsUsageSniffer(), finish) == ir.Usage(2, 9, 1, 0, 3, 11)
