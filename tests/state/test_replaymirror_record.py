"""What a worker takes from another's notice of a Kimi or Claude-compatible replay entry
(translate/kimi_replay_record.py): a valid entry of its cache, within the cache's bounds,
or nothing; a notice for a key outside the caches' namespace changes nothing."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.translate.kimi_replay import MAX_TURNS, CompatReplayCache
from cliproxy.translate.kimi_replay_record import SharedReplay, compat_entry, kimi_entry
from tests.state.test_replaymirror_compat import settled

SIGNED = [
    {"type": "thinking", "thinking": "plan", "signature": "sig-" + "x" * 60},
    {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}},
]


def test_a_replayable_content_is_an_entry_and_its_size_is_what_the_cache_counts() -> None:
    cache = CompatReplayCache()
    cache.replace("m", "s", None, SIGNED)
    here = cache.snapshot("m", "s")
    assert here is not None
    assert compat_entry(here[0]) == here
    assert kimi_entry(SIGNED) == (SIGNED, len(orjson.dumps(SIGNED)))
    assert kimi_entry([]) == ([], 0) and compat_entry([]) == ([], 0)  # the tombstone


def test_anything_else_is_no_entry() -> None:
    unsigned = [{"type": "thinking", "thinking": "plan"}, SIGNED[1]]
    for value in ("text", {"content": SIGNED}, unsigned, [SIGNED[1]], [1, 2], None):
        assert kimi_entry(value) is None, value
    assert compat_entry(SIGNED) is None  # a content where the loop's list of contents goes
    assert compat_entry([SIGNED, unsigned]) is None
    assert compat_entry([SIGNED] * (MAX_TURNS + 1)) is None


async def test_a_notice_outside_the_namespace_or_not_an_entry_changes_nothing(redis_states: Any) -> None:
    here, there = await redis_states("rm:"), await redis_states("rm:")
    cache = CompatReplayCache()
    SharedReplay(here, cache, "replay-compat", compat_entry)
    key = cache._key("m", "s")
    for notice in (
        {"key": "claude-thinking-replay\x00m\x00s", "v": [SIGNED]},  # another cache's key
        {"key": key, "v": [[{"type": "text", "text": "x"}]]},  # no signed turn
        {"key": 7, "v": None},
    ):
        await there.publish("replay-compat", **notice)
    await there.publish("replay-compat", key=key, v=[SIGNED])  # (notices arrive in order)
    assert await settled(lambda: cache.size > 0)
    assert len(cache._entries) == 1 and cache.get("m", "s") == [SIGNED]
    await there.publish("replay-compat", key=key, v=[])  # a refusal there: a tombstone here
    assert await settled(lambda: cache.size == 0)
    assert cache.snapshot("m", "s") == ([], 0)
    await there.publish("replay-compat", key=key, v=None)  # deleted there
    assert await settled(lambda: cache.snapshot("m", "s") is None)
