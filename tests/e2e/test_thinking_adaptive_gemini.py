"""CPA TestThinkingE2EClaudeAdaptive_Body case C12 on the wire: a Claude client (the
``anthropic`` SDK) asking adaptive thinking with no effort, on a Gemini budget model
(every row of the matrix runs on the thinking step, tests/models/test_thinking_groups_cpa.py)."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.test_thinking_conversion_cpa import _config

TC = "thinkingConfig"


async def test_adaptive_thinking_without_effort_gets_the_models_largest_budget(start_proxy, fakes) -> None:
    """CPA: TestThinkingE2EClaudeAdaptive_Body C12: the Gemini upstream gets the model's
    largest budget (20000 for gemini-budget-model), as CPA's translator writes it for
    adaptive thinking with no effort. Before, it got -1 (dynamic). No includeThoughts: the
    client sent no ``display`` (CPA's C12 asserts it absent)."""
    proxy = await start_proxy(_config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        thinking: Any = {"type": "adaptive"}
        await client.messages.create(
            model="gemini-budget-model",
            max_tokens=1024,
            messages=[{"role": "user", "content": "hi"}],
            thinking=thinking,
        )
    assert fakes.gemini.last.json["generationConfig"][TC] == {"thinkingBudget": 20000}
