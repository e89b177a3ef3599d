"""A model-router plugin sending a Responses WebSocket turn from Codex's upstream socket to a
built-in provider (Claude), through a running proxy: CPA's ``route_to_claude`` cases of
sdk/api/handlers/openai/openai_responses_websocket_test.go. The plugin routes a turn whose
message says ``"route_to_claude": true`` to Claude's ``claude-sonnet-4-6``; every other
turn goes to ``codex-model`` over Codex's socket (tests/fakes/openai_responses.py)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn, ws_messages
from tests.plugins.test_flow_python import HEADER, _plugin_cfg

ROUTE = (
    HEADER
    + """
class Router(Plugin, ModelRouter):
    name = "route"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        if json.loads(req.body).get("route_to_claude"):
            return RouteDecision.provider("claude", "claude-sonnet-4-6")
        return None
plugin = Router()
"""
)


async def _proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    (pdir / "route.py").write_text(ROUTE)
    return await start_proxy(
        f"""api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    websockets: true
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6"}}]
"""
        + _plugin_cfg(pdir, {"route": {}})
    )


def _message(text: str, **extra: Any) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {
        "type": "response.create",
        "input": [{"type": "message", "role": "user", "content": content}],
        **extra,
    }


def _texts(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages"))


async def test_a_whole_turn_is_routed_from_the_codex_socket_to_claude(start_proxy, fakes, tmp_path) -> None:
    """CPA TestResponsesWebsocketFullRequestCanRouteFromNativeWebsocketToBuiltInProvider: after
    a turn over Codex's socket, a whole turn the router sends to Claude is answered by Claude
    with the routed model (response.completed), and Codex's socket got only the first."""
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, _message("one", model="codex-model"))
        assert first[-1]["type"] == "response.completed"
        routed = await turn(ws, _message("routed", model="codex-model", route_to_claude=True))
    assert routed[-1]["type"] == "response.completed"
    assert len(ws_messages(fakes.responses)) == 1
    (sent,) = fakes.claude.requests
    assert sent.json["model"] == "claude-sonnet-4-6" and "routed" in _texts(sent.json)


async def test_a_routed_follow_up_goes_to_claude_whole(start_proxy, fakes, tmp_path) -> None:
    """CPA TestResponsesWebsocketDeltaRouteToBuiltInProviderRequiresFullReplay. Deliberate
    difference, asserted: a follow-up (``previous_response_id``) the router sends away from
    the Codex socket that holds the conversation goes to Claude whole (the first turn's
    input and answer, then the new message); CPA closes the client socket with 1012 for
    the client to replay the conversation over HTTP, and Claude gets nothing."""
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, _message("one", model="codex-model"))
        rid = first[-1]["response"]["id"]
        routed = await turn(ws, _message("two", previous_response_id=rid, route_to_claude=True))
    assert routed[-1]["type"] == "response.completed"
    assert len(ws_messages(fakes.responses)) == 1
    (sent,) = fakes.claude.requests
    roles = [m["role"] for m in sent.json["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "one" in _texts(sent.json) and "two" in _texts(sent.json)


async def test_a_routed_turn_refused_by_claudes_account_is_no_error_event(
    start_proxy, fakes, tmp_path
) -> None:
    """CPA TestResponsesWebsocketHidesProviderRouteAuthFailure: Claude's account refusing
    the routed turn (401) is not written to the client as an error event; as for any
    account failure on the socket (test_credential_and_quota_failures_are_a_close_code...),
    the socket closes with 1011 and the reason (CPA drops the connection)."""
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    fakes.claude.fail_next(401)
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, _message("one", model="codex-model"))
        assert first[-1]["type"] == "response.completed"
        await ws.send_str(json.dumps(_message("routed", model="codex-model", route_to_claude=True)))
        msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1011, (msg.type, msg.data)
    assert len(ws_messages(fakes.responses)) == 1 and len(fakes.claude.requests) == 1
