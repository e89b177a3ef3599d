"""CPA's Codex stream cases (internal/runtime/executor/codex_executor_stream_output_test.go,
codex_stream_bootstrap_buffering_test.go) through a running proxy: a Codex upstream that
sends scripted raw SSE events (:class:`RawCodex`), clients on the official SDKs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn

CONTEXT = "Your input exceeds the context window of this model. Please adjust your input and try again."
CREATED = {
    "type": "response.created",
    "response": {"id": "resp_1", "model": "gpt-5.5", "status": "in_progress"},
}
USAGE = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}


def completed(output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    response = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": output or [],
        "usage": USAGE,
    }
    return {"type": "response.completed", "response": response}


class RawCodex:
    """A Codex upstream answering ``POST /responses`` with the SSE events in ``events``
    (each with its ``event:`` line), recording the request bodies."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.hold = 0.0  # seconds to wait after the events before ending the stream
        self.ended = 0  # answers whose handler returned
        self.bodies: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in self.events:
            await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        if self.hold:
            await asyncio.sleep(self.hold)
        try:
            await resp.write_eof()
        finally:
            self.ended += 1
        return resp

    async def start(self) -> RawCodex:
        app = web.Application()
        app.router.add_post("/responses", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


@pytest.fixture
async def codex() -> AsyncIterator[RawCodex]:
    server = await RawCodex().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def config(url: str, extra: str = "") -> str:
    return (
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{url}"\n'
        '    models: [{name: "gpt-5.5", alias: "codex-model"}]\n' + extra
    )


def sdk(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


# ---- terminal failures (codex_executor_stream_output_test.go)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_context_length_error_event_is_the_clients_400(start_proxy, codex, stream: bool) -> None:
    """CPA TestCodexExecutorExecuteSurfacesTerminalStreamError and
    TestCodexExecutorExecuteStreamSurfacesTerminalStreamError: ``response.created``, then an
    ``error`` event ``context_length_exceeded`` (and ``response.failed``): the client gets a
    400 with Codex's message. Our difference: the error keeps Codex's own code
    ``context_length_exceeded`` (the one the Codex CLI and the OpenAI SDKs know) where CPA
    renames it ``context_too_large``."""
    proxy = await start_proxy(config(codex.url))
    error = {
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
        "message": CONTEXT,
        "param": "input",
    }
    failed = {"type": "response.failed", "response": {"id": "resp_1", "status": "failed", "error": error}}
    codex.events = [CREATED, {"type": "error", "error": error, "sequence_number": 2}, failed]
    async with sdk(proxy) as client:
        with pytest.raises(openai.BadRequestError) as info:
            if stream:
                async with client.responses.stream(model="codex-model", input="hello") as s:
                    await s.get_final_response()
            else:
                await client.responses.create(model="codex-model", input="hello")
    assert info.value.status_code == 400 and CONTEXT in info.value.message
    assert isinstance(info.value.body, dict) and info.value.body.get("code") == "context_length_exceeded"


async def test_a_top_level_context_length_error_is_a_400(start_proxy, codex) -> None:
    """CPA TestCodexTerminalStreamContextLengthErrFromTopLevelError: the ``error`` event may
    carry its code and message at the top level, with no ``error`` object."""
    proxy = await start_proxy(config(codex.url))
    codex.events = [CREATED, {"type": "error", "code": "context_length_exceeded", "message": CONTEXT}]
    async with sdk(proxy) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model="codex-model", input="hello")
    assert CONTEXT in info.value.message


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value"}}, 400),
        ({"type": "error", "error": {"type": "invalid_request", "code": "cyber_policy"}}, 400),
        (
            {
                "type": "response.failed",
                "response": {"error": {"type": "authentication_error", "code": "invalid_api_key"}},
            },
            401,
        ),
        ({"type": "error", "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded"}}, 429),
        (
            {"type": "response.failed", "response": {"error": {"type": "upstream_error", "code": "unknown"}}},
            502,
        ),
        (
            {"type": "error", "error": {"type": "service_unavailable_error", "code": "server_is_overloaded"}},
            503,
        ),
    ],
    ids=["invalid", "cyber-policy", "auth", "rate-limit", "unknown", "overload"],
)
async def test_terminal_failure_statuses(start_proxy, codex, event: dict[str, Any], status: int) -> None:
    """CPA TestCodexTerminalFailureErrClassifiesStatus (and
    TestCodexExecutorExecuteExplicitTerminalFailureIsNotRequestScoped,
    TestCodexTerminalStreamErrIgnoresRateLimitTerminalErrors,
    TestCodexTerminalStreamContextLengthErrIgnoresOtherTerminalErrors: a rate limit stays a
    429, never a context-length 400): the status a client gets for each kind of in-band
    failure. Our difference: an overload is a 503 (try again) with buffering
    on or off; CPA keeps it a 502 without buffering."""
    proxy = await start_proxy(config(codex.url))
    event = json.loads(json.dumps(event))
    error = event.get("error") or event["response"]["error"]
    error["message"] = "upstream says no"
    codex.events = [event]
    async with sdk(proxy) as client:
        with pytest.raises(openai.APIStatusError) as info:
            await client.responses.create(model="codex-model", input="hello")
    assert info.value.status_code == status


async def test_an_explicit_failure_after_the_handshake_is_not_a_success(start_proxy, codex) -> None:
    """CPA TestCodexExecutorExecuteStreamExplicitTerminalFailureIsNotSuccessful: a stream
    that says ``response.created`` and then ``error`` ends as a failure for the client."""
    proxy = await start_proxy(config(codex.url, "codex:\n  stream-bootstrap-buffering: false\n"))
    error = {"type": "invalid_request_error", "code": "invalid_value", "message": "Invalid input."}
    codex.events = [CREATED, {"type": "error", "error": error}]
    kinds: list[str] = []
    async with sdk(proxy) as client:
        stream = await client.responses.create(model="codex-model", input="hello", stream=True)
        with pytest.raises(openai.APIError):
            async for event in stream:
                kinds.append(event.type)
    assert kinds[0] == "response.created" and "response.completed" not in kinds


async def test_an_incomplete_response_is_a_success(start_proxy, codex) -> None:
    """CPA TestCodexExecutorExecuteIncompleteResponseIsSuccessful: ``response.incomplete``
    (max_output_tokens) is a normal end: a Claude client gets its message with
    ``stop_reason: max_tokens``."""
    proxy = await start_proxy(config(codex.url))
    response = {
        "id": "resp_1",
        "model": "gpt-5.5",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }
    codex.events = [{"type": "response.incomplete", "response": response}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        message = await client.messages.create(
            model="codex-model", max_tokens=64, messages=[{"role": "user", "content": "hello"}]
        )
    assert message.stop_reason == "max_tokens"


async def test_sequential_cutoff_summaries_reach_a_websocket_client_over_sse(start_proxy, codex) -> None:
    """CPA TestCodexAutoExecutorHTTPFallbackForwardsSequentialCutoffReasoningSummaryDelivery: a
    Responses WebSocket client on a credential without upstream sockets: the HTTP request
    keeps ``stream_options.reasoning_summary_delivery`` and drops ``include_usage`` (the
    Responses API has none), and the ``reasoning_summary_text.done`` event reaches the client."""
    proxy = await start_proxy(config(codex.url))
    done = {
        "type": "response.reasoning_summary_text.done",
        "item_id": "rs_1",
        "summary_index": 0,
        "text": "Checking",
    }
    codex.events = [done, completed()]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "input": "hello",
                "reasoning": {"summary": "detailed"},
                "stream_options": {"reasoning_summary_delivery": "sequential_cutoff", "include_usage": True},
            },
        )
    assert any(e["type"] == "response.reasoning_summary_text.done" for e in events), events
    options = codex.bodies[-1].get("stream_options") or {}
    assert options.get("reasoning_summary_delivery") == "sequential_cutoff"
    assert "include_usage" not in options


async def test_a_client_that_leaves_during_the_handshake_cools_nothing(start_proxy, codex) -> None:
    """CPA TestCodexExecutor_BootstrapBuffering_ContextCancelDuringBootstrap: the client goes
    away while the buffered handshake waits for the first output: that is no upstream
    failure, the account is not cooled."""
    proxy = await start_proxy(config(codex.url))
    codex.events, codex.hold = [CREATED], 1.0
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "codex-model", "input": "hello", "stream": True}
    async with aiohttp.ClientSession() as s:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                async with s.post(proxy.url + "/v1/responses", json=body, headers=headers) as r:
                    await r.read()
    deadline = asyncio.get_running_loop().time() + 3
    while not codex.ended:  # the upstream's whole answer is in: whatever the proxy makes of it
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    pool = proxy.service.pool
    assert [r for c in pool.credentials() for r in await pool.cooldowns(c)] == []


# ---- Grok Build keepalives (codex_executor_grokbuild_keepalive_test.go)

KEEPALIVE = {"type": "keepalive", "sequence_number": 3}


async def _raw_stream(proxy: Any, agent: str) -> str:
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": agent}
    body = {"model": "codex-model", "input": "test", "stream": True}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/responses", json=body, headers=headers) as r,
    ):
        assert r.status == 200
        return (await r.read()).decode()


@pytest.mark.parametrize(
    "agent",
    [
        "grok-pager/1.0.5 grok-shell/1.0.5 (linux; x86_64)",
        "grok-shell/0.2.119 (macos; aarch64)",
        "grok-pager/1.0.5",
    ],
    ids=["pager-and-shell", "shell", "pager"],
)
@pytest.mark.parametrize("buffering", [False, True], ids=["unbuffered", "buffered"])
async def test_grok_build_gets_keepalives_as_comments(
    start_proxy, codex, agent: str, buffering: bool
) -> None:
    """CPA TestCodexExecutorExecuteStream_GrokBuildConvertsKeepaliveToSSEComment,
    TestCodexExecutorExecuteStream_GrokBuildWithBuffering and
    TestCodexExecutorExecuteStream_GrokBuildDetectedFromGinContext: for Grok Build's
    client (``grok-pager`` or ``grok-shell`` in its User-Agent) Codex's ``keepalive`` event
    becomes the SSE comment ``: keepalive``; the other events pass."""
    flag = "true" if buffering else "false"
    proxy = await start_proxy(config(codex.url, f"codex:\n  stream-bootstrap-buffering: {flag}\n"))
    codex.events = [CREATED, KEEPALIVE, completed()]
    text = await _raw_stream(proxy, agent)
    assert '{"type": "keepalive"' not in text and '"type":"keepalive"' not in text
    assert "event: keepalive" not in text and ": keepalive" in text
    assert "response.created" in text and "response.completed" in text


async def test_other_clients_get_keepalives_as_sent(start_proxy, codex) -> None:
    """CPA TestCodexExecutorExecuteStream_NonGrokClientKeepsVerbatim."""
    proxy = await start_proxy(config(codex.url))
    codex.events = [CREATED, KEEPALIVE, completed()]
    text = await _raw_stream(proxy, "curl/8.7.1")
    assert "event: keepalive" in text and '"type": "keepalive"' in text
