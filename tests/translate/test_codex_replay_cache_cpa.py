"""CPA internal/cache/codex_reasoning_replay_cache_test.go, ported on the real cache
(:class:`~cliproxy.translate.codex_replay.CodexReplayCache`) and its Redis copy
(:class:`~cliproxy.translate.replay_shared.RedisMirror`), which stands where CPA's Home KV
stands: what is kept, per which key, how many turns, and what several workers share.

Where we differ from CPA on purpose, the test says so: Redis is a best-effort copy beside
each worker's own cache (CPA's Home mode makes the KV the only store and fails a read it
cannot make), and a full cache drops its least recently used session, one at a time.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

from cliproxy.translate.codex_replay import (
    MAX_TURNS,
    CodexReplayCache,
    CodexTurn,
    decode_turns,
    encode_turns,
    make_turn,
)
from cliproxy.translate.replay import REPLAY_TTL
from cliproxy.translate.replay_shared import RedisMirror

MODEL = "gpt-5.4"


def encrypted(seed: int) -> str:
    """CPA validCodexReasoningReplayEncryptedContentForTest: Fernet-shaped, as OpenAI's."""
    payload = bytearray(1 + 8 + 16 + 16 + 32)
    payload[0] = 0x80
    for i in range(9, len(payload)):
        payload[i] = (seed + i) & 0xFF
    return base64.urlsafe_b64encode(bytes(payload)).decode().rstrip("=")


def reasoning(seed: int) -> dict[str, Any]:
    return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": encrypted(seed)}


def turn(seed: int, call_id: str = "") -> CodexTurn:
    output: list[Any] = [reasoning(seed)]
    if call_id:
        output.append({"type": "function_call", "call_id": call_id, "name": "lookup", "arguments": "{}"})
    made = make_turn(output)
    assert made is not None
    return made


def test_an_item_with_a_foreign_encrypted_content_is_not_kept() -> None:
    """CPA: TestCodexReasoningReplayCacheRejectsInvalidItems. Reasoning whose
    encrypted_content is not OpenAI's own makes no turn, so nothing is cached."""
    assert make_turn([{"type": "reasoning", "encrypted_content": "bad", "summary": []}]) is None
    assert make_turn([{"type": "reasoning", "encrypted_content": " " + encrypted(1), "summary": []}]) is None
    cache = CodexReplayCache()
    assert cache.get(MODEL, "session") == ()


def test_the_cache_is_scoped_by_model_and_session() -> None:
    """CPA: TestCodexReasoningReplayCacheScopesByModelAndSession. The item comes back in
    its normalized form, only for the model and session it was recorded under."""
    cache = CodexReplayCache()
    assert cache.append(MODEL, "session-a", turn(7))
    assert cache.get("gpt-5.5", "session-a") == ()
    assert cache.get(MODEL, "session-b") == ()
    (kept,) = cache.get(MODEL, "session-a")
    assert kept.items == (reasoning(7),)


def test_repeated_appends_keep_each_turn_once_in_order() -> None:
    """CPA: TestCodexReasoningReplayAppendPreservesCumulativeTurnsInHome (the local part:
    turns accumulate, a repeated append of the same turn adds nothing); the Redis copy
    round-trips them unchanged."""
    cache = CodexReplayCache()
    first, second = turn(11, "call-1"), turn(12, "call-2")
    for t in (first, second, second):
        assert cache.append(MODEL, "session-append", t)
    kept = cache.get(MODEL, "session-append")
    assert [t.call_ids for t in kept] == [("call-1",), ("call-2",)]
    assert decode_turns(encode_turns(kept)) == kept
    assert [t.items for t in decode_turns(encode_turns(kept))] == [t.items for t in kept]


async def test_concurrent_appends_to_one_session_keep_every_turn() -> None:
    """CPA: TestCodexReasoningReplayAppendHomeCASPreservesConcurrentTurns. Sixteen turns
    appended at once (tasks on one loop, as a worker's requests are) all stay: an append is
    one step the loop never interleaves, so no compare-and-swap is needed in a worker."""
    cache = CodexReplayCache()

    async def one(i: int) -> bool:
        await asyncio.sleep(0)
        return cache.append(MODEL, "session-concurrent", turn(30 + i, f"call-{i}"))

    assert all(await asyncio.gather(*(one(i) for i in range(16))))
    assert len(cache.get(MODEL, "session-concurrent")) == 16


def test_a_session_keeps_its_newest_256_turns() -> None:
    """CPA: TestCodexReasoningReplayAppendBoundsTurnsPerEntry. One turn more than the bound
    drops the oldest."""
    assert MAX_TURNS == 256
    cache = CodexReplayCache()
    for i in range(MAX_TURNS + 1):
        assert cache.append(MODEL, "session-bound", turn(i % 200, f"turn-{i}"))
    kept = cache.get(MODEL, "session-bound")
    assert len(kept) == MAX_TURNS
    assert kept[0].call_ids == ("turn-1",) and kept[-1].call_ids == (f"turn-{MAX_TURNS}",)


def test_a_full_cache_drops_its_least_recently_used_session() -> None:
    """CPA: TestCodexReasoningReplayCacheBatchEvictsWhenFull. Deliberate difference: CPA
    drops a batch of entries when the map is full (its scan is O(n)); our entries are an
    ordered dict, so dropping one least recently used session is O(1) and the cache keeps
    every session it may. The fact both hold: the bound is never passed."""
    cache = CodexReplayCache(max_sessions=8)
    for i in range(9):
        assert cache.append(MODEL, f"session-{i}", turn(9))
    assert len(cache) == 8
    assert cache.get(MODEL, "session-0") == ()
    assert cache.get(MODEL, "session-8") != ()


def test_an_empty_scope_is_neither_kept_nor_looked_up() -> None:
    """CPA: TestCodexReasoningReplayHomeRejectsEmptyScopeWithoutKV (the local part; the
    Redis part is test_an_empty_scope_never_reaches_redis)."""
    cache = CodexReplayCache()
    assert not cache.append("", "session", turn(6))
    assert not cache.append(MODEL, " ", turn(6))
    assert cache.get("", "session") == () and len(cache) == 0


# ----------------------------------------------------------------------- the Redis copy


async def _settled(mirror: RedisMirror) -> None:
    """The copies the cache started (off the request path) have reached Redis."""
    if mirror._pending:
        await asyncio.wait_for(asyncio.gather(*mirror._pending), 5)


async def test_a_read_from_redis_slides_its_ttl(redis_states: Callable[..., Any]) -> None:
    """CPA: TestCodexReasoningReplayRequiredHomeReadAndSlidingExpire. A worker that does not
    hold the session reads it from Redis and the key's TTL starts again (the cache's hour)."""
    state = await redis_states("t:")
    writer, reader = CodexReplayCache(), CodexReplayCache()
    w_mirror = RedisMirror(state, writer, encode=encode_turns, decode=decode_turns)
    r_mirror = RedisMirror(state, reader, encode=encode_turns, decode=decode_turns)
    writer.append(MODEL, "session-home", turn(3, "call-3"))
    await _settled(w_mirror)
    (key,) = [k async for k in state.client.scan_iter(match="t:rp|*")]
    await state.client.pexpire(key, 5_000)
    await r_mirror.fetch(MODEL, "session-home")
    (adopted,) = reader.get(MODEL, "session-home")
    assert adopted.items == (reasoning(3), *writer.get(MODEL, "session-home")[0].items[1:])
    assert await state.client.pttl(key) > REPLAY_TTL * 1000 - 60_000


async def test_an_empty_scope_never_reaches_redis(redis_states: Callable[..., Any]) -> None:
    """CPA: TestCodexReasoningReplayHomeRejectsEmptyScopeWithoutKV. No key is written for an
    empty session, nothing is read for an empty model, and a delete of one is a no-op."""
    state = await redis_states("e:")
    cache = CodexReplayCache()
    mirror = RedisMirror(state, cache, encode=encode_turns, decode=decode_turns)
    assert not cache.append(MODEL, "", turn(6))
    cache.delete(MODEL, "")
    await mirror.fetch("", "session-home")
    await _settled(mirror)
    assert [k async for k in state.client.scan_iter(match="e:*")] == []
    pending = cache.fetch_elsewhere(MODEL, "session-home")
    assert pending is not None  # a real scope is read
    await pending


async def test_redis_away_leaves_each_worker_its_own_cache(
    redis_server: Any, redis_states: Callable[..., Any]
) -> None:
    """CPA: TestCodexReasoningReplayRequiredHomeFailures and
    TestCodexReasoningReplayBestEffortHomeWriteFailureDoesNotUseLocalCache. Deliberate
    difference: in CPA's Home mode the KV is the only store, so a failed read is an error
    and a failed write keeps nothing. Ours keeps every worker's own cache and copies it to
    Redis when it can: with Redis down the turn still replays on the worker that recorded
    it (a lost replay costs a cache miss upstream, an error would cost the request)."""
    state = await redis_states("d:", timeout=0.5)
    cache = CodexReplayCache()
    mirror = RedisMirror(state, cache, encode=encode_turns, decode=decode_turns)
    redis_server.kill()
    try:
        assert cache.append(MODEL, "session-home", turn(5, "call-5"))
        await asyncio.wait_for(_settled(mirror), 5)
        await asyncio.wait_for(mirror.fetch(MODEL, "other-session"), 5)  # no error, nothing read
        assert cache.get(MODEL, "other-session") == ()
        assert [t.call_ids for t in cache.get(MODEL, "session-home")] == [("call-5",)]
    finally:
        redis_server.start()


def test_the_ttl_is_cpas() -> None:
    """CPA CodexReasoningReplayCacheTTL: one hour, sliding on every read."""
    now = [0.0]
    cache = CodexReplayCache(clock=lambda: now[0])
    cache.append(MODEL, "s", turn(1))
    now[0] = REPLAY_TTL - 1
    assert cache.get(MODEL, "s")
    now[0] += REPLAY_TTL - 1  # slid by the read above
    assert cache.get(MODEL, "s")
    now[0] += REPLAY_TTL + 1
    assert cache.get(MODEL, "s") == ()
