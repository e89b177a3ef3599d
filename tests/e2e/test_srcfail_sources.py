"""What the usage ledger says of a stream that failed after its first byte, for each kind
of upstream the stream came from and each client format it went out in: CPA publishes
such a stream's record as a failure (``reporter.PublishFailure`` on a read error, or the
error chunk a translator ends at), so the row must say failed, with the error's status.

The upstreams are the four HTTP kinds (an OpenAI-compatible base URL, a Claude key, a
Gemini key, a Codex key) and Codex over its Responses WebSocket (a Responses WebSocket
client, ``websockets: true``); the faults an in-band error event after the answer began
and a connection the upstream broke off mid-answer. The client formats: Chat, Responses,
Claude Messages, Gemini over SSE and Gemini's JSON array (no ``?alt=sse``), the
pass-through of each upstream's own format among them.

Found broken: a Codex WebSocket upstream that closed its socket with 1009 (message too
big) after the answer began ended the client's socket with 1009 but was recorded as a 200
success (the 413 the close maps to was raised past the stream's failure record; CPA's
``mapCodexWebsocketReadError`` publishes it as a failure).

A Gemini stream that ends cleanly without its ``finishReason`` chunk stays a success, as in
CPA (its Gemini executor checks no terminal event): not asserted here."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e import test_aistudio_relay as aistudio
from tests.e2e.clients import KEY
from tests.e2e.test_aistudio_relay import RelayClient, relay
from tests.e2e.test_aistudio_relay import _chunk as relay_chunk
from tests.e2e.test_aistudio_relay import _config as relay_config
from tests.e2e.test_codexws_usage_rows import CREATE, _rows_after
from tests.e2e.test_codexws_usage_rows import _config as ws_ledger_config
from tests.e2e.test_providers_more import antigravity_auth
from tests.e2e.test_responses_ws import connect
from tests.e2e.test_xai_reasoning_text import MODEL as XAI_MODEL
from tests.e2e.test_xai_reasoning_text import config as xai_config
from tests.fakes.server import Behavior

TEXT = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu " * 8
# upstream kind: its fake, the proxy's model for it, and after how many frames its answer
# has begun for every client format (earlier, a failure fails over or is an error status)
UPSTREAMS = {
    "openai-compat": ("openai", "compat-model", 2),
    "claude": ("claude", "claude-model", 5),
    "gemini": ("gemini", "gem-model", 2),
    "codex": ("responses", "codex-model", 6),
}
# what the row says: an upstream's in-band error keeps its status (the fakes send a 500;
# Codex's response.failed carries none: 502), a broken-off read is 502
ERROR_STATUS = {"openai-compat": 500, "claude": 500, "gemini": 500, "codex": 502}


def _config(fakes: Any, tmp_path: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
openai-compatibility:
  - name: fakeopenai
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat-1"}}]
    models: [{{name: "gpt-4o-mini", alias: "compat-model"}}]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
gemini-api-key:
  - api-key: "g-1"
    base-url: "{fakes.gemini.base_url}"
    models: [{{name: "gemini-2.5-pro", alias: "gem-model"}}]
usage-statistics-enabled: true
usage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}
"""


def _request(client: str, model: str) -> tuple[str, dict[str, Any]]:
    messages = [{"role": "user", "content": "hi"}]
    if client == "chat":
        return "/v1/chat/completions", {"model": model, "messages": messages, "stream": True}
    if client == "responses":
        return "/v1/responses", {"model": model, "input": "hi", "stream": True}
    if client == "claude":
        return "/v1/messages", {"model": model, "messages": messages, "max_tokens": 50, "stream": True}
    alt = "?alt=sse" if client == "gemini-sse" else ""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return f"/v1beta/models/{model}:streamGenerateContent{alt}", body


@pytest.mark.parametrize("fault", ["error-event", "broken-off"])
@pytest.mark.parametrize("client", ["chat", "responses", "claude", "gemini-sse", "gemini-array"])
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
async def test_a_stream_that_fails_late_is_a_failed_request(
    start_proxy, fakes, tmp_path, upstream: str, client: str, fault: str
) -> None:
    """The client got the answer's start (a 200 and bytes), then the failure; the row says
    failed with the error's status (a guard: every one of these held before)."""
    proxy = await start_proxy(_config(fakes, tmp_path))
    fake, model, after = UPSTREAMS[upstream]
    if fault == "error-event":
        behavior, status = (
            Behavior(stream_error="server_error", error_after=after, text=TEXT),
            ERROR_STATUS[upstream],
        )
    else:
        behavior, status = Behavior(cut_after=after, text=TEXT), 502
    getattr(fakes, fake).script(behavior)
    path, body = _request(client, model)
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, json=body, headers=headers) as r:
        assert r.status == 200  # (it failed late: the answer had begun)
        await r.read()
    assert await _rows_after(proxy, 1) == [(status, 1)]


@pytest.mark.parametrize(
    "code, status", [(1011, 502), (1000, 502), (1006, 502), (1009, 413)], ids=["1011", "1000", "1006", "1009"]
)
async def test_a_codex_websocket_upstream_closed_mid_turn_is_a_failed_request(
    start_proxy, fakes, tmp_path, code: int, status: int
) -> None:
    """The Codex upstream socket closes with ``code`` after the answer's first deltas: the
    client's turn ends (a ``response.failed``, or for 1009 its own socket closed with 1009)
    and the row says failed: 502, or the 413 CPA maps a 1009 to (before: the 1009 case was
    a 200 success)."""
    proxy = await start_proxy(ws_ledger_config(fakes, tmp_path))
    fakes.responses.ws_cut_code = code
    fakes.responses.script(Behavior(cut_after=6, path="#ws"))
    kinds: list[Any] = []
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(json.dumps(CREATE))
        while not kinds or kinds[-1] not in ("response.completed", "response.failed", "error"):
            msg = await ws.receive(timeout=5)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                kinds.append(ws.close_code)
                break
            kinds.append(json.loads(msg.data)["type"])
    assert "response.output_text.delta" in kinds  # (it failed late)
    assert kinds[-1] == (1009 if code == 1009 else "response.failed")
    assert await _rows_after(proxy, 1) == [(status, 1)]


class _LateRelay(RelayClient):
    """A relay page whose stream fails after two chunks: an ``error`` message (``mode``
    "error-message") or its socket closed (``mode`` "gone")."""

    async def _answer(self, request_id: str, payload: dict[str, Any]) -> None:
        if self.mode == "ok":
            return await super()._answer(request_id, payload)
        head = {"status": 200, "headers": {"Content-Type": ["text/event-stream"]}}
        await self._send(request_id, "stream_start", head)
        for part in ("hel", "lo "):
            await self._send(request_id, "stream_chunk", {"data": relay_chunk(part)})
        if self.mode == "gone":
            await self.ws.close()
        else:
            await self._send(request_id, "error", {"error": "page lost its session", "status": 503})


@pytest.mark.parametrize("mode", ["error-message", "gone"])
async def test_an_ai_studio_relay_stream_that_fails_late_is_a_failed_request(
    start_proxy, tmp_path, monkeypatch, mode: str
) -> None:
    """The AI Studio relay (``/v1/ws``) streams two chunks, then its page reports an error or
    leaves: the Chat client gets the text so far and an error, the row says failed, 502."""
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(relay_config() + ledger)
    monkeypatch.setattr(aistudio, "RelayClient", _LateRelay)
    async with relay(proxy) as client:
        client.mode = mode
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
            stream = await sdk.chat.completions.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = ""
            with pytest.raises(openai.APIError):
                async for c in stream:
                    text += (c.choices[0].delta.content or "") if c.choices else ""
    assert text == "hello "  # (it failed late)
    assert await _rows_after(proxy, 1) == [(502, 1)]


@pytest.mark.parametrize("fault", ["error-event", "broken-off"])
@pytest.mark.parametrize("client", ["chat", "claude", "gemini-array"])
async def test_an_antigravity_stream_that_fails_late_is_a_failed_request(
    start_proxy, fakes, tmp_path, client: str, fault: str
) -> None:
    """An Antigravity account (its own connection pool to Cloud Code) whose stream fails
    after the answer began: the row says failed (500 for the in-band error, 502 cut)."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + ledger)
    if fault == "error-event":
        behavior, status = Behavior(stream_error="server_error", error_after=2, text=TEXT), 500
    else:
        behavior, status = Behavior(cut_after=2, text=TEXT), 502
    fakes.gemini.script(behavior)
    path, body = _request(client, "gemini-3-flash")
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, json=body, headers=headers) as r:
        assert r.status == 200  # (it failed late: the answer had begun)
        await r.read()
    assert [r.path for r in fakes.gemini.requests if r.path.startswith("/v1internal:stream")]
    assert await _rows_after(proxy, 1) == [(status, 1)]


@pytest.mark.parametrize("fault", ["error-event", "broken-off"])
@pytest.mark.parametrize("client", ["responses", "chat"])
async def test_an_xai_stream_that_fails_late_is_a_failed_request(
    start_proxy, fake_openai, tmp_path, client: str, fault: str
) -> None:
    """An xAI key over HTTP (its stream rewritten on the way, the reasoning events CPA
    normalizes): a late ``response.failed`` or a broken-off read is a failed request, 502."""
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(xai_config(fake_openai) + ledger)
    if fault == "error-event":
        fake_openai.script(Behavior(stream_error="server_error", error_after=6, text=TEXT))
    else:
        fake_openai.script(Behavior(cut_after=6, text=TEXT))
    path, body = _request(client, XAI_MODEL)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, json=body, headers=headers) as r:
        assert r.status == 200  # (it failed late: the answer had begun)
        await r.read()
    assert await _rows_after(proxy, 1) == [(502, 1)]
