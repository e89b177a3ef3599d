"""A plugin's OAuth credential keeps an alias's cooldown under the upstream model, as CPA's
``stateModelForExecution`` (sdk/cliproxy/auth/conductor_models.go) keeps it for every
executor."""

from __future__ import annotations

import openai
import pytest

from cliproxy.credentials.compat_auth import PLUGIN_MODELS
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.models.alias_state import shared_names
from cliproxy.models.bindings import Binding
from cliproxy.models.catalog import ModelInfo
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_plugin_oauth_alias_cpa import SAMPLE_PLUGIN

BUSY_PLUGIN = SAMPLE_PLUGIN.replace(
    "    async def execute(self, req):\n",
    "    calls = 0\n"
    "    async def execute(self, req):\n"
    "        Sample.calls += 1\n"
    "        if Sample.calls == 1:\n"
    '            raise PluginError("busy", http_status=429)\n',
)
FORK = """
oauth-model-alias:
  sample-provider:
    - name: sample-model-latest
      alias: sample-latest
      fork: true
"""


async def test_a_plugin_credentials_alias_429_cools_the_upstream_model(start_proxy, fakes, tmp_path):
    """CPA's TestManagerExecute_OAuthAliasBypassesBlockedRouteModel for a plugin executor's
    OAuth credential: a 429 for the alias ``sample-latest`` cools the credential under
    ``sample-model-latest`` (its upstream model) too, so a request by that name is refused
    by the proxy without asking the plugin (which would answer it). Before, a plugin credential's cooldown stayed
    under the name the client asked for."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": BUSY_PLUGIN}, {"sample": {}}, FORK)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10
    ) as client:
        for model in ("sample-latest", "sample-model-latest"):
            with pytest.raises(openai.RateLimitError):
                await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    state = proxy.service.pool.state
    assert await state.get_cooldown("sample.json", "sample-model-latest") is not None


@pytest.mark.parametrize("attribute", ["plugin", PLUGIN_MODELS])
def test_plugin_credentials_share_alias_state_alike(attribute: str) -> None:
    """stateModelForExecution takes the same state model for a plugin executor's credential
    and for one the OpenAI-compatible provider serves with a plugin's ``model.for_auth``
    models: both share the alias's cooldown with the upstream name."""
    cred = Credential(id="a", provider="sample-provider", kind=KIND_OAUTH, attributes={attribute: "sample"})
    up = Binding(ModelInfo(id="m"), ("m",))
    table = {"m": up, "alias": Binding(ModelInfo(id="alias"), ("m",))}
    assert shared_names(table, "alias", cred) == ("m", "alias")
