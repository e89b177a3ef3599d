"""The Claude identity memos do not keep a client's long values.

``providers.claude_identity`` memoises a few answers per value a client sends again and
again: whether a ``metadata.user_id`` has Claude Code's shape, a User-Agent's plausibility,
a session header's UUID. Each table is emptied at 4,096 entries, but it kept every value it
was keyed by, so distinct long values (a ``metadata.user_id`` is the client's body: any
size) stayed in memory 4,096 at a time: through the proxy, 40 requests to a cloaked Claude
API key each with a distinct 64 KiB user_id kept 2.5 MiB of them, so 4,096 such requests would keep 256 MiB, and
larger ids more. A value over 1 KiB is now worked out each time instead.
"""

from __future__ import annotations

import gc
import tracemalloc

import aiohttp
import orjson

from cliproxy.providers import claude_identity as ident
from tests.e2e.clients import KEY

SIZE = 64 * 1024
COUNT = 300  # 18.75 MiB of distinct values


def kept_bytes(run: object) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        run()  # type: ignore[operator]
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


def test_long_user_ids_and_user_agents_are_not_kept() -> None:
    profile = ident.DeviceProfile()

    def run() -> None:
        for n in range(COUNT):
            value = f"{n:08d}" + "u" * SIZE
            assert ident.is_valid_user_id(value) is False
            assert ident.is_valid_user_id(value) is False
            assert ident.plausible_user_agent(value, profile) is False
            del value

    kept = kept_bytes(run)
    assert kept < 2 << 20, f"{kept / 2**20:.1f} MiB of {COUNT * SIZE / 2**20:.1f} MiB of values kept"


def test_short_values_keep_their_memo() -> None:
    uid = orjson.dumps(
        {"device_id": "a" * 64, "account_uuid": "", "session_id": "0f0e0d0c-0b0a-4908-8706-050403020100"}
    ).decode()
    assert ident.is_valid_user_id(uid) is True
    assert ident._VALID_UIDS.get(uid) is True  # memoised: the next turn of the session pays a lookup
    long = uid[:-2] + " " * 2000 + uid[-2:]
    assert ident.is_valid_user_id(long) is ident._valid_user_id(long)
    assert long not in ident._VALID_UIDS


async def test_long_user_ids_through_the_proxy_are_not_kept(start_proxy, fake_claude) -> None:
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fake_claude.base_url}"
    cloak: {{mode: always}}
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""
    )
    ident._VALID_UIDS.clear()
    async with aiohttp.ClientSession() as session:
        for n in range(40):
            body = {
                "model": "claude-model",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
                "metadata": {"user_id": f"{n:08d}" + "u" * SIZE},
            }
            async with session.post(
                proxy.url + "/v1/messages", data=orjson.dumps(body), headers={"x-api-key": KEY}
            ) as resp:
                assert resp.status == 200, await resp.text()
    held = sum(len(k) for k in ident._VALID_UIDS)
    assert held < 64 * 1024, f"{held / 2**20:.1f} MiB of client user_ids held by the memo"
