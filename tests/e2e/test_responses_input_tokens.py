"""``POST /v1/responses/input_tokens``: OpenAI's count of a Responses request's input tokens
(the openai SDK's ``client.responses.input_tokens.count``), answered as OpenAI answers it,
``{"object": "response.input_tokens", "input_tokens": N}``. The request is counted the way
the routed model's provider counts every other client's request: Claude's
``count_tokens``, Gemini's ``countTokens``, and locally (OpenAI's encodings) for Codex and
OpenAI-compatible models, where nothing is sent upstream.

Deliberate difference: CPA has no such route (a 404), so there is no CPA test to port."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.fakes.claude import _prompt_tokens

_TEXT = "Say hi to the world, then count from one to ten"


def _openai(matrix: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0, timeout=15)


async def _count(matrix: Any, model: str, **extra: Any) -> int:
    async with _openai(matrix) as client:
        answer = await client.responses.input_tokens.count(model=model, input=_TEXT, **extra)
    assert answer.object == "response.input_tokens"
    assert answer.input_tokens > 0
    return answer.input_tokens


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_a_claude_model_counts_with_count_tokens(matrix: Any) -> None:
    tokens = await _count(matrix, "claude-model", instructions="Be brief")
    sent = matrix.fakes.claude.last
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json["system"] == [{"type": "text", "text": "Be brief"}]
    assert sent.json["messages"] == [{"role": "user", "content": [{"type": "text", "text": _TEXT}]}]
    assert tokens == _prompt_tokens(sent.json)  # the upstream's own count


async def test_a_gemini_model_counts_with_count_tokens(matrix: Any) -> None:
    tokens = await _count(matrix, "gemini-model")
    assert matrix.fakes.gemini.last.path.endswith(":countTokens")
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=matrix.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        native = await client.aio.models.count_tokens(model="gemini-model", contents=_TEXT)
    finally:
        await client.aio.aclose()
    assert tokens == native.total_tokens


@pytest.mark.parametrize(("model", "fake"), [("codex-model", "responses"), ("compat-model", "openai")])
async def test_codex_and_compatible_models_count_locally(matrix: Any, model: str, fake: str) -> None:
    """Nothing goes upstream; the count is the one a Claude client's count_tokens gets for
    the same prompt on the same model (both counted locally, as CPA counts them)."""
    tokens = await _count(matrix, model, instructions="Be brief")
    async with anthropic.AsyncAnthropic(base_url=matrix.url, api_key=KEY, max_retries=0) as client:
        native = await client.messages.count_tokens(
            model=model, system="Be brief", messages=[{"role": "user", "content": _TEXT}]
        )
    assert tokens == native.input_tokens
    assert getattr(matrix.fakes, fake).requests == []


async def test_a_bad_count_request_gets_openais_error(matrix: Any) -> None:
    async with _openai(matrix) as client:
        with pytest.raises(openai.BadRequestError) as missing:
            await client.responses.input_tokens.count(input=_TEXT)
        with pytest.raises(openai.BadRequestError) as unknown:
            await client.responses.input_tokens.count(model="no-such-model", input=_TEXT)
        with pytest.raises(openai.BadRequestError) as bad:
            await client.responses.input_tokens.count(model="claude-model", extra_body={"input": 5})
    assert missing.value.body["param"] == "model", missing.value.body  # type: ignore[index]
    assert unknown.value.code == "model_not_found", unknown.value.body
    assert bad.value.body["param"] == "input", bad.value.body  # type: ignore[index]
