"""Kimi thinking replay on the Claude path (CPA runtime/executor/kimi_thinking_replay_test.go
TestKimiExecutorClaude{NonStream,Stream}ReplaysThinkingAcrossK3VariantSwitch,
TestKimiThinkingReplayScopeIsolatesClaudeCodeCallers).

The fake behind Kimi's Anthropic-compatible path checks thinking as Anthropic does. Claude
Code switching K3 variants sends the assistant turn whose tool calls the last user turn
answers without its thinking; the proxy puts the cached content back, for the same
caller's session only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_claude_kimi import kimi
from tests.fakes.claude import signature_ok

OTHER_KEY = "sk-proxy-other-caller"
TOOLS = [{"name": "bash", "description": "run", "input_schema": TOOL_SCHEMA}]
FIRST = [{"role": "user", "content": "FAKE_TOOL=bash run it"}]
META = {"user_id": orjson.dumps({"session_id": "claude-session"}).decode()}


async def post(
    proxy: Any, model: str, history: list[dict[str, Any]], stream: bool, key: str = KEY
) -> tuple[int, Any]:
    body = {
        "model": model,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": TOOLS,
        "messages": history,
        "metadata": META,
        "stream": stream,
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(f"{proxy.url}/v1/messages", json=body, headers=headers) as resp:
            raw = await resp.read()
            return resp.status, raw


def content_of(raw: bytes, stream: bool) -> list[dict[str, Any]]:
    if not stream:
        return orjson.loads(raw)["content"]
    blocks: dict[int, dict[str, Any]] = {}
    for line in raw.decode().splitlines():
        if not line.startswith("data:"):
            continue
        ev = orjson.loads(line[5:])
        if ev["type"] == "content_block_start":
            blocks[ev["index"]] = dict(ev["content_block"])
        elif ev["type"] == "content_block_delta":
            d, b = ev["delta"], blocks[ev["index"]]
            for kind, key in (
                ("text_delta", "text"),
                ("thinking_delta", "thinking"),
                ("signature_delta", "signature"),
            ):
                if d["type"] == kind:
                    b[key] = b.get(key, "") + d[key]
            if d["type"] == "input_json_delta":
                b["_json"] = b.get("_json", "") + d["partial_json"]
    for b in blocks.values():
        if "_json" in b:
            b["input"] = orjson.loads(b.pop("_json"))
    return [blocks[i] for i in sorted(blocks)]


def without_thinking(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    call = next(b for b in content if b["type"] == "tool_use")
    kept = [b for b in content if b["type"] != "thinking"]
    result = {"type": "tool_result", "tool_use_id": call["id"], "content": "ok"}
    return [*FIRST, {"role": "assistant", "content": kept}, {"role": "user", "content": [result]}]


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any, tmp_path: Path) -> Any:
    kimi(fake_claude, tmp_path)
    p = await start_proxy(f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n')
    p.fake = fake_claude
    return p


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_thinking_restored_across_k3_variant_switch(proxy: Any, stream: bool) -> None:
    """CPA: TestKimiExecutorClaudeNonStreamReplaysThinkingAcrossK3VariantSwitch (and its
    stream twin): the second variant gets the first's signed thinking back."""
    status, raw = await post(proxy, "kimi-k3", FIRST, stream)
    assert status == 200, raw
    content = content_of(raw, stream)
    assert content[0]["type"] == "thinking" and signature_ok(content[0]["signature"])
    history = without_thinking(content)
    status, raw = await post(proxy, "kimi-k3-256k", history, stream)
    assert status == 200, raw
    sent = proxy.fake.last.json["messages"][1]["content"]
    assert sent[0] == {k: v for k, v in content[0].items()}
    # another caller with the same Claude Code session gets nothing restored (K3 thinks
    # adaptively, under which a turn that starts with a tool call is taken)
    status, raw = await post(proxy, "kimi-k3-256k", history, stream, key=OTHER_KEY)
    assert status == 200, raw
    assert proxy.fake.last.json["thinking"]["type"] == "adaptive"
    assert proxy.fake.last.json["messages"][1]["content"][0]["type"] == "tool_use"
