"""Counting tokens through the credential pool, as CPA's conductor routes a count
(sdk/cliproxy/auth/conductor_execution.go ``executeCountMixedOnce``).

A count_tokens 404 whose body names no missing model is an upstream without the count
route: the count fails over and the model stays available for generation (CPA's
TestManager_ExecuteCount_GenericRouteNotFoundDoesNotSuspendModel). Before, such a 404
from api.anthropic.com or a Gemini key cooled the model for 12 hours, so a client's
count (Claude Code counts before it sends) blocked every later generation.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.fakes.server import Behavior
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

MESSAGES = [{"role": "user", "content": "count these words, please"}]
ROUTE_404 = "404 page not found"


async def cooled(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


async def count(proxy: Any, model: str) -> int:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        result = await client.messages.count_tokens(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    return result.input_tokens


async def generate(proxy: Any, model: str) -> str:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        answer = await client.messages.create(model=model, max_tokens=16, messages=MESSAGES)  # type: ignore[arg-type]
    return answer.content[0].text  # type: ignore[union-attr]


def gemini_keys(base_url: str, keys: tuple[str, ...], rules: str = "") -> str:
    entries = "".join(
        f'\n  - api-key: "{key}"\n    base-url: "{base_url}"{rules}\n'
        f'    models: [{{name: "gemini-2.5-pro", alias: "gem-model"}}]'
        for key in keys
    )
    return f'api-keys: ["{KEY}"]\ngemini-api-key:{entries}\n'


async def test_anthropic_count_route_404_cools_nothing(
    start_proxy,
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
) -> None:
    """TestManager_ExecuteCount_GenericRouteNotFoundDoesNotSuspendModel, on
    api.anthropic.com (reached through the fake behind a TLS redirect): the client gets
    the 404, nothing cools, and the next generation is served by the same key."""
    fake, _front, redirect = tls_claude
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-a"\n'
        f'    base-url: "https://api.anthropic.com"\n    proxy-url: "{redirect.url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
    )
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    fake.script(Behavior(status=404, path="count_tokens", message=ROUTE_404))
    with pytest.raises(anthropic.NotFoundError):
        await count(proxy, "claude-model")
    assert await cooled(proxy) == []
    assert await generate(proxy, "claude-model")
    assert [r.path.partition("?")[0] for r in fake.requests] == ["/v1/messages/count_tokens", "/v1/messages"]


async def test_a_count_route_404_tries_the_next_credential(start_proxy, fake_gemini) -> None:
    """The same on a Gemini key, with two keys: the first key's route 404 is passed over
    (CPA's count loop goes on to the next credential), the second counts, and neither cools."""
    proxy = await start_proxy(gemini_keys(fake_gemini.base_url, ("g-a", "g-b")))
    fake_gemini.script(Behavior(status=404, path="countTokens", key="g-a", body={"detail": "Not Found"}))
    fake_gemini.script(Behavior(status=404, path="countTokens", key="g-b", body={"detail": "Not Found"}))
    with pytest.raises(anthropic.NotFoundError):  # neither counts: the 404 reaches the client
        await count(proxy, "gem-model")
    assert sorted(r.key for r in fake_gemini.requests) == ["g-a", "g-b"]
    assert await cooled(proxy) == []
    fake_gemini.clear()
    fake_gemini.script(Behavior(status=404, path="countTokens", body={"detail": "Not Found"}))
    assert await count(proxy, "gem-model") > 0  # the first key lacks the route, the other counts
    assert len(fake_gemini.requests) == 2
    assert await cooled(proxy) == []


async def test_a_stop_and_cooldown_rule_cools_a_count_route_404(start_proxy, fake_gemini) -> None:
    """TestRequestScopedErrors_CountTokens_StopAndCooldown, with CPA's 404: a rule whose
    action ends in ``-and-cooldown`` cools the credential even for a missing count route,
    and ``stop`` sends the 404 to the client without asking the other key."""
    rule = '\n    request-scoped-errors: [{status: 404, match: ["count_endpoint_cooldown"], action: stop-and-cooldown}]'
    proxy = await start_proxy(gemini_keys(fake_gemini.base_url, ("g-a", "g-b"), rule))
    fake_gemini.script(Behavior(status=404, path="countTokens", message="count_endpoint_cooldown"))
    with pytest.raises(anthropic.NotFoundError):
        await count(proxy, "gem-model")
    assert len(fake_gemini.requests) == 1
    [record] = await cooled(proxy)
    assert record.model


POOL = "claude-opus-4.66"
WIDE = "Здравствуйте, как поживаете? 你好世界 こんにちは"  # o200k and cl100k count it apart
REFUSAL = {
    "error": {"message": "not supported", "type": "invalid_request_error", "code": "model_not_supported"}
}


def compat_pool(base_url: str) -> str:
    """One OpenAI-compatible key whose alias is a pool of a cl100k and an o200k model."""
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: pool
    base-url: "{base_url}/v1"
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-4", alias: "{POOL}"}}, {{name: "gpt-4o", alias: "{POOL}"}}]
"""


async def count_wide(proxy: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        result = await client.messages.count_tokens(model=POOL, messages=[{"role": "user", "content": WIDE}])
    return result.input_tokens


async def chat(proxy: Any) -> str:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        answer = await client.messages.create(
            model=POOL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    return answer.content[0].text  # type: ignore[union-attr]


async def test_counts_rotate_through_the_alias_pool(start_proxy, fake_openai) -> None:
    """TestManagerExecuteCount_OpenAICompatAliasPoolRotatesWithinAuth: each count takes
    the pool's next upstream name (CPA's compat executor counts locally with that name's
    tokenizer, as we do, so the two names give two numbers), and the turn is the one
    generation shares: after one count, the next generation goes to the second name."""
    proxy = await start_proxy(compat_pool(fake_openai.base_url))
    counts = [await count_wide(proxy) for _ in range(3)]
    assert counts[0] == counts[2] != counts[1]
    assert fake_openai.requests == []  # counted locally
    assert await chat(proxy)
    assert [r.json["model"] for r in fake_openai.requests] == ["gpt-4o"]


async def test_a_suspended_pool_name_is_skipped_by_counts(start_proxy, fake_openai) -> None:
    """TestManagerExecuteCount_OpenAICompatAliasPoolSkipsSuspendedUpstreamOnLaterRequests:
    once the key refused one name (model_not_supported, here on a generation: a local
    count never fails upstream), every later count uses the other name."""
    proxy = await start_proxy(compat_pool(fake_openai.base_url))
    fake_openai.script(Behavior(status=400, model="gpt-4", body=REFUSAL))
    assert await chat(proxy)  # gpt-4 refused, gpt-4o served
    assert [r.json["model"] for r in fake_openai.requests] == ["gpt-4", "gpt-4o"]
    counts = {await count_wide(proxy) for _ in range(3)}
    assert len(counts) == 1
    fake_openai.clear()
    assert await chat(proxy)
    assert [r.json["model"] for r in fake_openai.requests] == ["gpt-4o"]
