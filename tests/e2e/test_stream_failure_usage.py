"""A stream that ends in an error event after its 200 went out is recorded as a failed
request, with the status of that error and the usage seen so far: the upstream's own error
event (Claude's ``overloaded_error`` after the first text: 529), or an upstream that went
silent past ``timeouts.upstream-idle`` (504). CPA's executors publish such a stream's usage
record as a failure (``PublishFailure``); before, the record said 200 and success while the
client got an error and the credential cooled. Through a running proxy with the official
SDKs, pass-through and translated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.fakes.faulty import FaultyUpstream
from tests.fakes.raw_sse import RawSSE, claude_event, claude_start

MESSAGES: Any = [{"role": "user", "content": "hi"}]


START = claude_start(7)
TEXT = claude_event("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hello"})
OVERLOADED = claude_event("error", error={"type": "overloaded_error", "message": "Overloaded"})


@pytest.fixture
async def upstream() -> AsyncIterator[RawSSE]:
    async with RawSSE() as server:
        yield server


@pytest.fixture
def faulty() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as fake:
        yield fake


def _ledger(tmp_path: Any) -> str:
    return f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'


def _rows(proxy: Any) -> list[tuple[int, int, int]]:
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None and ledger.flush()
    return [
        tuple(r) for r in ledger.query("SELECT status, failed, input_tokens FROM usage_requests ORDER BY ts")
    ]


async def test_an_upstream_error_event_mid_stream_is_a_failed_request(
    start_proxy, upstream, tmp_path
) -> None:
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n'
        + "".join(  # two keys: the first cools at its error, the second serves the second client
            f'  - api-key: "{key}"\n    base-url: "{upstream.url}"\n'
            '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
            for key in ("k-1", "k-2")
        )
        + _ledger(tmp_path)
    )
    upstream.chunks = [START, TEXT, OVERLOADED]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=10) as ant:
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            async with ant.messages.stream(model="claude-model", max_tokens=16, messages=MESSAGES) as s:
                await s.get_final_message()
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as oai:
        with pytest.raises(openai.APIError, match="Overloaded"):
            async for _ in await oai.chat.completions.create(
                model="claude-model", messages=MESSAGES, stream=True
            ):
                pass
    assert _rows(proxy) == [(529, 1, 7), (529, 1, 7)]  # pass-through, then translated
    assert len(upstream.keys) == 2


async def test_an_upstream_that_goes_silent_mid_stream_is_a_failed_request(
    start_proxy, faulty, tmp_path
) -> None:
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ntimeouts:\n  upstream-idle: 300ms\nopenai-compatibility:\n  - name: f\n'
        f'    base-url: "{faulty.base_url}/v1"\n    api-key-entries: [{{api-key: "k-stall"}}]\n'
        '    models: [{name: "gpt-f", alias: "gpt-model"}]\n' + _ledger(tmp_path)
    )
    faulty.faults["k-stall"] = "stall_mid"
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as oai:
        with pytest.raises(openai.APIError, match="went silent"):
            async for _ in await oai.chat.completions.create(
                model="gpt-model", messages=MESSAGES, stream=True
            ):
                pass
    assert _rows(proxy) == [(504, 1, 0)]
