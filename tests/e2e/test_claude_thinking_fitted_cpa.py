"""A Claude client's thinking on the Interactions and Chat Completions routes, as CPA's
Claude translators write it and its thinking step then fits it to the model: adaptive
thinking with no effort is Interactions level ``auto`` (a model without dynamic thinking
gets its middle level, one with it no level), and enabled thinking with no budget (or -1)
is Chat ``reasoning_effort`` ``auto`` (kept for a model with dynamic thinking, its middle
level otherwise). The client is the ``anthropic`` SDK; each fake upstream records the body.
"""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.thinking_proxy import keys_config, same
from tests.models._thinking_models import ABSENT
from tests.models._thinking_models import field_at as _at

LEVELS = {"levels": ["low", "medium", "high"]}
LEVEL = "generation_config.thinking_level"


def _config(fakes: Any) -> str:
    models = (
        ("int-level-model", LEVELS),
        ("int-dynamic-model", {"min": 128, "max": 20000, "dynamic-allowed": True}),
    )
    interactions = "".join(
        f'      - {{"name": "{name}", "alias": "{name}", "thinking": {thinking}}}\n'.replace("'", '"')
        for name, thinking in models
    )
    extra = (
        f'interactions-api-key:\n  - api-key: "int-key-1"\n    base-url: "{fakes.gemini.base_url}"\n'
        f"    models:\n{interactions}"
    )
    chat = [same("chat-level-model", LEVELS), same("chat-dynamic-model", {**LEVELS, "dynamic-allowed": True})]
    return keys_config(fakes, chat=chat, extra=extra)


ADAPTIVE = {"thinking": {"type": "adaptive"}}
# (model, the client's thinking fields, path, value the upstream gets)
ROWS: list[tuple[str, dict[str, Any], str, Any]] = [
    ("int-level-model", ADAPTIVE, LEVEL, "medium"),
    ("int-dynamic-model", ADAPTIVE, LEVEL, ABSENT),
    ("int-level-model", {**ADAPTIVE, "output_config": {"effort": " LOW"}}, LEVEL, "low"),
    ("int-level-model", {"thinking": {"type": "enabled"}}, LEVEL, "medium"),
    ("int-level-model", {"thinking": {"type": "enabled", "budget_tokens": 10000}}, LEVEL, "high"),
    ("int-level-model", {"thinking": {"type": "disabled"}}, LEVEL, "low"),
    ("chat-dynamic-model", {"thinking": {"type": "enabled"}}, "reasoning_effort", "auto"),
    ("chat-dynamic-model", {"thinking": {"type": "enabled", "budget_tokens": -1}}, "reasoning_effort", "auto"),
    ("chat-level-model", {"thinking": {"type": "enabled"}}, "reasoning_effort", "medium"),
    ("chat-level-model", {"thinking": {"type": "enabled", "budget_tokens": -1}}, "reasoning_effort", "medium"),
]  # fmt: skip


async def test_claude_thinking_fitted_on_interactions_and_chat(start_proxy: Any, fakes: Any) -> None:
    """CPA: interactions_claude_request.go copyClaudeThinkingToInteractions (adaptive ->
    level auto, enabled alone -> high, a budget -> thinking_budget, disabled -> none, the
    effort lower-cased over it) and openai_claude_request.go (enabled without budget_tokens
    -> ConvertBudgetToLevel(-1), "auto"), then ApplyThinking: ValidateConfig turns auto into
    the middle level on a model without dynamic thinking and keeps it otherwise, where the
    Interactions applier writes no level and the OpenAI applier leaves "auto" as written.
    TestThinkingE2EInteractionsMatrix IN1 (budget 10000 -> high) and IN6 (disabled -> the
    lowest level) on the wire. Before, adaptive thinking reached an Interactions model
    without dynamic thinking with no level, and enabled thinking reached a Chat model with
    dynamic thinking with no reasoning_effort."""
    proxy = await start_proxy(_config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        for model, extra, path, want in ROWS:
            await client.messages.create(
                model=model, max_tokens=1024, messages=[{"role": "user", "content": "hi"}], extra_body=extra
            )
            fake = fakes.gemini if model.startswith("int-") else fakes.openai
            assert _at(fake.last.json, path) == want, (model, extra, fake.last.json)
