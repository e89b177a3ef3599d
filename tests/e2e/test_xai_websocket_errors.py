"""xAI over the Responses WebSocket: error frames read as xAI's HTTP errors are, through a
running proxy against the fake xAI socket (CPA ``xai_websockets_executor_test.go``)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY

BAD_CREDENTIALS = {
    "code": "unauthenticated:bad-credentials",
    "message": "The OAuth2 access token could not be validated.",
}
FREE_USAGE = {
    "code": "subscription:free-usage-exhausted",
    "message": "You've used all the included free usage for now.",
}
DAY = 24 * 3600


@pytest.fixture
async def proxy(start_proxy, fake_openai):
    config = f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
    websockets: true
"""
    proxy = await start_proxy(config)
    yield proxy
    fake_openai.ws_frames = []
    fake_openai.ws_max_message = 0


async def _turn(proxy: Any, text: str = "hello") -> dict[str, Any]:
    """One turn from a client on the proxy's socket: its terminal event, or
    ``{"close": code, "reason": ...}`` when the proxy closed the socket instead."""
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with session.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws:
            await ws.send_json({"type": "response.create", "model": "grok-4.3", "input": text})
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    return {"close": msg.data, "reason": msg.extra}
                event = json.loads(msg.data)
                if event["type"] in ("error", "response.completed", "response.failed"):
                    return event


async def _cooled(proxy: Any) -> dict[str, tuple[int, float]]:
    """Each cooling credential's api key -> (the HTTP status it cools for, seconds left)."""
    now = time.time()
    out: dict[str, tuple[int, float]] = {}
    for cred in proxy.service.pool.credentials():
        records = await proxy.service.pool.cooldowns(cred)
        if records:
            last = max(records, key=lambda r: r.until())
            out[cred.api_key] = ((last.last_error or {}).get("http_status", 0), last.until() - now)
    return out


def _frame(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "error", "status": 403, "headers": {"x-request-id": "req-bad"}, "error": BAD_CREDENTIALS},
        {"status": 403, "error": BAD_CREDENTIALS},
    ],
    ids=["error-event", "bare"],
)
async def test_bad_credentials_frame_is_a_401(proxy, fake_openai, frame) -> None:
    """TestParseXAIWebsocketErrorBadCredentialsRemapsToUnauthorized and its bare twin
    TestParseXAIWebsocketBareErrorBadCredentialsRemapsToUnauthorized:
    the 403 saying the token is bad is a 401 (the token refreshed, as on HTTP); the client's
    socket closes with the upstream's message."""
    fake_openai.ws_frames = [_frame(frame)]
    event = await _turn(proxy)
    assert event == {"close": 1011, "reason": BAD_CREDENTIALS["message"]}, event
    status, _ = (await _cooled(proxy))["xai-1"]
    assert status == 401


@pytest.mark.parametrize(
    "frame",
    [{"type": "error", "status": 429, "error": FREE_USAGE}, {"status": 429, "error": FREE_USAGE}],
    ids=["error-event", "bare"],
)
async def test_free_usage_exhausted_frame_cools_for_24_hours(proxy, fake_openai, frame) -> None:
    """TestParseXAIWebsocketErrorFreeUsageExhaustedSetsRetryAfter and its bare twin
    TestParseXAIWebsocketBareErrorFreeUsageExhaustedSetsRetryAfter: a
    429 for used-up free usage waits out xAI's rolling 24-hour window."""
    fake_openai.ws_frames = [_frame(frame)]
    event = await _turn(proxy)
    assert event == {"close": 1013, "reason": FREE_USAGE["message"]}, event
    status, left = (await _cooled(proxy))["xai-1"]
    assert status == 429 and DAY - 60 < left <= DAY


async def test_bare_error_payload_ends_the_turn(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamStopsOnBareErrorPayload: an error with neither type
    nor status ends the turn at once (no wait for an idle timeout); a request validation
    message is a 400."""
    message = (
        'Request validation error: {"code":"400","error":"Argument not supported: '
        'instructions and previous_response_id together"}'
    )
    fake_openai.ws_frames = [_frame({"error": {"message": message, "type": "api_error"}})]
    event = await _turn(proxy)
    assert event["type"] == "error" and event["status"] == 400, event
    assert "Argument not supported" in event["error"]["message"]


async def test_message_too_big_close_is_a_413(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamMapsMessageTooBigClose and
    TestMapXAIWebsocketWriteErrorStopsRetryForMessageTooBig: the upstream closes with 1009;
    the request fails at once (413 ``message_too_big``) and the account is not cooled; the
    client's socket closes with 1009 and that reason (CPA
    TestResponsesWebsocketMirrorsUpstreamMessageTooBigDisconnect, xai)."""
    fake_openai.ws_max_message = 2048
    event = await _turn(proxy, "x" * 5000)
    assert event == {"close": 1009, "reason": "upstream websocket message too big"}, event
    assert await _cooled(proxy) == {}
