"""A kept upstream socket answers the upstream's pings while it waits between turns.

The Codex backend pings its Responses WebSockets and drops one that does not answer
("keepalive ping timeout"). The proxy keeps the upstream socket of a client socket between
turns, but nothing read it there, and aiohttp answers a ping only while the socket is read:
a pause longer than the upstream's ping timeout (the user thinking, a long tool run) lost
the kept socket, so the next turn dialled a new one and a follow-up went as the whole
conversation instead of ``previous_response_id`` and its new items (CPA reads its upstream
sockets all the time, so it answers). Now the kept socket is read while it waits: its pings
are answered and it stays, and a close the upstream sends meanwhile is seen at once."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.test_responses_ws import connect, turn, ws_config, ws_messages

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]}


async def test_a_pause_longer_than_the_upstream_ping_timeout_keeps_the_socket(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    fake.ws_heartbeat = 0.2  # a ping after 0.2 s idle, a pong due within 0.1 s
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "hello"})
        await asyncio.sleep(0.8)  # several pings go by
        assert fake.ws_open == 1
        rid = first[-1]["response"]["id"]
        second = await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": [USER]})
    assert second[-1]["type"] == "response.completed"
    sent = ws_messages(fake)
    assert fake.ws_opened == 1  # the same upstream socket
    assert sent[1].json["previous_response_id"] == rid and len(sent[1].json["input"]) == 1


async def test_an_upstream_close_between_turns_is_seen_before_the_next_turn(start_proxy, fakes):
    """The upstream closes the kept socket while the client thinks: the next turn goes on a
    new socket at once, whole (nothing was sent on the closed one)."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    fake.ws_close_after_turn = True
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        for _ in range(100):
            if proxy.service.ws_upstream.open_sockets == 0:
                break
            await asyncio.sleep(0.02)
        assert proxy.service.ws_upstream.open_sockets == 0  # seen while idle, and let go
        rid = first[-1]["response"]["id"]
        second = await turn(ws, {"type": "response.create", "previous_response_id": rid, "input": [USER]})
    assert second[-1]["type"] == "response.completed"
    sent = ws_messages(fake)
    assert len(sent) == 2 and len(sent[1].json["input"]) == 3 and fake.ws_opened == 2
