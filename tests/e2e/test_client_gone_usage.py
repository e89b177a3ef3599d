"""A client that leaves a translated stream midway is still accounted for the usage the
upstream had already said: a Claude upstream says its input tokens in ``message_start``,
so a Chat Completions client that reads the first text and closes the stream leaves a
499 record with those input tokens (CPA records a stream's usage as its lines pass). Through
the proxy, on both server engines, with the official openai SDK and the Claude fake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior


async def _until(ok: Callable[[], bool], seconds: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not ok():
        assert loop.time() < end, f"not within {seconds:g}s"
        await asyncio.sleep(0.02)


def _rows(proxy) -> list[tuple[int, int, int]]:
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None and ledger.flush()
    return [tuple(r) for r in ledger.query("SELECT status, failed, input_tokens FROM usage_requests")]


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_client_that_leaves_a_translated_claude_stream_is_accounted_its_input(
    start_proxy, fakes, tmp_path, engine
):
    """The Claude fake streams slowly; the Chat client takes the first chunk and closes.
    The upstream connection is closed soon after, nothing cools, and the usage record is
    a 499 with the input tokens of ``message_start``. Before, the translated stream kept
    only the usage of later events (``message_delta``), so the record said 0 input tokens
    for a prompt the upstream had read and billed."""
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(matrix_config(fakes, ledger), engine=engine)
    fakes.claude.script(Behavior(stream_delay=0.3, text="word " * 40))
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10
    ) as client:
        stream = await client.chat.completions.create(
            model="claude-model", messages=[{"role": "user", "content": "hi " * 50}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        await stream.close()
    await _until(lambda: fakes.claude.last.dropped)
    await _until(lambda: len(_rows(proxy)) == 1)
    ((status, failed, input_tokens),) = _rows(proxy)
    assert (status, failed) == (499, 1)
    assert input_tokens > 0
    pool = proxy.service.pool
    assert [c.id for c in pool.credentials() if await pool.cooldowns(c)] == []
