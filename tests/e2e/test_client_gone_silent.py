"""A client that leaves a stream while its upstream is silent (a model thinking between
two events) ends the upstream call at once, on both server engines.

The client's end of stream in the middle of an answer it was reading means it is gone: Go's
server (CPA's) cancels the request's context at it, which aborts the upstream request. A
socket the client closed and one it only half-closed look alike until written to, so
before, the proxy found out only at its next write, when the upstream sent more: a
silent upstream kept generating (and billing) for nobody, and an answer that then came
whole in one write was recorded as a 200. With the official openai SDK as the client.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.gone import rows as _rows
from tests.e2e.gone import until as _until
from tests.fakes.server import Behavior

SILENCE = 5.0  # seconds the upstream waits between two events: far past the test's bound


@pytest.mark.engine_pinned
@pytest.mark.parametrize("model", ["compat-model", "claude-model"], ids=["passthrough", "translated"])
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_client_that_leaves_a_silent_stream_ends_the_upstream_call(
    start_proxy, fakes, tmp_path, engine: str, model: str
) -> None:
    """The upstream sends its first events, then waits ``SILENCE`` before the next; the
    client reads the first text and closes the stream. The upstream's connection is
    closed within a second (not when its next event comes), the request is recorded as a
    499 and nothing cools."""
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(matrix_config(fakes, ledger), engine=engine)
    upstream = fakes.openai if model == "compat-model" else fakes.claude
    # the silence falls right after the first text (Chat: role, text; Claude: start, ping,
    # block, text: with 2, the silence fell before the first text, which the client then
    # waited SILENCE for, and it left in the next silence)
    first_text = 1 if model == "compat-model" else 3
    upstream.script(Behavior(stream_delay=SILENCE, delay_from=first_text + 1, text="one two three four"))
    loop = asyncio.get_running_loop()
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as oai:
        started = loop.time()
        stream = await oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        assert loop.time() - started < SILENCE / 2  # the first text came before the silence
        await stream.close()
    await _until(lambda: upstream.last.dropped, 1.5)
    await _until(lambda: len(_rows(proxy)) == 1, 2)
    assert _rows(proxy) == [(499, 1)]
    pool = proxy.service.pool
    assert [c.id for c in pool.credentials() if await pool.cooldowns(c)] == []
