"""xAI refuses the WebSocket upgrade itself (an HTTP answer instead of 101), through a
running proxy: the refusal's body is read (aiohttp's ``ws_connect`` drops it), so xAI's
free-usage 429 cools the account for xAI's 24-hour window exactly as over HTTP (CPA
``TestXAIWebsocketsExecuteStreamHandshakeFreeUsageExhaustedSetsRetryAfter``).

The refusing upstream is a small aiohttp server in this module that answers every
upgrade with a scripted status and body (xAI's real free-usage body by default), or
sends its headers and then holds the body back. The client is aiohttp on the proxy's
Responses WebSocket; the second account is the fake OpenAI server in its xAI role.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY

# xAI's answer to an account whose free usage is used up (CPA's handshake case)
FREE_USAGE_BODY = (
    b'{"code":"subscription:free-usage-exhausted",'
    b'"error":"You\'ve used all the included free usage for now."}'
)
DAY = 24 * 3600


class Refuser:
    """An upstream that refuses every WebSocket upgrade with ``status`` and ``body``;
    ``stall``: the headers promise a body that never comes."""

    def __init__(self) -> None:
        self.status = 429
        self.body = FREE_USAGE_BODY
        self.stall = False
        self.upgrades = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.upgrades += request.headers.get("Upgrade", "").lower() == "websocket"
        if self.stall:
            resp = web.StreamResponse(status=self.status, headers={"Content-Length": "4096"})
            await resp.prepare(request)
            await resp.write(b'{"code":')
            await asyncio.sleep(30)
            return resp
        return web.Response(status=self.status, body=self.body, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def refuser() -> AsyncIterator[Refuser]:
    server = Refuser()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def xai_key(name: str, url: str, priority: int = 0) -> str:
    return f'  - api-key: "{name}"\n    base-url: "{url}"\n    websockets: true\n    priority: {priority}\n'


async def one_turn(proxy: Any) -> dict[str, Any]:
    """A client's turn on the proxy's socket: its terminal event, or the close."""
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with session.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws:
            await ws.send_json({"type": "response.create", "model": "grok-4.3", "input": "hello"})
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    return {"close": msg.data, "reason": msg.extra}
                event = json.loads(msg.data)
                if event["type"] in ("error", "response.completed", "response.failed"):
                    return event


async def cooled(proxy: Any) -> dict[str, tuple[int, float]]:
    """Each cooling credential's api key -> (the status it cools for, seconds left)."""
    now = time.time()
    out: dict[str, tuple[int, float]] = {}
    for cred in proxy.service.pool.credentials():
        records = await proxy.service.pool.cooldowns(cred)
        if records:
            last = max(records, key=lambda r: r.until())
            out[cred.api_key] = ((last.last_error or {}).get("http_status", 0), last.until() - now)
    return out


async def test_free_usage_refusal_cools_for_a_day(start_proxy: Any, refuser: Refuser) -> None:
    """CPA TestXAIWebsocketsExecuteStreamHandshakeFreeUsageExhaustedSetsRetryAfter: the
    upgrade refused with 429 and xAI's free-usage body is a 429 that waits out the
    24-hour window (a plain 429 would cool for minutes); the client is told xAI's own
    words."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n' + xai_key("xai-free", refuser.url))
    event = await one_turn(proxy)
    assert refuser.upgrades == 1
    assert "free usage" in orjson.dumps(event).decode(), event
    status, left = (await cooled(proxy))["xai-free"]
    assert status == 429 and DAY - 60 < left <= DAY


async def test_refused_account_fails_over_to_the_next(
    start_proxy: Any, refuser: Refuser, fake_openai: Any
) -> None:
    """Before the first byte the refusal fails over: the second account answers over its
    socket and the first one sits out the day."""
    config = (
        f'api-keys: ["{KEY}"]\nxai-api-key:\n'
        + xai_key("xai-free", refuser.url, priority=10)
        + xai_key("xai-paid", f"{fake_openai.base_url}/v1")
    )
    proxy = await start_proxy(config)
    event = await one_turn(proxy)
    assert event["type"] == "response.completed", event
    assert refuser.upgrades == 1
    assert [r.method for r in fake_openai.requests if r.method != "GET"] == ["WS"]
    status, left = (await cooled(proxy))["xai-free"]
    assert status == 429 and DAY - 60 < left <= DAY


async def test_plain_429_refusal_keeps_its_short_cooldown(start_proxy: Any, refuser: Refuser) -> None:
    """A 429 whose body is not xAI's free-usage one keeps the ordinary cooldown, as over
    HTTP (the body is read, not guessed)."""
    refuser.body = b'{"code":"rate_limited","error":"slow down"}'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n' + xai_key("xai-busy", refuser.url))
    event = await one_turn(proxy)
    assert "slow down" in orjson.dumps(event).decode(), event
    status, left = (await cooled(proxy))["xai-busy"]
    assert status == 429 and left < DAY / 2


async def test_refusal_without_body_keeps_the_made_up_message(start_proxy: Any, refuser: Refuser) -> None:
    """An empty refusal still names the status for the client."""
    refuser.status, refuser.body = 503, b""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n' + xai_key("xai-down", refuser.url))
    event = await one_turn(proxy)
    assert "refused the WebSocket upgrade (HTTP 503)" in orjson.dumps(event).decode(), event


async def test_a_refusal_whose_body_stalls_is_timed_out(start_proxy: Any, refuser: Refuser) -> None:
    """Reading the refusal's body stays inside the handshake's limit
    (``timeouts.upstream-connect``): a body that never comes ends the dial at that limit,
    as a timeout, never a hang."""
    refuser.stall = True
    config = f'api-keys: ["{KEY}"]\ntimeouts:\n  upstream-connect: 500ms\nxai-api-key:\n' + xai_key(
        "xai-stall", refuser.url
    )
    proxy = await start_proxy(config)
    started = time.monotonic()
    event = await one_turn(proxy)
    assert time.monotonic() - started < 5
    assert "timed out" in orjson.dumps(event).decode(), event
