"""The model lists a client key limited to some models reads: only those models.

CPA has no per-key model limits (its ``api-keys`` are plain strings), so this is our own
feature's rule: a key's ``models`` globs refuse the other models' requests, and its lists
(OpenAI, Claude and Gemini shapes, and one model's lookup) leave them out too."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.policies.conftest import PLAIN

LIMITED = '  - {key: "sk-a", name: team-a, models: ["compat-*"]}'


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_openai_list_and_lookup_show_only_the_keys_models(policy_proxy, engine):
    """GET /v1/models and GET /v1/models/{id}, on both server engines: the limited key sees
    compat-model only, and claude-model is unknown to it (404); the plain key sees both."""
    proxy = await policy_proxy(LIMITED, engine=engine)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-a", max_retries=0) as client:
        assert [m.id async for m in client.models.list()] == ["compat-model"]
        assert (await client.models.retrieve("compat-model")).id == "compat-model"
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("claude-model")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=PLAIN, max_retries=0) as client:
        assert {m.id async for m in client.models.list()} >= {"compat-model", "claude-model"}
        assert (await client.models.retrieve("claude-model")).id == "claude-model"


async def test_claude_and_gemini_lists_show_only_the_keys_models(policy_proxy):
    """The Claude list (anthropic SDK; names uncloaked here) and the Gemini list
    (google-genai SDK) as well."""
    proxy = await policy_proxy(LIMITED, "claude-code:\n  disable-cloaking-model-list: true\n")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key="sk-a", max_retries=0) as client:
        assert [m.id async for m in client.models.list()] == ["compat-model"]
    options = gtypes.HttpOptions(
        base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    gemini = genai.Client(api_key="sk-a", http_options=options)
    try:
        names = [m.name async for m in await gemini.aio.models.list()]
    finally:
        await gemini.aio.aclose()
    assert names == ["models/compat-model"]
