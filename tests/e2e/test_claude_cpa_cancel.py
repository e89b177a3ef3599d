"""A client that leaves a Claude stream (CPA ``claude_executor_test.go``: its OAuth
cancellation cases): the request ends with the client, the subscription credential cools
for nothing, and the next request is served by it. Through a running proxy into the fake
Anthropic gateway, which holds its answer back."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cpa_compressed import MODEL, answer, config, cooldowns
from tests.fakes.server import Behavior

OAUTH = "sk-ant-oat01-cancel"


@pytest.mark.parametrize("when", ["before-headers", "mid-stream"])
async def test_a_client_that_leaves_a_stream_cools_nothing(start_proxy, fake_claude, when: str) -> None:
    """TestClaudeExecutor_ExecuteStreamOAuthStartupCancellationIsRequestScoped and
    TestClaudeExecutor_ExecuteStreamOAuthCancellationIsRequestScoped: the client goes away
    while the upstream has not answered yet, or between two events; its cancellation
    belongs to the request, not to the credential."""
    proxy = await start_proxy(config(fake_claude.base_url, OAUTH))
    early = when == "before-headers"
    fake_claude.script(Behavior(delay=1.2) if early else Behavior(stream_delay=0.5))
    body = {"model": MODEL, "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as session:
        if early:
            with pytest.raises(asyncio.TimeoutError):
                async with session.post(
                    proxy.url + "/v1/messages",
                    json=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=0.5),
                ):
                    pass
        else:
            async with session.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp:
                assert resp.status == 200
                assert await asyncio.wait_for(resp.content.readline(), 5)  # the first event line
    await asyncio.sleep(0.3)  # the proxy sees the connection close
    assert await cooldowns(proxy, OAUTH) == []
    assert await asyncio.wait_for(answer(proxy, stream=True), 10)
    assert await cooldowns(proxy, OAUTH) == []
