"""A Claude Code session id of any length does not stay in the proxy's memory.

A Claude client's session (``X-Claude-Code-Session-Id`` or the ``session_id`` of its JSON
``metadata.user_id``) scopes the reasoning replays (Codex, xAI, Kimi, Antigravity) and
derives the Codex prompt-cache key, whose memo keeps 4,096 scopes. The scope held the
session as sent, so distinct long ids (a client decides their size) stayed in the memo and
in the replays' session keys, which their byte bounds do not count. A session id over
256 bytes now enters the scope as its SHA-256, so every key stays small; ordinary ids
(Claude Code's are UUIDs) are used as before.
"""

from __future__ import annotations

import gc
import tracemalloc

import aiohttp
import orjson

from cliproxy.translate.replay_keys import claude_code_scope
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

SIZE = 64 * 1024
COUNT = 40  # 2.5 MiB of distinct session ids


def user_id(session: str) -> str:
    return orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session}).decode()


def test_long_session_ids_make_short_scopes() -> None:
    long = "s" * SIZE
    scope = claude_code_scope({"metadata": {"user_id": user_id(long)}}, {})
    assert scope.startswith("claude:") and len(scope) < 128
    assert scope != claude_code_scope({"metadata": {"user_id": user_id(long + "t")}}, {})
    assert scope == claude_code_scope({}, {"x-claude-code-session-id": long})
    short = "0f0e0d0c-0b0a-4908-8706-050403020100"  # as Claude Code sends it: kept as it is
    assert claude_code_scope({}, {"x-claude-code-session-id": short}) == f"claude:{short}:agent:main"


async def test_long_session_ids_through_the_proxy_are_not_kept(start_proxy, fakes) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    async with aiohttp.ClientSession() as session:

        async def send(n: int) -> None:
            body = {
                "model": "codex-model",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
                "metadata": {"user_id": user_id(f"{n:08d}" + "s" * SIZE)},
            }
            async with session.post(
                proxy.url + "/v1/messages", data=orjson.dumps(body), headers={"x-api-key": KEY}
            ) as resp:
                assert resp.status == 200, await resp.text()

        await send(-1)  # the first request's one-time allocations (connections, memos) are not counted
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for n in range(COUNT):
                await send(n)
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    assert kept < 1 << 20, f"{kept / 2**20:.1f} MiB kept after {COUNT * SIZE / 2**20:.1f} MiB of session ids"
