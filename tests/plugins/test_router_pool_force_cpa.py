"""Force mapping decided per attempt on a route a model-router plugin chose
(sdk/cliproxy/auth/api_key_model_capabilities_test.go), through a running proxy."""

from __future__ import annotations

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import ROUTER, _proxy


async def test_a_routed_alias_pool_force_maps_only_its_own_entry(start_proxy, fakes, tmp_path):
    """TestAttachResolvedAPIKeyModelInfoSupportsKeylessOpenAICompatibility, on a route a
    model router named: the pool turns per request and only the answer from the
    force-mapped entry reports the alias; the other pooled name keeps its own. Before, a
    router's route force-mapped every name of the pool."""
    compat = f"""openai-compatibility:
  - name: keyless
    base-url: "{fakes.openai.base_url}/v1"
    models:
      - {{name: "shared-upstream", alias: "public-model", force-mapping: true}}
      - {{name: "fallback-upstream", alias: "public-model"}}
"""
    router = ROUTER.format(
        name="r1", match="fast", provider="openai-compatible-keyless", model="public-model"
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"r1": router}, {"r1": {}}, compat, base=False)
    seen = []
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        for _ in range(2):
            answer = await client.chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "hi"}]
            )
            seen.append((fakes.openai.last.json["model"], answer.model))
    assert seen == [("shared-upstream", "public-model"), ("fallback-upstream", "fallback-upstream")]
