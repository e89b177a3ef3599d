"""CPA internal/cache/kimi_thinking_replay_cache_test.go: the Kimi replay cache's
conditional writes, its byte bounds and its byte count (``translate.kimi_replay``)."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.translate.kimi_replay import MAX_BYTES, KimiReplayCache

CALL = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "README.md"}}


def content(sig: str, thinking: str = "reasoning") -> list[dict[str, Any]]:
    return [{"type": "thinking", "thinking": thinking, "signature": sig}, CALL]


def test_conditional_delete_keeps_newer_content() -> None:
    """CPA: TestKimiThinkingReplayConditionalDeleteKeepsNewerContent: a snapshot of ``old``,
    then ``new``, then ``old`` again (equal content, a later write): clearing with the first
    snapshot does nothing."""
    cache = KimiReplayCache()
    assert cache.store("k3", "s", content("old"))
    snapshot = cache.snapshot("k3", "s")
    assert cache.store("k3", "s", content("new")) and cache.store("k3", "s", content("old"))
    assert not cache.discard("k3", "s", snapshot)
    assert cache.get("k3", "s") == content("old")


def test_conditional_replace_keeps_concurrent_content() -> None:
    """CPA: TestKimiThinkingReplayConditionalReplaceKeepsConcurrentContent."""
    cache = KimiReplayCache()
    miss = cache.snapshot("k3", "s")
    assert miss is None
    assert cache.store("k3", "s", content("new"))
    assert not cache.replace("k3", "s", miss, content("stale"))
    assert cache.get("k3", "s") == content("new")


def test_tombstone_fences_a_concurrent_miss() -> None:
    """CPA: TestKimiThinkingReplayTombstoneFencesConcurrentMiss: two requests read the empty
    entry; the first clears it, the second's answer may not then write over the clearing."""
    cache = KimiReplayCache()
    first, second = cache.snapshot("k3", "s"), cache.snapshot("k3", "s")
    assert cache.discard("k3", "s", first)
    assert not cache.replace("k3", "s", second, content("stale"))
    assert cache.get("k3", "s") is None


def test_rejects_oversized_content() -> None:
    """CPA: TestKimiThinkingReplayRejectsOversizedContent."""
    cache = KimiReplayCache()
    assert not cache.store("k3", "big", content("sig", "x" * MAX_BYTES))
    assert cache.get("k3", "big") is None and cache.size == 0


def test_tracks_the_bytes_of_all_entries() -> None:
    """CPA: TestKimiThinkingReplayTracksAggregateLocalBytes; past the total bound the least
    recently used entry goes."""
    first, second = content("first"), content("second")
    size = len(orjson.dumps(first)), len(orjson.dumps(second))
    cache = KimiReplayCache(max_bytes=sum(size))
    assert cache.store("k3", "one", first) and cache.store("k3", "two", second)
    assert cache.size == sum(size)
    cache.delete("k3", "one")
    assert cache.size == size[1]
    cache.clear()
    assert cache.size == 0
    assert cache.store("k3", "one", first) and cache.store("k3", "two", second)
    assert cache.store("k3", "three", content("third"))
    assert cache.get("k3", "one") is None and cache.size <= sum(size)
