"""CPA's cross-format summary-intent cases (test/summary_intent_translation_test.go) through
a running proxy: a client's reasoning-summary intent (Chat ``reasoning_effort``,
Responses ``reasoning.summary``, Claude ``thinking.display``, Gemini ``includeThoughts``,
Interactions ``thinking_summaries``) as the fake Claude, Codex, OpenAI-compatible and
Gemini upstreams receive it.

CPA's TestSummaryIntentTranslation checks the translators alone; here each request also
goes through the thinking step, as CPA's TestSummaryIntentFinalPipeline does, so a row
asserts what the upstream really gets. Antigravity and Interactions targets are left to
tests/translate/cpa/test_summary_config.py (no fake upstream speaks them here).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.thinking_proxy import keys_config, same, send_as
from tests.models._thinking_models import ABSENT
from tests.models._thinking_models import field_at as _at
from tests.translate.cpa.signature_fixtures import claude_signature

HI_CHAT = [{"role": "user", "content": "hi"}]
HI_GEMINI = [{"role": "user", "parts": [{"text": "hi"}]}]


def _config(fakes: Any) -> str:
    return keys_config(
        fakes,
        claude=[same("claude-opus-5"), same("unregistered-claude-model")],
        codex=[same("gpt-5.4")],
        chat=[{"name": "gpt-5.4", "alias": "chat-gpt-5.4"}],
        gemini=[same("gemini-3.6-flash")],
    )


# (case, client format, upstream fake, body, path, wanted value or ABSENT)
CASES: list[tuple[str, str, str, dict[str, Any], str, Any]] = [
    ("chat-effort-claude-summary", "openai", "claude",
     {"model": "claude-opus-5", "reasoning_effort": "high", "messages": HI_CHAT}, "thinking.display", "summarized"),
    ("chat-none-no-claude-display", "openai", "claude",
     {"model": "claude-opus-5", "reasoning_effort": "none", "messages": HI_CHAT}, "thinking.display", ABSENT),
    ("unknown-claude-no-display-only-thinking", "openai", "claude",
     {"model": "unregistered-claude-model", "reasoning": {"exclude": False}, "messages": HI_CHAT}, "thinking", ABSENT),
    ("unknown-claude-from-interactions", "interactions", "claude",
     {"model": "unregistered-claude-model", "generation_config": {"thinking_summaries": "auto"}, "input": "hi"},
     "thinking", ABSENT),
    ("chat-none-no-codex-summary", "openai", "responses",
     {"model": "gpt-5.4", "reasoning_effort": "none", "messages": HI_CHAT}, "reasoning.summary", ABSENT),
    ("claude-absent-display-no-codex-summary", "claude", "responses",
     {"model": "gpt-5.4", "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}, "messages": HI_CHAT},
     "reasoning.summary", ABSENT),
    ("gemini-absent-include-no-codex-summary", "gemini", "responses",
     {"model": "gpt-5.4", "generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}, "contents": HI_GEMINI},
     "reasoning.summary", ABSENT),
    ("claude-summarized-codex-summary", "claude", "responses",
     {"model": "gpt-5.4", "thinking": {"type": "adaptive", "display": "summarized"},
      "output_config": {"effort": "high"}, "messages": HI_CHAT}, "reasoning.summary", "auto"),
    ("interactions-none-no-codex-summary", "interactions", "responses",
     {"model": "gpt-5.4", "generation_config": {"thinking_level": "high", "thinking_summaries": "none"}, "input": "hi"},
     "reasoning.summary", ABSENT),
    ("chat-effort-codex-summary", "openai", "responses",
     {"model": "gpt-5.4", "reasoning_effort": "high", "messages": HI_CHAT}, "reasoning.summary", "auto"),
    ("responses-summary-no-chat-effort", "responses", "openai",
     {"model": "chat-gpt-5.4", "reasoning": {"summary": "auto"}, "input": "hi"}, "reasoning_effort", ABSENT),
    ("responses-null-summary-keeps-chat-effort", "responses", "openai",
     {"model": "chat-gpt-5.4", "reasoning": {"effort": "high", "summary": None}, "input": "hi"},
     "reasoning_effort", "high"),
    ("gemini-hidden-keeps-chat-effort", "gemini", "openai",
     {"model": "chat-gpt-5.4", "generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": False}},
      "contents": HI_GEMINI}, "reasoning_effort", "high"),
    ("claude-omitted-keeps-chat-effort", "claude", "openai",
     {"model": "chat-gpt-5.4", "thinking": {"type": "adaptive", "display": "omitted"},
      "output_config": {"effort": "high"}, "messages": HI_CHAT}, "reasoning_effort", "high"),
    ("chat-no-effort-no-claude-display", "openai", "claude",
     {"model": "claude-opus-5", "messages": HI_CHAT}, "thinking.display", ABSENT),
    ("responses-effort-no-claude-display", "responses", "claude",
     {"model": "claude-opus-5", "reasoning": {"effort": "high"}, "input": "hi"}, "thinking.display", ABSENT),
    ("responses-summary-claude-summary", "responses", "claude",
     {"model": "claude-opus-5", "reasoning": {"effort": "high", "summary": "auto"}, "input": "hi"},
     "thinking.display", "summarized"),
    ("responses-null-summary-claude-omitted", "responses", "claude",
     {"model": "claude-opus-5", "reasoning": {"effort": "high", "summary": None}, "input": "hi"},
     "thinking.display", "omitted"),
    ("chat-effort-gemini-summary", "openai", "gemini",
     {"model": "gemini-3.6-flash", "reasoning_effort": "high", "messages": HI_CHAT},
     "generationConfig.thinkingConfig.includeThoughts", True),
    ("chat-none-gemini-hidden", "openai", "gemini",
     {"model": "gemini-3.6-flash", "reasoning_effort": "none", "messages": HI_CHAT},
     "generationConfig.thinkingConfig.includeThoughts", False),
    ("google-extension-overrides-gemini", "openai", "gemini",
     {"model": "gemini-3.6-flash", "reasoning_effort": "high",
      "extra_body": {"google": {"thinking_config": {"include_thoughts": False}}}, "messages": HI_CHAT},
     "generationConfig.thinkingConfig.includeThoughts", False),
    ("responses-effort-no-gemini-summary", "responses", "gemini",
     {"model": "gemini-3.6-flash", "reasoning": {"effort": "high"}, "input": "hi"},
     "generationConfig.thinkingConfig.includeThoughts", ABSENT),
    ("responses-detailed-gemini-summary", "responses", "gemini",
     {"model": "gemini-3.6-flash", "reasoning": {"effort": "high", "summary": "detailed"}, "input": "hi"},
     "generationConfig.thinkingConfig.includeThoughts", True),
    ("claude-summarized-gemini-summary", "claude", "gemini",
     {"model": "gemini-3.6-flash", "thinking": {"type": "adaptive", "display": "summarized"}, "messages": HI_CHAT},
     "generationConfig.thinkingConfig.includeThoughts", True),
    ("claude-auto-budget-keeps-gemini-summary", "claude", "gemini",
     {"model": "gemini-3.6-flash", "thinking": {"type": "enabled", "budget_tokens": -1, "display": "summarized"},
      "messages": HI_CHAT}, "generationConfig.thinkingConfig.includeThoughts", True),
    ("gemini-hidden-claude-omitted", "gemini", "claude",
     {"model": "claude-opus-5", "generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": False}},
      "contents": HI_GEMINI}, "thinking.display", "omitted"),
    ("gemini-absent-no-claude-display", "gemini", "claude",
     {"model": "claude-opus-5", "generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}, "contents": HI_GEMINI},
     "thinking.display", ABSENT),
    ("interactions-auto-gemini-summary", "interactions", "gemini",
     {"model": "gemini-3.6-flash", "generation_config": {"thinking_level": "high", "thinking_summaries": "auto"},
      "input": "hi"}, "generationConfig.thinkingConfig.includeThoughts", True),
    ("interactions-none-claude-omitted", "interactions", "claude",
     {"model": "claude-opus-5", "generation_config": {"thinking_level": "high", "thinking_summaries": "none"},
      "input": "hi"}, "thinking.display", "omitted"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "client", "upstream", "body", "path", "want"), CASES, ids=[c[0] for c in CASES]
)
async def test_summary_intent_reaches_the_upstream(
    start_proxy, fakes, case, client, upstream, body, path, want
):
    """CPA: TestSummaryIntentTranslation (its rows for Claude, Codex, Chat and Gemini
    upstreams, one client format each as CPA names it). A disabled Claude thinking never
    keeps a ``display``."""
    proxy = await start_proxy(_config(fakes))
    status = await send_as(proxy.url, client, body)
    fake = getattr(fakes, upstream)
    assert fake.requests, (case, status)
    sent = fake.last.json
    assert _at(sent, path) == want, sent
    if upstream == "claude" and _at(sent, "thinking.type") == "disabled":
        assert _at(sent, "thinking.display") is ABSENT, sent


@pytest.mark.parametrize(
    ("upstream", "model", "path"),
    [
        ("gemini", "gemini-3.6-flash", "generationConfig.thinkingConfig.includeThoughts"),
        ("responses", "gpt-5.4", "reasoning.summary"),
    ],
)
async def test_an_unknown_interactions_summary_writes_no_control(start_proxy, fakes, upstream, model, path):
    """CPA: TestInvalidInteractionsSummaryDoesNotWriteTargetControl: ``thinking_summaries:
    "banana"`` says nothing the upstream could be told."""
    proxy = await start_proxy(_config(fakes))
    body = {"model": model, "generation_config": {"thinking_summaries": "banana"}, "input": "hi"}
    status = await send_as(proxy.url, "interactions", body)
    fake = getattr(fakes, upstream)
    assert fake.requests, status
    assert _at(fake.last.json, path) is ABSENT, fake.last.json


def _pipeline_config(fakes: Any) -> str:
    """CPA's test models of TestSummaryIntentFinalPipeline, given their capabilities by the
    keys' ``models:`` lists."""
    sonnet = {"min": 1024, "max": 128000, "zero-allowed": True, "levels": ["low", "medium", "high"]}
    mixed = {"min": 128, "max": 32768, "dynamic-allowed": True, "levels": ["low", "high"]}
    return keys_config(
        fakes,
        claude=[{"name": "claude-sonnet-4-6", "alias": "claude-sonnet-4-6-model", "thinking": sonnet}],
        codex=[same("level-model", {"levels": ["minimal", "low", "medium", "high"]})],
        gemini=[same("gemini-mixed-model", mixed)],
    )


SONNET = "claude-sonnet-4-6-model"
GI = "generationConfig.thinkingConfig.includeThoughts"
PIPELINE: list[tuple[str, str, str, dict[str, Any], str, Any]] = [
    ("responses-summary-claude", "responses", "claude",
     {"model": SONNET, "reasoning": {"summary": "auto"}, "input": "hi"}, "thinking.display", "summarized"),
    ("responses-null-summary-keeps-claude-default", "responses", "claude",
     {"model": SONNET, "reasoning": {"summary": None}, "input": "hi"}, "thinking", ABSENT),
    ("responses-default-no-claude-display", "responses", "claude",
     {"model": SONNET, "input": "hi"}, "thinking.display", ABSENT),
    ("chat-exclude-false-claude-summary", "openai", "claude",
     {"model": SONNET, "reasoning": {"exclude": False}, "messages": HI_CHAT}, "thinking.display", "summarized"),
    ("interactions-summary-claude", "interactions", "claude",
     {"model": SONNET, "generation_config": {"thinking_summaries": "auto"}, "input": "hi"},
     "thinking.display", "summarized"),
    ("suffix-none-removes-claude-display", "responses", "claude",
     {"model": SONNET + "(none)", "reasoning": {"summary": "auto"}, "input": "hi"}, "thinking.display", ABSENT),
    ("suffix-keeps-disabled-claude-summary", "responses", "claude",
     {"model": SONNET + "(high)", "reasoning": {"summary": None}, "input": "hi"}, "thinking.display", "omitted"),
    ("gemini-absent-no-claude-display", "gemini", "claude",
     {"model": SONNET, "generationConfig": {"thinkingConfig": {"thinkingLevel": "high"}}, "contents": HI_GEMINI},
     "thinking.display", ABSENT),
    ("gemini-true-claude-summary", "gemini", "claude",
     {"model": SONNET, "generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True}},
      "contents": HI_GEMINI}, "thinking.display", "summarized"),
    ("responses-null-summary-hides-gemini", "responses", "gemini",
     {"model": "gemini-mixed-model", "reasoning": {"summary": None}, "input": "hi"}, GI, False),
    ("google-extension-false-survives", "openai", "gemini",
     {"model": "gemini-mixed-model", "reasoning_effort": "high",
      "extra_body": {"google": {"thinking_config": {"include_thoughts": False}}}, "messages": HI_CHAT}, GI, False),
    ("claude-code-sonnet-omitted-gemini", "claude", "gemini",
     {"model": "gemini-mixed-model", "thinking": {"type": "adaptive", "display": "omitted"},
      "output_config": {"effort": "high"}, "messages": HI_CHAT}, GI, False),
    ("claude-code-haiku-omitted-gemini", "claude", "gemini",
     {"model": "gemini-mixed-model", "thinking": {"type": "enabled", "budget_tokens": 31999, "display": "omitted"},
      "messages": HI_CHAT}, GI, False),
    ("deprecated-generate-summary-codex", "responses", "responses",
     {"model": "level-model", "reasoning": {"effort": "high", "generate_summary": "detailed"}, "input": "hi"},
     "reasoning.summary", "detailed"),
]  # fmt: skip


async def test_summary_intent_after_the_thinking_step(start_proxy, fakes) -> None:
    """CPA: TestSummaryIntentFinalPipeline (its rows for Claude, Gemini and Codex upstreams):
    the summary intent survives the thinking step, a suffix ``(none)`` removes it, and a
    disabled Claude thinking keeps no ``display``. One proxy serves every row."""
    proxy = await start_proxy(_pipeline_config(fakes))
    wrong = []
    for case, client, upstream, body, path, want in PIPELINE:
        fake = getattr(fakes, upstream)
        before = len(fake.requests)
        status = await send_as(proxy.url, client, body)
        sent = fake.last.json if len(fake.requests) > before else {"status": status}
        if _at(sent, path) != want:
            wrong.append((case, _at(sent, path), want))
        if (
            upstream == "claude"
            and _at(sent, "thinking.type") == "disabled"
            and _at(sent, "thinking.display") is not ABSENT
        ):
            wrong.append((case, "display kept on disabled thinking"))
    assert wrong == [], repr(wrong)


@pytest.mark.parametrize(
    ("model", "kind", "budget"),
    [("claude-sonnet-4-6", "adaptive", ABSENT), ("claude-haiku-4-5-20251001", "enabled", 1024)],
    ids=["adaptive", "manual"],
)
async def test_gemini_summary_only_gives_valid_claude_thinking(start_proxy, fakes, model, kind, budget):
    """CPA: TestGeminiSummaryOnlyProducesValidClaudeThinking: ``includeThoughts: true`` alone
    turns Claude thinking on with ``display: summarized`` as the model takes it: adaptive
    (no budget) on a model with levels, enabled at its smallest budget on a manual one (the
    catalog's Sonnet 4.6 and Haiku 4.5 stand for CPA's test models). Before, both got
    ``enabled`` with a budget of 8192."""
    proxy = await start_proxy(
        keys_config(fakes, claude=[])
    )  # the catalog's Claude models, with their capabilities
    body = {
        "model": model,
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
        "contents": HI_GEMINI,
    }
    assert await send_as(proxy.url, "gemini", body) == 200
    sent = fakes.claude.last.json
    assert (_at(sent, "thinking.type"), _at(sent, "thinking.display")) == (kind, "summarized"), sent
    assert _at(sent, "thinking.budget_tokens") == budget, sent


async def test_native_claude_keeps_signature_only_history(start_proxy, fakes):
    """CPA: TestNativeClaudeMissingDisplayPreservesSignatureOnlyHistory: a Claude request
    with adaptive thinking and no ``display`` gains none, and an earlier turn's thinking
    block holding only a signature (what ``display: omitted`` returns) reaches Claude as it
    was. (The signature is a well-formed Claude one: CPA's executor, like cliproxy, drops a
    thinking block whose signature is not; the fake Claude refuses this one, which is not
    under test.)"""
    proxy = await start_proxy(_config(fakes))
    block = {"type": "thinking", "thinking": "", "signature": claude_signature()}
    body = {
        "model": "claude-opus-5",
        "thinking": {"type": "adaptive"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [block]},
            {"role": "user", "content": "continue"},
        ],
    }
    await send_as(proxy.url, "claude", body)  # (the fake refuses the fixture's signature: no matter)
    sent = fakes.claude.last.json
    assert _at(sent, "thinking.display") is ABSENT, sent
    assert sent["messages"][1] == {"role": "assistant", "content": [block]}, sent
