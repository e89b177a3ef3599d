"""What the usage ledger says of a Responses WebSocket turn that did not complete, through a
running proxy with the Codex account behind its own upstream socket (as a Codex CLI with
``websockets`` on uses it): the row must say what happened to the turn, as it does for the
same answer over HTTP (CPA publishes a failed stream's record as a failure, and a request
its client left as 499).

Found broken: a turn that ended in ``response.failed`` was recorded as a 200 success when
its credential had a ``max-concurrency`` or its client key a policy (the slot's and the
ticket's stream wrappers hid the stream's failure from the record); an ``error`` event
after the first event was recorded as 499 (the client closed the request) though the
client was still there; a client that left before the first event left no row at all."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.e2e.gone import until
from tests.e2e.test_responses_ws import connect, turn, ws_config
from tests.fakes.server import Behavior

CREATE = {"type": "response.create", "model": "codex-model", "input": "hello"}
# a response.failed after the answer's output began (before it, the turn fails over instead)
FAILED_LATE = Behavior(stream_error="server_error", error_after=6, path="#ws")


def _config(fakes: Any, tmp_path: Any, *, account: str = "", client: str = "") -> str:
    text = ws_config(fakes).replace("    websockets: true\n", "    websockets: true\n" + account, 1)
    if client:  # the client key as an entry with a policy
        text = text.replace(f'api-keys: ["{KEY}"]', f'api-keys:\n  - key: "{KEY}"\n{client}', 1)
    return text + f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'


def _rows(proxy: Any) -> list[tuple[int, int]]:
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None and ledger.flush()
    return [tuple(r) for r in ledger.query("SELECT status, failed FROM usage_requests ORDER BY ts")]


async def _rows_after(proxy: Any, count: int) -> list[tuple[int, int]]:
    await until(lambda: len(_rows(proxy)) >= count, 3)
    return _rows(proxy)


@pytest.mark.parametrize(
    "account, client",
    [("", ""), ("    max-concurrency: 1\n", ""), ("", "    rpm: 1000\n")],
    ids=["no-limits", "account-max-concurrency", "client-key-policy"],
)
async def test_a_turn_that_ends_in_response_failed_is_a_failed_request(
    start_proxy, fakes, tmp_path, account, client
):
    """The turn's ``response.failed`` reaches the client and the row says 502, failed,
    whether the account has a ``max-concurrency`` or the client key a policy or neither
    (before: 200 and success with either, the credential cooled all the same)."""
    proxy = await start_proxy(_config(fakes, tmp_path, account=account, client=client))
    fakes.responses.script(FAILED_LATE)
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, CREATE)
    assert events[-1]["type"] == "response.failed"
    assert any(e["type"] == "response.output_text.delta" for e in events)  # (it failed late)
    assert await _rows_after(proxy, 1) == [(502, 1)]


async def test_an_http_stream_on_a_limited_account_that_fails_late_is_a_failed_request(
    start_proxy, fakes, tmp_path
):
    """The same over HTTP (the openai SDK streaming ``POST /v1/responses``): the wrappers
    are the HTTP path's too."""
    proxy = await start_proxy(_config(fakes, tmp_path, account="    max-concurrency: 1\n"))
    fakes.responses.script(Behavior(stream_error="server_error", error_after=6))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        kinds = [
            e.type async for e in await client.responses.create(model="codex-model", input="x", stream=True)
        ]
    assert kinds[-1] == "response.failed"
    assert await _rows_after(proxy, 1) == [(502, 1)]


async def test_an_error_event_after_the_first_event_is_recorded_with_its_status(start_proxy, fakes, tmp_path):
    """An upstream ``error`` event mid-turn (here a 400 ``context_length_exceeded``) goes to
    the client and closes the socket (1000, CPA); the row is that 400, not the 499 of a
    client that left."""
    proxy = await start_proxy(_config(fakes, tmp_path))
    created = {
        "type": "response.created",
        "response": {"id": "resp_1", "status": "in_progress", "output": []},
    }
    delta = {"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0}
    error = {
        "type": "error",
        "status": 400,
        "error": {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "too long"},
    }
    fakes.responses.ws_frames = [json.dumps(created), json.dumps({**delta, "delta": "hi"}), json.dumps(error)]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, CREATE)
        assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
    assert [e["type"] for e in events] == ["response.created", "response.output_text.delta", "error"]
    assert ws.close_code == 1000
    assert await _rows_after(proxy, 1) == [(400, 1)]


async def test_a_client_that_leaves_before_the_first_event_is_recorded_as_499(start_proxy, fakes, tmp_path):
    """The client closes its socket while the upstream holds the turn (no event yet): the
    upstream socket is closed, the turn is recorded as CPA's 499 (before: no row at all),
    no credential cools, and the account's ``max-concurrency`` slot is free again."""
    proxy = await start_proxy(_config(fakes, tmp_path, account="    max-concurrency: 1\n"))
    fake = fakes.responses
    fake.script(Behavior(delay=5, path="#ws"))
    async with aiohttp.ClientSession() as s:
        ws = await connect(s, proxy)
        await ws.send_str(json.dumps(CREATE))
        await until(lambda: bool(fake.requests), 5)
        await asyncio.sleep(0.1)
        await ws.close()
        await until(lambda: proxy.service.ws_upstream.open_sockets == 0, 3)  # closed on our side
        assert await _rows_after(proxy, 1) == [(499, 1)]
        async with await connect(s, proxy) as again:
            events = await asyncio.wait_for(turn(again, CREATE), 3)
    assert events[-1]["type"] == "response.completed"
    pool = proxy.service.pool
    assert [c.id for c in pool.credentials() if await pool.cooldowns(c)] == []
    assert await _rows_after(proxy, 2) == [(499, 1), (200, 0)]
