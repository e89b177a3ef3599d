"""CPA sdk/cliproxy/service_codex_executor_binding_test.go: a change to another credential
leaves the Codex upstream sockets a client is using alone. CPA binds one executor object
per provider and must not rebuild the Codex (or xAI) one on every credential event, or
its WebSocket sessions would go with it; cliproxy has no executor objects to rebind, so
the fact is tested as a client sees it: a kept upstream socket survives an unrelated
credential arriving. Not applicable: TestEnsureExecutorsForAuthWithMode_CodexForceReplace,
TestEnsureExecutorsForAuthWithMode_XAIForceReplace and
TestEnsureExecutorsForAuth_XAIReplacesExecutorAfterConfigUpdate (CPA rebuilds an executor
object so that a new config takes effect; providers here read the live config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.test_codex_ws_cpa import USER, config
from tests.e2e.test_oauth_files import claude_file, wait_for, write_auth
from tests.e2e.test_responses_ws import connect, turn


async def test_an_unrelated_credential_keeps_the_codex_socket(
    start_proxy: Any, fakes: Any, tmp_path: Path
) -> None:
    """CPA: TestSyncPluginModelRuntime_UnrelatedAuthDoesNotReplaceWebsocketExecutor,
    TestEnsureExecutorsForAuth_CodexDoesNotReplaceInNormalMode,
    TestEnsureExecutorsForAuth_XAIDoesNotReplaceInNormalMode (the Codex case; xAI shares
    the socket upstream): a Claude sign-in dropped into the auth dir between two turns of
    one client socket, and the second turn still goes on the first upstream socket."""
    proxy = await start_proxy(config(fakes), watch=True)
    fake = fakes.responses
    message = {"type": "response.create", "model": "codex-model", "input": [USER]}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        assert (await turn(ws, message))[-1]["type"] == "response.completed"
        assert fake.ws_opened == 1
        write_auth(tmp_path, "claude-other.json", claude_file("http://127.0.0.1:9", "sk-ant-oat01-x"))

        async def noticed() -> bool:
            return any(c.provider == "claude" for c in proxy.service.pool.credentials())

        await wait_for(noticed)
        assert (await turn(ws, message))[-1]["type"] == "response.completed"
    assert fake.ws_opened == 1
