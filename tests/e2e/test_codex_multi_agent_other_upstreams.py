"""``codex.optimize-multi-agent-v2`` for an official Codex client whose Responses request
goes to a non-Codex upstream (Chat, Claude, Gemini): CPA prepares the collaboration tools
at the Responses entry (``spawn_agent``'s description lists the proxy's models, the message
tools lose ``message.encrypted``) and turns ``agent_message`` input items into user
messages before translating (``TranslateRequestWithCodexMultiAgentV2``). Off, or from
another client, the agent message is not a user turn upstream."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

CODEX_UA = "Codex Desktop/0.146.0-alpha.3"
HEADING = "Available model overrides (optional; inherited parent model is preferred):"
TASK = "请出一道四则运算题，并给出答案。"


def _body(model: str) -> dict[str, Any]:
    """CPA optimize_multi_agent_v2_test.go TestRewriteCodexMultiAgentV2InputRewritesAgentMessage's
    input, with the collaboration tools of TestPrepareCodexMultiAgentV2ToolsAtResponsesBoundary."""
    return {
        "model": model,
        "stream": False,
        "input": [
            {
                "type": "agent_message",
                "id": "amsg_1",
                "author": "/root",
                "recipient": "/root/arithmetic_problem",
                "content": [
                    {"type": "input_text", "text": "Message Type: NEW_TASK\nPayload:\n"},
                    {"type": "encrypted_content", "encrypted_content": TASK},
                ],
            }
        ],
        "tools": [
            {
                "type": "namespace",
                "name": "collaboration",
                "tools": [
                    {
                        "type": "function",
                        "name": "spawn_agent",
                        "description": "Spawns an agent.",
                        "parameters": {
                            "type": "object",
                            "properties": {"message": {"type": "string", "encrypted": True}},
                        },
                    },
                    {
                        "type": "function",
                        "name": "send_message",
                        "description": "Sends a message.",
                        "parameters": {
                            "type": "object",
                            "properties": {"message": {"type": "string", "encrypted": True}},
                        },
                    },
                ],
            }
        ],
    }


async def _proxy(start_proxy, fakes, on: bool):
    extra = f"codex:\n  optimize-multi-agent-v2: {'true' if on else 'false'}\n"
    proxy = await start_proxy(matrix_config(fakes, extra))
    proxy.fakes = fakes
    return proxy


async def _post(url: str, body: dict[str, Any], agent: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": agent}
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(url + "/v1/responses", json=body, headers=headers) as resp,
    ):
        data = await resp.read()
        assert resp.status == 200, data


def _sent(fakes: Any, model: str) -> tuple[str, list[str]]:
    """The upstream's first user turn as text, and its tool descriptions."""
    if model == "compat-model":
        body = fakes.openai.last.json
        first = body["messages"][0]
        content = first["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        assert first["role"] == "user"
        return text, [t["function"].get("description", "") for t in body.get("tools", [])]
    if model == "claude-model":
        body = fakes.claude.last.json
        first = body["messages"][0]
        content = first["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        assert first["role"] == "user"
        return text, [t.get("description", "") for t in body.get("tools", [])]
    body = fakes.gemini.last.json
    first = body["contents"][0]
    assert first["role"] == "user"
    text = "".join(p.get("text", "") for p in first["parts"])
    decls = [d for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    return text, [d.get("description", "") for d in decls]


def _params(fakes: Any, model: str) -> list[dict[str, Any]]:
    if model == "compat-model":
        return [t["function"]["parameters"] for t in fakes.openai.last.json.get("tools", [])]
    if model == "claude-model":
        return [t["input_schema"] for t in fakes.claude.last.json.get("tools", [])]
    tools = fakes.gemini.last.json.get("tools", [])
    return [
        d.get("parametersJsonSchema") or d.get("parameters") or {}
        for t in tools
        for d in t.get("functionDeclarations", [])
    ]


MODELS = ["compat-model", "claude-model", "gemini-model"]


@pytest.mark.parametrize("model", MODELS)
async def test_codex_client_agent_message_reaches_other_upstreams_as_user_text(
    start_proxy, fakes, model: str
) -> None:
    """CPA optimize_multi_agent_v2_test.go TestTranslateRequestWithCodexMultiAgentV2Conditions
    (Claude, Gemini, OpenAI targets: the agent message's encrypted text is the first user
    turn) and openai_responses_multi_agent_test.go
    TestResponsesPreparesCodexMultiAgentV2ToolsForHTTPAndSSE (tools prepared at the entry)."""
    proxy = await _proxy(start_proxy, fakes, True)
    await _post(proxy.url, _body(model), CODEX_UA)
    text, descriptions = _sent(fakes, model)
    assert TASK in text and "NEW_TASK" in text
    spawn = next(d for d in descriptions if "Spawns an agent" in d)
    assert spawn.count(HEADING) == 1 and "`codex-model`" in spawn
    assert spawn.index(HEADING) < spawn.index("Spawns an agent.")
    for params in _params(fakes, model):
        assert "encrypted" not in params["properties"]["message"]


@pytest.mark.parametrize(
    ("on", "agent"),
    [(False, CODEX_UA), (True, "curl/8.7.1")],
    ids=["disabled optimization", "unrelated client"],
)
async def test_agent_message_is_not_a_user_turn_when_off_or_for_another_client(
    start_proxy, fakes, on: bool, agent: str
) -> None:
    """CPA TestTranslateRequestWithCodexMultiAgentV2Conditions "disabled optimization" and
    "unrelated client" (and those rows of TestRewriteCodexMultiAgentV2InputConditions, whose
    Codex Desktop and codex-tui rows are the test above and
    tests/providers/test_codex_multi_agent.py::test_codex_clients): the agent_message is not translated into a chat message, and the
    spawn_agent description stays the client's. CPA
    TestPrepareCodexMultiAgentV2ToolsAtResponsesBoundarySkipsOtherClients: the message tools
    keep ``message.encrypted``."""
    proxy = await _proxy(start_proxy, fakes, on)
    body = _body("compat-model")
    body["input"].insert(0, {"type": "message", "role": "user", "content": "hello"})
    await _post(proxy.url, body, agent)
    sent = fakes.openai.last.json
    assert all(TASK not in str(m.get("content")) for m in sent["messages"])
    descriptions = [t["function"].get("description", "") for t in sent.get("tools", [])]
    assert "Spawns an agent." in descriptions and all(HEADING not in d for d in descriptions)
    assert all(
        params["properties"]["message"].get("encrypted") is True for params in _params(fakes, "compat-model")
    )


async def test_codex_client_on_the_websocket_gets_its_tools_prepared(start_proxy, fakes) -> None:
    """CPA TestResponsesWebsocketPreparesCodexMultiAgentV2Tools: a Codex client's
    ``response.create`` on the Responses WebSocket has its collaboration tools prepared as
    an HTTP request's are (``message.encrypted`` gone) before it goes upstream."""
    proxy = await _proxy(start_proxy, fakes, True)
    body = _body("compat-model")
    del body["stream"]
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": "codex_cli_rs/0.144.1"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws:
            await ws.send_json({"type": "response.create", **body})
            while True:
                event = await ws.receive_json(timeout=10)
                if event.get("type") in ("response.completed", "response.failed", "error"):
                    break
    assert event["type"] == "response.completed", event
    for params in _params(fakes, "compat-model"):
        assert "encrypted" not in params["properties"]["message"]


async def test_codex_upstream_keeps_agent_message(start_proxy, fakes) -> None:
    """CPA TestTranslateRequestWithCodexMultiAgentV2Conditions "excluded target codex": a
    Codex upstream gets the agent_message as an agent_message (its own optimization)."""
    proxy = await _proxy(start_proxy, fakes, True)
    body = _body("codex-model")
    await _post(proxy.url, body, CODEX_UA)
    item = fakes.responses.last.json["input"][0]
    assert item["type"] == "agent_message"
    assert item["content"][1] == {"type": "input_text", "text": TASK}
    assert body["input"][0]["content"][1]["type"] == "encrypted_content"  # the client's own stays


async def test_xai_upstream_gets_agent_message_as_user_message(start_proxy, fake_openai) -> None:
    """CPA xai_executor_request.go calls RewriteCodexMultiAgentV2Input on every xAI body
    (no is-compat needed): the agent_message reaches xAI as a user message, and the
    Responses-entry tool preparation drops ``message.encrypted``."""
    config = f"""
api-keys: ["{KEY}"]
codex:
  optimize-multi-agent-v2: true
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
"""
    proxy = await start_proxy(config)
    await _post(proxy.url, _body("grok-4.6"), CODEX_UA)
    sent = fake_openai.last.json
    item = sent["input"][0]
    assert item["type"] == "message" and item["role"] == "user"
    assert any(part.get("text") == TASK for part in item["content"])
    assert "encrypted_content" not in str(sent["input"])
    assert "'encrypted': True" not in str(sent["tools"])
