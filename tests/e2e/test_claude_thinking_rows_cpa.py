"""A Claude client's thinking fields, row by row, as CPA's Claude translators write them and
its thinking step then fits them to the model: on Chat Completions and Codex only the
thinking type writes an effort (an ``output_config.effort`` counts only beside adaptive
thinking); an API key's model nothing is known of, listed without ``thinking:``, does not
think on a Gemini or Interactions key either; and a Gemini model nothing is known of takes
the level the translator wrote as a budget. The client is the ``anthropic`` SDK; each fake
upstream records the body it got.
"""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.thinking_proxy import keys_config, same
from tests.models._thinking_models import ABSENT
from tests.models._thinking_models import field_at as _at
from tests.plugins.test_flow_python import ROUTER, _proxy

LEVELS = {"levels": ["low", "medium", "high"]}
ADAPTIVE = {"type": "adaptive"}
OE, RE = "reasoning_effort", "reasoning.effort"
GC = "generationConfig.thinkingConfig"
IL = "generation_config.thinking_level"


def _effort(value: str) -> dict[str, Any]:
    return {"output_config": {"effort": value}}


# (model, the client's thinking fields, path, value the upstream gets)
ROWS: list[tuple[str, dict[str, Any], str, Any]] = [
    ("chat-model", {}, OE, ABSENT),
    ("chat-model", _effort("low"), OE, ABSENT),
    ("chat-model", {"thinking": {"type": "enabled"}}, OE, "medium"),
    ("chat-model", {"thinking": {"type": "enabled"}, **_effort("low")}, OE, "medium"),
    ("chat-model", {"thinking": {"type": "enabled", "budget_tokens": 1024}, **_effort("high")}, OE, "low"),
    ("chat-model", {"thinking": ADAPTIVE}, OE, "high"),
    ("chat-model", {"thinking": ADAPTIVE, **_effort(" LOW")}, OE, "low"),
    ("chat-model", {"thinking": {"type": "disabled"}}, OE, "low"),
    ("chat-model", {"thinking": {"type": "disabled"}, **_effort("high")}, OE, "low"),
    ("codex-model", _effort("low"), RE, "medium"),
    ("codex-model", {}, RE, "medium"),
    ("codex-model", {"thinking": ADAPTIVE, **_effort("low")}, RE, "low"),
]  # fmt: skip


async def _ask(client: anthropic.AsyncAnthropic, model: str, extra: dict[str, Any]) -> None:
    await client.messages.create(
        model=model, max_tokens=1024, messages=[{"role": "user", "content": "hi"}], extra_body=extra
    )


async def test_claude_thinking_on_chat_and_codex_row_by_row(start_proxy: Any, fakes: Any) -> None:
    """CPA: openai_claude_request.go and codex_claude_request.go write an effort from the
    thinking type only (enabled: ConvertBudgetToLevel of budget_tokens or -1; adaptive:
    output_config.effort, else xhigh; disabled: none; Codex's default medium otherwise), and
    extractClaudeConfig reads output_config.effort only with adaptive thinking, so an effort
    with no thinking, or beside enabled or disabled thinking, reaches neither upstream
    (TestThinkingE2EMatrix_Body cases 11-15 and TestThinkingE2EClaudeAdaptive_Body C1-C6
    are the same rules on a level model). Before, a Claude client's effort alone went up as
    reasoning_effort (Chat) or replaced Codex's medium."""
    config = keys_config(fakes, chat=[same("chat-model", LEVELS)], codex=[same("codex-model", LEVELS)])
    proxy = await start_proxy(config)
    wrong = []
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        for model, extra, path, want in ROWS:
            await _ask(client, model, extra)
            fake = fakes.openai if model == "chat-model" else fakes.responses
            got = _at(fake.last.json, path)
            if got != want:
                wrong.append((model, extra, got, want))
    assert wrong == []


async def test_unknown_models_of_gemini_and_interactions_keys_do_not_think(
    start_proxy: Any, fakes: Any
) -> None:
    """CPA: TestAttachResolvedAPIKeyModelInfoBindsUnknownConfiguredCapability and
    TestResolveModelInfoUnknownModelKeepsMissingCapability: an API key's listed model whose
    upstream name nothing is known of, without ``thinking:``, is bound at execution as a
    model that does not think (not user-defined: buildConfigModels' UserDefined mark is only
    the registration's; compileAPIKeyModelCapabilitiesForAuth covers gemini and
    gemini-interactions keys too), so ApplyThinking strips the client's adaptive thinking
    and effort. The same model listed with ``thinking:`` levels gets the effort."""
    listed = (
        "    models:\n"
        '      - {name: "mystery-plain", alias: "mystery-plain"}\n'
        '      - {name: "mystery-levels", alias: "mystery-levels", thinking: {levels: [low, high]}}\n'
    )
    extra = (
        f'interactions-api-key:\n  - api-key: "int-key-1"\n    base-url: "{fakes.gemini.base_url}"\n{listed}'
    )
    gemini = [same("gem-plain"), same("gem-levels", {"levels": ["low", "high"]})]
    proxy = await start_proxy(keys_config(fakes, gemini=gemini, extra=extra))
    seen = {}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        for model, path in (
            ("gem-plain", f"{GC}.thinkingLevel"),
            ("gem-levels", f"{GC}.thinkingLevel"),
            ("mystery-plain", IL),
            ("mystery-levels", IL),
        ):
            await _ask(client, model, {"thinking": ADAPTIVE, **_effort("low")})
            seen[model] = _at(fakes.gemini.last.json, path)
    assert seen == {
        "gem-plain": ABSENT,
        "gem-levels": "low",
        "mystery-plain": ABSENT,
        "mystery-levels": "low",
    }


async def test_a_gemini_model_nothing_is_known_of_gets_adaptive_thinking_as_a_budget(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA: a model the registry does not know is user-defined (IsUserDefinedModel of nil),
    and applyUserDefinedModel reads the translated body: the Claude-to-Gemini translator's
    level high for adaptive thinking with no effort becomes, Gemini being budget-capable
    (normalizeUserDefinedConfig, ConvertLevelToBudget), thinkingBudget 24576 with no
    level. A router plugin sends the model to the Gemini provider under a name nothing is
    known of. Before, the level high went up as the translator wrote it."""
    router = ROUTER.format(name="r1", match="free-model", provider="gemini", model="gemini-mystery")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"r1": router}, {"r1": {}})
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        await _ask(client, "free-model", {"thinking": ADAPTIVE})
    sent = fakes.gemini.last.json
    assert fakes.gemini.last.model == "gemini-mystery"
    assert _at(sent, GC) == {"thinkingBudget": 24576}, sent
