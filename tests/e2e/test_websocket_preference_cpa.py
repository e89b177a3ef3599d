"""CPA's websocket preference (scheduler_test.go, TestSchedulerPick_CodexWebsocketPrefers*)
through a running proxy: a client on the Responses WebSocket is served by the Codex keys
with ``websockets: true``, in turn, even when an HTTP-only key has a higher priority; an
HTTP client is served as before, by the priority."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai

from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn, ws_messages


def config(fakes: Any) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{base}"
    priority: {priority}
    websockets: {ws}
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]"""
        for key, priority, ws in (("sk-http", 10, "false"), ("sk-ws-a", 0, "true"), ("sk-ws-b", 0, "true"))
    )
    return f'api-keys: ["{KEY}"]\ncodex-api-key:{entries}\n'


async def test_a_websocket_client_is_steered_to_websocket_keys(start_proxy: Any, fakes: Any) -> None:
    """TestSchedulerPick_CodexWebsocketPrefersWebsocketEnabledSubset and
    _AcrossPriorities: three turns on the client's socket go to the two websocket keys in
    turn, over the upstream WebSocket; the HTTP-only key (priority 10) gets none of them."""
    proxy = await start_proxy(config(fakes))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        for text in ("one", "two", "three"):
            message = [{"type": "message", "role": "user", "content": text}]
            events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": message})
            assert events[-1]["type"] == "response.completed", events
    keys = [r.key for r in ws_messages(fakes.responses)]
    assert sorted(keys[:2]) == ["sk-ws-a", "sk-ws-b"] and keys[2] == keys[0], keys
    assert not [r for r in fakes.responses.requests if r.method == "POST"]  # no turn went over HTTP


async def test_an_http_client_still_follows_the_priority(start_proxy: Any, fakes: Any) -> None:
    """Only WebSocket clients have the preference (CPA's DownstreamWebsocket): an HTTP
    Responses client gets the priority-10 key, over HTTP."""
    proxy = await start_proxy(config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.responses.create(model="codex-model", input="hi")
    assert answer.output_text
    assert [r.key for r in fakes.responses.requests] == ["sk-http"]
    assert ws_messages(fakes.responses) == []


async def test_an_http_client_cannot_pose_as_a_websocket_session(start_proxy: Any, fakes: Any) -> None:
    """The proxy's internal WebSocket headers cannot come from an HTTP client: their names
    hold a space, which no HTTP field name may, so the request is refused before it is
    read, and the old spelling without the space means nothing to the proxy."""
    proxy = await start_proxy(config(fakes))
    body = b'{"model":"codex-model","input":"hi"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\n".encode()
        + f"{SESSION_HEADER}: forged\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
    writer.close()
    assert head.split()[1] == b"400", head
    headers = {"X-Cliproxy-Ws-Session": "forged"}
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, default_headers=headers
    ) as client:
        await client.responses.create(model="codex-model", input="hi")
    assert [r.key for r in fakes.responses.requests] == ["sk-http"]  # priority, over HTTP
    assert ws_messages(fakes.responses) == []
