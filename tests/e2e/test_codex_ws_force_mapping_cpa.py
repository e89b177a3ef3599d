"""CPA sdk/cliproxy/auth/codex_forcemap_ws_forward_test.go through a running proxy: a
Codex model alias with ``force-mapping: true`` answered on the Responses WebSocket. CPA
rewrites the forwarded SSE one line at a time and once lost the ``response.completed``
its rewriter held back; here each event is translated whole, so the check is that the
client's socket gets the turn's end, naming the alias, over an HTTP and a WebSocket
upstream alike."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY


def _config(fakes: Any, websockets: bool) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    return (
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "cx"\n    base-url: "{base}"\n'
        f"    websockets: {'true' if websockets else 'false'}\n"
        '    models: [{name: "gpt-5.4", alias: "gpt-5.4-fast", force-mapping: true}]\n'
    )


@pytest.mark.parametrize("websockets", [False, True], ids=["http upstream", "websocket upstream"])
async def test_force_mapped_turn_ends_with_response_completed(start_proxy, fakes, websockets: bool) -> None:
    """CPA TestCodexForceMapPerLineSSE_ForwardsCompleted and
    TestRewriteForceMappedStreamChunk_FallbackWhenPendingBuffersEvent: created, a text
    delta and ``response.completed`` all reach the client, every model named being the
    alias; the upstream was asked for ``gpt-5.4``."""
    proxy = await start_proxy(_config(fakes, websockets))
    headers = {"Authorization": f"Bearer {KEY}"}
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws:
            await ws.send_json({"type": "response.create", "model": "gpt-5.4-fast", "input": "Say OK"})
            while not events or events[-1].get("type") not in (
                "response.completed",
                "response.failed",
                "error",
            ):
                events.append(await ws.receive_json(timeout=10))
    kinds = [e.get("type") for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert "response.output_text.delta" in kinds
    models = {e["response"]["model"] for e in events if isinstance(e.get("response"), dict)}
    assert models == {"gpt-5.4-fast"}
    assert fakes.responses.last.json["model"] == "gpt-5.4"
