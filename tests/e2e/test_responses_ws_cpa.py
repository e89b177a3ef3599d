"""CPA's Responses WebSocket handler cases (sdk/api/handlers/openai/
openai_responses_websocket_test.go) through a running proxy: what a client on
``GET /v1/responses`` sees when the upstream refuses a turn: which failures reach it as
an ``error`` event (with the upstream's own error object), and which close code ends the
socket. The upstream is the fake Codex socket (``ws_frames`` scripts a turn's raw
messages, ``ws_max_message`` makes it refuse large messages with 1009)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_ws_cpa import config
from tests.e2e.test_responses_ws import TERMINAL, connect, turn

CYBER = (
    "This content was flagged for possible cybersecurity risk. If this seems wrong, try "
    "rephrasing your request."
)
NOT_PERSISTED = (
    "Item with id 'rs_0b5f' not found. Items are not persisted when `store` is set to false. "
    "Try again with `store` set to true, or remove this item from your input."
)


def _error(status: int, code: str, message: str, kind: str = "invalid_request") -> str:
    error = {"type": kind, "code": code, "message": message, "param": None}
    return json.dumps({"type": "error", "status": status, "error": error})


def _created() -> str:
    response = {"id": "resp-1", "object": "response", "status": "in_progress", "output": []}
    return json.dumps({"type": "response.created", "response": response})


def _delta() -> list[str]:
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    added = {"type": "response.output_item.added", "output_index": 0, "item": item}
    delta = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "hi"}
    return [json.dumps(added), json.dumps(delta)]


async def _one_turn(proxy: Any, text: str = "x") -> tuple[list[dict[str, Any]], int | None, str]:
    """One turn on a new socket: its events, then the close code and reason (``None``
    and "" when the socket stayed open after a terminal event)."""
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": text}))
        events: list[dict[str, Any]] = []
        while True:
            try:
                msg = await ws.receive(timeout=2 if events and events[-1]["type"] in TERMINAL else 10)
            except TimeoutError:
                return events, None, ""  # the socket stayed open
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return events, ws.close_code, str(msg.extra or "")
            events.append(json.loads(msg.data))


@pytest.mark.parametrize("status", [400, 502, 500])
async def test_a_cyber_policy_refusal_reaches_the_client_whatever_its_status(
    start_proxy, fakes, status
) -> None:
    """CPA TestResponsesWebsocketSendsJSONErrorOnUpstreamCyberPolicyDisconnect,
    TestResponsesWebsocketExposesCyberPolicyRegardlessOfStatus,
    TestResponsesUpstreamErrorBodyDrivesExposure (cyber policy at 502): Codex reports the
    same ``cyber_policy`` refusal as 400 or 502; no other account can change it, so the
    client gets one ``error`` event with the upstream's error object (code, message) and
    the status, then a normal close. Before, a 502 or 500 one closed the socket with 1011
    and the client never learnt why."""
    proxy = await start_proxy(config(fakes, keys=2))
    fakes.responses.ws_frames = [_error(status, "cyber_policy", CYBER)]
    events, code, _ = await _one_turn(proxy)
    assert len(events) == 1, (
        events
    )  # written once (CPA TestResponsesWebsocketTerminalErrorWrittenOnceAcrossForwardAndDisconnect)
    event = events[0]
    assert event["type"] == "error" and event["status"] == status
    assert event["error"]["code"] == "cyber_policy" and "cybersecurity risk" in event["error"]["message"]
    assert code == 1000
    assert len([r for r in fakes.responses.requests if r.method == "WS"]) == 1  # no other account tried


async def test_a_context_length_error_at_500_reaches_the_client(start_proxy, fakes) -> None:
    """CPA TestResponsesUpstreamErrorBodyDrivesExposure (context length exceeded at 500):
    the error body, not the status, says the request is at fault."""
    proxy = await start_proxy(config(fakes))
    fakes.responses.ws_frames = [_error(500, "context_length_exceeded", "too long", "invalid_request_error")]
    events, code, _ = await _one_turn(proxy)
    assert [e["error"]["code"] for e in events] == ["context_length_exceeded"] and code == 1000


async def test_a_400_error_event_is_terminal(start_proxy, fakes) -> None:
    """CPA TestForwardResponsesWebsocketTreatsErrorPayloadAsTerminal,
    TestShouldExposeResponsesUpstreamError (400): a 400 ``error`` event from the upstream
    reaches the client as an ``error`` event and ends the socket; mid-turn (after
    ``response.created``) it is passed on as the upstream wrote it."""
    proxy = await start_proxy(config(fakes))
    bad = json.dumps(
        {
            "type": "error",
            "status": 400,
            "error": {"type": "invalid_request_error", "message": "invalid request"},
        }
    )
    fakes.responses.ws_frames = [bad]
    before, code_before, _ = await _one_turn(proxy)
    fakes.responses.ws_frames = [_created(), *_delta(), bad]
    during, code_during, _ = await _one_turn(proxy)
    assert [e["type"] for e in before] == ["error"] and before[0]["status"] == 400
    assert "invalid request" in before[0]["error"]["message"] and code_before == 1000
    assert during[-1] == json.loads(bad) and len(during) == 4
    assert code_during == 1000


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [(429, "usage_limit_reached", 1013), (401, "authentication_error", 1011), (403, "forbidden", 1011)],
)
async def test_credential_and_quota_failures_are_a_close_code_not_an_error_event(
    start_proxy, fakes, status, kind, code
) -> None:
    """CPA TestResponsesWebsocketHidesNonClientUpstreamDisconnectErrors,
    TestShouldExposeResponsesUpstreamError (401, 429): a failure of the account, not of the
    request, is no ``error`` event: the client is meant to reconnect and retry. DIFFERS: CPA
    drops the connection without a close frame (the client reads 1006); we close with 1013
    (try again later) for a rate limit and 1011 otherwise, with the upstream's message as
    the reason, so the client and its user can tell what happened."""
    proxy = await start_proxy(config(fakes))
    fakes.responses.ws_frames = [
        json.dumps(
            {"type": "error", "status": status, "error": {"type": kind, "message": "the account said no"}}
        )
    ]
    events, close, reason = await _one_turn(proxy)
    assert events == [] and close == code and "the account said no" in reason


async def test_an_upstream_socket_refusing_a_large_message_closes_with_1009(start_proxy, fakes) -> None:
    """CPA TestResponsesWebsocketMirrorsUpstreamMessageTooBigDisconnect,
    TestWriteWebsocketCloseForUpstreamErrorMirrorsMessageTooBig (raw close error),
    TestCodexWebsocketsExecuteStreamMapsMessageTooBigClose and
    TestMapCodexWebsocketWriteErrorStopsRetryForMessageTooBig (no other account tried): the
    upstream socket closes with 1009 on the turn's message; the client's socket closes
    with 1009 too, the upstream's reason with it, and no ``error`` event: a client reads
    the close code (and may resend another way). Before, it got a 413 ``error`` event and
    a normal close."""
    proxy = await start_proxy(config(fakes, keys=2))
    fakes.responses.ws_max_message = 2048
    events, code, reason = await _one_turn(proxy, "x" * 5000)
    assert events == [] and code == 1009 and reason == "upstream websocket message too big"
    assert fakes.responses.ws_opened == 1  # the request is too large for any account


@pytest.mark.parametrize("created", [False, True])
async def test_a_message_too_big_error_event_closes_with_1009(start_proxy, fakes, created) -> None:
    """CPA TestForwardResponsesWebsocketMirrorsPayloadMessageTooBig,
    TestForwardResponsesWebsocketMirrorsMappedMessageTooBig: a 413 ``message_too_big``
    error (as an event, before or after the turn's first event) becomes close code 1009
    with its message as the reason; the error event itself is not passed on."""
    proxy = await start_proxy(config(fakes))
    too_big = _error(413, "message_too_big", "upstream websocket message too big", "invalid_request_error")
    fakes.responses.ws_frames = [_created(), *_delta(), too_big] if created else [too_big]
    events, code, reason = await _one_turn(proxy)
    assert len(events) == (3 if created else 0) and all(e["type"] != "error" for e in events)
    assert code == 1009 and reason == "upstream websocket message too big"


async def test_a_long_close_reason_is_cut_at_a_character_boundary(start_proxy, fakes) -> None:
    """CPA TestTruncateWebsocketCloseReason, TestWriteWebsocketCloseForUpstreamError...
    (multibyte reason stays valid): a close reason is at most 123 bytes; 31 four-byte
    characters become 30, never a broken one."""
    proxy = await start_proxy(config(fakes))
    fakes.responses.ws_frames = [_error(413, "message_too_big", "🙂" * 31, "invalid_request_error")]
    _, code, reason = await _one_turn(proxy)
    assert code == 1009 and reason == "🙂" * 30


async def test_an_item_not_persisted_404_reaches_the_client(start_proxy, fakes) -> None:
    """CPA TestResponsesWebsocketExposesItemNotPersistedAndRecoversOnReconnect and
    TestResponsesWebsocketClosesAfterNonRetryableClientError: a turn that
    names an item the upstream never stored (``store: false``) fails with a plain-text 404
    the client must act on: it gets an ``error`` event with the status and the message,
    the socket closes, and a new socket with the whole input works."""
    proxy = await start_proxy(config(fakes))
    fakes.responses.ws_frames = [
        json.dumps({"type": "error", "status": 404, "error": {"message": NOT_PERSISTED}})
    ]
    events, code, _ = await _one_turn(proxy)
    again, code_again, _ = await _one_turn(proxy)
    assert [e["type"] for e in events] == ["error"] and events[0]["status"] == 404
    assert "Items are not persisted" in events[0]["error"]["message"] and code == 1000
    assert again[-1]["type"] == "response.completed" and code_again is None


async def test_the_socket_client_address_is_the_http_routes(start_proxy, fakes, monkeypatch) -> None:
    """CPA TestWebsocketClientAddressUsesGinClientIP: a socket's turns name the client as
    the HTTP routes do. Deliberate difference, asserted: that address is the socket's peer
    on both, never the ``X-Forwarded-For`` a client may write itself (CPA's gin, trusting
    every proxy, takes it); the header is kept beside it in the usage record, as on HTTP."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-client-address")
    proxy = await start_proxy(config(fakes, extra="usage-statistics-enabled: true\n"))
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    async with aiohttp.ClientSession() as s:
        async with await connect(s, proxy, headers={"Authorization": f"Bearer {KEY}", **forwarded}) as ws:
            await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            await client.responses.create(model="codex-model", input="x", extra_headers=forwarded)
        headers = {"Authorization": "Bearer m-client-address"}
        async with s.get(proxy.url + "/v0/management/usage-queue?count=5", headers=headers) as r:
            records = await r.json(content_type=None)
    assert [(r["endpoint"], r["client_ip"], r["x_forwarded_for"]) for r in records] == [
        ("GET /v1/responses", "127.0.0.1", "203.0.113.7"),
        ("POST /v1/responses", "127.0.0.1", "203.0.113.7"),
    ]
