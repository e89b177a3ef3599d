"""Audit (helper transag), through the proxy with the openai SDK: a Responses client on a
Gemini or Claude model gets its ``instructions`` back in the finished Response, whole
and streamed, as the OpenAI API and CPA's translators (TestConvertGeminiResponseToOpenAIResponses_UnwrapAndAggregateText)
give them. Before, a translated answer always said ``instructions: null``. A client that
sent none still reads null."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY

INSTRUCTIONS = "Answer in one short sentence."


@pytest.mark.parametrize("model", ["gemini-model", "claude-model"])
async def test_finished_response_repeats_instructions(matrix: Any, model: str) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        whole = await client.responses.create(model=model, instructions=INSTRUCTIONS, input="hi")
        async with client.responses.stream(model=model, instructions=INSTRUCTIONS, input="hi") as events:
            streamed = await events.get_final_response()
        bare = await client.responses.create(model=model, input="hi")
    assert whole.output_text and streamed.output_text
    assert whole.instructions == INSTRUCTIONS
    assert streamed.instructions == INSTRUCTIONS
    assert bare.instructions is None
