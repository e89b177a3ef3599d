"""CPA's retry decisions when nothing cools (sdk/cliproxy/auth/conductor_overrides_test.go),
through a running proxy: with cooling off, a failed round is followed by the next one at
once, as many as ``request-retry`` allows."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_cpa_retry_rounds import MSG, claude_keys, post, used_keys


@pytest.mark.parametrize("status", [429, 502])
async def test_a_free_credential_gets_its_next_round_at_once(start_proxy, fakes, status):
    """CPA: TestManager_ShouldRetryAfterError_RetriesLocalRoundWithoutCooldown. request-retry 1
    and cooling off: a 429 or a 502 is followed by one more round at once, not by a third."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 1}))
    fakes.claude.fail_next(status, times=None)
    assert await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 5) == status
    assert used_keys(fakes.claude, "/v1/messages") == ["sk-a", "sk-a"]


async def test_a_429_with_retry_after_is_retried_every_round_when_cooling_is_off(start_proxy, fakes):
    """CPA: TestManager_Execute_DisableCooling_RetriesAfter429RetryAfter. request-retry 3 and
    a credential with disable-cooling: every 429 (with a Retry-After) is tried again, the
    first attempt and three rounds, and the client gets the 429."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 3}, "request-retry: 3\nmax-retry-interval: 1"))
    fakes.claude.fail_next(429, times=None, retry_after=0)
    assert await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 10) == 429
    assert used_keys(fakes.claude, "/v1/messages") == ["sk-a"] * 4


async def test_the_next_round_waits_for_an_aliased_models_cooldown(start_proxy, fakes):
    """CPA: TestManager_ShouldRetryAfterError_UsesOAuthModelAliasForCooldown. The client asks
    for the alias ``pool-model`` of the upstream's ``deepseek-v3.1``; a 429 with Retry-After 1
    cools it, and the next round (request-retry 1, max-retry-interval 5) waits for that
    cooldown, then is served: the wait is read for the model the client asked for, the one
    that cooled (an immediate round would find it cooling and fail)."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nrequest-retry: 1\nmax-retry-interval: 5\n'
        f'openai-compatibility:\n  - name: up\n    base-url: "{fakes.openai.base_url}/v1"\n'
        '    api-key-entries: [{api-key: "ok"}]\n    models: [{name: "deepseek-v3.1", alias: "pool-model"}]\n'
    )
    fakes.openai.fail_next(429, retry_after=1)
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await asyncio.wait_for(
        client.chat.completions.create(model="pool-model", messages=[{"role": "user", "content": "hi"}]), 10
    )
    await client.close()
    assert answer.choices[0].message.content and loop.time() - started >= 0.5
    assert [r.json["model"] for r in fakes.openai.requests if r.path.endswith("/chat/completions")] == [
        "deepseek-v3.1",
        "deepseek-v3.1",
    ]
