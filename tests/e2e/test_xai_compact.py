"""``/v1/responses/compact`` to a Grok model: through the official openai SDK and a running
proxy to the fake xAI API (CPA's ``XAIExecutor.executeCompact``)."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY

HISTORY = [
    {"type": "message", "role": "user", "content": "history"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "old answer"}]},
    {"type": "compaction_trigger"},
]


@pytest.fixture
async def proxy(start_proxy, fake_openai):
    config = f"""
api-keys: ["{KEY}"]
payload:
  override:
    - models: [{{name: "grok-4.3"}}]
      params: {{"top_k": 10, "user": "rule"}}
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
"""
    return await start_proxy(config)


async def test_compact_through_the_openai_sdk_to_xai(proxy, fake_openai) -> None:
    """The call goes to ``{base}/responses/compact`` as JSON, without ``stream``, tools,
    sampling limits (a payload rule's ``top_k`` too) or the ``compaction_trigger`` item;
    the compaction reaches the SDK as the upstream sent it."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.compact(
            model="grok-4.3",
            input=HISTORY,  # type: ignore[arg-type]
            extra_body={"temperature": 0.3, "max_output_tokens": 64, "tools": [{"type": "web_search"}]},
        )
    assert done.object == "response.compaction"
    assert [getattr(item, "type", None) for item in done.output][-1] == "compaction"
    sent = fake_openai.last
    assert sent.path == "/v1/responses/compact"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Authorization"] == "Bearer xai-1"
    body = sent.json
    assert body["model"] == "grok-4.3"
    assert body["user"] == "rule"  # the payload rule applied, its top_k then dropped
    for name in ("stream", "tools", "tool_choice", "temperature", "max_output_tokens", "top_k"):
        assert name not in body
    assert [i.get("type") for i in body["input"]] == ["message", "message"]
