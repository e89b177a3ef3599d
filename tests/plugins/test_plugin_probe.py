"""Half-open probes (``routing.probe``) and a plugin executor's credential."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_plugin_oauth_alias_cpa import SAMPLE_PLUGIN

BUSY = SAMPLE_PLUGIN.replace(
    "    async def execute(self, req):\n",
    "    calls = 0\n"
    "    async def execute(self, req):\n"
    "        Sample.calls += 1\n"
    '        raise PluginError("busy", http_status=429)\n',
)
PROBE = "routing:\n  probe: {enabled: true, after: 0s, interval: 0.05s}\n"


async def test_a_cooling_plugin_executor_credential_is_not_probed(start_proxy, fakes, tmp_path):
    """A deliberate difference with no CPA test to port: CPA has no half-open prober, every
    credential's cooldown there runs out on its own (``NextRetryAfter``). Here the prober
    leaves a plugin executor's credential to do the same: a probe would be a request of
    the proxy's making handed to third-party code whose cost and side effects it cannot
    know (no model list or token count to fall back on), so its cooldown is waited out as
    in CPA. The plugin sees the client's request only, and the cooldown stays."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": BUSY}, {"sample": {}}, PROBE, base=False)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10
    ) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model="sample-model-latest", messages=[{"role": "user", "content": "x"}]
            )
    prober = proxy.service.prober
    assert prober is not None
    cred = proxy.service.pool.get("sample.json")
    assert cred is not None and await proxy.service.pool.cooldowns(cred)
    await asyncio.sleep(0.3)  # six probe intervals
    plugin = proxy.service.plugins.get("sample")
    assert plugin is not None and type(plugin.client.plugin).calls == 1
    assert prober.probes == 0 and "sample.json" not in prober.watching
    assert await proxy.service.pool.cooldowns(cred)
