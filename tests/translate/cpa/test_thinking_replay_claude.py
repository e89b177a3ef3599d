"""CPA ``internal/cache/claude_thinking_replay_cache_test.go`` and
``internal/runtime/executor/claude_thinking_replay_test.go``: signed thinking a client
did not send back, restored in front of its tool calls on the next request.

CPA replays for Claude-format clients on Claude-compatible (is-compat) API keys; we do
that too (tests/e2e/test_cpa_audit_execclaude_compat_replay.py, with the Kimi replay cache),
and beyond CPA we replay for the clients that cannot carry a signature at all (Chat,
Responses, Gemini formats) on any Claude credential, at the IR, matching a cached turn by
its tool calls (ids and names) rather than by every non-thinking block: what this file
tests. The upstream answers below are CPA's (whole JSON and SSE), fed through our Claude
decoder. CPA: TestClaudeThinkingReplayEnabledRequiresCompatClaudeAPIKey.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry
from cliproxy.translate.replay import (
    ReplayScope,
    SignatureCache,
    ThinkingReplayCache,
    Turn,
    TurnRecorder,
    restore_thinking,
)
from cliproxy.translate.replay_keys import replay_model_family, replay_session_key

REG = default_registry()
FAMILY = "claude:auth:model"
SESSION = "execution:multi-turn"


def turn(text: str, sig: str, call_id: str, name: str = "Read") -> Turn:
    return Turn((ir.Thinking(text, sig, "claude"),), ((call_id, name),))


def whole(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "msg-1", "type": "message", "role": "assistant", "model": "claude-synthetic-4772",
            "content": content, "stop_reason": "tool_use"}  # fmt: skip


def chat_request(*assistant_calls: tuple[str, str]) -> ir.Request:
    """A Chat client's history: one assistant turn per call, each answered by a tool message."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "inspect"}]
    for call_id, path in assistant_calls:
        args = orjson.dumps({"path": path}).decode()
        fn = {"name": "Read", "arguments": args}
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call_id, "type": "function", "function": fn}],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": f"{path} result"})
    body = {"model": "claude-sonnet-4-6", "messages": messages, "reasoning_effort": "high"}
    return REG.adapter(Format.OPENAI).parse_request(body)


def claude_messages(req: ir.Request) -> list[dict[str, Any]]:
    return REG.adapter(Format.CLAUDE).build_request(req)["messages"]


def scope() -> ReplayScope:
    return ReplayScope(ThinkingReplayCache(), SignatureCache(), FAMILY, SESSION, "claude-sonnet-4-6")


# ---------------------------------------------------------------------- the cache


def test_replay_appends_assistant_turns_in_order() -> None:
    """claude_thinking_replay_cache_test.go TestClaudeThinkingReplayAppendsAssistantTurns"""
    cache = ThinkingReplayCache()
    first, second = turn("first", "sig-1", "toolu-1"), turn("second", "sig-2", "toolu-2")
    assert cache.append(FAMILY, SESSION, first) and cache.append(FAMILY, SESSION, second)
    assert cache.get(FAMILY, SESSION) == (first, second)


def test_replay_caches_are_independent() -> None:
    """claude_thinking_replay_cache_test.go TestClaudeThinkingReplayClearDoesNotClearKimiState"""
    claude, other = ThinkingReplayCache(), ThinkingReplayCache()
    claude.append("shared-model", SESSION, turn("c", "claude", "toolu-1"))
    other.append("shared-model", SESSION, turn("k", "kimi", "toolu-1"))
    claude.clear()
    assert claude.get("shared-model", SESSION) == () and len(other.get("shared-model", SESSION)) == 1


@pytest.mark.parametrize(("family", "session"), [("", SESSION), (FAMILY, ""), (" ", " ")])
def test_replay_empty_keys_disable_the_cache(family: str, session: str) -> None:
    """claude_thinking_replay_cache.go claudeThinkingReplayCacheKey: an empty part disables replay"""
    cache = ThinkingReplayCache()
    assert not cache.append(family, session, turn("t", "sig", "toolu-1"))
    assert cache.get(family, session) == ()


def test_replay_same_turn_is_stored_once() -> None:
    """claude_thinking_replay_cache.go appendClaudeThinkingReplayContent skips an equal turn"""
    cache = ThinkingReplayCache()
    cache.append(FAMILY, SESSION, turn("t", "sig", "toolu-1"))
    cache.append(FAMILY, SESSION, turn("t", "sig", "toolu-1"))
    assert len(cache.get(FAMILY, SESSION)) == 1


def test_replay_keeps_the_last_64_turns() -> None:
    """claude_thinking_replay_cache.go ClaudeThinkingReplayCacheMaxTurnsPerSession"""
    cache = ThinkingReplayCache()
    for n in range(70):
        cache.append(FAMILY, SESSION, turn(f"t{n}", "sig", f"toolu-{n}"))
    turns = cache.get(FAMILY, SESSION)
    assert len(turns) == 64 and turns[0].calls == (("toolu-6", "Read"),)


def test_replay_session_bound_and_ttl() -> None:
    """claude_thinking_replay_cache.go: bounded sessions (oldest use evicted) and a 1 h TTL"""
    now = [0.0]
    cache = ThinkingReplayCache(max_sessions=2, clock=lambda: now[0])
    for n in range(3):
        cache.append(FAMILY, f"s{n}", turn("t", "sig", "toolu-1"))
    assert cache.get(FAMILY, "s0") == () and len(cache) == 2
    now[0] += 3601
    assert cache.get(FAMILY, "s2") == ()


@pytest.mark.parametrize(
    "content",
    [
        [
            {"type": "thinking", "thinking": "t", "signature": ""},
            {"type": "tool_use", "id": "toolu-1", "name": "Read"},
        ],
        [{"type": "thinking", "thinking": "t", "signature": "EgI="}, {"type": "text", "text": "no tool"}],
        [
            {"type": "thinking", "thinking": "t", "signature": "EgI="},
            {"type": "tool_use", "id": "", "name": "Read"},
        ],
    ],
    ids=["unsigned", "no tool call", "tool call without id"],
)
def test_replay_only_signed_thinking_with_tool_calls(content: list[dict[str, Any]]) -> None:
    """kimi_thinking_replay.go kimiThinkingReplayContentIsReplayable (Claude reuses it)"""
    stored: list[Turn] = []
    TurnRecorder(stored.append).record_message(content)
    assert stored == []


# ---------------------------------------------------------------------- restore


def test_restores_omitted_block_from_whole_answer() -> None:
    """claude_thinking_replay_test.go TestClaudeExecutorCompatThinkingReplayRestoresOmittedBlock"""
    sc = scope()
    sc.record().record_message(
        whole(
            [
                {"type": "thinking", "thinking": "provider reasoning", "signature": "EgI="},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "README.md"}},
            ]
        )["content"]
    )
    out = claude_messages(sc.restore(chat_request(("toolu_1", "README.md"))))
    content = out[1]["content"]
    assert [b["type"] for b in content] == ["thinking", "tool_use"]
    assert content[0]["signature"] == "EgI=" and content[0]["thinking"] == "provider reasoning"
    assert sc.applied


CPA_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg-1","type":"message","role":"assistant","content":[]}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"provider reasoning"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EgI="}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"path\\":\\"README.md\\"}"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.mark.parametrize("split", [1, 7, 64, len(CPA_STREAM)])
def test_restores_omitted_block_from_stream(split: int) -> None:
    """claude_thinking_replay_test.go TestClaudeExecutorCompatThinkingReplayRestoresOmittedBlockInStream"""
    sc = scope()
    observe = sc.record().observe
    decoder = REG.adapter(Format.CLAUDE).stream_decoder(None)
    for start in range(0, len(CPA_STREAM), split):
        for ev in decoder.decode(CPA_STREAM[start : start + split]):
            observe(ev)
    for ev in decoder.flush():
        observe(ev)
    content = claude_messages(sc.restore(chat_request(("toolu_1", "README.md"))))[1]["content"]
    assert [b["type"] for b in content] == ["thinking", "tool_use"] and content[0]["signature"] == "EgI="


def test_stream_broken_before_the_end_is_not_cached() -> None:
    """kimi_thinking_replay.go stream accumulator: only a completed answer is cached"""
    sc = scope()
    observe = sc.record().observe
    decoder = REG.adapter(Format.CLAUDE).stream_decoder(None)
    for ev in decoder.decode(CPA_STREAM[: CPA_STREAM.index(b"event: message_delta")]):
        observe(ev)
    assert sc.cache.get(FAMILY, SESSION) == ()


def test_clears_after_upstream_bad_request() -> None:
    """claude_thinking_replay_test.go TestClaudeExecutorCompatThinkingReplayClearsAfterUpstreamBadRequest"""
    sc = scope()
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "reasoning", "signature": "EgI="},
            {"type": "tool_use", "id": "toolu-1", "name": "Read", "input": {"path": "README.md"}},
        ]
    )
    sc.restore(chat_request(("toolu-1", "README.md")))
    sc.forget()  # the pipeline calls this when the upstream answers 400 / 422
    assert sc.cache.get(FAMILY, SESSION) == ()


def test_not_cleared_when_nothing_was_restored() -> None:
    """claude_thinking_replay.go: only a request that applied a replay clears it"""
    sc = scope()
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "r", "signature": "EgI="},
            {"type": "tool_use", "id": "toolu-1", "name": "Read"},
        ]
    )
    sc.restore(chat_request(("toolu-other", "x")))
    sc.forget()
    assert len(sc.cache.get(FAMILY, SESSION)) == 1


def test_restores_multiple_omitted_blocks() -> None:
    """claude_thinking_replay_test.go TestClaudeExecutorCompatThinkingReplayRestoresMultipleOmittedBlocks"""
    sc = scope()
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "first", "signature": "EgI="},
            {"type": "tool_use", "id": "toolu-1", "name": "Read", "input": {"path": "one"}},
        ]
    )
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "second", "signature": "EgM="},
            {"type": "tool_use", "id": "toolu-2", "name": "Read", "input": {"path": "two"}},
        ]
    )
    out = claude_messages(sc.restore(chat_request(("toolu-1", "one"), ("toolu-2", "two"))))
    assert out[1]["content"][0]["signature"] == "EgI=" and out[3]["content"][0]["signature"] == "EgM="
    assert [b["type"] for b in out[3]["content"]] == ["thinking", "tool_use"]


def test_restore_leaves_turns_that_already_have_thinking() -> None:
    """kimi_thinking_replay.go restoreKimiThinkingReplayContent skips turns with thinking"""
    msgs = [
        ir.Message("user", [ir.Text("q")]),
        ir.Message("assistant", [ir.Thinking("own", "EgQ=", "claude"), ir.ToolCall("toolu-1", "Read", "{}")]),
    ]
    assert restore_thinking(msgs, (turn("cached", "EgI=", "toolu-1"),)) is None


def test_restore_never_edits_the_client_request() -> None:
    """The client's IR is shared by every attempt (failover): the restore copies."""
    sc = scope()
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "r", "signature": "EgI="},
            {"type": "tool_use", "id": "toolu-1", "name": "Read"},
        ]
    )
    req = chat_request(("toolu-1", "x"))
    before = [list(m.content) for m in req.messages]
    restored = sc.restore(req)
    assert restored is not req and [list(m.content) for m in req.messages] == before


def test_signature_cache_restores_echoed_reasoning_content() -> None:
    """signature_cache.go: a client that sends the thinking text back (``reasoning_content``)
    gets the cached signature for it."""
    sc = scope()
    sc.record().record_message(
        [
            {"type": "thinking", "thinking": "visible reasoning", "signature": "E" + "x" * 60},
            {"type": "tool_use", "id": "toolu-1", "name": "Read"},
        ]
    )
    body = {
        "model": "claude-sonnet-4-6",
        "messages": [
            {"role": "user", "content": "inspect"},
            {"role": "assistant", "content": "ok", "reasoning_content": "visible reasoning"},
            {"role": "user", "content": "more"},
        ],
    }
    other = ReplayScope(ThinkingReplayCache(), sc.signatures, FAMILY, "another-session", "claude-sonnet-4-6")
    out = claude_messages(other.restore(REG.adapter(Format.OPENAI).parse_request(body)))
    assert out[1]["content"][0] == {
        "type": "thinking",
        "thinking": "visible reasoning",
        "signature": "E" + "x" * 60,
    }


# ---------------------------------------------------------------------- keys


def test_model_family_hashes_the_credential() -> None:
    """claude_thinking_replay.go claudeThinkingReplayModelFamily"""
    fam = replay_model_family("claude-key-1", "claude-sonnet-4-6")
    assert fam.startswith("claude:") and fam.endswith(":claude-sonnet-4-6") and len(fam.split(":")[1]) == 16
    assert replay_model_family("", "claude-sonnet-4-6") == "claude:claude-sonnet-4-6"
    assert replay_model_family("claude-key-2", "claude-sonnet-4-6") != fam
    assert replay_model_family("x", "") == ""


@pytest.mark.parametrize(
    ("headers", "body", "chat", "inner"),
    [
        ({}, {"prompt_cache_key": "pck"}, False, "prompt-cache:pck"),
        ({}, {"client_metadata": {"x-codex-window-id": "w1"}}, False, "window:w1"),
        (
            {},
            {"client_metadata": {"x-codex-turn-metadata": '{"prompt_cache_key":"p2"}'}},
            False,
            "prompt-cache:p2",
        ),
        ({"X-Codex-Turn-Metadata": '{"window_id":"w2"}'}, {}, False, "window:w2"),
        ({"X-Codex-Window-Id": "w3"}, {}, False, "window:w3"),
        ({"Session_id": "s1"}, {}, False, "session-id:s1"),
        ({"Conversation_id": "c1"}, {}, False, "conversation_id:c1"),
    ],
    ids=[
        "prompt_cache_key",
        "window body",
        "turn metadata body",
        "turn metadata header",
        "window header",
        "session",
        "conversation",
    ],
)
def test_session_key_sources(headers: dict[str, str], body: dict[str, Any], chat: bool, inner: str) -> None:
    """codex_executor_reasoning.go codexReasoningReplaySessionKey, isolated per caller
    (xai_reasoning_replay.go xaiReasoningReplayIsolateSessionKey)"""
    key = replay_session_key({**headers, "Authorization": "Bearer sk-caller"}, body, chat_client=chat)
    assert key.startswith("caller:") and key.endswith(":" + inner)


def test_session_key_chat_falls_back_to_the_api_key() -> None:
    """codex_executor_reasoning.go: an OpenAI (Chat) client with no session signal is keyed by its API key"""
    one = replay_session_key({"Authorization": "Bearer sk-a"}, {}, chat_client=True)
    two = replay_session_key({"Authorization": "Bearer sk-b"}, {}, chat_client=True)
    assert one.startswith("caller:") and ":prompt-cache:" in one and one != two
    assert replay_session_key({"Authorization": "Bearer sk-a"}, {}, chat_client=False) == ""


def test_session_key_without_caller_key_disables_replay() -> None:
    """xai_reasoning_replay.go: client-controlled sessions without a caller key are not shared"""
    assert replay_session_key({}, {"prompt_cache_key": "pck"}, chat_client=True) == ""


def test_session_key_is_per_caller() -> None:
    """xai_reasoning_replay.go: two callers reusing one prompt_cache_key never share state"""
    body = {"prompt_cache_key": "same"}
    a = replay_session_key({"x-api-key": "sk-a"}, body, chat_client=False)
    b = replay_session_key({"x-goog-api-key": "sk-b"}, body, chat_client=False)
    assert a and b and a != b


def test_replay_total_bytes_bound() -> None:
    """claude_thinking_replay_cache.go ClaudeThinkingReplayCacheMaxTotalBytes: the oldest
    sessions go when all cached reasoning together passes the bound"""
    cache = ThinkingReplayCache(max_total_bytes=100)
    cache.append(FAMILY, "s1", turn("a" * 60, "sig", "toolu-1"))
    cache.append(FAMILY, "s2", turn("b" * 60, "sig", "toolu-2"))
    assert cache.get(FAMILY, "s1") == () and len(cache.get(FAMILY, "s2")) == 1
