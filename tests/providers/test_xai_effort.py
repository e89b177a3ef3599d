"""xAI's ``reasoning.effort`` as CPA's xAI executor leaves it (``sanitizeXAIResponsesBody``):
only for a model with thinking levels, whoever wrote it (the client, a suffix, the Codex
dialect's default ``medium`` for Chat, Claude and Gemini clients, a payload rule), through
a running proxy against the fake Responses upstream.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from tests.e2e.clients import KEY
from tests.providers.test_xai_cpa_executor import post

_MODELS = """    models:
      - {name: grok-4.5}
      - {name: grok-composer-2.5-fast}
      - {name: grok-own}
      - {name: grok-own-levels, thinking: {levels: [low, high]}}
      - {name: grok-own-levels, alias: own-levels-alias, thinking: {levels: [low, high]}}
"""


def _config(base: str, extra: str = "") -> str:
    return (
        f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{base}/v1"\n'
        + _MODELS
        + extra
    )


async def _ask(proxy: Any, client: str, model: str) -> None:
    """One request naming no effort, with the official SDK of ``client``'s format."""
    if client == "openai":
        async with openai.AsyncOpenAI(
            base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
        ) as oa:
            await oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    elif client == "claude":
        async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as an:
            await an.messages.create(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    else:
        gc = genai.Client(
            api_key=KEY,
            http_options=types.HttpOptions(base_url=proxy.url, timeout=15_000),
        )
        await gc.aio.models.generate_content(model=model, contents="hi")


@pytest.mark.parametrize("client", ["openai", "claude", "gemini"])
async def test_default_effort_only_for_a_model_with_levels(start_proxy, fake_openai, client) -> None:
    """CPA: TestXAIExecutorOmitsUnsupportedReasoningEffort and
    TestXAISupportsReasoningEffortUsesModelRegistry, with the default CPA's Chat, Claude
    and Gemini -> Codex translators write (xAI takes the Codex dialect): a client naming
    no effort gets ``medium`` on a model with levels, nothing on one without (a catalog
    model or an API key's own model without ``thinking:``); an API key's own model whose
    ``thinking:`` lists levels gets the default fitted to them (``low``, the lower of the
    two nearest), as CPA registers it under its name."""
    proxy = await start_proxy(_config(fake_openai.base_url))
    for model, effort in (
        ("grok-4.5", "medium"),
        ("grok-composer-2.5-fast", None),
        ("grok-own", None),
        ("grok-own-levels", "low"),
    ):
        await _ask(proxy, client, model)
        sent = fake_openai.last.json
        assert sent["model"] == model
        assert (sent.get("reasoning") or {}).get("effort") == effort, (model, sent)
        if effort is None:
            assert "reasoning" not in sent, (model, sent)


async def test_alias_with_configured_levels_keeps_its_effort(start_proxy, fake_openai) -> None:
    """Deliberate difference from CPA's ``xaiSupportsReasoningEffort``, which looks the
    upstream name up in the registry: an API key's own model registered under an alias
    is found under the alias only, so CPA drops the effort of ``own-levels-alias`` although
    its ``thinking:`` lists levels. cliproxy reads the model as the serving credential
    registered it, so the effort the config allows reaches xAI."""
    proxy = await start_proxy(_config(fake_openai.base_url))
    status, data = await post(
        proxy, "/v1/responses", {"model": "own-levels-alias", "input": "hi", "reasoning": {"effort": "high"}}
    )
    assert status == 200, data
    sent = fake_openai.last.json
    assert sent["model"] == "grok-own-levels" and sent["reasoning"]["effort"] == "high", sent


async def test_payload_rule_effort_goes_for_a_model_without_levels(start_proxy, fake_openai) -> None:
    """CPA: TestXAIExecutorOmitsUnsupportedReasoningEffort (CPA's check runs after the
    payload rules, so a rule's effort goes too) and
    TestXAIExecutorKeepsPayloadOverrideReasoningEffortForGrok45 (a model with levels
    keeps it)."""
    rule = (
        "payload:\n  override:\n"
        "    - models: [{name: grok-composer-2.5-fast}, {name: grok-4.5}]\n"
        '      params: {"reasoning.effort": high}\n'
    )
    proxy = await start_proxy(_config(fake_openai.base_url, rule))
    for model, reasoning in (("grok-composer-2.5-fast", None), ("grok-4.5", {"effort": "high"})):
        status, data = await post(proxy, "/v1/responses", {"model": model, "input": "hello"})
        assert status == 200, data
        assert fake_openai.last.json.get("reasoning") == reasoning, fake_openai.last.json
