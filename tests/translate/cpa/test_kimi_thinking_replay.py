"""CPA runtime/executor/kimi_thinking_replay_test.go (and internal/cache/
kimi_thinking_replay_cache_test.go): ``translate.kimi_replay``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.translate.kimi_replay import KimiReplayCache, StreamRecorder, model_family, restore, session_key

CALL = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "README.md"}}
CACHED: list[dict[str, Any]] = [
    {"type": "thinking", "thinking": "full reasoning", "signature": "kimi-signature"},
    {"type": "text", "text": "I will inspect the file."},
    CALL,
]


@pytest.mark.parametrize(
    ("model", "want"),
    [
        ("k3", "k3"),
        ("k3-256k", "k3"),
        ("k3-256k(high)", "k3"),
        ("kimi-for-coding", "kimi-for-coding"),
        ("kimi-for-coding-highspeed(high)", "kimi-for-coding-highspeed"),
    ],
)
def test_model_family(model: str, want: str) -> None:
    """TestKimiThinkingReplayModelFamily (on Kimi's upstream ids: providers.kimi maps
    ``kimi-k3`` and ``kimi-k2.7-code`` to them first)."""
    assert model_family(model) == want


def test_restore_preserves_complete_assistant_content() -> None:
    """TestRestoreKimiThinkingReplayContentPreservesCompleteAssistantContent."""
    messages = [
        {"role": "user", "content": "inspect"},
        {"role": "assistant", "content": CACHED[1:]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ]
    out = restore(messages, CACHED)
    assert out is not None and out[1]["content"] == CACHED
    assert messages[1]["content"] == CACHED[1:]  # the client's list is not edited


def test_restore_does_not_replace_existing_thinking() -> None:
    """TestRestoreKimiThinkingReplayContentDoesNotReplaceExistingThinking."""
    current = [{"type": "thinking", "thinking": "current", "signature": "current-signature"}, CALL]
    assert restore([{"role": "assistant", "content": current}], [CACHED[0], CALL]) is None


def test_restore_needs_the_same_blocks() -> None:
    other = {**CALL, "input": {"path": "OTHER.md"}}
    assert restore([{"role": "assistant", "content": [other]}], [CACHED[0], CALL]) is None


def test_families_stay_apart() -> None:
    """TestPrepareKimiThinkingReplayRequestSharesOnlyK3Variants."""
    cache = KimiReplayCache()
    cache.store("k3", "s", CACHED)
    assert cache.get(model_family("k3-256k"), "s") == CACHED
    assert cache.get(model_family("kimi-for-coding-highspeed"), "s") is None


def test_session_isolates_callers() -> None:
    """TestKimiThinkingReplayScopeIsolatesClaudeCodeCallers."""
    body = {"metadata": {"user_id": orjson.dumps({"session_id": "claude-session"}).decode()}}
    a = session_key({"x-api-key": "caller-a"}, body)
    b = session_key({"x-api-key": "caller-b"}, body)
    assert a.endswith(":claude:claude-session:agent:main") and a != b
    assert session_key({}, body) == ""


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


START = {"type": "message_start", "message": {"id": "m"}}
STOP = {"type": "message_stop"}


def _blocks() -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "full "}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "reasoning"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "kimi-signature"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {**CALL, "input": {}}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"path":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"README.md"}'},
        },
        {"type": "content_block_stop", "index": 1},
    ]


def test_stream_recorder_rebuilds_the_content_across_split_chunks() -> None:
    """TestKimiExecutorClaudeStreamReplaysThinkingAcrossK3VariantSwitch (the recording half)."""
    got: list[Any] = []
    rec = StreamRecorder(got.append)
    data = _sse(START, *_blocks(), STOP)
    for i in range(0, len(data), 7):
        assert rec.feed(data[i : i + 7]) == data[i : i + 7]
    assert got == [[{"type": "thinking", "thinking": "full reasoning", "signature": "kimi-signature"}, CALL]]


def test_unknown_stream_delta_preserves_previous_cache() -> None:
    """TestKimiThinkingReplayUnknownStreamDeltaPreservesPreviousCache."""
    cache = KimiReplayCache()
    cache.store("k3", "s", CACHED)
    rec = StreamRecorder(lambda content: cache.store("k3", "s", content))
    odd = {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta"}}
    rec.feed(_sse(START, *_blocks()[:2], odd, *_blocks()[2:], STOP))
    assert cache.get("k3", "s") == CACHED


def test_a_finished_answer_without_tool_calls_clears_the_entry() -> None:
    """cacheKimiThinkingReplayContent: a complete non-replayable answer clears the cache."""
    cache = KimiReplayCache()
    cache.store("k3", "s", CACHED)
    cache.store("k3", "s", [{"type": "text", "text": "done"}])
    assert cache.get("k3", "s") is None
