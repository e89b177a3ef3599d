"""The request log of a Responses WebSocket session (``request-log: true``): one file per
client socket with CPA's ``=== WEBSOCKET TIMELINE ===`` (client <-> proxy frames) and
``=== API WEBSOCKET TIMELINE ===`` (proxy <-> upstream socket frames), written when the
socket ends, a normal close or not. Clients are aiohttp WebSockets on a real proxy; the
upstreams are the fakes (Codex over its own socket, or over HTTP/SSE)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_realtime import refused, sdk, signed_in
from tests.e2e.test_responses_ws import connect, turn, ws_config
from tests.fakes.codex_realtime import RealtimeFake
from tests.fakes.server import Behavior
from tests.usage.helpers import close_recorder, logs, settle

TWO_TURNS = ("first turn", "second turn")
MKEY = "m-ws-request-log-secret"


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with RealtimeFake() as fake:
        monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_REALTIME", fake.ws_base)
        yield fake


def create(prompt: str) -> dict[str, Any]:
    return {"type": "response.create", "model": "codex-model", "input": [{"role": "user", "content": prompt}]}


async def session_log(proxy: Any, prefix: str = "v1-responses") -> str:
    """The one log file of the session, once the proxy wrote it (after the socket ended)."""
    for _ in range(200):
        found = logs(await settle(proxy), prefix)
        if found:
            (path,) = found
            await settle(proxy)  # the write that made the file is queued: let it finish
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError("no session log was written")


async def management(proxy: Any, path: str) -> bytes:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management" + path, headers={"Authorization": f"Bearer {MKEY}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.read()


def sections(text: str) -> list[str]:
    return re.findall(r"^=== (.+?) ===$", text, flags=re.M)


def events(text: str, section: str) -> list[str]:
    """The ``Event:`` names of one timeline section, in order."""
    start = text.index(f"=== {section} ===\n")
    end = text.find("\n=== ", start + 1)
    return re.findall(r"^Event: (\S+)$", text[start : end if end > 0 else None], flags=re.M)


async def test_a_two_turn_session_over_the_codex_socket_is_one_log_with_both_timelines(
    start_proxy, fakes, monkeypatch: pytest.MonkeyPatch
):
    """CPA TestAppendWebsocketTimelineEvent, TestFinalizeStreamingWritesAPIWebsocketTimeline,
    TestFileRequestLogger_LogRequestWithSourcesWritesLocalLogAndCleansParts and the order of
    writeNonStreamingLog: one log for the socket whose timeline events carry
    ``Timestamp:`` and ``Event: websocket.request`` / ``websocket.response`` with the frame;
    the upstream socket's ``api.websocket.request`` / ``handshake`` / ``response`` events in
    the API timeline; transports named in REQUEST INFO; no REQUEST BODY and no RESPONSE.
    The management API's ``request-log-by-id`` returns it for either turn's usage record.
    Before, each turn was a log of its own with the events as an SSE body and no timeline."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy(ws_config(fakes, extra="request-log: true\nusage-statistics-enabled: true\n"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        for prompt in TWO_TURNS:
            got = await turn(ws, create(prompt))
            assert got[-1]["type"] == "response.completed"
    try:
        text = await session_log(proxy)
        # each turn is a usage record named by the socket's id, which finds the log (as in CPA)
        records = orjson.loads(await management(proxy, "/usage-queue?count=5"))
        assert len(records) == 2 and records[0]["request_id"] == records[1]["request_id"]
        assert (await management(proxy, "/request-log-by-id/" + records[0]["request_id"])).decode() == text
        assert not list((await settle(proxy)).glob("*.tmp"))  # the spools are merged and removed
    finally:
        close_recorder(proxy)
    assert sections(text) == [
        "REQUEST INFO",
        "HEADERS",
        "WEBSOCKET TIMELINE",
        "API WEBSOCKET TIMELINE",
    ]
    assert (
        "URL: /v1/responses\nMethod: GET\nDownstream Transport: websocket\nUpstream Transport: websocket\n"
        in text
    )
    client = events(text, "WEBSOCKET TIMELINE")
    assert client[0] == "websocket.request" and client[-1] == "websocket.disconnect"
    assert client.count("websocket.request") == 2
    second = client.index("websocket.request", 1)
    assert set(client[1:second]) == {"websocket.response"} and len(client[1:second]) >= 3
    assert re.search(r"Timestamp: \d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d\nEvent: websocket.request\n\{", text)
    assert text.index("first turn") < text.index("second turn")
    assert "Event: websocket.disconnect\nthe client closed the socket: 1000\n" in text
    api = events(text, "API WEBSOCKET TIMELINE")
    # one upstream socket for both turns: one handshake, two messages
    assert api[:3] == ["api.websocket.request", "api.websocket.handshake", "api.websocket.response"]
    assert api.count("api.websocket.request") == 2 and api.count("api.websocket.handshake") == 1
    assert "Status: 101\n" in text and '"type":"response.create"' in text
    # secrets masked as in every request log; the upstream got them whole
    assert KEY not in text and "sk-codex-1" not in text
    assert "Authorization: Bearer s...1" in text  # the upstream socket's upgrade header
    assert fakes.responses.requests[-1].key == "sk-codex-1"


async def test_a_session_over_http_upstreams_logs_its_api_requests_after_the_timeline(start_proxy, fakes):
    """An upstream reached over HTTP: no API timeline; each turn's upstream call is an
    ``API REQUEST n`` / ``API RESPONSE n`` pair of the session's log, numbered across the
    turns (CPA keeps them in the socket's one request log: ``Upstream Transport: http``)."""
    proxy = await start_proxy(ws_config(fakes, websockets=False, extra="request-log: true\n"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        for prompt in TWO_TURNS:
            assert (await turn(ws, create(prompt)))[-1]["type"] == "response.completed"
    text = await session_log(proxy)
    assert sections(text) == [
        "REQUEST INFO",
        "HEADERS",
        "WEBSOCKET TIMELINE",
        "API REQUEST 1",
        "API REQUEST 2",
        "API RESPONSE 1",
        "API RESPONSE 2",
    ]
    assert "Downstream Transport: websocket\nUpstream Transport: http\n" in text
    assert "Upstream URL: http" in text and "sk-codex-1" not in text


async def test_an_abnormal_close_still_writes_the_log(start_proxy, fakes):
    """CPA TestResponsesWebsocketTimelineRecordsDisconnectEvent, for a client that drops
    the connection without a close frame: the log is written when the socket is gone, with
    the turn it carried and a ``websocket.disconnect`` event that says how it ended."""
    proxy = await start_proxy(ws_config(fakes, extra="request-log: true\n"))
    async with aiohttp.ClientSession() as s:
        ws = await connect(s, proxy)
        assert (await turn(ws, create("only turn")))[-1]["type"] == "response.completed"
        transport = ws._response.connection.transport  # type: ignore[union-attr]
        assert transport is not None
        transport.abort()  # no close frame: a FIN/RST only
        await ws.close()
    text = await session_log(proxy)
    assert events(text, "WEBSOCKET TIMELINE")[-1] == "websocket.disconnect"
    assert "Event: websocket.disconnect\nthe connection was lost without a close frame\n" in text
    assert "only turn" in text and "=== API WEBSOCKET TIMELINE ===" in text


async def test_a_session_without_request_log_writes_nothing(start_proxy, fakes):
    """Request logs off: no session log (and no turn log for a turn that went well)."""
    proxy = await start_proxy(ws_config(fakes))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        assert (await turn(ws, create("quiet")))[-1]["type"] == "response.completed"
    await asyncio.sleep(0.05)
    assert logs(await settle(proxy)) == []


async def test_a_realtime_socket_is_one_log_with_both_timelines(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """The Realtime relay (ours: CPA writes no request log for ``GET /v1/realtime``): one
    log for the socket, the upstream's upgrade (CPA ``RecordAPIWebsocketRequest`` /
    ``Handshake``) and every frame on both sides; the sign-in's token masked. Before, each
    response of the socket was a log of its own, with no frames but the last event."""
    proxy = await signed_in(start_proxy, realtime, tmp_path, "request-log: true\n")
    try:
        async with (
            sdk(proxy) as client,
            client.realtime.connect(model="gpt-realtime") as conn,
        ):
            assert (await conn.recv()).type == "session.created"
            await conn.response.create()
            assert [(await conn.recv()).type for _ in range(2)] == ["response.created", "response.done"]
        text = await session_log(proxy, "v1-realtime")
    finally:
        close_recorder(proxy)
    assert sections(text) == ["REQUEST INFO", "HEADERS", "WEBSOCKET TIMELINE", "API WEBSOCKET TIMELINE"]
    assert "URL: /v1/realtime?model=gpt-realtime\nMethod: GET\nDownstream Transport: websocket\n" in text
    client_side = events(text, "WEBSOCKET TIMELINE")
    assert client_side[0] == "websocket.response"  # session.created, relayed
    assert "websocket.request" in client_side and client_side[-1] == "websocket.disconnect"
    assert "the client ended the socket: 1000" in text
    api = events(text, "API WEBSOCKET TIMELINE")
    assert api[:3] == ["api.websocket.request", "api.websocket.handshake", "api.websocket.response"]
    assert api.count("api.websocket.request") == 2  # the upgrade, then the client's response.create
    assert "Upstream URL: ws://" in text and "Status: 101\n" in text
    assert text.count('"type":"response.done"') == 2  # read from the upstream, sent to the client
    assert "token-solo" not in text and KEY not in text


async def test_a_refused_realtime_socket_logs_the_refusal(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """A socket the upstream refuses: the log has the upgrade and its answer in the API
    timeline, and the error the client got; no frame went either way."""
    proxy = await signed_in(start_proxy, realtime, tmp_path, "request-log: true\n")
    try:
        realtime.fail_next(429, retry_after=7)
        status, _, _ = await refused(proxy)
        assert status == 429
        text = await session_log(proxy, "v1-realtime")
    finally:
        close_recorder(proxy)
    assert sections(text) == [
        "REQUEST INFO",
        "HEADERS",
        "WEBSOCKET TIMELINE",
        "API WEBSOCKET TIMELINE",
        "API ERROR RESPONSE",
    ]
    assert events(text, "WEBSOCKET TIMELINE") == ["websocket.disconnect"]
    assert events(text, "API WEBSOCKET TIMELINE") == ["api.websocket.request", "api.websocket.handshake"]
    assert "Status: 429\nHeaders:\nRetry-After: 7\n" in text and "HTTP Status: 429\n" in text


async def test_an_upstream_socket_that_breaks_off_is_an_api_error_event(start_proxy, fakes):
    """CPA ``RecordAPIWebsocketError``: the upstream socket closing mid-turn (1011 after two
    events) is an ``api.websocket.error`` event with its stage and close code, after the
    events that came; the client's side ends with how the proxy or the client closed."""
    proxy = await start_proxy(ws_config(fakes, extra="request-log: true\n"))
    fakes.responses.script(Behavior(cut_after=2, path="#ws"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(orjson.dumps(create("cut short")).decode())
        while (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
            pass
    text = await session_log(proxy)
    api = events(text, "API WEBSOCKET TIMELINE")
    assert api[-1] == "api.websocket.error" and api.count("api.websocket.response") == 2
    assert "Stage: read\nError: upstream WebSocket closed (1011)" in text
    assert events(text, "WEBSOCKET TIMELINE")[-1] == "websocket.disconnect"
