"""CPA's model-registry safety cases (internal/registry/model_registry_safety_test.go) that a
client can see: what the model list shows while a model's only credential is out of quota."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_client_faults import cooling, listed

HELLO = [{"role": "user", "content": "hi"}]


async def test_a_model_out_of_quota_stays_listed(start_proxy, fakes):
    """CPA: TestCleanupExpiredQuotasInvalidatesAvailableModelsCache. The only credential of a
    model answers 429 and cools; the model stays in /v1/models while it cools (CPA lists a
    quota-exceeded model until its cooldown is cleaned up, and after), unlike a model the
    upstream says it does not serve (test_client_faults.py)."""
    proxy = await start_proxy(matrix_config(fakes, "request-retry: 0\n"))
    fakes.openai.fail_next(429, message="quota exceeded")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="compat-model", messages=HELLO)
    assert await cooling(proxy)
    assert "compat-model" in await listed(proxy)
