"""CPA ``internal/thinking/summary_test.go`` (``TestApplySummaryConfig_OpenAIChatProviderDialects``)
and ``apply_configured_api_key_test.go`` (``TestApplyThinkingWithModelInfoUsesOpenRouterVisibility``)
through the proxy: OpenRouter's Chat dialect has a "reason but hide" switch,
``reasoning.exclude``, which the proxy sets from the client's summary intent in its own
format; no other Chat upstream gets a field it did not have, nor an effort invented."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY


@pytest.fixture
async def proxy(start_proxy: Any, fake_openai: Any) -> Any:
    entries = "\n".join(
        f"""  - name: {name}
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-{name}"}}]
    models:
      - {{name: "up-model", alias: "{name}-model"}}"""
        for name in ("openrouter", "prod-openrouter", "deepseek")
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nopenai-compatibility:\n{entries}\n')
    proxy.fake = fake_openai
    return proxy


@pytest.mark.parametrize(
    ("model", "reasoning", "exclude"),
    [
        ("openrouter-model", {"summary": "auto"}, False),
        ("prod-openrouter-model", {"summary": None}, True),
        ("deepseek-model", {"summary": "auto"}, None),
        ("openrouter-model", {"effort": "high"}, None),
    ],
    ids=["openrouter enables", "openrouter disables", "others get nothing", "effort alone says nothing"],
)
async def test_openrouter_visibility_from_a_responses_client(
    proxy: Any, model: str, reasoning: dict[str, Any], exclude: bool | None
) -> None:
    """TestApplyThinkingWithModelInfoUsesOpenRouterVisibility,
    TestApplySummaryConfig_OpenAIChatProviderDialects ("OpenRouter enables / disables
    visibility", "OpenAI does not invent visibility")"""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(model=model, input="hi", extra_body={"reasoning": reasoning})
    sent = proxy.fake.last.json
    assert (sent.get("reasoning") or {}).get("exclude") is exclude
    if "effort" not in reasoning:
        assert "reasoning_effort" not in sent
