"""A client's prompt_cache_key of any length does not stay in the replays' session keys.

The reasoning replays (Codex, xAI, Gemini, the Claude-compatible one) key a Chat or
Responses client's session by its ``prompt_cache_key`` (or its Codex window or session
header), namespaced by its API key. They keep 10,240 sessions and bound the bytes of what
they hold, not of their keys, so distinct long keys (a client decides their size) stayed
whole. A session over 256 bytes now enters the key as its SHA-256; ordinary keys are
used as before.
"""

from __future__ import annotations

import gc

import aiohttp
import orjson

from cliproxy.formats import Format
from cliproxy.providers import antigravity_replay
from cliproxy.translate.replay import TurnCache
from cliproxy.translate.replay_keys import replay_session_key
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

SIZE = 6000  # under the 8 KiB header line the Codex backend takes (the key goes as Session-Id too)
COUNT = 200  # 1.1 MiB of distinct keys
AUTH = {"authorization": f"Bearer {KEY}"}


def test_long_prompt_cache_keys_make_short_session_keys() -> None:
    long = "p" * SIZE
    key = replay_session_key(AUTH, {"prompt_cache_key": long}, chat_client=True)
    assert key.startswith("caller:") and len(key) < 128
    assert key != replay_session_key(AUTH, {"prompt_cache_key": long + "q"}, chat_client=True)
    short = replay_session_key(AUTH, {"prompt_cache_key": "my-session"}, chat_client=True)
    assert short.endswith(":prompt-cache:my-session")  # as before


def test_long_antigravity_sessions_make_short_session_keys() -> None:
    """Antigravity's replay names a session by a session-id header or a body session_id."""
    long = "a" * SIZE
    by_header = antigravity_replay.session_key(Format.RESPONSES, {}, {**AUTH, "session-id": long})
    by_body = antigravity_replay.session_key(Format.OPENAI, {"session_id": long}, AUTH)
    assert len(by_header) < 128 and by_header == by_body  # both name the same session, as before
    assert by_body != antigravity_replay.session_key(Format.OPENAI, {"session_id": long + "b"}, AUTH)
    assert antigravity_replay.session_key(Format.OPENAI, {"session_id": "s-1"}, AUTH).endswith(
        ":responses:s-1"
    )


def held_session_key_bytes() -> int:
    """Bytes of the session keys every reasoning replay of this process holds."""
    gc.collect()
    caches = [o for o in gc.get_objects() if isinstance(o, TurnCache)]
    return sum(len(key) for cache in caches for key in cache._entries._data)


async def test_long_prompt_cache_keys_through_the_proxy_are_not_kept(start_proxy, fakes) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    before = held_session_key_bytes()
    async with aiohttp.ClientSession() as session:
        for n in range(COUNT):
            body = {
                "model": "codex-model",
                "messages": [{"role": "user", "content": "hi"}],
                "prompt_cache_key": f"{n:08d}" + "p" * SIZE,
            }
            async with session.post(
                proxy.url + "/v1/chat/completions", data=orjson.dumps(body), headers=AUTH
            ) as resp:
                assert resp.status == 200, await resp.text()
    held = held_session_key_bytes() - before
    assert held < 64 * 1024, (
        f"{held / 2**20:.1f} MiB of {COUNT * SIZE / 2**20:.1f} MiB of prompt_cache_keys held"
    )
