"""Codex CLI's ``response.processed`` acknowledgement on the Responses WebSocket.

With its ``responses_websocket_response_processed`` feature on, Codex CLI sends
``{"type": "response.processed", "response_id": ...}`` on the socket after each response it
has handled (codex-rs ``ResponsesWebsocketConnection::send_response_processed``) and reads
no answer to it: the next thing it reads is the next turn's first event. The proxy answered
it with an ``error`` event (unsupported websocket request type), as CPA does, which Codex
CLI then read as the first event of its next turn and failed that turn with it. Now the
acknowledgement is taken without an answer, nothing goes upstream for it, and the
conversation goes on as if it had not been sent. (A deliberate difference from CPA.)"""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.e2e.test_responses_ws import connect, turn, ws_config, ws_messages

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]}


@pytest.mark.parametrize("model", ["codex-model", "claude-model"])
async def test_an_acknowledged_response_gets_no_answer_and_the_next_turn_goes_on(start_proxy, fakes, model):
    """Codex over its own socket, and a model translated from Claude: the turn after the
    acknowledgement begins with its own ``response.created`` and completes, building on
    the acknowledged response."""
    proxy = await start_proxy(ws_config(fakes))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": model, "input": "hello"})
        assert first[-1]["type"] == "response.completed"
        rid = first[-1]["response"]["id"]
        await ws.send_str(json.dumps({"type": "response.processed", "response_id": rid}))
        second = await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": [USER]})
    assert second[0]["type"] == "response.created", second[0]
    assert second[-1]["type"] == "response.completed"
    if model == "codex-model":  # two response.create messages upstream, on one socket
        sent = ws_messages(fakes.responses)
        assert [m.json["type"] for m in sent] == ["response.create", "response.create"]
        assert fakes.responses.ws_opened == 1
