"""Codex errors that are not what their status says (CPA
internal/runtime/executor/codex_executor_retry_test.go and codex_executor_stream_output_test.go):

* "Selected model is at capacity" comes as a 400 but is a retryable rate limit: the next
  account serves the request (TestNewCodexStatusErrTreatsCapacityAsRetryableRateLimit);
* a ``usage_limit_reached`` under any status is a 429 that waits for its reset, also when it
  comes in-band in a 200 stream (TestNewCodexStatusErrTreatsUsageLimitAsRetryableRateLimit,
  TestCodexExecutor..._HandlesUsageLimitErrorEvent);
* a stream that stops before ``response.completed`` is the connection's fault, not the
  account's: 408 to the client at once, no cooldown, no other account
  (..._MissingCompletionIsRequestScoped);
* an upstream WebSocket that closes with 1009 (message too big) refused this request, not
  the account: 413 at once (codex_websockets_executor_test.go).
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import openai
import pytest

from cliproxy.providers.codex import CodexProvider
from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

CAPACITY = b'{"error":{"message":"Selected model is at capacity. Please try a different model."}}'


def test_capacity_is_a_retryable_rate_limit() -> None:
    err = CodexProvider().classify(400, {}, CAPACITY)
    assert err.status == 429 and err.retry_after is None


def test_usage_limit_under_any_status_is_a_429_with_its_reset() -> None:
    body = b'{"error":{"type":"usage_limit_reached","message":"You\'ve hit your usage limit.","resets_in_seconds":120}}'
    err = CodexProvider().classify(400, {}, body)
    assert err.status == 429 and err.retry_after == 120


def test_other_400s_stay_client_errors() -> None:
    body = b'{"error":{"message":"Invalid value for input","type":"invalid_request_error"}}'
    assert CodexProvider().classify(400, {}, body).status == 400


def _codex(fakes: Any, keys: int = 2) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in range(1, keys + 1)
    )
    return f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entries}'


async def _cooled(proxy: Any) -> dict[str, float]:
    """Each cooling credential's api key -> seconds left on its longest cooldown."""
    now = time.time()
    out: dict[str, float] = {}
    for cred in proxy.service.pool.credentials():
        records = await proxy.service.pool.cooldowns(cred)
        if records:
            out[cred.api_key] = max(r.until() for r in records) - now
    return out


async def test_capacity_fails_over_to_the_next_account(start_proxy: Any, fakes: Any) -> None:
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.script(Behavior(status=400, body=CAPACITY))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.responses.create(model="codex-model", input="hi")
    assert answer.output_text
    keys = [r.key for r in fakes.responses.requests]
    assert len(keys) == 2 and len(set(keys)) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_in_band_usage_limit_cools_until_its_reset(start_proxy: Any, fakes: Any, stream: bool) -> None:
    """The account that hit its plan limit mid-stream cools until the reset Codex named
    (300 s), not a transient minute; the other account answers."""
    proxy = await start_proxy(_codex(fakes) + "codex:\n  stream-bootstrap-buffering: true\n")
    fakes.responses.script(Behavior(stream_error="usage_limit_reached", error_after=1, resets_in_seconds=300))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model="codex-model", input="hi") as s:
                answer = await s.get_final_response()
        else:
            answer = await client.responses.create(model="codex-model", input="hi")
    assert answer.output_text
    cooled = await _cooled(proxy)
    first = fakes.responses.requests[0].key
    assert list(cooled) == [first] and 250 < cooled[first] <= 300


async def test_a_stream_that_ends_before_completion_is_the_requests_fault(
    start_proxy: Any, fakes: Any
) -> None:
    """Our difference: a connection that breaks mid-stream (CPA's
    TransportFailureBeforeTerminalIsRequestScoped) stays a transient upstream failure here,
    failed over to another account; only a stream that ends without its terminal event is
    request-scoped."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.script(Behavior(end_after=2))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as info:
            await client.responses.create(model="codex-model", input="hi")
    assert info.value.status_code == 408
    assert len(fakes.responses.requests) == 1  # no other account tried
    assert await _cooled(proxy) == {}


async def test_an_upstream_websocket_refusing_a_large_message_is_a_413(start_proxy: Any, fakes: Any) -> None:
    """CPA codex_websockets_executor_test.go MapsMessageTooBigClose: the upstream socket
    closes with 1009 (message too big): the request fails at once, no other account tried,
    nothing cooled; a Responses WebSocket client's socket closes with 1009 and the reason
    (CPA TestResponsesWebsocketMirrorsUpstreamMessageTooBigDisconnect)."""
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n    websockets: true\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in (1, 2)
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entries}')
    fakes.responses.ws_max_message = 2048
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(proxy.url + "/v1/responses", headers={"Authorization": f"Bearer {KEY}"})
        await ws.send_json({"type": "response.create", "model": "codex-model", "input": "x" * 5000})
        msg = await ws.receive(timeout=10)
        await ws.close()
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1009, msg
    assert msg.extra == "upstream websocket message too big", msg
    assert fakes.responses.ws_opened == 1  # one account, one socket
    assert await _cooled(proxy) == {}


async def test_a_connection_broken_after_completion_changes_nothing(start_proxy: Any, fakes: Any) -> None:
    """CPA TestCodexExecutorExecute{,Stream}IgnoresTransportErrorAfterCompletion: the answer
    was whole; the client gets it as it was, and nothing cools."""
    proxy = await start_proxy(_codex(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        fakes.responses.script(Behavior(cut_after=999))
        whole = await client.responses.create(model="codex-model", input="hi")
        fakes.responses.script(Behavior(cut_after=999))
        async with client.responses.stream(model="codex-model", input="hi") as s:
            kinds = [event.type async for event in s]
            final = await s.get_final_response()
    assert whole.output_text and final.output_text
    assert kinds.count("response.created") == 1 and kinds[-1] == "response.completed", kinds
    assert len(fakes.responses.requests) == 2
    assert await _cooled(proxy) == {}
