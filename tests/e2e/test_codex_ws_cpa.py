"""CPA's Codex WebSocket executor cases (internal/runtime/executor/codex_websockets_*_test.go,
websocket_session_target_test.go) through a running proxy: a client on the Responses
WebSocket, a Codex credential with ``websockets: true``, the fake Codex socket upstream
(tests/fakes/openai_responses.py; ``ws_frames`` scripts a turn's raw messages)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import TERMINAL, connect, turn, ws_messages

CODEX_UA = "codex-tui/0.146.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10 (codex-tui; 0.146.0)"
USER = {"type": "message", "role": "user", "content": "next"}
LITE = "ws_request_header_x_openai_internal_codex_responses_lite"


def config(fakes: Any, *, keys: int = 1, extra: str = "") -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n    websockets: true\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in range(1, keys + 1)
    )
    return f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entries}{extra}'


def completed(rid: str, output: list[dict[str, Any]] | None = None) -> str:
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    response = {
        "id": rid,
        "object": "response",
        "status": "completed",
        "output": output or [],
        "usage": usage,
    }
    return json.dumps({"type": "response.completed", "response": response})


async def events_until_end(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[dict[str, Any]], int | None]:
    """The events up to a terminal one, or up to the socket's close (then its close code)."""
    events: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return events, ws.close_code
        events.append(json.loads(msg.data))
        if events[-1]["type"] in TERMINAL:
            return events, None


# ---- multi-agent v2 (codex_websockets_spawn_agent_test.go)


def _spawn_call(turn_no: int, namespace: str = "collaboration-optimize") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{turn_no}",
        "name": "spawn_agent",
        "namespace": namespace,
        "arguments": "{}",
        "call_id": f"call_{turn_no}",
        "status": "completed",
    }


def _spawn_tools(name: str, description: str = "Spawns an agent.") -> list[dict[str, Any]]:
    spawn = {
        "type": "function",
        "name": "spawn_agent",
        "description": description,
        "parameters": {"type": "object", "properties": {"message": {"type": "string", "encrypted": True}}},
    }
    return [{"type": "namespace", "name": name, "tools": [spawn]}]


async def test_multi_agent_v2_namespace_is_restored_on_incremental_turns(start_proxy, fakes) -> None:
    """CPA TestCodexWebsocketsExecutorRestoresMultiAgentV2NamespaceAcrossIncrementalTurns: on
    one kept upstream socket, a follow-up that carries only ``previous_response_id`` and a
    tool output (nothing to optimize in it) still gets ``collaboration`` back in the answer
    when the turn it continues was optimized; a turn whose own tools name
    ``collaboration-optimize`` is left as it is, and so is its follow-up."""
    proxy = await start_proxy(config(fakes, extra="codex:\n  optimize-multi-agent-v2: true\n"))
    fake = fakes.responses
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": CODEX_UA}
    delegate = [{"type": "message", "role": "user", "content": "delegate"}]
    spawn = {"type": "response.create", "model": "codex-model", "input": delegate}
    seen: list[str] = []
    async with aiohttp.ClientSession() as s, await connect(s, proxy, headers=headers) as ws:

        async def run(n: int, message: dict[str, Any]) -> str:
            fake.ws_frames = [completed(f"resp_{n}", [_spawn_call(n)])]
            events = await turn(ws, message)
            assert events[-1]["type"] == "response.completed", events
            seen.append(json.dumps(ws_messages(fake)[-1].json))
            return json.dumps(events[-1])

        def follow(n: int) -> dict[str, Any]:
            output = {"type": "function_call_output", "call_id": f"call_{n}", "output": "done"}
            return {"type": "response.create", "previous_response_id": f"resp_{n}", "input": [output]}

        first = await run(1, {**spawn, "tools": _spawn_tools("collaboration")})
        second = await run(2, follow(1))
        own = await run(3, {**spawn, "tools": _spawn_tools("collaboration-optimize", "User-defined tool.")})
        fourth = await run(4, follow(3))
        fifth = await run(5, {**spawn, "tools": _spawn_tools("collaboration")})
        sixth = await run(6, follow(5))
    assert '"collaboration-optimize"' in seen[0]  # optimized upstream
    for n in (1, 3, 5):  # the follow-ups went incremental, on the same socket
        assert "spawn_agent" not in seen[n] and "collaboration" not in seen[n], seen[n]
    for answer in (first, second, fifth, sixth):
        assert '"namespace": "collaboration"' in answer and "collaboration-optimize" not in answer, answer
    for answer in (own, fourth):
        assert '"namespace": "collaboration-optimize"' in answer, answer
    assert fake.ws_opened == 1


# ---- responses lite, parallel tool calls (codex_websockets_executor_test.go)


@pytest.mark.parametrize("lite", [True, False], ids=["lite", "not-lite"])
async def test_responses_lite_over_the_upstream_socket(start_proxy, fakes, lite: bool) -> None:
    """CPA TestCodexWebsocketsExecuteResponsesLiteDoesNotInjectImageGenerationTool,
    TestCodexWebsocketsExecuteStreamResponsesLiteForcesParallelToolCallsFalse and
    TestCodexWebsocketsExecuteStreamPassesThroughUpstreamWebsocketPayloadForDownstreamWebsocket:
    a Codex Desktop "responses lite" turn reaches the upstream socket with no image_generation tool, its
    ``additional_tools`` item first and ``parallel_tool_calls`` false; another turn keeps its
    ``parallel_tool_calls: true``, and the upstream's delta reaches the client as sent."""
    proxy = await start_proxy(config(fakes))
    fake = fakes.responses
    delta = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "hello"}
    fake.ws_frames = [json.dumps(delta), completed("resp-1")]
    message: dict[str, Any] = {
        "type": "response.create",
        "model": "codex-model",
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": [{"type": "custom", "name": "exec"}]},
            {"role": "user", "content": "hello"},
        ],
        "parallel_tool_calls": True,
    }
    if lite:
        message["client_metadata"] = {LITE: "true"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, message)
    assert events[0] == delta
    sent = ws_messages(fake)[-1].json
    assert sent["type"] == "response.create" and sent["model"] == "gpt-5.4"
    assert sent["input"][0]["type"] == "additional_tools"
    if lite:
        assert "tools" not in sent, sent.get("tools")
        assert sent["client_metadata"][LITE] == "true"
        assert sent["parallel_tool_calls"] is False
    else:
        assert sent["parallel_tool_calls"] is True


# ---- upstream errors and failed turns


async def test_a_connection_limit_error_event_ends_the_turn_as_try_again_later(start_proxy, fakes) -> None:
    """CPA TestCodexWebsocketsExecuteStreamPropagatesUpstreamErrorForDownstreamWebsocket: the
    upstream answers the turn with a 429 ``websocket_connection_limit_reached`` error event and
    no other account is left: the client socket closes with 1013 (try again later), no event
    of the upstream's half-made turn reaches the client."""
    proxy = await start_proxy(config(fakes))
    error = {
        "type": "error",
        "status": 429,
        "error": {"code": "websocket_connection_limit_reached", "message": "too many websockets"},
    }
    fakes.responses.ws_frames = [json.dumps(error)]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": "x"}))
        events, code = await events_until_end(ws)
    assert events == [] and code == 1013


async def test_a_failed_turn_does_not_keep_its_upstream_socket(start_proxy, fakes) -> None:
    """CPA TestCodexWebsocketTerminalFailureInvalidatesRetainedLifecycle: a turn that ends with
    ``response.failed`` (an invalid token, after its output began) reaches the client as it
    is, and the upstream socket that carried it is closed: the next turn dials a new one.
    (The late 401 cools the one account, as CPA's wrapStreamResult marks it: cooling is off
    here so that the second turn has an account.)"""
    proxy = await start_proxy(config(fakes, extra="disable-cooling: true\n"))
    fake = fakes.responses
    error = {"type": "authentication_error", "code": "invalid_api_key", "message": "Invalid token."}
    created = {
        "type": "response.created",
        "response": {"id": "resp-f", "status": "in_progress", "output": []},
    }
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
    }
    delta = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "hi"}
    failed = {"type": "response.failed", "response": {"id": "resp-f", "status": "failed", "error": error}}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        fake.ws_frames = [json.dumps(e) for e in (created, added, delta, failed)]
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
        for _ in range(100):
            if fake.ws_open == 0:
                break
            await asyncio.sleep(0.02)
        assert fake.ws_open == 0  # closed at once, not when the client leaves
        second = await turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
    assert first[-1]["type"] == "response.failed" and first[-1]["response"]["error"] == error
    assert second[-1]["type"] == "response.completed"
    assert fake.ws_opened == 2


async def test_a_new_upstream_target_closes_the_old_socket(start_proxy, fakes) -> None:
    """CPA TestWebsocketExecutorsReconnectWhenSessionTargetChanges and
    TestWebsocketTargetReplacementPhysicallyClosesOwnedConnectionOnce: one client socket whose
    turns go to one account reuse its upstream socket; a turn that goes to another account
    (here: another model routed to another key) dials a new socket and closes the old one,
    so an account keeps no idle socket for a client that moved on."""
    base = f"{fakes.responses.base_url}/backend-api/codex"
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n'
        f'  - api-key: "sk-codex-a"\n    base-url: "{base}"\n    websockets: true\n'
        '    models: [{name: "gpt-5.4", alias: "model-a"}]\n'
        f'  - api-key: "sk-codex-b"\n    base-url: "{base}"\n    websockets: true\n'
        '    models: [{name: "gpt-5.4", alias: "model-b"}]\n'
    )
    fake = fakes.responses
    upstream = proxy.service.ws_upstream
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        for model in ("model-a", "model-a"):
            events = await turn(ws, {"type": "response.create", "model": model, "input": [USER]})
            assert events[-1]["type"] == "response.completed"
        assert fake.ws_opened == 1 and upstream.open_sockets == 1
        events = await turn(ws, {"type": "response.create", "model": "model-b", "input": [USER]})
        assert events[-1]["type"] == "response.completed"
        for _ in range(100):
            if fake.ws_open == 1:
                break
            await asyncio.sleep(0.02)
        assert fake.ws_opened == 2 and fake.ws_open == 1 and upstream.open_sockets == 1
    assert [r.key for r in ws_messages(fake)] == ["sk-codex-a", "sk-codex-a", "sk-codex-b"]
