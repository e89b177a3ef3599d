"""CPA's token accounting (``sdk/cliproxy/usage/accounting_test.go``), ported to ours.

CPA builds its ``TokenBreakdown`` with one constructor per provider convention (subset for
OpenAI, independent cache buckets for Claude, separate reasoning for Gemini). Ours fixes
each provider's convention once, in its format's usage reader, into the IR's one
convention (cache within input, reasoning within output), and ``token_breakdown`` splits
that. So a constructor's case is asserted on the IR usage it stands for, and a provider's
convention through that provider's own reader.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import Format, ir
from cliproxy.usage.record import token_breakdown
from cliproxy.usage.tokens import body_usage


def _read(fmt: Format, obj: Any) -> ir.Usage:
    u = body_usage(fmt, orjson.dumps(obj))
    assert u is not None
    return u


def test_subset_buckets_are_not_counted_twice() -> None:
    """TestNewSubsetTokenBreakdownAvoidsCacheAndReasoningDoubleCount."""
    b = token_breakdown(ir.Usage(100, 30, 40, 10, 12, 130))
    assert b["quality"] == "complete" and b["total_tokens"] == 130
    assert b["input"]["uncached_tokens"] == 50 and b["output"]["non_reasoning_tokens"] == 18


def test_partial_subset_keeps_the_known_buckets() -> None:
    """TestNewPartialSubsetTokenBreakdownPreservesKnownBuckets."""
    b = token_breakdown(ir.Usage(10, 0, 4, 0, 0, 15))
    assert b["quality"] == "unclassified"
    assert b["input"]["total_tokens"] == 10 and b["unclassified_tokens"] == 5


def test_claude_cache_buckets_are_apart_from_input() -> None:
    """TestNewIndependentTokenBreakdownKeepsClaudeCacheBucketsIndependent: Claude's
    ``input_tokens`` leaves out its cache reads and writes; the reader adds them in."""
    u = _read(
        Format.CLAUDE,
        {
            "usage": {
                "input_tokens": 30,
                "cache_read_input_tokens": 7,
                "cache_creation_input_tokens": 13,
                "output_tokens": 5,
            }
        },
    )
    b = token_breakdown(u)
    assert b["quality"] == "complete"
    assert b["input"]["total_tokens"] == 50 and b["total_tokens"] == 55


def test_gemini_reasoning_is_added_to_output() -> None:
    """TestNewSeparateReasoningTokenBreakdownAddsReasoningToOutput: Gemini's
    ``candidatesTokenCount`` leaves out its thoughts; the reader adds them in."""
    u = _read(
        Format.GEMINI,
        {
            "usageMetadata": {
                "promptTokenCount": 20,
                "cachedContentTokenCount": 5,
                "candidatesTokenCount": 7,
                "thoughtsTokenCount": 3,
                "totalTokenCount": 30,
            }
        },
    )
    b = token_breakdown(u)
    assert b["quality"] == "complete"
    assert b["output"]["total_tokens"] == 10 and b["total_tokens"] == 30


def test_a_total_beyond_the_buckets() -> None:
    """TestTokenBreakdownMarksContradictoryParentsInconsistent: differs on purpose, as in
    test_cpa_usage_helpers.py::test_explicit_zero_buckets_under_a_total. CPA calls input 10
    plus output 3 under a total of 20 "inconsistent" (20 unclassified) because both parents
    were named; our usage cannot tell named buckets from missing ones, so the 7 tokens the
    buckets do not explain are "unclassified". A bucket larger than its parent is
    "inconsistent" for both."""
    b = token_breakdown(ir.Usage(10, 3, 4, 0, 1, 20))
    assert b["quality"] == "unclassified" and b["unclassified_tokens"] == 7 and b["total_tokens"] == 20
    assert token_breakdown(ir.Usage(10, 3, 11, 0, 1))["quality"] == "inconsistent"
    assert token_breakdown(ir.Usage(10, 3, 4, 0, 4))["quality"] == "inconsistent"


def test_a_bare_total_is_not_split() -> None:
    """TestNewUnclassifiedTokenBreakdownDoesNotGuessBuckets."""
    b = token_breakdown(ir.Usage(total_tokens=42))
    assert b["quality"] == "unclassified" and b["unclassified_tokens"] == 42
    assert b["input"]["total_tokens"] == b["output"]["total_tokens"] == 0


def test_each_provider_reader_applies_its_convention() -> None:
    """TestEnsureTokenBreakdownForProviderUsesKnownSemantics, for the wire shapes: the same
    numbers (input 100, output 30, reasoning 12, cache reads 40, writes 10) read as a Chat
    upstream (OpenAI, and any OpenAI-compatible one whatever its name: its answers are
    Chat) sends them, and as Gemini does (thoughts beside the candidates: output 42).
    CPA's Claude row (input 150, output 42) is its SDK's Detail form, where an embedder
    reports thinking apart from output; Claude's wire counts thinking within
    ``output_tokens`` (test_cpa_usage_helpers.py::test_claude_thinking_tokens_are_reasoning)."""
    chat = _read(
        Format.OPENAI,
        {
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 30,
                "prompt_tokens_details": {"cached_tokens": 40, "cache_creation_tokens": 10},
                "completion_tokens_details": {"reasoning_tokens": 12},
            }
        },
    )
    gemini = _read(
        Format.GEMINI,
        {
            "usageMetadata": {
                "promptTokenCount": 100,
                "cachedContentTokenCount": 40,
                "candidatesTokenCount": 30,
                "thoughtsTokenCount": 12,
            }
        },
    )
    for u, total, output in ((chat, 130, 30), (gemini, 142, 42)):
        b = token_breakdown(u)
        assert b["quality"] == "complete" and u.total == b["total_tokens"] == total
        assert b["input"]["total_tokens"] == 100 and b["output"]["total_tokens"] == output


def test_gemini_thoughts_alone_are_classified() -> None:
    """TestEnsureTokenBreakdownForGeminiClassifiesReasoningOnlyUsage."""
    b = token_breakdown(_read(Format.GEMINI, {"usageMetadata": {"thoughtsTokenCount": 12}}))
    assert b["quality"] == "complete" and b["total_tokens"] == 12
    assert b["output"]["reasoning_tokens"] == 12
