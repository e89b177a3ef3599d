"""xAI over the Responses WebSocket when the credential changes between turns (CPA
``xai_websockets_executor_test.go``), through a running proxy (an aiohttp client on its
socket) against the fake xAI socket."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior


@pytest.fixture
async def proxy(start_proxy, fake_openai):
    entries = "".join(
        f'  - api-key: "{key}"\n    base-url: "{fake_openai.base_url}/v1"\n    websockets: true\n'
        for key in ("xai-1", "xai-2")
    )
    routing = "routing:\n  strategy: fill-first\n"  # both turns start on one key
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{routing}xai-api-key:\n{entries}')
    yield proxy
    fake_openai.ws_close_after_turn = False


async def turn(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> list[dict[str, Any]]:
    await ws.send_str(json.dumps(message))
    events: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
        events.append(json.loads(msg.data))
        if events[-1]["type"] in ("response.completed", "response.failed", "error"):
            return events


def user(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "role": "user", "content": text}


async def test_a_follow_up_on_another_credential_gets_the_whole_transcript(proxy, fake_openai) -> None:
    """CPA TestXAIWebsocketsExecuteStreamReplaysTranscriptWhenAuthChanges: turn one is
    answered on one key's socket; that socket is gone and the key now refuses the upgrade
    (403; CPA's test refuses with a plain-text 401, which fails over the same way; our fake's
    401 says ``invalid_request_error``, which stops as on HTTP), so the follow-up naming the first response is answered by the other key, as the
    whole conversation (the first input, the first answer, the new input) and without
    ``previous_response_id``, which the other key could not know. (CPA
    TestXAIWebsocketsEnabledForConfigAPIKey too: a config key's ``websockets: true`` is
    what sends both turns over xAI's socket.)"""
    fake_openai.ws_close_after_turn = True
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
    ):
        first = await turn(
            ws, {"type": "response.create", "model": "grok-4.3", "input": [user("user-1", "first")]}
        )
        assert first[-1]["type"] == "response.completed", first[-1]
        sockets = [r for r in fake_openai.requests if r.method == "WS"]
        served = sockets[-1].key
        other = {"xai-1", "xai-2"}.difference([served]).pop()
        fake_openai.script(Behavior(status=403, key=served, times=None))
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [user("user-2", "second")],
            },
        )
    assert second[-1]["type"] == "response.completed", second[-1]
    upgrades = [r.key for r in fake_openai.requests if r.method == "GET"]
    assert upgrades == [served, served, other]  # the refused key was tried first (fill-first)
    last = [r for r in fake_openai.requests if r.method == "WS"][-1]
    assert last.key == other and last.headers["Authorization"] == f"Bearer {other}"
    assert "previous_response_id" not in last.json
    answered = [o.get("id") for o in first[-1]["response"]["output"]]
    assert [i.get("id") for i in last.json["input"]] == ["user-1", *answered, "user-2"]


async def test_a_follow_up_on_a_key_without_sockets_goes_over_http_whole(start_proxy, fake_openai) -> None:
    """CPA TestXAIAutoExecutorRequiredUpstreamWebsocketRejectsHTTPFallback, a deliberate
    difference in who replays: CPA's executor refuses a continuation for a key without
    upstream sockets (426 ``upstream_http_replay_required``) and its socket handler sends
    the transcript again over HTTP; here the proxy sends the whole conversation over HTTP
    at once. What xAI gets is the same: the transcript, no ``previous_response_id``."""
    key = f'  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n{key}')
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
    ):
        first = await turn(
            ws, {"type": "response.create", "model": "grok-4.3", "input": [user("user-1", "first")]}
        )
        assert first[-1]["type"] == "response.completed", first[-1]
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [user("user-2", "second")],
            },
        )
    assert second[-1]["type"] == "response.completed", second[-1]
    posts = [r for r in fake_openai.requests if r.method == "POST"]
    assert len(posts) == 2 and not [r for r in fake_openai.requests if r.method == "WS"]
    assert "previous_response_id" not in posts[-1].json
    texts = [i.get("content") for i in posts[-1].json["input"] if i.get("role") == "user"]
    assert texts == ["first", "second"]


async def test_a_warm_up_after_a_compaction_stays_in_the_transcript(start_proxy, fake_openai) -> None:
    """CPA TestXAIWebsocketPostCompactionWarmupPreservesTranscriptForLaterCompaction: after
    a compaction, a ``generate: false`` warm-up and a plain append; the next compaction is
    given the compacted state, the warm-up's context and the append (nothing lost to the
    warm-up). Ours sends each turn whole (test_xai_websocket_cpa.py), so the append after
    the warm-up carries them too, where CPA's goes natively with the new message only."""
    key = f'  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n    websockets: true\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n{key}')
    headers = {"Authorization": f"Bearer {KEY}"}
    trigger = [{"type": "compaction_trigger"}]
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
    ):
        first = await turn(
            ws, {"type": "response.create", "model": "grok-4.3", "input": [user("msg-1", "first")]}
        )
        rid = first[-1]["response"]["id"]
        compacted = await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": trigger})
        state = compacted[-1]["response"]["output"][0]
        warm = {"type": "response.append", "generate": False, "input": [user("warmup-context", "ctx")]}
        assert (await turn(ws, warm))[-1]["type"] == "response.completed"
        after = await turn(ws, {"type": "response.append", "input": [user("msg-after-warmup", "x")]})
        rid = after[-1]["response"]["id"]
        assert (await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": trigger}))[
            -1
        ]["type"] == "response.completed"
    compact = fake_openai.last
    assert compact.path == "/v1/responses/compact"
    given = compact.json["input"]
    assert given[0]["type"] == "compaction" and given[0]["encrypted_content"] == state["encrypted_content"]
    ids = [i.get("id") for i in given]
    assert ids.index("warmup-context") < ids.index("msg-after-warmup")
