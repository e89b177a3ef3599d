"""More of CPA's internal/runtime/executor/codex_executor_stream_output_test.go through a
running proxy: which Codex stream endings are the request's own trouble (the account is
not cooled: CPA's "request scoped" errors) and which are the account's (a usage limit
cools it until the reset Codex names), and a transport cut after ``response.completed``
that is no failure at all. The upstream is :class:`RawCodex` of test_codex_stream_cpa.py,
which can also cut its connection without ending the chunked body."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.e2e.test_codex_stream_cpa import CONTEXT, CREATED, RawCodex, completed, config, sdk


class CuttingCodex(RawCodex):
    """:class:`RawCodex` whose connection drops after the events when ``cut`` is set (the
    chunked body never ends: the proxy reads an unexpected EOF)."""

    cut = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.cut:
            return await super().handle(request)
        self.bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in self.events:
            await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        assert request.transport is not None
        request.transport.abort()
        return resp


@pytest.fixture
async def codex() -> AsyncIterator[CuttingCodex]:
    server = await CuttingCodex().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


async def cooldowns(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


async def ask(proxy: Any, stream: bool) -> Any:
    """A Responses request; the streamed one is read to its end."""
    async with sdk(proxy) as client:
        if not stream:
            return await client.responses.create(model="codex-model", input="hello")
        return [
            e async for e in await client.responses.create(model="codex-model", input="hello", stream=True)
        ]


@pytest.mark.parametrize("cut", [False, True], ids=["ended", "cut"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_stream_that_stops_before_its_end_cools_nothing(
    start_proxy, codex, stream: bool, cut: bool
) -> None:
    """CPA TestCodexExecutorExecuteStreamMissingCompletionIsRequestScoped (ended) and
    TestCodexExecutorTransportFailureBeforeTerminalIsRequestScoped (cut): Codex says
    ``response.created`` and then the body ends, or the connection drops, with no terminal
    event. The client gets a failure (a whole answer: an error status; a stream already
    under way: ``response.failed`` where its end would be) and the account is not cooled:
    a cut stream says nothing about the account. Deliberate difference: a dropped
    connection is a 502 (the upstream broke: a gateway error the SDKs retry), a body that
    ended cleanly without its terminal event the 408 ``stream_incomplete``; CPA answers
    408 for both."""
    proxy = await start_proxy(config(codex.url, "codex:\n  stream-bootstrap-buffering: false\n"))
    codex.events, codex.cut = [CREATED], cut
    if stream:
        events = await ask(proxy, True)
        assert events[0].type == "response.created" and events[-1].type == "response.failed"
    else:
        with pytest.raises(openai.APIStatusError) as info:
            await ask(proxy, False)
        assert info.value.status_code == (502 if cut else 408)
    assert await cooldowns(proxy) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_cut_after_the_completion_is_a_success(start_proxy, codex, stream: bool) -> None:
    """CPA TestCodexExecutorExecuteIgnoresTransportErrorAfterCompletion and
    TestCodexExecutorExecuteStreamIgnoresTransportErrorAfterCompletion: the connection
    drops after ``response.completed``; the answer is whole, the client gets it."""
    proxy = await start_proxy(config(codex.url))
    codex.events, codex.cut = [CREATED, completed()], True
    answer = await ask(proxy, stream)
    if stream:
        assert answer[-1].type == "response.completed"
    else:
        assert answer.id == "resp_1" and answer.status == "completed"
    assert await cooldowns(proxy) == []


async def test_a_context_length_failure_alone_is_a_400(start_proxy, codex) -> None:
    """CPA TestCodexTerminalStreamContextLengthErrFromResponseFailed: ``response.failed``
    alone (no ``error`` event first) naming ``context_length_exceeded`` is the client's 400
    with Codex's message. Our difference (as test_codex_stream_cpa.py): the code stays
    ``context_length_exceeded`` where CPA writes ``context_too_large``."""
    proxy = await start_proxy(config(codex.url))
    error = {"code": "context_length_exceeded", "message": CONTEXT}
    codex.events = [
        CREATED,
        {"type": "response.failed", "response": {"id": "resp_1", "status": "failed", "error": error}},
    ]
    with pytest.raises(openai.BadRequestError) as info:
        await ask(proxy, False)
    assert CONTEXT in info.value.message
    assert isinstance(info.value.body, dict) and info.value.body.get("code") == "context_length_exceeded"
    assert await cooldowns(proxy) == []


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "error",
            "error": {
                "type": "usage_limit_reached",
                "message": "You've hit your usage limit.",
                "resets_in_seconds": 300,
            },
        },
        {
            "type": "response.failed",
            "response": {
                "error": {
                    "type": "usage_limit_reached",
                    "message": "usage limit reached",
                    "resets_in_seconds": 300,
                }
            },
        },
    ],
    ids=["error-event", "response-failed"],
)
async def test_a_usage_limit_in_the_stream_cools_the_account_until_its_reset(
    start_proxy, codex, event: dict[str, Any]
) -> None:
    """CPA TestCodexTerminalStreamErrHandlesUsageLimitErrorEvent and
    TestCodexTerminalStreamErrHandlesUsageLimitResponseFailed: Codex's plan limit inside
    a 200 stream is the client's 429, and the account rests until the reset it names
    (``resets_in_seconds``: 300)."""
    proxy = await start_proxy(config(codex.url))
    codex.events = [event]
    with pytest.raises(openai.RateLimitError):
        await ask(proxy, False)
    [record] = await cooldowns(proxy)
    assert 280 <= record.until() - time.time() <= 300
