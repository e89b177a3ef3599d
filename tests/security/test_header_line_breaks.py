"""A value the proxy puts into an upstream header that holds a line break or another control
character (NUL, vertical tab, DEL...: what Go's net/http and aiohttp refuse): the client's
400, nothing sent, and no credential cooled for everyone else; a tab and UTF-8 still go."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from cliproxy.providers.fastwire import head_bytes, head_template
from cliproxy.providers.transport import line_break_in
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_responses_ws import connect, turn, ws_config

LINE_BREAKS = ["abc\r\nX-Injected: yes", "abc\nX-Injected: yes"]
CONTROLS = ["abc\x00def", "abc\x0bdef", "abc\x1fdef", "abc\x7fdef"]
REFUSAL = ("line break", "control character")  # the one message names both


@pytest.mark.parametrize("upstream_http", ["", "upstream-http: aiohttp\n"])
@pytest.mark.parametrize("key", LINE_BREAKS + CONTROLS, ids=["crlf", "lf", "nul", "vt", "us", "del"])
async def test_a_line_break_in_a_header_value_is_the_clients_400(start_proxy, fakes, upstream_http, key):
    """A Responses request's prompt_cache_key becomes Codex's Session-Id header (CPA). With a
    line break or another control character in it, the request is refused with 400 and never
    sent; the Codex credential stays usable, so the next request is served (a tab in its key
    goes as it is). Before, a line break's refusal on the fast client was a 502 that cooled
    the only credential for 60 s (every client got 429 model_cooldown), and with
    upstream-http: aiohttp the same 502 read "invalid upstream or proxy URL"; a NUL, DEL or
    other control byte was written into the header by the fast client, and was that 502 on
    aiohttp. CPA's Go client refuses such a header too (net/http: invalid header field
    value); a 400 that cools nothing is our reading of "a client's mistake"."""
    proxy = await start_proxy(matrix_config(fakes, upstream_http))
    auth = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as s:
        body = {"model": "codex-model", "input": "hi", "prompt_cache_key": key}
        async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
            answer = await r.json()
            assert r.status == 400, answer
            assert all(word in answer["error"]["message"] for word in REFUSAL)
        assert not fakes.responses.requests
        body = {"model": "codex-model", "input": "hi", "prompt_cache_key": "fine\tand tab"}
        async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
            assert r.status == 200, await r.text()
    [seen] = fakes.responses.requests
    assert seen.headers["Session-Id"] == "fine\tand tab" and "X-Injected" not in seen.headers


@pytest.mark.parametrize("key", ["a\r\nb", "a\x00b"], ids=["crlf", "nul"])
async def test_the_codex_websocket_refuses_it_too(start_proxy, fakes, key):
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
                "prompt_cache_key": key,
            }
            await ws.send_str(orjson.dumps(bad).decode())
            msg = await ws.receive(timeout=10)
            assert all(word in (msg.extra or msg.data) for word in REFUSAL), msg
        async with await connect(s, proxy) as ws:
            good = {
                "type": "response.create",
                "model": "codex-model",
                "input": "hi",
                "prompt_cache_key": "ok",
            }
            assert (await turn(ws, good))[-1]["type"] == "response.completed"


@pytest.mark.parametrize("go", [False, True])
@pytest.mark.parametrize("value", CONTROLS)
def test_the_fast_client_never_writes_a_control_character(go, value):
    """The protocol-level client's head: refused whether it is built as a template (the
    Content-Length placeholder is a NUL of its own) or whole; a tab and UTF-8 pass."""
    headers = {"Session-Id": value}
    with pytest.raises(Exception, match="control character"):
        head_template("POST", "/v1/responses", "h", headers, b"{}", go)
    with pytest.raises(Exception, match="control character"):
        head_bytes("POST", "/v1/responses", "h", headers, b"{}", go)
    assert line_break_in(headers)
    fine = {"Session-Id": "a\tb é"}
    assert head_template("POST", "/v1/responses", "h", fine, b"{}", go) is not None
    assert b"Session-Id: a\tb \xc3\xa9\r\n" in head_bytes("POST", "/v1/responses", "h", fine, b"{}", go)
    assert not line_break_in(fine)
