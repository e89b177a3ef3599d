"""CPA ``internal/thinking/apply_configured_api_key_test.go`` through the proxy: an API
key's model whose ``thinking:`` the config defines is checked against it, as CPA checks
the API key's resolved model. "xhigh" and "max" mean "the top the model offers": they
become the highest of ``xhigh`` / ``max`` / ``high`` it lists whenever the client's format
is not the target's, or the model's family is not the target's (an OpenAI-compatible
provider's model behind the OpenAI protocol).
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from cliproxy.models.thinking import ThinkingCaps, ThinkingError
from cliproxy.models.thinking.plan import ThinkingPlan
from tests.e2e.clients import KEY


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models:
      - {{name: "claude-upstream", alias: "cl-all", thinking: {{levels: [high, max, xhigh]}}}}
      - {{name: "claude-upstream", alias: "cl-max", thinking: {{levels: [high, max]}}}}
      - {{name: "claude-upstream", alias: "cl-xhigh", thinking: {{levels: [high, xhigh]}}}}
      - {{name: "claude-upstream", alias: "cl-high", thinking: {{levels: [high]}}}}
  - api-key: "sk-ant-2"
    base-url: "{fakes.claude.base_url}"
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models:
      - {{name: "codex-upstream", alias: "cx-xhigh", thinking: {{levels: [high, xhigh]}}}}
openai-compatibility:
  - name: compat-provider
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat-1"}}]
    models:
      - {{name: "compat-upstream", alias: "oc-max", thinking: {{levels: [high, max]}}}}
"""
    )
    proxy.fakes = fakes
    return proxy


def _chat(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15)


@pytest.mark.parametrize(
    ("intent", "model", "effort"),
    [
        ("xhigh", "cl-all", "xhigh"),
        ("xhigh", "cl-max", "max"),
        ("xhigh", "cl-high", "high"),
        ("max", "cl-all", "max"),
        ("max", "cl-xhigh", "xhigh"),
        ("max", "cl-high", "high"),
    ],
)
async def test_chat_top_intent_on_a_configured_claude_model(
    proxy: Any, intent: str, model: str, effort: str
) -> None:
    """TestApplyThinkingWithModelInfoMapsCrossFamilyHighIntent"""
    async with _chat(proxy) as client:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], extra_body={"reasoning_effort": intent}
        )
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive" and sent["output_config"]["effort"] == effort


async def test_chat_xhigh_on_an_openai_compatible_model(proxy: Any) -> None:
    """TestApplyThinkingWithModelInfoMapsOpenAICompatibilityHighIntent: Chat to Chat, yet
    the model is another family than OpenAI's, so "xhigh" is its top level (before, a 400
    said the model has no "xhigh")."""
    async with _chat(proxy) as client:
        await client.chat.completions.create(
            model="oc-max",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"reasoning_effort": "xhigh"},
        )
    assert proxy.fakes.openai.last.json["reasoning_effort"] == "max"


async def test_responses_max_on_a_configured_codex_model(proxy: Any) -> None:
    """TestApplyThinkingWithModelInfoMapsResponsesToCodexHighIntent"""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="cx-xhigh", input="hi", extra_body={"reasoning": {"effort": "max"}}
        )
    assert proxy.fakes.responses.last.json["reasoning"]["effort"] == "xhigh"


async def test_responses_effort_on_a_configured_claude_model(proxy: Any) -> None:
    """TestApplyThinkingWithModelInfoUsesOriginalResponsesEffort"""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="cl-max", input="hi", extra_body={"reasoning": {"effort": "xhigh"}}
        )
    assert proxy.fakes.claude.last.json["output_config"]["effort"] == "max"


async def test_claude_client_level_outside_a_configured_claude_model(proxy: Any) -> None:
    """TestApplyThinkingWithModelInfoKeepsSameFamilyValidationStrict, through a Claude key:
    a Claude client asking a level the configured Claude model does not list gets a 400 in
    its own format (same family, nothing to map)."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="cl-high",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
            )
    assert "max" in str(info.value)


def test_same_family_stays_strict() -> None:
    """TestApplyThinkingWithModelInfoKeepsSameFamilyValidationStrict: an OpenAI model of
    OpenAI's family, a Chat client on the Chat protocol: "xhigh" it does not list is a 400."""
    caps = ThinkingCaps(levels=("low", "medium", "high"), configured_type="openai")
    body: dict[str, Any] = {"reasoning_effort": "xhigh"}
    with pytest.raises(ThinkingError, match="xhigh"):
        ThinkingPlan(caps, "openai", "openai", True).apply(body, body, None, "openai-upstream")


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("cl-high", {"type": "adaptive", "display": "summarized"}),
        ("claude-opus-4-6", {"type": "adaptive", "display": "summarized"}),
        ("claude-haiku-4-5-20251001", {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}),
    ],
    ids=["configured levels", "catalog adaptive model", "catalog manual model"],
)
async def test_summary_only_turns_claude_thinking_on(
    proxy: Any, model: str, thinking: dict[str, Any]
) -> None:
    """TestApplyThinkingWithModelInfoAppliesEnabledSummaryOnlyClaudeVisibility,
    TestApplySummaryConfigForModel_ClaudeEnabledSummaryUsesValidThinkingMode: a Responses
    client asking only for a summary gets thinking it can be shown, in the mode the model
    takes (adaptive with levels, else enabled at its minimum budget).
    CPA: TestRegistryTranslateRequestActivatesClaudeForEnabledSummary."""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model=model, input="hi", max_output_tokens=32000, extra_body={"reasoning": {"summary": "auto"}}
        )
    assert proxy.fakes.claude.last.json["thinking"] == thinking


async def test_summary_only_leaves_no_room_for_a_budget(proxy: Any) -> None:
    """TestApplySummaryConfigForModel_ClaudeEnabledSummaryUsesValidThinkingMode: a manual
    model whose ``max_tokens`` cannot hold its minimum budget gets no thinking."""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="claude-haiku-4-5-20251001",
            input="hi",
            max_output_tokens=1000,
            extra_body={"reasoning": {"summary": "auto"}},
        )
    assert "thinking" not in proxy.fakes.claude.last.json
