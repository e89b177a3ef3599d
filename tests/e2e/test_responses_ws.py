"""The Responses WebSocket end to end: clients on ``GET /v1/responses`` and
``/backend-api/codex/responses`` of a real proxy, upstreams on the fakes (Codex over its
own WebSocket or SSE, other providers through the translator)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.fakes.server import Behavior
from tests.usage.helpers import logs, settle

CAPTURE = (
    Path(__file__).parents[1] / "translate" / "data" / "openai_responses" / "codex_cli_0169_request.json"
)
TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")


def ws_config(fakes: Any, *, websockets: bool = True, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    websockets: {"true" if websockets else "false"}
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
openai-compatibility:
  - name: fakeopenai
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-compat-1"
    models:
      - name: "gpt-4o-mini"
        alias: "compat-model"
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-model"
{extra}
"""


async def turn(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one message; the events up to a terminal one."""
    await ws.send_str(json.dumps(message))
    events = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
        event = json.loads(msg.data)
        events.append(event)
        if event["type"] in TERMINAL:
            return events


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def ws_messages(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.method == "WS"]


@pytest.fixture
async def ws_proxy(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes))
    proxy.fakes = fakes
    return proxy


async def connect(session: aiohttp.ClientSession, proxy: Any, path: str = "/v1/responses", **kw: Any):
    headers = kw.pop("headers", {"Authorization": f"Bearer {KEY}"})
    return await session.ws_connect(proxy.url + path, headers=headers, **kw)


async def test_text_turn_over_the_codex_websocket(ws_proxy):
    fake = ws_proxy.fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "hello"})
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert text_of(events) == "Hello from fake-responses (model gpt-5.4)"
    sent = ws_messages(fake)
    assert len(sent) == 1 and sent[0].json["type"] == "response.create" and sent[0].json["model"] == "gpt-5.4"
    assert sent[0].key == "sk-codex-1"
    assert sent[0].headers["OpenAI-Beta"] == "responses_websockets=2026-02-06"
    # the proxy's own session header never leaves it
    assert not any(k.lower().startswith("x-cliproxy") for k in sent[0].headers)
    assert not [r for r in fake.requests if r.method == "POST"]


async def test_multi_turn_previous_response_id_on_one_upstream_socket(ws_proxy):
    """CPA TestCodexWebsocketsExecutePreservesPreviousResponseIDUpstream: a follow-up on the
    kept upstream socket goes with the client's ``previous_response_id``. CPA
    TestWebsocketSessionCloseEndsRetainedLifecycleOnce: the client leaving closes the kept
    socket (its lifecycle bookkeeping is Home's)."""
    fake = ws_proxy.fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy, "/backend-api/codex/responses") as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        rid = first[-1]["response"]["id"]
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": rid,
                "input": [{"type": "message", "role": "user", "content": "two"}],
            },
        )
    assert second[-1]["type"] == "response.completed"
    assert fake.ws_opened == 1  # the upstream socket is kept for the session's next turn
    upstream = ws_messages(fake)[1].json
    # the kept socket holds the conversation: the previous id and only the new item (CPA)
    assert upstream["previous_response_id"] == rid and upstream["model"] == "gpt-5.4"
    assert [(i.get("type"), i.get("role")) for i in upstream["input"]] == [("message", "user")]
    assert "two" in json.dumps(upstream["input"][0]["content"])
    assert text_of(second).startswith("Hello from fake-responses")
    for _ in range(100):  # the client left: the upstream socket closes with it
        if fake.ws_open == 0:
            break
        await asyncio.sleep(0.02)
    assert fake.ws_open == 0 and ws_proxy.service.ws_upstream.open_sockets == 0


async def test_tool_loop(ws_proxy):
    tools = [{"type": "function", "name": "shell", "parameters": TOOL_SCHEMA}]
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        first = await turn(
            ws,
            {"type": "response.create", "model": "codex-model", "tools": tools, "input": "FAKE_TOOL please"},
        )
        calls = [i for i in first[-1]["response"]["output"] if i["type"] == "function_call"]
        assert calls and json.loads(calls[0]["arguments"]) == {"command": "echo FAKE_TOOL_OK"}
        output = {"type": "function_call_output", "call_id": calls[0]["call_id"], "output": "FAKE_TOOL_OK"}
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [output],
            },
        )
    assert text_of(second) == "Tool result received: FAKE_TOOL_OK"
    upstream = ws_messages(ws_proxy.fakes.responses)[1].json
    # the call is on the upstream socket already: only its output goes up
    assert [i["type"] for i in upstream["input"]] == ["function_call_output"]
    assert upstream["previous_response_id"] == first[-1]["response"]["id"]


@pytest.mark.parametrize(
    ("model", "upstream_path"),
    [
        ("codex-model", "/backend-api/codex/responses"),  # websockets off: HTTP/SSE
        ("compat-model", "/v1/chat/completions"),  # another format, through the translator
        ("claude-model", "/v1/messages"),
    ],
)
async def test_sse_upstreams_behind_the_socket(start_proxy, fakes, model, upstream_path):
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": model, "input": "hi"})
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "again"}],
            },
        )
    assert first[-1]["type"] == second[-1]["type"] == "response.completed"
    assert text_of(first) and text_of(second)
    fake = {"codex-model": fakes.responses, "compat-model": fakes.openai, "claude-model": fakes.claude}[model]
    posts = [r for r in fake.requests if r.method == "POST" and r.path == upstream_path]
    assert len(posts) == 2 and not ws_messages(fake)
    # the second request carries the whole conversation: user, assistant, user
    body = posts[1].json
    turns = body.get("input") or body.get("messages")
    assert len(turns) >= 3, turns


async def test_official_sdk_responses_connect(ws_proxy):
    """The openai SDK's own Responses WebSocket client (``client.responses.connect``)."""
    async with openai.AsyncOpenAI(base_url=ws_proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.connect() as conn:
            await conn.response.create(model="codex-model", input="hello from the sdk")
            texts = []
            async for event in conn:
                if event.type == "response.output_text.delta":
                    texts.append(event.delta)
                if event.type == "response.completed":
                    first_id = event.response.id
                    break
            await conn.response.create(
                model="codex-model",
                previous_response_id=first_id,
                input=[{"type": "message", "role": "user", "content": "and again"}],
            )
            async for event in conn:
                if event.type == "response.completed":
                    assert event.response.output[0].content[0].text.startswith("Hello from fake-responses")
                    break
    assert "".join(texts) == "Hello from fake-responses (model gpt-5.4)"
    assert ws_proxy.fakes.responses.ws_opened == 1


async def test_codex_cli_capture_replayed_over_the_socket(ws_proxy):
    """Codex CLI 0.169's real request (tests/translate/data), sent as Codex sends it on the
    socket: a ``response.create`` with the whole body."""
    body = orjson.loads(CAPTURE.read_bytes())
    body["model"] = "codex-model"
    headers = {
        "Authorization": f"Bearer {KEY}",
        "OpenAI-Beta": "responses_websockets=2026-02-06",
        "originator": "codex_cli_rs",
        "x-codex-turn-state": "ts-1",
        "session_id": "sess-1",
    }
    async with aiohttp.ClientSession() as s:
        ws = await connect(s, ws_proxy, "/backend-api/codex/responses", headers=headers)
        assert ws._response.headers.get("x-codex-turn-state") == "ts-1"  # kept across reconnects
        events = await turn(ws, {"type": "response.create", **body})
        await ws.close()
    assert events[-1]["type"] == "response.completed"
    sent = ws_messages(ws_proxy.fakes.responses)[-1]
    assert [i.get("type") for i in sent.json["input"]] == [i.get("type") for i in body["input"]]
    assert sent.json["tools"][: len(body["tools"])] == body["tools"]  # (+ image_generation, CPA)
    assert sent.json["prompt_cache_key"] == body["prompt_cache_key"]
    assert sent.headers["x-codex-turn-state"] == "ts-1" and sent.headers["session_id"] == "sess-1"


async def test_prewarm_is_answered_locally(ws_proxy):
    """CPA TestResponsesWebsocketPrewarmHandledLocallyForSSEUpstream: a first
    ``generate: false`` is answered here (no upstream call); the next turn names the
    warm-up's id and goes as one request, without ``generate`` nor the id."""
    fake = ws_proxy.fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        warm = await turn(
            ws, {"type": "response.create", "model": "codex-model", "generate": False, "input": "ctx"}
        )
        assert [e["type"] for e in warm] == ["response.created", "response.completed"]
        assert not ws_messages(fake)
        real = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": warm[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "now"}],
            },
        )
    assert real[-1]["type"] == "response.completed"
    assert "generate" not in ws_messages(fake)[0].json
    assert "previous_response_id" not in ws_messages(fake)[0].json
    assert len(ws_messages(fake)[0].json["input"]) == 2  # the prewarm's input, then the new message


async def test_a_later_warm_up_is_answered_locally_too(ws_proxy):
    """A ``generate: false`` after a real turn (deliberate difference: CPA sends it
    upstream, where xAI never ends it) is answered at once; its input joins the
    conversation the next turn sends. So ``generate`` never reaches an upstream, whichever
    transport the turn takes (CPA TestResponsesWebsocketStripsGenerateWhenWebsocketAttemptFallsBackToHTTP)."""
    fake = ws_proxy.fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "hello"})
        assert first[-1]["type"] == "response.completed"
        sent = len(ws_messages(fake))
        warm = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "generate": False,
                "previous_response_id": first[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "more context"}],
            },
        )
        assert [e["type"] for e in warm] == ["response.created", "response.completed"]
        assert len(ws_messages(fake)) == sent  # nothing went upstream
        real = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": warm[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "now"}],
            },
        )
    assert real[-1]["type"] == "response.completed"
    texts = str(ws_messages(fake)[-1].json["input"])
    assert "more context" in texts and "now" in texts and "generate" not in ws_messages(fake)[-1].json


async def test_bad_messages_are_error_events_and_the_socket_stays_usable(ws_proxy):
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        await ws.send_str("{not json")
        bad = json.loads((await ws.receive(timeout=5)).data)
        assert bad["type"] == "error" and bad["status"] == 400 and "not valid JSON" in bad["error"]["message"]
        stale = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "previous_response_id": "resp_x",
                "input": [],
            },
        )
        assert stale[0]["status"] == 409 and stale[0]["error"]["code"] == "previous_response_not_found"
        unknown = await turn(ws, {"type": "response.cancel"})
        assert unknown[0]["status"] == 400
        ok = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "fine"})
        assert ok[-1]["type"] == "response.completed"


async def test_unknown_model_is_an_error_event_then_a_normal_close(ws_proxy):
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "no-such-model", "input": "x"})
        assert events[0]["type"] == "error" and events[0]["status"] in (400, 404)
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1000


async def test_upstream_dies_mid_stream(ws_proxy):
    """The upstream socket closes mid-turn, after the first bytes reached the client: the
    turn ends in-format (``response.failed`` with the error, as on HTTP), the broken
    upstream socket is dropped, and the client's socket stays usable: the next turn dials
    a new upstream socket."""
    fake = ws_proxy.fakes.responses
    fake.script(Behavior(cut_after=6, path="#ws"))
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        broken = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
        assert broken[-1]["type"] == "response.failed"
        assert (
            broken[-1]["response"]["error"]["message"]
            == "upstream connection broke in the middle of the stream"
        )
        again = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "y"})
    assert again[-1]["type"] == "response.completed"
    assert fake.ws_opened == 2


async def test_upstream_error_event_fails_over_to_the_next_credential(start_proxy, fakes):
    """A 429 ``error`` event as the first upstream event (Codex's rate limit on the socket)
    is that attempt's status: the next credential answers, the client sees one answer."""
    extra = f"""
  - api-key: "sk-codex-2"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    websockets: true
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
"""
    text = ws_config(fakes).replace("openai-compatibility:", extra.lstrip("\n") + "openai-compatibility:", 1)
    proxy = await start_proxy(text)
    fakes.responses.script(Behavior(status=429, path="#ws", message="Rate limit reached"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
    assert events[-1]["type"] == "response.completed"
    keys = [r.key for r in ws_messages(fakes.responses)]
    assert len(keys) == 2 and keys[0] != keys[1]


async def test_the_client_leaving_mid_turn_closes_the_upstream_socket(ws_proxy):
    fake = ws_proxy.fakes.responses
    fake.script(Behavior(stream_delay=0.2, path="#ws"))
    async with aiohttp.ClientSession() as s:
        ws = await connect(s, ws_proxy)
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": "long"}))
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "response.created"
        await ws.close()
    for _ in range(100):
        if fake.ws_open == 0 and ws_proxy.service.ws_upstream.open_sockets == 0:
            break
        await asyncio.sleep(0.02)
    assert fake.ws_open == 0 and ws_proxy.service.ws_upstream.open_sockets == 0


async def test_several_sockets_of_one_client_at_once(ws_proxy):
    async with aiohttp.ClientSession() as s:
        sockets = [await connect(s, ws_proxy) for _ in range(5)]
        answers = await asyncio.gather(
            *(
                turn(ws, {"type": "response.create", "model": "codex-model", "input": f"n{i}"})
                for i, ws in enumerate(sockets)
            )
        )
        for ws in sockets:
            await ws.close()
    assert all(a[-1]["type"] == "response.completed" for a in answers)
    assert ws_proxy.fakes.responses.ws_opened == 5  # one upstream socket per client socket


# ---------------------------------------------------------------- access, upgrade


async def test_access_is_the_http_routes(ws_proxy, start_proxy, fakes):
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await connect(s, ws_proxy, headers={})
        assert err.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await connect(s, ws_proxy, headers={"Authorization": "Bearer wrong"})
        assert err.value.status == 401
        async with await connect(s, ws_proxy, headers={}, params={"key": KEY}) as ws:  # ?key= as on HTTP
            assert (await turn(ws, {"type": "response.create", "model": "codex-model", "input": "q"}))[-1][
                "type"
            ] == "response.completed"
        async with s.get(ws_proxy.url + "/v1/responses", headers={"Authorization": f"Bearer {KEY}"}) as resp:
            assert resp.status == 426 and (await resp.json())["error"]["message"].startswith("this endpoint")
    # an open proxy (no api-keys) refuses a page from another origin, as on HTTP
    open_proxy = await start_proxy(ws_config(fakes).replace(f'api-keys: ["{KEY}"]', "api-keys: []"))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await connect(s, open_proxy, headers={"Origin": "https://evil.example"})
        assert err.value.status == 403
        async with await connect(s, open_proxy, headers={"Origin": "http://localhost:3000"}) as ws:
            assert (await turn(ws, {"type": "response.create", "model": "codex-model", "input": "q"}))[-1][
                "type"
            ] == "response.completed"


# ---------------------------------------------------------------- config keys


async def test_beta_features_and_websockets_of_an_oauth_file(start_proxy, fake_responses, tmp_path):
    """``codex-header-defaults.beta-features`` goes on OAuth WebSocket turns whose client
    sent none (CPA); ``"websockets": true`` in the auth file opens the upstream socket."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    base = fake_responses.base_url + "/backend-api/codex"
    for name, ws_on in (("codex-ws.json", True),):
        (auth_dir / name).write_bytes(
            orjson.dumps(
                {
                    "type": "codex",
                    "access_token": "codex-token",
                    "refresh_token": "r",
                    "account_id": "acct-1",
                    "expired": "2099-01-01T00:00:00Z",
                    "base_url": base,
                    "websockets": ws_on,
                }
            )
        )
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
codex-header-defaults:
  beta-features: "multi_agent"
"""
    )
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await turn(ws, {"type": "response.create", "model": "gpt-5.4", "input": "x"})
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {KEY}", "x-codex-beta-features": "client_feature"}
        async with await connect(s, proxy, headers=headers) as ws:
            await turn(ws, {"type": "response.create", "model": "gpt-5.4", "input": "x"})
    first, second = ws_messages(fake_responses)
    assert first.headers["x-codex-beta-features"] == "multi_agent"
    assert second.headers["x-codex-beta-features"] == "client_feature"  # the client's wins
    # over HTTP the default is not sent (CPA: WebSocket requests only)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(model="gpt-5.4", input="x")
    assert "x-codex-beta-features" not in fake_responses.last.headers


async def test_beta_features_not_on_api_keys(start_proxy, fakes):
    proxy = await start_proxy(
        ws_config(fakes, extra='codex-header-defaults:\n  beta-features: "multi_agent"\n')
    )
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
    assert "x-codex-beta-features" not in ws_messages(fakes.responses)[0].headers


async def test_xai_websockets(start_proxy, fake_openai):
    """``xai-api-key[].websockets``: xAI's Responses socket at ``{base}/responses``."""
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
    websockets: true
    models: [{{name: "grok-4.6", alias: "grok-ws"}}]
  - api-key: "xai-2"
    base-url: "{fake_openai.base_url}/v1"
    models: [{{name: "grok-4.6", alias: "grok-sse"}}]
"""
    )
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "grok-ws", "input": "x"})
        other = await turn(
            ws, {"type": "response.create", "model": "grok-sse", "input": [{"role": "user", "content": "y"}]}
        )
    assert events[-1]["type"] == other[-1]["type"] == "response.completed"
    sent = ws_messages(fake_openai)
    assert len(sent) == 1 and sent[0].path == "/v1/responses#ws" and sent[0].key == "xai-1"
    posts = [r for r in fake_openai.requests if r.method == "POST"]
    assert [r.key for r in posts] == ["xai-2"]


async def test_refused_upgrade_fails_over_and_426_falls_back_to_sse(start_proxy, fakes):
    """The upstream refuses the upgrade: its status and body are the attempt's, read as
    over HTTP (a 403 fails over to the next credential; a 401 whose OpenAI body says
    ``invalid_request_error`` would stop, as on HTTP and in CPA, which reads the refusal's
    body too); ``426 Upgrade Required`` sends the same turn over HTTP/SSE. Either way the
    client's session goes on (CPA TestCodexWebsocketsExecuteStreamUpgradeRequiredReturnsWithoutLockingSession,
    TestCodexWebsocketsExecuteStreamHandshakeErrorReturnsWithoutLockingSession,
    TestCodexWebsocketHandshakeFailureReleasesSessionRequestLock)."""
    extra = f"""
  - api-key: "sk-codex-2"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    websockets: true
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
"""
    text = ws_config(fakes).replace("openai-compatibility:", extra.lstrip("\n") + "openai-compatibility:", 1)
    proxy = await start_proxy(text)
    fake = fakes.responses
    fake.script(Behavior(status=403, key="sk-codex-1", times=None))
    for prompt in ("x", "y"):  # round robin: one of the two starts with the refused key
        async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
            events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": prompt})
        assert events[-1]["type"] == "response.completed"
    assert ("GET", "sk-codex-1") in [(r.method, r.key) for r in fake.requests]
    assert {r.key for r in ws_messages(fake)} == {"sk-codex-2"}
    fake.clear_faults()
    fake.clear()
    fake.script(Behavior(status=426))  # the next upgrade, whichever credential
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "y"})
    assert events[-1]["type"] == "response.completed"
    assert [r.method for r in fake.requests] == ["GET", "POST"]
    assert fake.requests[1].path == "/backend-api/codex/responses" and "type" not in fake.requests[1].json


async def test_an_upstream_socket_closed_between_turns_is_dialled_again(ws_proxy):
    """The upstream drops the kept socket while the client thinks: the next turn opens a
    new one (the proxy resends the whole conversation anyway) and the client notices nothing
    (CPA TestExistingWebsocketSessionConnRequiresMatchingHealthyConnection: a closed kept
    socket is never reused)."""
    fake = ws_proxy.fakes.responses
    fake.ws_close_after_turn = True
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        await asyncio.sleep(0.05)  # the upstream's close frame is on its way
        second = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "two"}],
            },
        )
    assert second[-1]["type"] == "response.completed"
    assert fake.ws_opened == 2 and len(ws_messages(fake)[1].json["input"]) == 3


async def test_the_socket_is_one_request_log(start_proxy, fakes):
    """``request-log: true``: one log for the socket, as CPA writes it, with both turns'
    messages and events in its timeline (tests/e2e/test_ws_request_log.py has the layout);
    each turn is still a usage record of its own."""
    proxy = await start_proxy(ws_config(fakes, extra="request-log: true\n"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        for prompt in ("first turn", "second turn"):
            await turn(
                ws,
                {
                    "type": "response.create",
                    "model": "codex-model",
                    "input": [{"role": "user", "content": prompt}],
                },
            )
    for _ in range(200):  # the log is written once the proxy has let the socket go
        if found := logs(await settle(proxy)):
            break
        await asyncio.sleep(0.02)
    (log,) = found
    await settle(proxy)  # the write that made the file may still run
    text = log.read_text()
    assert "first turn" in text and "second turn" in text
    assert text.count('"type":"response.completed"') >= 2


async def test_bootstrap_buffering_fails_over_an_overload_on_the_upstream_socket(start_proxy, fakes):
    """``codex.stream-bootstrap-buffering`` over the upstream WebSocket (CPA buffers the
    handshake events there too): ``server_is_overloaded`` right after ``response.created``
    and ``response.in_progress`` fails over to the next credential; the client sees one
    clean turn."""
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n    websockets: true\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in (1, 2)
    )
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entries}codex:\n  stream-bootstrap-buffering: true\n'
    )
    fakes.responses.script(Behavior(stream_error="server_is_overloaded", error_after=2, path="#ws"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
    kinds = [e["type"] for e in events]
    assert kinds.count("response.created") == 1 and kinds[-1] == "response.completed", kinds
    keys = [r.key for r in ws_messages(fakes.responses)]
    assert len(keys) == 2 and len(set(keys)) == 2


async def test_a_message_over_the_body_limit_closes_with_1009(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes, extra="limits:\n  max-body-mb: 1\n"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        big = {"type": "response.create", "model": "codex-model", "input": "x" * (2 * 2**20)}
        await ws.send_str(json.dumps(big))
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1009
    assert not ws_messages(fakes.responses)


def _masked_text_frame(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    size = len(payload)
    head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_a_client_that_vanishes_without_a_close_frame_is_let_go_at_once(ws_proxy):
    """The client's process dies (Codex CLI exiting): a FIN, no close frame. The socket and
    its upstream socket are closed then, not a heartbeat later (the guard used to keep a
    half-closed connection open for writing)."""
    fake = ws_proxy.fakes.responses
    reader, writer = await asyncio.open_connection("127.0.0.1", ws_proxy.port)
    writer.write(
        b"GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Authorization: Bearer {KEY}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    message = json.dumps({"type": "response.create", "model": "codex-model", "input": "x"}).encode()
    writer.write(_masked_text_frame(message))
    seen = b""
    while b"response.completed" not in seen:
        seen += await asyncio.wait_for(reader.read(65536), 5)
    assert ws_proxy.service.ws_upstream.open_sockets == 1
    writer.write_eof()  # FIN, no close frame
    for _ in range(100):
        if ws_proxy.service.ws_upstream.open_sockets == 0 and fake.ws_open == 0:
            break
        await asyncio.sleep(0.02)
    writer.close()
    assert ws_proxy.service.ws_upstream.open_sockets == 0 and fake.ws_open == 0


async def test_shutdown_closes_open_sockets_with_1001(ws_proxy):
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
        started = asyncio.get_running_loop().time()
        await ws_proxy.close()
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
    assert asyncio.get_running_loop().time() - started < 5  # not the runner's shutdown timeout
    assert ws_proxy.fakes.responses.ws_open == 0 or ws_proxy.service.ws_upstream.open_sockets == 0


async def test_the_fake_codex_socket_continues_its_own_responses_only(fake_responses):
    """The fake upstream socket (tests/fakes/openai_responses.py) as Codex's: a
    ``previous_response_id`` of this socket continues that response; another is a 400."""
    url = fake_responses.base_url.replace("http", "ws") + "/backend-api/codex/responses"
    tools = [{"type": "function", "name": "shell", "parameters": TOOL_SCHEMA}]
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        first = await turn(
            ws, {"type": "response.create", "model": "m", "tools": tools, "input": "FAKE_TOOL go"}
        )
        call = first[-1]["response"]["output"][0]
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "done"}
        message = {"type": "response.create", "model": "m", "input": [output]}
        second = await turn(ws, {**message, "previous_response_id": first[-1]["response"]["id"]})
        assert text_of(second) == "Tool result received: done"
        other = await turn(ws, {**message, "previous_response_id": "resp_elsewhere"})
        assert other[0]["status"] == 400 and other[0]["error"]["code"] == "previous_response_not_found"


async def test_an_idle_socket_is_closed_after_client_websocket_idle(start_proxy, fakes):
    """``timeouts.client-websocket-idle`` (ours; CPA has no limit): no client message for
    that long between turns closes the socket with 1000 "idle timeout"; a turn in
    progress is not idle time."""
    extra = "timeouts:\n  client-websocket-idle: 400ms\n"
    proxy = await start_proxy(ws_config(fakes, extra=extra))
    fakes.responses.script(Behavior(stream_delay=0.1, path="#ws"))  # a turn of ~0.6 s
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
        assert events[-1]["type"] == "response.completed"
        started = asyncio.get_running_loop().time()
        msg = await ws.receive(timeout=5)
        waited = asyncio.get_running_loop().time() - started
    assert msg.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1000
    assert msg.extra == "idle timeout"
    assert 0.3 < waited < 2.0
