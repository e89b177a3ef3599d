"""CPA aistudio_executor_test.go TestAIStudioTranslateRequestPreservesSummaryFromOriginalRequest:
a Responses client's ``reasoning.summary: auto`` reaches the AI Studio relay as Gemini's
``thinkingConfig.includeThoughts: true`` (the relay client of tests/e2e/test_aistudio_relay.py
answers; the request comes through the official openai SDK)."""

from __future__ import annotations

import openai
import orjson

from tests.e2e.clients import KEY
from tests.e2e.test_aistudio_relay import _config, relay


async def test_a_responses_summary_asks_the_relay_for_thoughts(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with (
        relay(proxy) as client,
        openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk,
    ):
        answer = await sdk.responses.create(
            model="gemini-2.5-flash", input="hi", reasoning={"summary": "auto"}
        )
        assert answer.output_text == "hello from the relay"
        plain = await sdk.responses.create(model="gemini-2.5-flash", input="hi")
        assert plain.output_text
    asked, unasked = (orjson.loads(r["payload"]["body"]) for r in client.requests)
    assert asked["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    assert not unasked.get("generationConfig", {}).get("thinkingConfig", {}).get("includeThoughts")
