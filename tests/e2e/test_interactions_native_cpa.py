"""CPA's Interactions cases that need the running proxy: an Interactions client on
Antigravity (``antigravity_executor_interactions_test.go``), and other clients on an
``interactions-api-key`` upstream (``is-compat`` and thinking settings)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_providers_more import antigravity  # noqa: F401  (the Antigravity proxy fixture)


@pytest.fixture
async def native(start_proxy, fakes):
    extra = f"""
interactions-api-key:
  - api-key: "int-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - {{name: "gemini-2.5-pro", alias: "native-model"}}
      - {{name: "deepseek-v4", alias: "int-compat", is-compat: true}}
      - {{name: "deepseek-v4", alias: "int-plain"}}
"""
    proxy = await start_proxy(matrix_config(fakes, extra))
    proxy.fakes = fakes
    return proxy


async def _post(base: str, path: str, body: dict[str, Any]) -> bytes:
    headers = {"x-api-key": KEY, "x-goog-api-key": KEY}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(base + path, json=body, headers=headers) as resp,
    ):
        data = await resp.read()
        assert resp.status == 200, data
        return data


@pytest.mark.parametrize(("model", "kept"), [("int-compat", True), ("int-plain", False)])
async def test_claude_empty_thinking_reaches_a_compat_interactions_key(native, model, kept):
    """TestConvertClaudeRequestToInteractionsWithCompatPreservesEmptyThinking: CPA's Gemini
    executor translates a Claude client's body for an Interactions key with the compat
    translator when the model is ``is-compat``; the empty, unsigned thinking block then goes
    up as a ``thought`` step, and without the flag it is dropped."""
    body = {
        "model": model,
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "What is 2+2?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "", "signature": ""},
                    {"type": "text", "text": "4"},
                ],
            },
            {"role": "user", "content": "And 3+3?"},
        ],
    }
    await _post(native.url, "/v1/messages", body)
    rec = native.fakes.gemini.last
    assert rec.path == "/v1beta/interactions"
    kinds = [step["type"] for step in rec.json["input"]]
    assert ("thought" in kinds) is kept, kinds


async def test_gemini_thinking_budget_reaches_an_interactions_key_as_a_level(native):
    """TestConvertGeminiRequestToInteractionsGenerationConfig (its thinking part): a Gemini
    client's ``thinkingBudget`` reaches the Interactions upstream as the API's own
    ``thinking_level`` (the pipeline's thinking step, CPA's interactions applier), with no
    budget field the API does not have; ``maxOutputTokens`` and ``topP`` go as snake case."""
    options = gtypes.HttpOptions(base_url=native.url, api_version="v1beta", timeout=20_000)
    client = genai.Client(api_key=KEY, http_options=options)
    try:
        config = gtypes.GenerateContentConfig(
            max_output_tokens=32, top_p=0.8, thinking_config=gtypes.ThinkingConfig(thinking_budget=1024)
        )
        await client.aio.models.generate_content(model="native-model", contents="Say hello", config=config)
    finally:
        await client.aio.aclose()
    cfg = native.fakes.gemini.last.json["generation_config"]
    assert cfg["max_output_tokens"] == 32 and cfg["top_p"] == 0.8
    assert cfg.get("thinking_level") in ("minimal", "low", "medium", "high"), cfg
    assert "thinking_config" not in cfg and "thinking_budget" not in cfg


async def test_interactions_stream_on_antigravity(antigravity):  # noqa: F811
    """TestAntigravityExecutorExecuteStreamTranslatesInteractionsRequest: a streamed
    Interactions request reaches Antigravity's ``streamGenerateContent?alt=sse`` as a Gemini
    request in its envelope: no ``input``, no ``stream`` field, the protocol settings as
    ``toolConfig`` / ``thinkingConfig`` and none of them left in ``generationConfig``.
    Differs: the level is in Gemini's enum spelling (``HIGH``), which the API takes as
    CPA's ``high``."""
    body = {
        "model": "gemini-3-flash",
        "input": [{"type": "user_input", "content": [{"type": "text", "text": "hi"}]}],
        "tools": [
            {
                "name": "get_weather",
                "description": "weather",
                "type": "function",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            }
        ],
        "generation_config": {"tool_choice": "auto", "thinking_level": "high", "thinking_summaries": "auto"},
        "stream": True,
        "store": False,
    }
    raw = await _post(antigravity.url, "/v1beta/interactions", body)
    assert b"event: interaction.completed" in raw
    rec = antigravity.fake.last
    assert rec.path.endswith("/v1internal:streamGenerateContent") and rec.query.get("alt") == "sse"
    sent = rec.json["request"]
    assert "input" not in rec.json and "input" not in sent and "stream" not in sent
    cfg = sent.get("generationConfig", {})
    assert not {"toolChoice", "thinkingLevel", "thinkingSummaries"} & cfg.keys()
    assert sent["contents"][0]["parts"][0]["text"] == "hi"
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"
    assert cfg["thinkingConfig"]["thinkingLevel"].lower() == "high"
    assert cfg["thinkingConfig"]["includeThoughts"] is True
