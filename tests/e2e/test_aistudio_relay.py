"""The AI Studio relay (CPA internal/wsrelay + aistudio_executor.go): a relay client
written here connects on ``/v1/ws``, becomes an ``aistudio`` credential, and answers the
Gemini requests the proxy hands it, whole and streamed; requests come in through the
official openai SDK."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY

ANSWER = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "hello from the relay"}]}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
    "modelVersion": "gemini-2.5-flash",
}


def _chunk(text: str, finish: bool = False) -> str:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        cand["finishReason"] = "STOP"
    return "data: " + orjson.dumps({"candidates": [cand]}).decode() + "\r\n\r\n"


class RelayClient:
    """What CPA's browser page does: answer each ``http_request`` over the socket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"  # "ok", "error", "status429", "silent"
        self.pongs: list[str] = []
        self.ended = asyncio.Event()  # the proxy closed the socket

    async def serve(self) -> None:
        try:
            await self._serve()
        finally:
            self.ended.set()

    async def _serve(self) -> None:
        async for msg in self.ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            message = orjson.loads(msg.data)
            if message["type"] == "pong":
                self.pongs.append(message["id"])
                continue
            if message["type"] != "http_request":
                continue
            self.requests.append(message)
            await self._answer(message["id"], message["payload"])

    async def _send(self, request_id: str, kind: str, payload: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"id": request_id, "type": kind}
        if payload is not None:
            message["payload"] = payload
        await self.ws.send_str(orjson.dumps(message).decode())

    async def _answer(self, request_id: str, payload: dict[str, Any]) -> None:
        if self.mode == "silent":
            return
        if self.mode == "error":
            await self._send(request_id, "error", {"error": "page lost its session", "status": 503})
            return
        if self.mode == "status429":
            body = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
            await self._send(
                request_id,
                "http_response",
                {"status": 429, "headers": {}, "body": orjson.dumps(body).decode()},
            )
            return
        if ":streamGenerateContent" in payload["url"]:
            await self._send(
                request_id,
                "stream_start",
                {"status": 200, "headers": {"Content-Type": ["text/event-stream"]}},
            )
            for part in ("hel", "lo ", "relay"):
                await self._send(request_id, "stream_chunk", {"data": _chunk(part)})
            await self._send(request_id, "stream_chunk", {"data": _chunk("", finish=True)})
            await self._send(request_id, "stream_end")
            return
        headers = {"Content-Type": ["application/json"]}
        await self._send(
            request_id,
            "http_response",
            {"status": 200, "headers": headers, "body": orjson.dumps(ANSWER).decode()},
        )


@contextlib.asynccontextmanager
async def relay(proxy, query: str = f"?key={KEY}") -> AsyncIterator[RelayClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        ws = await session.ws_connect(proxy.url.replace("http", "ws", 1) + "/v1/ws" + query)
        client = RelayClient(ws)
        task = asyncio.create_task(client.serve())
        for _ in range(200):  # the channel is a credential once the upgrade is through
            if len(proxy.service.relay):
                break
            await asyncio.sleep(0.01)
        try:
            yield client
        finally:
            await ws.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _config(ws_auth: bool = True) -> str:
    return f'api-keys: ["{KEY}"]\nws-auth: {"true" if ws_auth else "false"}\n'


def _sdk(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


async def test_request_round_trips_through_the_relay(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with relay(proxy) as client, _sdk(proxy) as sdk:
        done = await sdk.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=50,
            response_format={"type": "json_object"},
        )
    assert done.choices[0].message.content == "hello from the relay"
    sent = client.requests[0]["payload"]
    assert sent["method"] == "POST"
    assert sent["url"] == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    body = orjson.loads(sent["body"])
    assert body["contents"][0]["parts"][0]["text"] == "hi"
    # CPA's AI Studio request drops these generation settings
    config = body.get("generationConfig", {})
    assert "maxOutputTokens" not in config and "responseMimeType" not in config
    assert sent["headers"]["Content-Type"] == ["application/json"]
    assert not any(name.lower().startswith("x-cliproxy") for name in sent["headers"])
    assert not any("goog-api-key" in name.lower() for name in sent["headers"])


async def test_stream_round_trips_through_the_relay(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with relay(proxy) as client, _sdk(proxy) as sdk:
        stream = await sdk.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "hello relay"
    assert client.requests[0]["payload"]["url"].endswith(":streamGenerateContent?alt=sse")


async def test_channel_comes_and_goes_as_a_credential(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with _sdk(proxy) as sdk:
        with pytest.raises(openai.APIStatusError):
            await sdk.chat.completions.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
            )
        async with relay(proxy):
            creds = [c for c in proxy.service.pool.credentials() if c.provider == "aistudio"]
            assert len(creds) == 1 and creds[0].id.startswith("aistudio-")
            assert "gemini-2.5-flash" in {m.id for m in await proxy.service.listable_models()}
        for _ in range(200):
            if not len(proxy.service.relay):
                break
            await asyncio.sleep(0.01)
        assert not [c for c in proxy.service.pool.credentials() if c.provider == "aistudio"]


async def test_relay_error_and_upstream_status_reach_the_client(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with relay(proxy) as client, _sdk(proxy) as sdk:
        client.mode = "status429"
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
            )
    proxy2 = await start_proxy(_config())
    async with relay(proxy2) as client, _sdk(proxy2) as sdk:
        client.mode = "error"
        with pytest.raises(openai.APIStatusError) as err:
            await sdk.chat.completions.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
            )
        assert err.value.status_code == 503


async def test_disconnect_fails_the_waiting_request(start_proxy) -> None:
    """CPA session.cleanup: a request waiting on a channel that closes fails at once."""
    proxy = await start_proxy(_config())
    async with _sdk(proxy) as sdk:
        async with relay(proxy) as client:
            client.mode = "silent"
            call = asyncio.create_task(
                sdk.chat.completions.create(
                    model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]
                )
            )
            for _ in range(300):
                if client.requests:
                    break
                await asyncio.sleep(0.01)
        with pytest.raises(openai.APIStatusError):
            await asyncio.wait_for(call, 10)


async def test_ping_gets_pong(start_proxy) -> None:
    proxy = await start_proxy(_config())
    async with relay(proxy) as client:
        await client.ws.send_str(orjson.dumps({"id": "p1", "type": "ping"}).decode())
        for _ in range(200):
            if client.pongs:
                break
            await asyncio.sleep(0.01)
    assert client.pongs == ["p1"]


async def test_ws_auth(start_proxy) -> None:
    """``ws-auth: true``: the socket needs the client key; ``false``: it does not (CPA)."""
    proxy = await start_proxy(_config(ws_auth=True))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(proxy.url.replace("http", "ws", 1) + "/v1/ws")
        assert err.value.status == 401
    open_proxy = await start_proxy(_config(ws_auth=False))
    async with relay(open_proxy, query=""):
        assert len(open_proxy.service.relay) == 1
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(open_proxy.url + "/v1/chat/completions", json={}) as resp:
                assert resp.status == 401  # the other routes keep their key


async def test_switching_ws_auth_on_drops_open_relays(start_proxy) -> None:
    proxy = await start_proxy(_config(ws_auth=False))
    async with relay(proxy, query=""):
        assert len(proxy.service.relay) == 1
        await proxy.service.edit_config(lambda doc: doc.set("ws-auth", True))
        for _ in range(300):
            if not len(proxy.service.relay):
                break
            await asyncio.sleep(0.01)
        assert not len(proxy.service.relay)


async def test_history_starting_with_the_model_gets_a_leading_user_turn(start_proxy) -> None:
    """CPA TestAIStudioTranslateRequestPrependsLeadingUserForIssue4959ResponsesHistory
    (EnsureGeminiLeadingUserContent): an empty user turn goes first."""
    proxy = await start_proxy(_config())
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "Bash", "args": {"command": "true"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {"output": "ok"}}}]},
        ]
    }
    async with (
        relay(proxy) as client,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
    ):
        async with session.post(
            proxy.url + "/v1beta/models/gemini-2.5-flash:generateContent",
            json=body,
            headers={"x-goog-api-key": KEY},
        ) as resp:
            assert resp.status == 200, await resp.text()
    contents = orjson.loads(client.requests[0]["payload"]["body"])["contents"]
    assert contents[0] == {"role": "user", "parts": [{"text": ""}]}
    assert contents[1]["parts"][0]["functionCall"]["name"] == "Bash"
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "Bash"


async def test_shutdown_closes_open_relays_at_once(start_proxy) -> None:
    """An open relay socket does not hold the server's shutdown (it is closed, 1001)."""
    proxy = await start_proxy(_config())
    async with relay(proxy) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await proxy.service.relay.close_all("server shutting down")
        await asyncio.wait_for(client.ended.wait(), 5)
        assert client.ws.close_code == 1001
        assert loop.time() - started < 5
        assert not len(proxy.service.relay)
