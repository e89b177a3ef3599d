"""CPA's Codex WebSocket executor cases the other WebSocket tests did not hold yet
(internal/runtime/executor/codex_websockets_spawn_agent_test.go), through a running proxy:
an official Codex client on the Responses WebSocket, a Codex credential with
``websockets: true``, the fake Codex socket upstream (tests/fakes/openai_responses.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_ws_cpa import CODEX_UA, completed, config
from tests.e2e.test_responses_ws import connect, turn, ws_messages

HEADING = "Available model overrides (optional; inherited parent model is preferred):"

# CPA's codexSpawnAgentTestPayload, as a Responses WebSocket message: the spawn_agent
# namespace arrives in an ``additional_tools`` input item, and the agent message mixes a
# plain part with an encrypted one and carries fields of its own
SPAWN_INPUT: list[dict[str, Any]] = [
    {
        "type": "additional_tools",
        "role": "developer",
        "tools": [
            {
                "type": "namespace",
                "name": "collaboration",
                "tools": [
                    {
                        "type": "function",
                        "name": "spawn_agent",
                        "description": f"{HEADING}\n- old-model\nSpawns an agent.",
                        "parameters": {
                            "type": "object",
                            "properties": {"message": {"type": "string", "encrypted": True}},
                        },
                    }
                ],
            }
        ],
    },
    {
        "type": "agent_message",
        "id": "amsg_1",
        "author": "/root",
        "recipient": "/root/worker",
        "content": [
            {"type": "input_text", "text": "Payload:\n"},
            {"type": "encrypted_content", "encrypted_content": "delegated task"},
        ],
        "internal_chat_message_metadata_passthrough": {"turn_id": "turn_1"},
    },
]


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
async def test_multi_agent_v2_over_the_upstream_socket(start_proxy, fakes, enabled: bool) -> None:
    """CPA TestCodexWebsocketsExecutorOptimizeMultiAgentV2 (its stream rows; a client on the
    WebSocket always streams): with ``codex.optimize-multi-agent-v2`` on, the message sent
    on the upstream socket has the namespace renamed ``collaboration-optimize``, the model
    list written into the description in place of the client's, ``encrypted`` gone, and the
    agent message's encrypted part made plain text while its own fields (author, recipient,
    the metadata passthrough) and its plain part stay; off, the message goes as the client
    sent it. Either way the client's answer names ``collaboration``, never the optimized
    namespace (the upstream answers with the namespace it was sent)."""
    switch = "true" if enabled else "false"
    proxy = await start_proxy(config(fakes, extra=f"codex:\n  optimize-multi-agent-v2: {switch}\n"))
    fake = fakes.responses
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": CODEX_UA}
    message = {"type": "response.create", "model": "codex-model", "input": copy.deepcopy(SPAWN_INPUT)}
    sent_namespace = "collaboration-optimize" if enabled else "collaboration"
    call = {
        "type": "function_call",
        "id": "fc_1",
        "name": "spawn_agent",
        "namespace": sent_namespace,
        "arguments": "{}",
        "call_id": "call_1",
        "status": "completed",
    }
    fake.ws_frames = [completed("resp_1", [call])]
    async with aiohttp.ClientSession() as s, await connect(s, proxy, headers=headers) as ws:
        events = await turn(ws, message)
    assert events[-1]["type"] == "response.completed", events
    answer = json.dumps(events[-1], separators=(",", ":"))
    assert "collaboration-optimize" not in answer and '"namespace":"collaboration"' in answer, answer

    (upstream,) = ws_messages(fake)
    sent = upstream.json
    namespace = sent["input"][0]["tools"][0]
    spawn = namespace["tools"][0]
    agent = sent["input"][1]
    # the outer agent message and its fields are never changed
    assert agent["type"] == "agent_message" and "role" not in agent
    assert agent["author"] == "/root" and agent["recipient"] == "/root/worker"
    assert agent["internal_chat_message_metadata_passthrough"] == {"turn_id": "turn_1"}
    assert agent["content"][0] == {"type": "input_text", "text": "Payload:\n"}
    if enabled:
        assert namespace["name"] == "collaboration-optimize"
        assert "- old-model" not in spawn["description"]
        # the models a client may name here: the credential's alias, not the upstream name
        assert "- `codex-model`: " in spawn["description"], spawn["description"]
        assert spawn["parameters"]["properties"]["message"] == {"type": "string"}
        assert agent["content"][1] == {"type": "input_text", "text": "delegated task"}
    else:
        assert sent["input"] == SPAWN_INPUT


async def test_a_create_without_previous_response_id_starts_over_on_the_socket(start_proxy, fakes) -> None:
    """The same CPA passthrough fact for Codex's socket (the xAI case is
    TestXAIWebsocketEmptyFullResetClearsPendingCompactionReplay, in
    test_cpa_audit_execcodex_xai_ws.py): after a completed turn, a ``response.create``
    without ``previous_response_id`` that answers no open tool call reaches the upstream
    socket with its own input only, not the earlier turn's input and answer."""
    proxy = await start_proxy(config(fakes))
    fake = fakes.responses
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": CODEX_UA}
    first_input = [{"type": "message", "role": "user", "content": "first"}]
    new_input = [{"type": "message", "role": "user", "content": "a new conversation"}]
    async with aiohttp.ClientSession() as s, await connect(s, proxy, headers=headers) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": first_input})
        assert first[-1]["type"] == "response.completed", first[-1]
        again = await turn(ws, {"type": "response.create", "model": "codex-model", "input": new_input})
        assert again[-1]["type"] == "response.completed", again[-1]
    last = ws_messages(fake)[-1].json
    assert "previous_response_id" not in last
    assert last["input"] == new_input, last["input"]
