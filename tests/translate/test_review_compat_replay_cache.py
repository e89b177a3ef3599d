"""CompatReplayCache (the is-compat Claude replay): a session keeps each signed turn of a
tool loop, bounded as CPA bounds it (64 turns, 8 MiB a session, the oldest going first),
and an answer without a tool call clears them."""

from __future__ import annotations

from cliproxy.translate.kimi_replay import MAX_BYTES, MAX_TURNS, CompatReplayCache


def _turn(i: int, pad: int = 0) -> list[dict[str, object]]:
    return [
        {"type": "thinking", "thinking": "t" * pad, "signature": f"sig-{i}"},
        {"type": "tool_use", "id": f"toolu_{i}", "name": "bash", "input": {}},
    ]


def _add(cache: CompatReplayCache, content: object) -> bool:
    return cache.replace("m", "s", cache.snapshot("m", "s"), content)


def test_turns_add_up_to_the_bound_and_a_text_answer_clears_them() -> None:
    cache = CompatReplayCache()
    for i in range(MAX_TURNS + 6):
        assert _add(cache, _turn(i))
    kept = cache.get("m", "s")
    assert kept is not None and len(kept) == MAX_TURNS and kept[0][1]["id"] == "toolu_6"
    assert not _add(cache, [{"type": "text", "text": "done"}])
    assert cache.get("m", "s") is None and cache.size == 0


def test_a_session_stays_within_its_bytes() -> None:
    cache = CompatReplayCache()
    big = MAX_BYTES // 3
    for i in range(5):
        assert _add(cache, _turn(i, big))
    kept = cache.get("m", "s")
    assert kept is not None and [t[1]["id"] for t in kept] == ["toolu_3", "toolu_4"]
    assert cache.size <= MAX_BYTES


def test_a_late_answer_does_not_overwrite_a_newer_one() -> None:
    cache = CompatReplayCache()
    read = cache.snapshot("m", "s")
    assert _add(cache, _turn(1))
    assert not cache.replace("m", "s", read, _turn(2))
    kept = cache.get("m", "s")
    assert kept is not None and [t[1]["id"] for t in kept] == ["toolu_1"]
