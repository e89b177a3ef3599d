"""CPA's stream overload cases (sdk/cliproxy/auth/conductor_stream_overload_failover_test.go,
conductor_stream_overload_status_test.go) through a running proxy: Codex keys whose
upstream refuses a stream with a 503 ``server_is_overloaded`` before its first byte. The
request moves on to the next key, within ``max-retry-credentials``, and when every key
refused, the client (the openai SDK's Responses stream) gets the 503, never a 200 stream.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

OVERLOADED = {
    "error": {
        "type": "service_unavailable_error",
        "code": "server_is_overloaded",
        "message": "Our servers are currently overloaded. Please try again later.",
        "param": None,
    }
}


def codex_keys(base_url: str, n: int, extra: str) -> str:
    entries = "".join(
        f'\n  - api-key: "k{i}"\n    base-url: "{base_url}/backend-api/codex"\n    priority: {100 - i}\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]'
        for i in range(1, n + 1)
    )
    return f'api-keys: ["{KEY}"]\n{extra}codex-api-key:{entries}\n'


def overload(fake: Any, *keys: str) -> None:
    for key in keys:
        fake.script(Behavior(key=key, status=503, body=OVERLOADED, times=None))


async def stream(proxy: Any) -> list[Any]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        return [e async for e in await client.responses.create(model="codex-model", input="hi", stream=True)]


async def test_consecutive_overloaded_keys_are_skipped(start_proxy, fake_responses) -> None:
    """TestExecuteStream_BootstrapOverload_SkipsConsecutiveOverloadedCredentials: six keys
    in priority order, the first three overloaded; request-retry 5, max-retry-credentials
    6. The fourth key serves the stream, after exactly four attempts."""
    proxy = await start_proxy(
        codex_keys(fake_responses.base_url, 6, "request-retry: 5\nmax-retry-credentials: 6\n")
    )
    overload(fake_responses, "k1", "k2", "k3")
    events = await stream(proxy)
    assert events[-1].type == "response.completed"
    assert [r.key for r in fake_responses.requests] == ["k1", "k2", "k3", "k4"]


async def test_the_credential_budget_ends_an_overloaded_request(start_proxy, fake_responses) -> None:
    """TestExecuteStream_BootstrapOverload_StopsAtCredentialBudget: six keys, all
    overloaded, max-retry-credentials 4. The request ends (in a 503) after four to six
    attempts: a retry round may take the keys the first one did not reach, never more."""
    proxy = await start_proxy(
        codex_keys(fake_responses.base_url, 6, "request-retry: 5\nmax-retry-credentials: 4\n")
    )
    overload(fake_responses, *(f"k{i}" for i in range(1, 7)))
    with pytest.raises(openai.APIStatusError) as caught:
        await stream(proxy)
    assert caught.value.status_code == 503
    assert 4 <= len(fake_responses.requests) <= 6


async def test_every_key_overloaded_is_a_503_not_a_stream(start_proxy, fake_responses) -> None:
    """TestExecuteStream_AllCredentialsOverloaded_ReturnsStatusError: three keys, all
    overloaded before the stream began: the client gets an HTTP 503 with the upstream's
    error, not a 200 stream that carries it."""
    proxy = await start_proxy(
        codex_keys(fake_responses.base_url, 3, "request-retry: 5\nmax-retry-credentials: 3\n")
    )
    overload(fake_responses, "k1", "k2", "k3")
    with pytest.raises(openai.APIStatusError) as caught:
        await stream(proxy)
    assert caught.value.status_code == 503
    assert "overloaded" in caught.value.message
