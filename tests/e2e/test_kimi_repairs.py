"""Kimi through the proxy: a Chat client's tool loop goes out repaired (CPA
``normalizeKimiToolMessageLinks``), and a thinking replay Kimi refuses is not sent again
(CPA ``shouldClearKimiThinkingReplayAfterError``)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import HEAD, kimi_file

BASH = {
    "name": "bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
CLAUDE_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
META = {"user_id": orjson.dumps({"session_id": "kimi-refusal"}).decode()}


async def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_chat_tool_loop_is_repaired(start_proxy, fake_openai, tmp_path) -> None:
    """A tool result that names its call only by ``call_id`` and an assistant tool-call
    turn without reasoning reach Kimi linked and with reasoning; the empty turn is gone."""
    kimi_file(tmp_path, fake_openai.base_url)
    proxy = await start_proxy(HEAD)
    call = {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"command":"ls"}'}}
    body = {
        "model": "kimi-k3",
        "messages": [
            {"role": "user", "content": "list the files"},
            {"role": "assistant", "content": "Listing.", "tool_calls": [call]},
            {"role": "tool", "call_id": "call_1", "content": "README.md"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "thanks"},
        ],
    }
    status, answer = await _post(f"{proxy.url}/v1/chat/completions", body, {"Authorization": f"Bearer {KEY}"})
    assert status == 200, answer
    sent = fake_openai.last.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[1]["reasoning_content"] == "Listing." and sent[2]["tool_call_id"] == "call_1"


async def test_refused_replay_is_not_sent_again(start_proxy, fake_claude, tmp_path) -> None:
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    url = f"{proxy.url}/v1/messages"
    first = {
        "model": "kimi-k3",
        "max_tokens": 256,
        "metadata": META,
        "thinking": {"type": "enabled", "budget_tokens": 128},
        "tools": [BASH],
        "messages": [{"role": "user", "content": "FAKE_TOOL please run it"}],
    }
    status, answer = await _post(url, first, CLAUDE_HEADERS)
    assert status == 200, answer
    assert answer["content"][0]["type"] == "thinking"
    echoed = [b for b in answer["content"] if b["type"] != "thinking"]  # a client that drops it
    call_id = next(b["id"] for b in echoed if b["type"] == "tool_use")
    turn = {
        **first,
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": echoed},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "ok"}]},
        ],
    }
    fake_claude.fail_next(400, message="invalid thinking signature")
    status, answer = await _post(url, turn, CLAUDE_HEADERS)
    assert status == 400, answer
    assert fake_claude.last.json["messages"][1]["content"][0]["type"] == "thinking"  # the replay went

    retry = {k: v for k, v in turn.items() if k != "thinking"}
    status, answer = await _post(url, retry, CLAUDE_HEADERS)
    assert status == 200, answer
    assert fake_claude.last.json["messages"][1]["content"] == echoed  # and is not sent again
