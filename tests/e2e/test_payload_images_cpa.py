"""CPA's payload-rule cases around ``disable-image-generation``
(internal/runtime/executor/helps/payload_helpers_disable_image_generation_test.go) through a
running proxy and the fake Codex backend."""

from __future__ import annotations

import openai

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

RESTORE = """disable-image-generation: true
payload:
  override-raw:
    - models: [{name: "gpt-5.4", protocol: "codex"}]
      params:
        tools: '[{"type":"image_generation"},{"type":"function","name":"f1"}]'
        tool_choice: '{"type":"image_generation"}'
"""


async def test_a_payload_override_can_restore_the_image_tool(start_proxy, fakes) -> None:
    """CPA: TestApplyPayloadConfigWithRoot_DisableImageGeneration_PayloadOverrideCanRestoreImageGeneration.
    With ``disable-image-generation: true`` the client's image tool is stripped first, then
    an override rule for the upstream model writes ``tools`` and ``tool_choice`` back: the
    payload rules have the last word."""
    proxy = await start_proxy(matrix_config(fakes, RESTORE))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(
            model="codex-model",
            input="hello",
            tools=[{"type": "image_generation"}],
            tool_choice={"type": "image_generation"},
        )
    sent = fakes.responses.last.json
    assert sent["tools"] == [{"type": "image_generation"}, {"type": "function", "name": "f1"}]
    assert sent["tool_choice"] == {"type": "image_generation"}
