"""CPA's xAI WebSocket executor case the other xAI socket tests did not hold yet
(internal/runtime/executor/xai_websockets_executor_test.go), through a running proxy: a
client on the Responses WebSocket, an xAI key with ``websockets: true``, the fake xAI
API's socket (tests/fakes/openai_responses.py)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_xai_compaction_trigger import _socket_messages, _turn

CONFIG = """
api-keys: ["{key}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{base}/v1"
    websockets: true
"""


def _user(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "role": "user", "content": text}


# CPA passes a Responses WebSocket message on a socket pinned to a Codex or xAI credential
# with upstream sockets through as it came (normalizeResponsesWebsocketPassthroughRequest):
# a ``response.create`` without ``previous_response_id`` starts the conversation over (the
# xAI socket's transcript is reset, Codex reads it as a new conversation). The proxy's
# session (src/cliproxy/responses_ws.py ``Session.turn`` -> formats/responses_ws.py
# ``expand``) merges it with the socket's history as CPA does only for an HTTP upstream,
# so the new request carries the old conversation (here, its compacted state).
async def test_an_empty_full_request_after_a_compaction_leaves_no_stale_compaction(
    start_proxy, fake_openai
) -> None:
    """CPA TestXAIWebsocketEmptyFullResetClearsPendingCompactionReplay: after a compaction,
    a full ``response.create`` with an empty input (answered with an empty output) starts
    the conversation over; the ``response.append`` that follows reaches xAI with the new
    message alone, not the compacted state of the conversation before the reset."""
    proxy = await start_proxy(CONFIG.format(key=KEY, base=fake_openai.base_url))
    try:
        start = len(_socket_messages(fake_openai))
        headers = {"Authorization": f"Bearer {KEY}"}
        async with (
            aiohttp.ClientSession() as s,
            s.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
        ):
            first = await _turn(
                ws, {"type": "response.create", "model": "grok-4.3", "input": [_user("msg-1", "first")]}
            )
            assert first[-1]["type"] == "response.completed", first[-1]
            compacted = await _turn(
                ws,
                {
                    "type": "response.create",
                    "previous_response_id": first[-1]["response"]["id"],
                    "input": [{"type": "compaction_trigger"}],
                },
            )
            assert compacted[-1]["response"]["output"][0]["type"] == "compaction", compacted[-1]
            empty = {"id": "resp-empty", "object": "response", "status": "completed", "output": []}
            empty["usage"] = {"input_tokens": 1, "output_tokens": 0, "total_tokens": 1}
            fake_openai.ws_frames = [json.dumps({"type": "response.completed", "response": empty})]
            reset = await _turn(ws, {"type": "response.create", "model": "grok-4.3", "input": []})
            assert reset[-1]["type"] == "response.completed", reset[-1]
            after = await _turn(ws, {"type": "response.append", "input": [_user("msg-new", "new")]})
        assert after[-1]["type"] == "response.completed", after[-1]
        last = _socket_messages(fake_openai)[start:][-1]
        assert [i.get("id") for i in last["input"]] == ["msg-new"], last["input"]
        assert "compaction" not in json.dumps(last)
    finally:
        fake_openai.compact_answers = []
