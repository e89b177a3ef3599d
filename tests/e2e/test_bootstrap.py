"""Before a stream's first byte: ``codex.stream-bootstrap-buffering`` (an overload smuggled
into a 200 Codex stream fails over instead of reaching the client) and
``streaming.bootstrap-retries`` (a stream that broke before its first byte is retried).

The fake Codex upstream's ``overloaded`` mode answers 200 with ``response.created``,
``response.in_progress`` and then CPA's in-band ``server_is_overloaded`` error event.
"""

from __future__ import annotations

import time

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior


def _codex(fakes, *, buffering: bool | None = None, retries: int = 0, keys: int = 2) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in range(1, keys + 1)
    )
    text = f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entries}'
    if buffering is not None:
        text += f"codex:\n  stream-bootstrap-buffering: {str(buffering).lower()}\n"
    if retries:
        text += f"streaming:\n  bootstrap-retries: {retries}\n"
    return text


async def _raw_stream(url: str, *, first_only: bool = False) -> tuple[int, bytes, float]:
    """Status, body (or its first chunk) and seconds until the first body bytes."""
    body = {"model": "codex-model", "input": "hi", "stream": True}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.monotonic()
        async with session.post(
            url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            first = await resp.content.readany()
            took = time.monotonic() - started
            rest = b"" if first_only else await resp.read()
            return resp.status, first + rest, took


def _keys(fakes) -> list[str | None]:
    return [r.key for r in fakes.responses.requests]


def _two_credentials(fakes) -> bool:
    """The first credential failed and the other one answered."""
    keys = _keys(fakes)
    return len(keys) == 2 and len(set(keys)) == 2


async def test_buffered_overload_fails_over_to_the_next_credential(start_proxy, fakes) -> None:
    """CPA codex_stream_bootstrap_buffering_test.go
    TestCodexExecutor_BootstrapBuffering_OverloadFailsAttemptWithoutLeakingHandshake: the
    overloaded attempt fails as a 503 before anything reaches the client; the official SDK
    gets the second credential's answer, and only the first credential cools."""
    proxy = await start_proxy(_codex(fakes, buffering=True))
    fakes.responses.overloaded = 1
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.stream(model="codex-model", input="hi") as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
    assert final.output_text
    assert kinds.count("response.created") == 1 and "error" not in kinds
    keys = _keys(fakes)
    assert len(keys) == 2 and len(set(keys)) == 2
    cooled = {c.api_key for c in proxy.service.pool.credentials() if await proxy.service.pool.cooldowns(c)}
    assert cooled == {keys[0]}


async def test_buffering_is_our_default(start_proxy, fakes) -> None:
    """Deliberate difference: CPA's default is false (the overload reaches the client); ours
    is true, because failing over before the client sees an error is the proxy's job and
    holding two handshake events costs no content latency."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.overloaded = 1
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert b"server_is_overloaded" not in raw and b"response.completed" in raw
    assert _two_credentials(fakes)


async def test_buffered_handshake_is_replayed_in_order(start_proxy, fakes) -> None:
    """CPA TestCodexExecutor_BootstrapBuffering_FlushesInOrderOnFirstOutput."""
    proxy = await start_proxy(_codex(fakes, buffering=True))
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    created, in_progress = raw.index(b"response.created"), raw.index(b"response.in_progress")
    assert created < in_progress < raw.index(b"response.output_item.added")


async def test_unbuffered_overload_stays_in_the_stream(start_proxy, fakes) -> None:
    """CPA TestCodexExecutor_BootstrapBuffering_DefaultDisabledPassthrough (CPA's default;
    ours only when set to false): the handshake goes out at once, the overload reaches the
    client as an in-stream error, and no other credential is tried."""
    proxy = await start_proxy(_codex(fakes, buffering=False))
    fakes.responses.overloaded = 1
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert raw.index(b"response.created") < raw.index(b"server_is_overloaded")
    assert b"response.completed" not in raw
    assert len(_keys(fakes)) == 1


async def test_buffering_decides_when_the_handshake_reaches_the_client(start_proxy, fakes) -> None:
    """The upstream is quiet 1.5 s after its handshake: unbuffered, the client has
    ``response.created`` at once; buffered, only with the first generated event."""
    fakes.responses.pauses = {2: 1.5}
    unbuffered = await start_proxy(_codex(fakes, buffering=False))
    _, first, took = await _raw_stream(unbuffered.url, first_only=True)
    assert b"response.created" in first and took < 1.0
    await unbuffered.close()
    buffered = await start_proxy(_codex(fakes, buffering=True))
    _, first, took = await _raw_stream(buffered.url, first_only=True)
    assert b"response.created" in first and took >= 1.4


async def test_overload_in_a_non_streaming_request_fails_over_either_way(start_proxy, fakes) -> None:
    """A whole answer is collected from the Codex stream before anything is written: the
    overload is the first credential's failure whatever the key says."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.overloaded = 1
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(model="codex-model", input="hi")
    assert done.output_text
    assert _two_credentials(fakes)


# ---------------------------------------------------------------------------- bootstrap-retries


async def test_bootstrap_retry_serves_a_stream_that_broke_before_its_first_byte(start_proxy, fakes) -> None:
    """CPA handlers_stream_bootstrap_test.go TestExecuteStreamWithAuthManager_RetriesBeforeFirstByte:
    the first stream fails before any byte reached the client, bootstrap-retries: 1 runs it
    again and the client gets the answer (two upstream attempts). With one credential the
    retry goes to the same one; nothing cools."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=1, keys=1))
    fakes.responses.overloaded = 1
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert b"response.completed" in raw and b"server_is_overloaded" not in raw
    assert _keys(fakes) == ["sk-codex-1", "sk-codex-1"]
    assert not await proxy.service.pool.cooldowns(proxy.service.pool.credentials()[0])


async def test_without_bootstrap_retries_the_failure_reaches_the_client(start_proxy, fakes) -> None:
    proxy = await start_proxy(_codex(fakes, buffering=True, keys=1))
    fakes.responses.overloaded = 1
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 503
    assert b"overloaded" in raw
    assert len(_keys(fakes)) == 1


async def test_bootstrap_retries_are_a_budget_per_request(start_proxy, fakes) -> None:
    """Two retries, three broken streams: the third failure goes to the client."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=2, keys=1))
    fakes.responses.overloaded = 3
    status, _, _ = await _raw_stream(proxy.url)
    assert status == 503
    assert len(_keys(fakes)) == 3


async def test_no_bootstrap_retry_after_the_first_byte(start_proxy, fakes) -> None:
    """CPA TestExecuteStreamWithAuthManager_DoesNotRetryAfterFirstByte: a stream cut after
    its first content ends with an in-stream error; it is not run again."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=2, keys=1))
    fakes.responses.script(Behavior(cut_after=5))
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert b"response.output_text.delta" in raw and b"response.completed" not in raw
    assert len(_keys(fakes)) == 1


@pytest.mark.parametrize("status", [400, 401])
async def test_no_bootstrap_retry_for_a_refusal(start_proxy, fakes, status) -> None:
    """Only transient failures (network, 408, 5xx) are retried on the same credential."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=2, keys=1))
    fakes.responses.script(Behavior(status=status, message="no"))
    got, _, _ = await _raw_stream(proxy.url)
    assert got == status
    assert len(_keys(fakes)) == 1


INVALID = {
    "type": "error",
    "error": {"type": "invalid_request_error", "code": "invalid_value", "message": "Invalid input."},
    "sequence_number": 2,
}
RATE_LIMITED = {
    "type": "error",
    "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "Slow down."},
    "sequence_number": 2,
}


async def test_buffered_request_fault_is_not_retried_elsewhere(start_proxy, fakes) -> None:
    """CPA TestCodexExecutor_BootstrapBuffering_NonOverloadStaysInStream and
    TestIsCodexOverloadBootstrapFailureRejectsRequestFaults: an invalid-request failure does
    not burn another credential. We differ on purpose in the framing: nothing reached the
    client yet, so it gets a plain 400 instead of the handshake plus an in-stream error."""
    proxy = await start_proxy(_codex(fakes, buffering=True))
    fakes.responses.inband_errors = [INVALID]
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 400
    assert b"Invalid input." in raw
    assert len(_keys(fakes)) == 1


async def test_buffered_rate_limit_fails_over(start_proxy, fakes) -> None:
    """TestIsCodexOverloadBootstrapFailureRejectsRequestFaults: rate-limit rejections are
    eligible for bootstrap failover too."""
    proxy = await start_proxy(_codex(fakes, buffering=True))
    fakes.responses.inband_errors = [RATE_LIMITED]
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200 and b"response.completed" in raw
    assert _two_credentials(fakes)
