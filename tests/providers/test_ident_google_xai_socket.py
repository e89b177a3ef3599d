"""The headers of the upgrade to xAI's Responses WebSocket. CPA's
``applyXAIWebsocketHeaders`` (xai_websockets_executor.go) sends ``Content-Type``, the
bearer token, ``x-grok-conv-id`` and the credential's own ``headers:``; the Codex socket's
``OpenAI-Beta: responses_websockets=...``, ``session_id`` and the Codex client's
``x-codex-*`` / ``version`` / ``x-client-request-id`` headers are OpenAI's, never xAI's.
The fake xAI API's socket (tests/fakes/openai_responses.py) records the upgrade."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import StartProxy
from tests.e2e.clients import KEY
from tests.e2e.test_xai_compaction_trigger import _turn

CONFIG = """
api-keys: ["{key}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{base}/v1"
    websockets: true
    headers:
      X-Team: "blue"
"""

CODEX_HEADERS = {
    "OpenAI-Beta": "responses_websockets=2026-02-06",
    "Session-Id": "sess-1",
    "x-codex-turn-metadata": '{"turn_id":"t1"}',
    "x-codex-turn-state": "state-1",
    "x-codex-beta-features": "feature-a",
    "x-client-request-id": "req-1",
    "version": "0.130.0",
}


async def test_the_upgrade_carries_xais_headers_only(start_proxy: StartProxy, fake_openai: Any) -> None:
    proxy = await start_proxy(CONFIG.format(key=KEY, base=fake_openai.base_url))
    headers = {"Authorization": f"Bearer {KEY}", **CODEX_HEADERS}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
    ):
        message = {"type": "response.create", "model": "grok-4.3", "input": "hi"}
        events = await _turn(ws, message)
    assert events[-1]["type"] == "response.completed", events[-1]
    upgrades = [r for r in fake_openai.requests if r.method == "GET"]
    assert upgrades, fake_openai.requests
    sent = {k.lower() for k in upgrades[-1].headers}
    assert upgrades[-1].headers["Authorization"] == "Bearer xai-1"
    assert upgrades[-1].headers["X-Team"] == "blue"
    codex_only = {"openai-beta", "session_id", "session-id", "version", "x-client-request-id"}
    assert not sent & codex_only, dict(upgrades[-1].headers)
    assert not [h for h in sent if h.startswith("x-codex-")], sent
    assert not [h for h in sent if h.startswith("x-cliproxy")], sent
