"""One client's oversized request does not take a pool of Gemini free-tier keys away.

A free-tier Gemini API key has a quota of input tokens per minute (250,000 for a Pro model).
A request whose input alone is over it gets a 429 RESOURCE_EXHAUSTED whose QuotaFailure names
``GenerateContentInputTokensPerModelPerMinute-FreeTier`` with ``quotaValue`` the limit, the
same answer a key gets when earlier requests filled its minute. Gemini sends no count of
what is left: the proxy reads the request (its text at 4 characters a token, a low count) and
when it alone is over the quota, the key is not spent: the next key is tried and none cools.
CPA cools every key the failover tries (a 429 is never a request fault in its
``clienterror.IsRequestFault``), so one client's huge request took the whole free pool from
every client for a minute. We differ on purpose: no client can affect a credential others
share. A small request refused so (the minute spent by earlier requests), and a 429 of another
quota (requests per minute), still cool the key as in CPA.

Through the running proxy, with the OpenAI and google-genai SDKs, into the Gemini fake with a
free tier's input quota.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.clients import KEY

LIMIT = 1000  # the fake's input tokens per minute (a real free tier: 250,000)
BIG = "lorem ipsum " * 700  # 8,400 characters: 2,100 tokens counted low, alone over LIMIT
QUOTA_ID = "GenerateContentInputTokensPerModelPerMinute-FreeTier"
RPM_BODY = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.\n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
        "limit: 10, model: gemini-2.5-flash\nPlease retry in 20.0s.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                        "quotaValue": "10",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
        ],
    }
}


def config(base_url: str) -> str:
    """Two free-tier keys; request-retry on, so a retry round would show as more calls."""
    return f"""api-keys: ["{KEY}"]
request-retry: 2
max-retry-interval: 1
gemini-api-key:
  - api-key: "gem-a"
    base-url: "{base_url}"
    models: [{{name: "gemini-2.5-flash", alias: "free-gemini"}}]
  - api-key: "gem-b"
    base-url: "{base_url}"
    models: [{{name: "gemini-2.5-flash", alias: "free-gemini"}}]
"""


async def cooling(proxy: Any) -> list[str]:
    """The keys of the credentials that have a cooldown blocking now."""
    pool = proxy.service.pool
    return sorted([c.api_key for c in pool.credentials() if await pool.cooldowns(c)])


async def chat(proxy: Any, text: str, *, stream: bool = False) -> str:
    messages: Any = [{"role": "user", "content": text}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            out = await client.chat.completions.create(model="free-gemini", messages=messages, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in out if c.choices])
        reply = await client.chat.completions.create(model="free-gemini", messages=messages)
        return reply.choices[0].message.content or ""


async def gemini(proxy: Any, text: str, *, stream: bool = False) -> str:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        if stream:
            stream_out = await client.aio.models.generate_content_stream(model="free-gemini", contents=text)
            return "".join([c.text or "" async for c in stream_out])
        return (await client.aio.models.generate_content(model="free-gemini", contents=text)).text or ""
    finally:
        await client.aio.aclose()


def keys(fake: Any) -> list[str]:
    return sorted(r.key for r in fake.requests)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_request_over_every_free_keys_input_minute_cools_none(
    start_proxy, fake_gemini, stream
):
    """Both free keys refuse the request as over their input tokens per minute: each is
    asked once (no retry round: nothing cooled, it would ask them again), the OpenAI client
    gets a 429 carrying Gemini's message, and both keys serve the next requests. Before,
    each 429 cooled its key, and every other client found the pool cooling for a minute."""
    proxy = await start_proxy(config(fake_gemini.base_url))
    fake_gemini.input_tpm = LIMIT
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(proxy, BIG, stream=stream)
    assert caught.value.status_code == 429
    assert "generate_content_free_tier_input_token_count" in caught.value.message
    assert keys(fake_gemini) == ["gem-a", "gem-b"]
    assert await cooling(proxy) == []
    for _ in range(4):
        assert await chat(proxy, "hi")
    assert {r.key for r in fake_gemini.requests[2:]} == {"gem-a", "gem-b"}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_gemini_request_over_every_free_keys_input_minute_cools_none(
    start_proxy, fake_gemini, stream
):
    """The same through the google-genai SDK: Gemini's own 429 body (QuotaFailure and all)."""
    proxy = await start_proxy(config(fake_gemini.base_url))
    fake_gemini.input_tpm = LIMIT
    with pytest.raises(genai_errors.ClientError) as caught:
        await gemini(proxy, BIG, stream=stream)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert QUOTA_ID in str(caught.value.details)
    assert keys(fake_gemini) == ["gem-a", "gem-b"]
    assert await cooling(proxy) == []
    for _ in range(4):
        assert await gemini(proxy, "hi")
    assert {r.key for r in fake_gemini.requests[2:]} == {"gem-a", "gem-b"}


async def test_a_key_whose_input_minute_is_too_small_passes_the_request_on(start_proxy, fake_gemini):
    """One key refuses the request as over its input minute (the other has no such quota:
    a paid key, say, here one whose quota the fake does not apply): the other serves it, and
    neither cools."""
    proxy = await start_proxy(config(fake_gemini.base_url))
    fake_gemini.input_tpm = LIMIT
    fake_gemini.spend_input("gem-b", -1_000_000)  # (its minute holds any request: a larger tier)
    for _ in range(2):
        assert await chat(proxy, BIG)
    assert await cooling(proxy) == []
    asked = [r.key for r in fake_gemini.requests]
    # gem-b answered both; gem-a, not cooled, may be asked first by either pick (the
    # rotation's start after a failover is the pool's business, not this test's)
    assert asked.count("gem-b") == 2
    assert 1 <= asked.count("gem-a") <= 2


async def test_a_small_request_refused_for_a_spent_minute_cools_the_keys(start_proxy, fake_gemini):
    """The control: the same 429 to a small request (the keys' minutes spent by earlier
    requests) is the keys' own quota: each cools as in CPA, and the client gets the 429."""
    proxy = await start_proxy(config(fake_gemini.base_url))
    fake_gemini.input_tpm = LIMIT
    for key in ("gem-a", "gem-b"):
        fake_gemini.spend_input(key, LIMIT)
    with pytest.raises(openai.RateLimitError):
        await chat(proxy, "hi")
    assert keys(fake_gemini) == ["gem-a", "gem-b"]
    assert await cooling(proxy) == ["gem-a", "gem-b"]


async def test_a_requests_per_minute_429_to_a_large_request_still_cools(start_proxy, fake_gemini):
    """The control: a 429 of another quota (requests per minute) cools the key however large
    the request: only a quota of input tokens per minute is weighed against its size."""
    proxy = await start_proxy(config(fake_gemini.base_url))
    fake_gemini.fail_next(429, times=2, body=RPM_BODY)
    with pytest.raises(genai_errors.ClientError) as caught:
        await gemini(proxy, BIG)
    assert caught.value.code == 429
    assert keys(fake_gemini) == ["gem-a", "gem-b"]
    assert await cooling(proxy) == ["gem-a", "gem-b"]
