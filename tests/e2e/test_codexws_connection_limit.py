"""A kept upstream socket that reached the Codex backend's connection age limit.

The backend serves one Responses WebSocket for 60 minutes: a turn sent on an older socket
is answered with a 429 ``error`` event whose code is ``websocket_connection_limit_reached``
("Create a new websocket connection to continue"; codex-rs maps it to a retryable error and
dials again). The proxy keeps one upstream socket per client socket for as long as the
client stays, so a Codex CLI session longer than an hour met this on its kept socket, and
the turn was lost: with one account the client socket closed with 1013 (Codex CLI shows a
reconnect and sends the turn again), with several the turn went whole to another account.
Now such a turn is sent again at once on a new socket of the same account (the whole
conversation for a follow-up, which the new socket does not hold), and the client notices
nothing. On a socket dialled for this very turn the error stays what it was (CPA's case,
tests/e2e/test_codex_ws_cpa.py::test_a_connection_limit_error_event_ends_the_turn_as_try_again_later)."""

from __future__ import annotations

import json

import aiohttp

from tests.e2e.test_responses_ws import connect, turn, ws_config, ws_messages

LIMIT = {
    "type": "error",
    "status": 429,
    "error": {
        "type": "invalid_request_error",
        "code": "websocket_connection_limit_reached",
        "message": "Responses websocket connection limit reached (60 minutes). "
        "Create a new websocket connection to continue.",
    },
}
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]}


async def test_a_follow_up_on_an_aged_socket_goes_whole_on_a_new_socket_of_the_same_account(
    start_proxy, fakes
):
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "hello"})
        fake.ws_frames = [json.dumps(LIMIT)]  # the kept socket's answer to the next turn
        rid = first[-1]["response"]["id"]
        second = await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": [USER]})
        third = await turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": second[-1]["response"]["id"],
                "input": [USER],
            },
        )
    assert second[0]["type"] == "response.created"
    assert second[-1]["type"] == "response.completed" and third[-1]["type"] == "response.completed"
    sent = ws_messages(fake)
    # turn 1; turn 2 incremental (refused), then whole on the new socket; turn 3 incremental on it
    assert [len(m.json["input"]) for m in sent] == [1, 1, 3, 1]
    assert "previous_response_id" not in sent[2].json and sent[3].json["previous_response_id"]
    assert {m.key for m in sent} == {"sk-codex-1"} and fake.ws_opened == 2
    pool = proxy.service.pool
    assert [c.id for c in pool.credentials() if await pool.cooldowns(c)] == []


async def test_a_new_conversation_on_an_aged_socket_is_sent_again_as_it_was(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await turn(ws, {"type": "response.create", "model": "codex-model", "input": "hello"})
        fake.ws_frames = [json.dumps(LIMIT)]
        again = await turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
    assert again[0]["type"] == "response.created" and again[-1]["type"] == "response.completed"
    sent = ws_messages(fake)
    assert sent[1].json == sent[2].json and fake.ws_opened == 2
