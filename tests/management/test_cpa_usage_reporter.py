"""CPA's usage reporter (``internal/runtime/executor/helps/usage_helpers_test.go``): what a
usage record says about time, the client's own settings and a client that left, through
the proxy's ``GET /usage-queue``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from cliproxy.usage import recorder_of
from tests.fakes.server import Behavior
from tests.management.conftest import mcall
from tests.usage.helpers import CLIENT_KEY, MSG, claude_config, close_recorder


async def _started(mproxy: Any, fake_claude: Any, extra: str = "", **kw: Any) -> Any:
    started = await mproxy(claude_config(fake_claude, "usage-statistics-enabled: true\n" + extra), **kw)
    recorder_of(started.service)
    return started


@pytest.fixture
async def proxies(mproxy: Any, fake_claude: Any) -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for proxy in opened:
        close_recorder(proxy)


async def _record(proxy: Any) -> dict[str, Any]:
    """The one record of the queue, waited for (a client that left is noticed a moment later)."""
    async with asyncio.timeout(5):
        while True:
            status, records = await mcall(proxy, "GET", "/usage-queue")
            assert status == 200
            if records:
                (record,) = records
                return record  # type: ignore[no-any-return]
            await asyncio.sleep(0.02)


async def test_latency_and_first_byte_count_the_upstream_wait(mproxy, fake_claude, proxies) -> None:
    """CPA: TestUsageReporterBuildRecordIncludesLatency, TestUsageReporterTrackHTTPClientStartsTTFTBeforeRoundTrip,
    TestUsageReporterBuildRecordIncludesRequestedModelAlias, TestNewExecutorUsageReporterIncludesExecutorType.
    An upstream that waits 300 ms before answering: the latency and the time to first byte
    both include the wait (the clock starts before the upstream round trip). The record
    names the upstream model and the client's alias. Differs on purpose: CPA's
    ``executor_type`` is its Go executor's type name; ours names the provider (there are
    no executor types here)."""
    proxy = await _started(mproxy, fake_claude)
    proxies.append(proxy)
    fake_claude.script(Behavior(delay=0.3))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0) as client:
        await client.messages.create(**MSG)
    record = await _record(proxy)
    assert 300 <= record["ttft_ms"] <= record["latency_ms"] < 5000
    assert (record["model"], record["alias"]) == ("claude-sonnet-4-6", "claude-model")
    assert record["provider"] == record["executor_type"] == "claude"


async def test_the_client_tier_is_recorded_not_the_one_sent_upstream(mproxy, fake_claude, proxies) -> None:
    """CPA: TestUsageReporterSetTranslatedReasoningEffortPreservesClientServiceTier. A payload
    rule sets ``service_tier`` on the upstream request; the record keeps what the client
    asked ("auto": it named none)."""
    rule = 'payload:\n  override:\n    - models: [{name: "*"}]\n      params: {"service_tier": "priority"}\n'
    proxy = await _started(mproxy, fake_claude, rule)
    proxies.append(proxy)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0) as client:
        await client.messages.create(**MSG)
    assert fake_claude.last.json["service_tier"] == "priority"
    assert (await _record(proxy))["service_tier"] == "auto"


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])  # the stream pushed, and pulled
async def test_a_client_that_leaves_a_stream_is_a_failed_499_with_its_usage(
    mproxy, fake_claude, proxies, engine
) -> None:
    """CPA: TestStreamUsageBufferPublishFailure, TestFailFromErrorsMapsContextStatuses (its
    canceled case). The client reads the first event of a slow stream and goes away: the
    record is failed with 499 (client closed request) and keeps the usage seen so far
    (the prompt's tokens from ``message_start``). Before, it was recorded as a success."""
    proxy = await _started(mproxy, fake_claude, engine=engine)
    proxies.append(proxy)
    fake_claude.script(Behavior(stream_delay=0.2))
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/messages", json={**MSG, "stream": True}, headers={"x-api-key": CLIENT_KEY}
        ) as r,
    ):
        assert r.status == 200
        assert b"message_start" in await r.content.readuntil(b"\n\n")
    record = await _record(proxy)
    assert record["failed"] is True and record["fail"]["status_code"] == 499
    assert record["tokens"]["input_tokens"] > 0


async def test_a_streams_record_names_the_tier_its_events_name(mproxy, fake_openai, proxies) -> None:
    """CPA: TestStreamUsageBufferPreservesTierAcrossChunks. A Chat stream whose chunks name
    the tier that served it ("default" for the client's "auto"): the record keeps the
    client's tier and the answer's, as for a whole answer; before, a stream's record had
    no ``response_service_tier``."""
    yaml = (
        f'api-keys: ["{CLIENT_KEY}"]\nusage-statistics-enabled: true\nopenai-compatibility:\n'
        f'  - name: up\n    base-url: "{fake_openai.base_url}/v1"\n    api-key-entries: [{{api-key: "ok"}}]\n'
        '    models: [{name: "m", alias: "m"}]\n'
    )
    proxy = await mproxy(yaml)
    recorder_of(proxy.service)
    proxies.append(proxy)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True, service_tier="auto"
        )
        tiers = {chunk.service_tier async for chunk in stream}
    assert tiers == {"default"}
    record = await _record(proxy)
    assert (record["service_tier"], record["response_service_tier"]) == ("auto", "default")
