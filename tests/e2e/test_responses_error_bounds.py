"""An upstream's error in a Responses stream, as a client sees it beyond the pass-through
SSE stream (tests/e2e/test_responses_stream_errors_cpa.py): a translated stream's
``response.failed``, the Responses WebSocket's ``error`` event and close reason. Each is
bounded and redacted as CPA bounds its Responses stream errors
(``cliproxy.formats.stream_errors``)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY

LONG = "m" * 3000


def _config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
disable-cooling: true
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    websockets: true
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    proxy = await start_proxy(_config(fakes))
    yield proxy
    fakes.responses.ws_frames = []


async def test_a_translated_stream_failure_is_bounded_and_redacted(proxy, fakes) -> None:
    """CPA's message limit and redaction (``truncateResponsesStreamErrorText``,
    ``redactResponsesStreamErrorText``) on a stream the proxy translates: a Claude upstream
    breaks off mid-answer with an ``error`` event whose message names an ``api_key`` and
    runs to 3000 characters. The openai SDK reads a ``response.failed`` whose message has
    the key redacted and is cut to 2048 characters ending in ``…``."""
    fakes.claude.stream_error_next("api_error", after=3, message="api_key=sk-ant-secret-0123 " + LONG)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        failed = None
        async for event in await client.responses.create(model="claude-model", input="hi", stream=True):
            if event.type == "response.failed":
                failed = event
    assert failed is not None and failed.response.error is not None
    message = failed.response.error.message
    assert message.startswith("api_key=[REDACTED] mmm") and len(message) == 2049 and message.endswith("…")


async def _ws_turn(proxy: Any) -> tuple[list[dict[str, Any]], int | None, str]:
    """One turn on the proxy's Responses WebSocket: its events, then the close code and
    reason (``None`` when the socket stayed open after a terminal event)."""
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws:
            await ws.send_json({"type": "response.create", "model": "codex-model", "input": "hi"})
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    return events, msg.data, msg.extra or ""
                events.append(json.loads(msg.data))
                if events[-1]["type"] in ("response.completed", "response.failed"):
                    return events, None, ""


async def test_a_websocket_error_event_keeps_only_its_safe_fields(proxy, fakes) -> None:
    """The WebSocket's ``error`` event for the client's mistake (CPA
    ``buildResponsesWebsocketErrorPayload``, the upstream's error object): an upstream
    socket's ``cyber_policy`` refusal whose message holds a token and which carries a
    ``debug`` member reaches the client with its status, type, code and message, the token
    redacted, the ``debug`` dropped; the socket closes normally (1000).

    Our difference: CPA sends the upstream's error object on the WebSocket whole; we bound
    and redact it as CPA does for the HTTP stream, since the same client and the same
    upstream text are on the other end."""
    error = {"type": "invalid_request", "code": "cyber_policy", "message": "blocked token=ws-secret-0123"}
    fakes.responses.ws_frames = [
        json.dumps({"type": "error", "status": 400, "error": error, "debug": {"a": 1}})
    ]
    events, code, _ = await _ws_turn(proxy)
    assert code == 1000
    assert events == [
        {
            "type": "error",
            "status": 400,
            "error": {
                "type": "invalid_request",
                "code": "cyber_policy",
                "message": "blocked token=[REDACTED]",
            },
        }
    ]


async def test_a_websocket_close_reason_is_cut_whole_and_redacted(proxy, fakes) -> None:
    """CPA TestTruncateWebsocketCloseReason ("multibyte rune does not fit", "long ... reason"):
    an upstream failure closes the client's socket with a reason cut to 123 bytes, never
    inside a character. Its message, two-byte characters past the limit after a bearer
    token, comes back as valid UTF-8 of at most 123 bytes with the token redacted (our
    addition: CPA's close reason repeats the text as it is)."""
    fakes.responses.fail_next(503, message="Bearer sk-live-abcdefgh12345678 " + "é" * 200)
    events, code, reason = await _ws_turn(proxy)
    assert events == [] and code == 1013
    assert reason.startswith("Bearer [REDACTED] é") and "sk-live" not in reason
    assert len(reason.encode()) <= 123 and len(reason.encode()) >= 122


async def test_a_websocket_error_event_mid_answer_is_made_safe(proxy, fakes) -> None:
    """The same upstream socket's refusal after the answer began (a ``response.created``
    and a delta out): the client gets the delta, then the error event bounded and redacted
    (no ``debug``) and the normal close, as for the HTTP stream (CPA's framer)."""
    error = {"type": "invalid_request", "code": "cyber_policy", "message": "blocked token=ws-secret-0123"}
    created = {
        "type": "response.created",
        "response": {"id": "resp_1", "status": "in_progress", "output": []},
    }
    delta = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "par"}
    failure = {"type": "error", "status": 400, "error": error, "debug": {"a": 1}}
    fakes.responses.ws_frames = [json.dumps(created), json.dumps(delta), json.dumps(failure)]
    events, code, _ = await _ws_turn(proxy)
    assert code == 1000 and [e["type"] for e in events] == [
        "response.created",
        "response.output_text.delta",
        "error",
    ]
    assert events[-1] == {
        "type": "error",
        "status": 400,
        "error": {**error, "message": "blocked token=[REDACTED]"},
    }
