"""How long a Codex account sits out after an ``error`` event on its upstream Responses
WebSocket, through a running proxy: CPA's ``parseCodexWebsocketError`` cases
(``internal/runtime/executor/codex_websockets_executor_test.go``). A Codex CLI with one
account notices: a cooled account answers nothing until the cooldown ends."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from tests.e2e.test_codex_ws_cpa import config, events_until_end
from tests.e2e.test_responses_ws import connect

TURN = {"type": "response.create", "model": "codex-model", "input": "x"}


async def _turn(proxy: Any) -> tuple[list[dict[str, Any]], int | None]:
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(json.dumps(TURN))
        return await events_until_end(ws)


async def _cooling(proxy: Any) -> float:
    """Seconds the one account still sits out (0 when it does not)."""
    pool = proxy.service.pool
    records = await pool.cooldowns(pool.credentials()[0])
    return max((r.until() - time.time() for r in records), default=0.0)


async def test_a_connection_limit_does_not_cool_the_account(start_proxy, fakes) -> None:
    """CPA TestParseCodexWebsocketErrorMarksConnectionLimitRetryable (was broken: the 429
    cooled the account like a quota, so a Codex CLI with one account could not reconnect
    until the cooldown ended): too many open sockets is a 429 the account may retry at
    once (a retry hint of zero, whatever ``retry-after`` the event names), so the client's
    next socket is served."""
    proxy = await start_proxy(config(fakes))
    error = {
        "type": "error",
        "status": 429,
        "error": {"code": "websocket_connection_limit_reached", "message": "too many websockets"},
        "headers": {"retry-after": "1"},
    }
    fakes.responses.ws_frames = [json.dumps(error)]
    assert await _turn(proxy) == ([], 1013)
    assert await _cooling(proxy) <= 0
    events, code = await _turn(proxy)
    assert code is None and events[-1]["type"] == "response.completed"


async def test_a_usage_limit_waits_for_its_reset(start_proxy, fakes) -> None:
    """CPA TestParseCodexWebsocketErrorUsesUsageLimitRetryMetadata: a 429 whose wrapped body
    says ``usage_limit_reached`` with ``resets_in_seconds`` cools the account until then."""
    proxy = await start_proxy(config(fakes))
    error = {
        "type": "error",
        "status": 429,
        "body": {
            "error": {"type": "usage_limit_reached", "message": "usage limit reached", "resets_in_seconds": 7}
        },
    }
    fakes.responses.ws_frames = [json.dumps(error)]
    assert await _turn(proxy) == ([], 1013)
    assert 5 < await _cooling(proxy) <= 7
