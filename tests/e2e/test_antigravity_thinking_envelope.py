"""Thinking on an Antigravity account is written into the request Cloud Code reads.

An Antigravity call is an envelope, ``{"model", "project", "request": {<Gemini request>}}``;
CPA applies thinking to the translated envelope at ``request.generationConfig.
thinkingConfig``. The proxy builds the envelope later (``AntigravityProvider.build``), so its
thinking step saw the bare Gemini request and wrote the setting one level too deep: every
request with thinking (Gemini CLI's thinkingConfig, a Claude client's thinking, a Chat or
Responses client's reasoning effort, a ``model(level)`` suffix) went up with a stray
``request.request.generationConfig`` that Cloud Code refuses as an unknown field (the fake
does as well: 400 ``Unknown name "request"``), and the setting the step decided (a level
fitted to the model, a suffix's level) never reached the real ``generationConfig``.

CPA: the antigravity rows of TestThinkingE2EMatrix_Suffix and TestThinkingE2EMatrix_Body
(test/thinking_conversion_test.go) read ``request.generationConfig.thinkingConfig`` of the
translated envelope; tests/models/test_thinking_antigravity_cpa.py has the applier itself.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"  # in the Antigravity catalog, with thinking levels


@pytest.fixture
async def proxy(start_proxy, fake_gemini, tmp_path):
    antigravity_auth(tmp_path, fake_gemini.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\n')


def sent_config(fake: Any) -> dict[str, Any]:
    """The generation request's thinkingConfig as Cloud Code got it (no envelope inside)."""
    [rec] = [r for r in fake.requests if r.path.startswith("/v1internal:") and "Content" in r.path]
    request = rec.json["request"]
    assert "request" not in request
    return request["generationConfig"]["thinkingConfig"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_cli_thinking_config(proxy, fake_gemini, stream):
    """Gemini CLI's generationConfig (includeThoughts and a budget) through google-genai."""
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    config = gtypes.GenerateContentConfig(
        temperature=1, thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=8192)
    )
    try:
        if stream:
            stream_it = await client.aio.models.generate_content_stream(
                model=MODEL, contents="hi", config=config
            )
            text = "".join([c.text or "" async for c in stream_it])
        else:
            text = (
                await client.aio.models.generate_content(model=MODEL, contents="hi", config=config)
            ).text or ""
    finally:
        await client.aio.aclose()
    assert "Hello from fake" in text
    assert sent_config(fake_gemini) == {"includeThoughts": True, "thinkingBudget": 8192}


@pytest.mark.parametrize(
    ("model", "effort", "level"),
    [(MODEL, "high", "high"), (MODEL + "(low)", None, "low")],
    ids=["reasoning_effort", "suffix"],
)
async def test_chat_reasoning_reaches_the_generation_config(proxy, fake_gemini, model, effort, level):
    """The thinking step's level (an effort fitted to the model, a suffix's level) is what
    Cloud Code gets, in place of what the translator wrote."""
    extra: dict[str, Any] = {"reasoning_effort": effort} if effort else {}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], **extra
        )
    assert "Hello from fake" in (done.choices[0].message.content or "")
    assert sent_config(fake_gemini)["thinkingLevel"] == level


async def test_claude_model_gets_a_budget_under_its_output_limit(proxy, fake_gemini):
    """A Claude model behind Antigravity thinks in budgets, below maxOutputTokens (CPA's
    Antigravity applier for Claude models); before, the translator's ``thinkingLevel``
    ("HIGH") went up as it was."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model="claude-opus-4-6-thinking",
            messages=[{"role": "user", "content": "hi"}],
            reasoning_effort="high",
            max_tokens=4000,
        )
    config = sent_config(fake_gemini)
    assert "thinkingLevel" not in config and config["thinkingBudget"] == 3999
