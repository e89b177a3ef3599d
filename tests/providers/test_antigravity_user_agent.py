"""The user agent an Antigravity account sends, through a running proxy (``anthropic``
and ``google-genai`` as clients) against the fake Cloud Code server (tests/fakes/gemini.py).

CPA ``resolveUserAgent`` (internal/runtime/executor/antigravity_executor_request.go) takes
the account's ``user_agent`` through ``misc.AntigravityRequestUserAgent``: an Antigravity
one (``antigravity/...``) loses its `` google-api-nodejs-client/...`` suffix on every
generation, stream, count and credits lookup; only ``onboardUser`` sends the long form.
Before, the credits lookup alone was shortened and the rest sent the configured value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import FAR

LONG = "antigravity/hub/1.23.2 windows/amd64 google-api-nodejs-client/10.3.0"
SHORT = "antigravity/hub/1.23.2 windows/amd64"
WEB_SEARCH: Any = {"type": "web_search_20250305", "name": "web_search"}


def _auth(tmp_path: Path, base_url: str, user_agent: str) -> None:
    """An Antigravity account without a project (found on first use), with ``user_agent``."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "antigravity",
        "access_token": "ag-ua-token",
        "refresh_token": "ag-ua-refresh",
        "expired": FAR,
        "email": "ua@example.com",
        "base_url": base_url,
        "user_agent": user_agent,
    }
    staging = tmp_path / "antigravity-ua.staging"
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / "antigravity-ua.json")


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, tmp_path: Path, request: Any) -> Any:
    _auth(tmp_path, fakes.gemini.base_url, request.param)
    p = await start_proxy(f'api-keys: ["{KEY}"]\nquota-exceeded:\n  antigravity-credits: true\n')
    p.fake = fakes.gemini
    return p


@pytest.mark.parametrize("proxy", [LONG], indirect=True)
async def test_every_request_sends_the_short_antigravity_user_agent(proxy: Any) -> None:
    """CPA TestUpdateAntigravityCreditsBalance_LoadCodeAssistUserAgent's configured user
    agent, and misc TestAntigravityLoadCodeAssistUserAgentUsesShortUA: the short form on a
    generation, a stream, a count (Claude and Gemini clients), the model list a web search
    reads (fetchAvailableModels) and both loadCodeAssist calls (the first-use project
    lookup and the credits lookup).

    Deliberate difference: CPA sends its default hub user agent, not the account's, to
    fetchAvailableModels and to the sign-in's project lookup; here the account's own
    (short) one goes to every call of the account."""
    fake = proxy.fake
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
        async with client.messages.stream(
            model="gemini-3-flash", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            await stream.get_final_message()
        await client.messages.count_tokens(
            model="gemini-3-flash", messages=[{"role": "user", "content": "hi"}]
        )
        await client.messages.create(
            model="gemini-3-flash",
            max_tokens=32,
            tools=[WEB_SEARCH],
            messages=[{"role": "user", "content": "search the news"}],
        )
    options = gtypes.HttpOptions(
        base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    gclient = genai.Client(api_key=KEY, http_options=options)
    try:
        await gclient.aio.models.generate_content(model="gemini-3-flash", contents="hi")
        await gclient.aio.models.count_tokens(model="gemini-3-flash", contents="hi")
    finally:
        await gclient.aio.aclose()
    seen = {r.path.rpartition(":")[2] for r in fake.requests}
    assert {"generateContent", "streamGenerateContent", "countTokens", "fetchAvailableModels"} <= seen
    loads = [r for r in fake.requests if r.path.endswith(":loadCodeAssist")]
    assert len(loads) == 2  # the project, then the credits (beside the first request)
    assert {r.headers["User-Agent"] for r in fake.requests} == {SHORT}


@pytest.mark.parametrize("proxy", ["my-gateway/2.0 google-api-nodejs-client/10.3.0"], indirect=True)
async def test_another_user_agent_is_sent_as_configured(proxy: Any) -> None:
    """``antigravityBaseUserAgent``: a user agent outside the Antigravity family keeps its
    suffix."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="gemini-3-flash", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
    sent = [r for r in proxy.fake.requests if r.path.endswith(":generateContent")]
    assert sent[-1].headers["User-Agent"] == "my-gateway/2.0 google-api-nodejs-client/10.3.0"
