"""CPA's executor-helper thinking cases (internal/runtime/executor/helps/model_capabilities_test.go,
openai_compat_executor_reasoning_test.go) through a running proxy: the thinking step reads
the model as the credential that serves the request defines it, not another credential's
model of the same upstream name, and an ``is-compat`` model keeps a Claude client's
unsigned reasoning beside its tool calls.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    """Two API keys name one upstream model: the prefixed one (the only one serving its
    alias) with its own ``thinking:``, the other with levels the first lacks."""
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
force-model-prefix: true
claude-api-key:
  - api-key: "selected-key"
    base-url: "{fakes.claude.base_url}"
    prefix: "tenant"
    models:
      - {{name: "shared-upstream", alias: "public-model", thinking: {{levels: [high]}}}}
      - {{name: "summary-shared-upstream", alias: "summary-public-model", thinking: {{min: 1024, max: 16000}}}}
  - api-key: "unrelated-key"
    base-url: "{fakes.claude.base_url}"
    models:
      - {{name: "shared-upstream", thinking: {{levels: [max]}}}}
      - {{name: "summary-shared-upstream", thinking: {{levels: [high]}}}}
openai-compatibility:
  - name: deepseek
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat-1"}}]
    models:
      - {{name: "deepseek-v4-flash", alias: "ds-compat", is-compat: true}}
"""
    )
    proxy.fakes = fakes
    return proxy


def _client(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15)


async def test_a_prefixed_keys_own_thinking_decides(proxy: Any) -> None:
    """CPA: TestApplyRequestThinkingUsesSelectedPrefixedAPIKeyModel (execute and stream):
    "max" from a Chat client on ``tenant/public-model`` becomes the top level the serving
    key's model lists (``high``), not the other key's ``max`` for the same upstream name.
    The count row (``ExecuteCount``) is :func:`test_a_prefixed_keys_own_thinking_decides_the_count`."""
    fake = proxy.fakes.claude
    async with _client(proxy) as client:
        await client.chat.completions.create(
            model="tenant/public-model",
            messages=[{"role": "user", "content": "hello"}],
            extra_body={"reasoning_effort": "max"},
        )
        sent = [fake.last.json]
        stream = await client.chat.completions.create(
            model="tenant/public-model",
            messages=[{"role": "user", "content": "hello"}],
            extra_body={"reasoning_effort": "max"},
            stream=True,
        )
        async for _ in stream:
            pass
        sent.append(fake.last.json)
    for body in sent:
        assert body["model"] == "shared-upstream"
        assert body["thinking"]["type"] == "adaptive" and body["output_config"]["effort"] == "high", body


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_a_prefixed_keys_own_thinking_decides_the_count(proxy: Any) -> None:
    """CPA: TestApplyRequestThinkingUsesSelectedPrefixedAPIKeyModel, its count row: a
    count gets the thinking step of a generation. cliproxy has no Chat count route, so
    the cross-provider "max" comes from a Gemini client's ``:countTokens`` as a suffix:
    the count Anthropic receives carries the serving key's top level, ``high``."""
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        await client.aio.models.count_tokens(model="tenant/public-model(max)", contents="hello")
    finally:
        await client.aio.aclose()
    body = proxy.fakes.claude.last.json
    assert proxy.fakes.claude.last.path.startswith("/v1/messages/count_tokens"), proxy.fakes.claude.last.path
    assert body["model"] == "shared-upstream"
    assert body["thinking"]["type"] == "adaptive" and body["output_config"]["effort"] == "high", body


async def test_a_summary_only_request_gets_the_serving_models_mode(proxy: Any) -> None:
    """CPA: TestApplyRequestThinkingUsesExactClaudeModeForSummaryOnlyRequest: a Responses
    client asking only to see the reasoning (``summary: auto``, no effort) on a model the
    serving key gives a budget range gets manual thinking at its minimum budget, shown
    summarized, and no adaptive effort (the other key's model of that upstream name has
    levels, which would have meant adaptive)."""
    async with _client(proxy) as client:
        await client.responses.create(
            model="tenant/summary-public-model", input="hi", extra_body={"reasoning": {"summary": "auto"}}
        )
    body = proxy.fakes.claude.last.json
    assert body["model"] == "summary-shared-upstream"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}, body
    assert "effort" not in (body.get("output_config") or {}), body


async def test_compat_keeps_unsigned_reasoning_beside_tool_calls(proxy: Any) -> None:
    """CPA: TestOpenAICompatExecutorUsesCompatibleClaudeTranslation: a Claude client's
    unsigned thinking before a tool call reaches an ``is-compat`` Chat upstream as the
    assistant's ``reasoning_content``, its tool call kept."""
    body = {
        "model": "ds-compat",
        "max_tokens": 64,
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "prior reasoning", "signature": ""},
                    {"type": "tool_use", "id": "call_1", "name": "Read", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}]},
        ],
    }
    headers = {"x-api-key": KEY}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.read()
    assistant = proxy.fakes.openai.last.json["messages"][0]
    assert assistant["role"] == "assistant"
    assert assistant["reasoning_content"] == "prior reasoning"
    assert assistant["tool_calls"][0]["function"]["name"] == "Read"
