"""The real Codex CLI over the Responses WebSocket: a text turn and a tool turn through the
proxy against the fake Codex backend.

Needs the ``codex`` binary (npm ``@openai/codex``; checked with 0.169.0): the path in
``CLIPROXY_CODEX_BIN``, else ``codex`` on ``PATH``; skipped without it. Codex runs offline
against a custom model provider (``wire_api = "responses"``, ``supports_websockets =
true``) whose ``base_url`` is the proxy; it opens ``GET /v1/responses`` as a WebSocket. The
fake only ever sees WebSocket turns when the client came in over a WebSocket (the proxy
speaks HTTP/SSE to Codex otherwise), so the fake's records prove the path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import KEY

CODEX = os.environ.get("CLIPROXY_CODEX_BIN") or shutil.which("codex")

pytestmark = pytest.mark.skipif(not CODEX, reason="the Codex CLI is not installed (npm i -g @openai/codex)")


async def run_codex(proxy: Any, tmp_path: Path, prompt: str) -> list[dict[str, Any]]:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    provider = {
        "name": "cliproxy",
        "base_url": f"{proxy.url}/v1",
        "env_key": "CLIPROXY_KEY",
        "wire_api": "responses",
        "supports_websockets": True,
        "stream_max_retries": 0,
        "request_max_retries": 0,
    }
    overrides = ['model_provider="cliproxy"']
    for key, value in provider.items():
        overrides.append(f"model_providers.cliproxy.{key}={json.dumps(value)}")
    args = [str(CODEX), "exec", "--skip-git-repo-check", "--json", "-m", "gpt-5.4"]
    args += ["--dangerously-bypass-approvals-and-sandbox", "-C", str(work)]
    for item in overrides:
        args += ["-c", item]
    env = {**os.environ, "CODEX_HOME": str(home), "CLIPROXY_KEY": KEY, "RUST_LOG": "error"}
    proc = await asyncio.create_subprocess_exec(
        *args, prompt, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()[-2000:]
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


@pytest.fixture
async def codex_proxy(start_proxy, fake_responses):
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fake_responses.base_url}/backend-api/codex"
    websockets: true
    models:
      - name: "gpt-5.4"
"""
    )
    proxy.fake = fake_responses
    return proxy


def items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e.get("type") == "item.completed" and e["item"]["type"] == kind]


async def test_codex_cli_text_turn(codex_proxy, tmp_path):
    events = await run_codex(codex_proxy, tmp_path, "Say hello")
    assert [m["text"] for m in items(events, "agent_message")] == [
        "Hello from fake-responses (model gpt-5.4)"
    ]
    turns = [r for r in codex_proxy.fake.requests if r.method == "WS"]
    assert len(turns) == 1 and turns[0].json["type"] == "response.create"


async def test_codex_cli_tool_turn(codex_proxy, tmp_path):
    prompt = "FAKE_TOOL Use your shell tool to run exactly this command: echo FAKE_TOOL_OK"
    events = await run_codex(codex_proxy, tmp_path, prompt)
    commands = items(events, "command_execution")
    assert commands and "FAKE_TOOL_OK" in commands[0]["aggregated_output"]
    assert "FAKE_TOOL_OK" in items(events, "agent_message")[-1]["text"]
    fake = codex_proxy.fake
    turns = [r for r in fake.requests if r.method == "WS"]
    assert len(turns) == 2 and fake.ws_opened == 1  # both turns on one kept upstream socket
    assert [i.get("type") for i in turns[1].json["input"]][-2:] == ["function_call", "function_call_output"]
