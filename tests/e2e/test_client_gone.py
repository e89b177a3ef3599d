"""A client that goes away while its request is in flight (CPA cancels the request's
context: the upstream request is aborted, the conductor cools nothing, the request is
recorded as 499 and no error log is written). Through the proxy, on both server engines,
with the official openai SDK as the client and the fake upstream watching its connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior

pytestmark = [pytest.mark.asyncio, pytest.mark.engine_pinned]
ENGINES = pytest.mark.parametrize("engine", ["fast", "aiohttp"])
CHAT = {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]}


async def _until(ok: Callable[[], bool], seconds: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not ok():
        assert loop.time() < end, f"not within {seconds:g}s"
        await asyncio.sleep(0.02)


async def _proxy(start_proxy, fakes, tmp_path, engine: str):
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    return await start_proxy(matrix_config(fakes, ledger), engine=engine)


def _rows(proxy) -> list[tuple[int, int]]:
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None and ledger.flush()
    return [tuple(r) for r in ledger.query("SELECT status, failed FROM usage_requests ORDER BY ts")]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("cliproxy")
    ]


@ENGINES
async def test_a_client_that_leaves_a_whole_answer_ends_the_upstream_call(
    start_proxy, fakes, tmp_path, caplog, engine
):
    """CPA TestWriteErrorResponse_ContextCanceledUses499 and
    TestRequestLoggingMiddleware_ClientCancellationExclusion, with the conductor's rule that a
    client's cancellation is no credential failure: the SDK gives up on a slow whole answer
    (its timeout closes the connection), the upstream sees its connection closed soon after
    (it was kept to the end before, on the fast server), the request is recorded as 499
    (failed, as CPA's usage record), no error log line or error-log file is written, and
    the same credential answers the next request (nothing cooled). CPA: TestFinalizeExcludes499FromForceLog."""
    caplog.set_level(logging.INFO)
    proxy = await _proxy(start_proxy, fakes, tmp_path, engine)
    fakes.openai.script(Behavior(delay=10))
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=0.5
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**CHAT)
        await _until(lambda: fakes.openai.last.dropped)
        answer = await client.with_options(timeout=10).chat.completions.create(**CHAT)
    assert answer.choices[0].message.content
    assert len(fakes.openai.requests) == 2 and fakes.openai.requests[0].key == fakes.openai.requests[1].key
    await _until(lambda: len(_rows(proxy)) == 2)
    assert _rows(proxy) == [(499, 1), (200, 0)]
    assert not _errors(caplog)
    assert not list(tmp_path.rglob("error-*.log"))


@ENGINES
async def test_a_client_that_leaves_a_stream_ends_the_upstream_stream(
    start_proxy, fakes, tmp_path, caplog, engine
):
    """CPA TestExecuteModelStreamContextCancel (through the proxy): a client that reads the
    first chunk of a slow stream and closes it; the upstream's connection is closed soon
    after, nothing is logged as an error and the credential serves the next request."""
    caplog.set_level(logging.INFO)
    proxy = await _proxy(start_proxy, fakes, tmp_path, engine)
    fakes.openai.script(Behavior(stream_delay=0.5, text="word " * 40))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(**CHAT, stream=True)
        async for _ in stream:
            break
        await stream.close()
        await _until(lambda: fakes.openai.last.dropped)
        answer = await client.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content
    assert not _errors(caplog)


async def test_a_half_closed_client_still_gets_its_whole_answer(start_proxy, fakes, tmp_path):
    """Deliberate difference: Go's server (CPA's) cancels a request at the client's end of
    stream, so a client that only half-closes (``nc -N``) gets nothing; here it gets its
    answer, after an interim ``100 Continue`` the proxy writes to tell it from a client
    that closed its socket (which answers that write with a reset, and is then dropped)."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, "fast")
    fakes.openai.script(Behavior(delay=0.3))
    body = b'{"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]}'
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "), data[:200]
    assert not fakes.openai.last.dropped
