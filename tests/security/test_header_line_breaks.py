"""A value the proxy puts into an upstream header that holds a line break: the client's 400,
nothing sent, and no credential cooled for everyone else."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_responses_ws import connect, turn, ws_config


@pytest.mark.parametrize("upstream_http", ["", "upstream-http: aiohttp\n"])
@pytest.mark.parametrize("key", ["abc\r\nX-Injected: yes", "abc\nX-Injected: yes"])
async def test_a_line_break_in_a_header_value_is_the_clients_400(start_proxy, fakes, upstream_http, key):
    """A Responses request's prompt_cache_key becomes Codex's Session-Id header (CPA). With a
    line break in it, the request is refused with 400 and never sent; the Codex credential
    stays usable, so the next request is served. Before, the fast client's refusal was a
    502 that cooled the only credential for 60 s (every client got 429 model_cooldown), and
    with upstream-http: aiohttp the same 502 read "invalid upstream or proxy URL". CPA's Go
    client refuses such a header too (net/http: invalid header field value); a 400 that cools
    nothing is our reading of "a client's mistake"."""
    proxy = await start_proxy(matrix_config(fakes, upstream_http))
    auth = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as s:
        body = {"model": "codex-model", "input": "hi", "prompt_cache_key": key}
        async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
            answer = await r.json()
            assert r.status == 400, answer
            assert "line break" in answer["error"]["message"]
        assert not fakes.responses.requests
        body = {"model": "codex-model", "input": "hi", "prompt_cache_key": "fine"}
        async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
            assert r.status == 200, await r.text()
    [seen] = fakes.responses.requests
    assert seen.headers["Session-Id"] == "fine" and "X-Injected" not in seen.headers


async def test_the_codex_websocket_refuses_it_too(start_proxy, fakes):
    """The same over the Codex WebSocket upstream (the key goes into the handshake's
    session_id header): the client's socket ends saying why, the credential is not cooled,
    and a new socket's turn is served. Before, the dial failed as "upstream unreachable"
    (502) and cooled the credential."""
    proxy = await start_proxy(ws_config(fakes))
    async with aiohttp.ClientSession() as s:
        async with await connect(s, proxy) as ws:
            bad = {
                "type": "response.create",
                "model": "codex-model",
                "input": "hi",
                "prompt_cache_key": "a\r\nb",
            }
            await ws.send_str(orjson.dumps(bad).decode())
            msg = await ws.receive(timeout=10)
            assert "line break" in (msg.extra or msg.data), msg
        async with await connect(s, proxy) as ws:
            good = {
                "type": "response.create",
                "model": "codex-model",
                "input": "hi",
                "prompt_cache_key": "ok",
            }
            assert (await turn(ws, good))[-1]["type"] == "response.completed"
