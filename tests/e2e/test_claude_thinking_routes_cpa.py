"""A Claude client's thinking on the built-in routes, as CPA's translators and thinking
step write it: the Gemini upstream gets ``includeThoughts`` only when ``thinking.display``
asks (so Gemini sends thought parts, and the client thinking blocks, only then), and
thinking type ``auto`` is read as ``adaptive`` on every route that translates it and goes
to Claude as sent. The client is the ``anthropic`` SDK; each fake upstream records the
body it got.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY
from tests.e2e.thinking_proxy import keys_config, same
from tests.models._thinking_models import ABSENT
from tests.models._thinking_models import field_at as _at

LEVELS = {"levels": ["minimal", "low", "medium", "high"]}
GC = "generationConfig.thinkingConfig"


def _config(fakes: Any) -> str:
    return keys_config(
        fakes,
        codex=[same("level-model", LEVELS)],
        chat=[same("chat-level-model", LEVELS)],
        gemini=[same("gemini-budget-model", {"min": 128, "max": 20000, "dynamic-allowed": True})],
        claude=[same("claude-sonnet-4-6-model", {"min": 1024, "max": 128000, "zero-allowed": True, "levels": ["low", "medium", "high"]})],
    )  # fmt: skip


async def _ask(proxy: Any, model: str, extra: dict[str, Any], stream: bool = False) -> list[str]:
    """One Claude request; the types of the answer's content blocks."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        args: dict[str, Any] = {
            "model": model,
            "max_tokens": 30000,
            "messages": [{"role": "user", "content": "hi"}],
            "extra_body": extra,
        }
        if stream:
            async with client.messages.stream(**args) as events:
                message = await events.get_final_message()
        else:
            message = await client.messages.create(**args)
    return [block.type for block in message.content]


ENABLED = {"type": "enabled", "budget_tokens": 8192}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_gemini_shows_thoughts_only_when_display_asks(
    start_proxy: Any, fakes: Any, stream: bool
) -> None:
    """CPA: TestThinkingE2EMatrix_Body 24 (Claude budget 8192 -> thinkingBudget 8192, no
    includeThoughts), TestSummaryIntentTranslation "Native Claude summarized enables Gemini
    summary" and TestSummaryIntentFinalPipeline "Claude Code Haiku omitted thinking reaches
    Gemini". Without a display Gemini's default stands: no thought parts, so the client gets
    no thinking block (as CPA's client does); summarized shows it, omitted hides it. Before,
    includeThoughts was true whenever thinking was on. The display is read trimmed and in
    any case, as CPA's claudeSummaryConfig reads it (before, " Summarized " said nothing)."""
    proxy = await start_proxy(_config(fakes))
    cases: list[tuple[dict[str, Any], Any]] = [
        ({}, ABSENT),
        ({"display": "summarized"}, True),
        ({"display": "omitted"}, False),
        ({"display": " Summarized "}, True),
    ]
    for display, include in cases:
        blocks = await _ask(proxy, "gemini-budget-model", {"thinking": {**ENABLED, **display}}, stream)
        sent = fakes.gemini.last.json
        assert _at(sent, f"{GC}.thinkingBudget") == 8192
        assert _at(sent, f"{GC}.includeThoughts") == include, (display, sent)
        assert ("thinking" in blocks) is (include is True), (display, blocks)


# (CPA translator, upstream, model, client thinking fields, path, value the upstream gets)
AUTO: list[tuple[str, str, str, dict[str, Any], str, Any]] = [
    ("gemini_claude_request.go", "gemini", "gemini-budget-model", {}, f"{GC}.thinkingBudget", 20000),
    ("gemini_claude_request.go", "gemini", "gemini-budget-model", {"output_config": {"effort": "low"}},
     f"{GC}.thinkingBudget", 1024),
    ("openai_claude_request.go", "openai", "chat-level-model", {}, "reasoning_effort", "high"),
    ("openai_claude_request.go", "openai", "chat-level-model", {"output_config": {"effort": "low"}},
     "reasoning_effort", "low"),
    ("codex_claude_request.go", "responses", "level-model", {}, "reasoning.effort", "high"),
    ("codex_claude_request.go", "responses", "level-model", {"output_config": {"effort": "minimal"}},
     "reasoning.effort", "minimal"),
    ("passthrough", "claude", "claude-sonnet-4-6-model", {}, "thinking", {"type": "auto"}),
    ("passthrough", "claude", "claude-sonnet-4-6-model", {"output_config": {"effort": "medium"}},
     "thinking.type", "adaptive"),
]  # fmt: skip


@pytest.mark.parametrize("row", AUTO, ids=[f"{r[1]}-{'effort' if r[3] else 'none'}" for r in AUTO])
async def test_auto_thinking_is_read_as_adaptive(start_proxy: Any, fakes: Any, row: tuple) -> None:
    """CPA's Claude translators read ``thinking.type: auto`` as ``adaptive``
    (gemini_claude_request.go, openai_claude_request.go, codex_claude_request.go): no effort
    is the top (a Gemini budget model's largest budget, xhigh fitted to a level model's
    high), an ``output_config.effort`` is passed as the level. To Claude the body goes as
    sent, and an effort beside it becomes adaptive thinking on an adaptive model, as CPA's
    extractClaudeConfig and Claude applier do (TestThinkingE2EClaudeAdaptive_Body C20 with
    type auto). Before, every route refused the request with a 400."""
    _, upstream, model, extra, path, want = row
    proxy = await start_proxy(_config(fakes))
    await _ask(proxy, model, {"thinking": {"type": "auto"}, **extra})
    fake = {
        "gemini": fakes.gemini,
        "openai": fakes.openai,
        "responses": fakes.responses,
        "claude": fakes.claude,
    }
    sent = fake[upstream].last.json
    assert _at(sent, path) == want, sent
    if upstream == "gemini":
        assert _at(sent, f"{GC}.includeThoughts") is ABSENT, sent


async def test_auto_thinking_takes_no_display(start_proxy: Any, fakes: Any) -> None:
    """CPA TestExtractSummaryConfig "claude display with auto type is invalid": a display
    beside type auto states no summary intent, so Gemini gets no includeThoughts."""
    proxy = await start_proxy(_config(fakes))
    await _ask(proxy, "gemini-budget-model", {"thinking": {"type": "auto", "display": "summarized"}})
    assert _at(fakes.gemini.last.json, f"{GC}.includeThoughts") is ABSENT
