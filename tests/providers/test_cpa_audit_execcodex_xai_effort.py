"""The rows of CPA's TestXAISupportsReasoningEffortUsesModelRegistry
(internal/runtime/executor/xai_executor_test.go) that tests/providers/test_xai_cpa_prepare.py
did not hold, through a running proxy against the fake xAI API: whether a client's
reasoning effort reaches xAI is decided by the model's thinking levels in the catalog."""

from __future__ import annotations

import pytest

from tests.e2e.clients import KEY
from tests.providers.test_xai_cpa_executor import post


def _config(base: str, prefix: str = "") -> str:
    extra = f'\n    prefix: "{prefix}"' if prefix else ""
    return f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{base}/v1"{extra}\n'


@pytest.mark.parametrize(
    ("model", "upstream", "effort"),
    [
        ("grok-3-mini-fast", "grok-3-mini-fast", "medium"),
        ("grok-4.20-multi-agent-0309", "grok-4.20-multi-agent-0309", "medium"),
        ("grok-4.5(high)", "grok-4.5", "high"),
    ],
    ids=["grok-3-mini-fast", "grok-4.20-multi-agent", "grok-4.5-with-suffix"],
)
async def test_reasoning_models_keep_the_effort(start_proxy, fake_openai, model, upstream, effort) -> None:
    """The ``want: true`` rows: a reasoning model keeps the client's effort; a ``(level)``
    suffix names it (and wins over the body's)."""
    proxy = await start_proxy(_config(fake_openai.base_url))
    body = {"model": model, "input": "hello", "reasoning": {"effort": "medium"}}
    status, data = await post(proxy, "/v1/responses", body)
    assert status == 200, data
    sent = fake_openai.last.json
    assert sent["model"] == upstream
    assert sent["reasoning"]["effort"] == effort, sent


async def test_a_prefixed_model_keeps_the_effort(start_proxy, fake_openai) -> None:
    """The ``xai/grok-4.5`` row: the credential's prefix names the model, the effort is
    decided by the model behind it."""
    proxy = await start_proxy(_config(fake_openai.base_url, prefix="xai"))
    body = {"model": "xai/grok-4.5", "input": "hello", "reasoning": {"effort": "low"}}
    status, data = await post(proxy, "/v1/responses", body)
    assert status == 200, data
    sent = fake_openai.last.json
    assert sent["model"] == "grok-4.5" and sent["reasoning"]["effort"] == "low", sent
