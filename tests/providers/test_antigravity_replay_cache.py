"""CPA internal/cache/antigravity_reasoning_replay_cache_test.go and the session and clear
cases of antigravity_reasoning_replay_test.go / _clear_test.go, ported: whose chain a
request reads and writes, when a finished request may replace it, what clears it, how a
session is keyed, and the chain's form in Redis.

Deliberate differences: sessions are namespaced by the caller's proxy API key (CPA shares
one across client keys); CPA's Home (KV with compare-and-swap) cases have no equal: with
Redis the chain is copied after the fact (``translate.replay_shared``), the snapshot rules
below hold in each process.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers import antigravity_replay
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.translate.antigravity_replay import CallItem, SignatureItem
from cliproxy.translate.antigravity_replay_record import (
    MAX_CHAIN_ITEMS,
    AntigravityReplayCache,
    decode_items,
    encode_items,
)

MODEL = "gemini-3-flash-agent"
SESSION = "caller:-:session:s"


def item(n: int) -> SignatureItem:
    return SignatureItem(1, 0, f"signature-number-{n:04d}-abcdef", "text", f"{n:064x}", 0, "")


def test_stale_snapshot_cannot_replace() -> None:
    """TestAntigravityReasoningReplayConditionalMutationRejectsStaleLocalSnapshot."""
    cache = AntigravityReplayCache()
    stale = cache.read(MODEL, SESSION)
    assert cache.replace(cache.read(MODEL, SESSION), [item(1)])
    assert not cache.replace(stale, [item(2)])
    assert not cache.clear_if_unchanged(stale)
    assert cache.get(MODEL, SESSION) == (item(1),)


def test_descendant_chain_replaces() -> None:
    """TestAntigravityReasoningReplayConditionalReplaceAcceptsDescendantLocalChain: a
    request that read an older state may still write a chain that extends the current."""
    cache = AntigravityReplayCache()
    cache.replace(cache.read(MODEL, SESSION), [item(1)])
    older = cache.read(MODEL, SESSION)
    cache.replace(cache.read(MODEL, SESSION), [item(1), item(2)])
    assert cache.replace(older, [item(1), item(2), item(3)])
    assert cache.get(MODEL, SESSION) == (item(1), item(2), item(3))
    assert not cache.replace(older, [item(9)])  # not a descendant: refused


def test_tombstone_blocks_a_stale_first_writer() -> None:
    """TestAntigravityReasoningReplayConditionalDeleteTombstoneBlocksStaleFirstWriter: after
    a clear, a request that read the old chain cannot write it back."""
    cache = AntigravityReplayCache()
    cache.replace(cache.read(MODEL, SESSION), [item(1)])
    first, second = cache.read(MODEL, SESSION), cache.read(MODEL, SESSION)
    assert cache.clear_if_unchanged(first)
    assert not cache.replace(second, [item(1), item(2)])
    assert cache.get(MODEL, SESSION) == ()
    assert cache.replace(cache.read(MODEL, SESSION), [item(3)])  # a request after the clear may


def test_absent_sessions_do_not_block_each_other() -> None:
    """TestAntigravityReasoningReplayUnrelatedEvictionDoesNotBlockAbsentSnapshot."""
    cache = AntigravityReplayCache()
    absent = cache.read(MODEL, SESSION)
    cache.replace(cache.read(MODEL, "caller:-:other"), [item(1)])
    cache.clear_if_unchanged(cache.read(MODEL, "caller:-:other"))
    assert cache.replace(absent, [item(2)])


def test_sessions_stay_within_the_bound() -> None:
    """TestAntigravityReasoningReplayLocalTombstonesStayWithinEntryBound."""
    cache = AntigravityReplayCache(max_sessions=8)
    for n in range(40):
        session = f"caller:-:s{n}"
        cache.replace(cache.read(MODEL, session), [item(n)])
        cache.clear_if_unchanged(cache.read(MODEL, session))
    assert len(cache) <= 8


def test_absence_reservations_stay_within_the_bound() -> None:
    """TestAntigravityReasoningReplayLocalAbsenceReservationsStayWithinEntryBound: reading
    a session that holds nothing leaves a marker; past the bound the oldest go, the newest
    stays (a write from its request is still allowed)."""
    cache = AntigravityReplayCache(max_sessions=8)
    reads = [cache.read(MODEL, f"caller:-:absent{n}") for n in range(9)]
    assert len(cache) == 8
    assert cache.replace(reads[-1], [item(1)])
    assert not cache.replace(reads[0], [item(2)])  # its marker was evicted: see below


def test_an_evicted_marker_still_blocks_a_stale_first_writer() -> None:
    """TestAntigravityReasoningReplayEvictedTombstoneStillBlocksStaleFirstWriter: a
    request found the session empty, another cleared it, and the clear's marker was
    evicted; the first request's answer is not written."""
    cache = AntigravityReplayCache(max_sessions=1)
    stale = cache.read(MODEL, SESSION)
    assert cache.clear_if_unchanged(cache.read(MODEL, SESSION))
    assert cache.replace(cache.read(MODEL, "caller:-:other"), [item(5)])  # evicts the marker
    assert not cache.replace(stale, [item(1)])
    assert cache.get(MODEL, SESSION) == ()


def test_a_rewritten_chain_starts_a_new_branch() -> None:
    """TestAntigravityReasoningReplayNonPrefixReplaceRotatesLocalBranch: a chain that does
    not extend the one it replaces is a new branch; a request that read the old branch
    cannot extend the new one."""
    cache = AntigravityReplayCache()
    cache.replace(cache.read(MODEL, SESSION), [item(1)])
    first, stale = cache.read(MODEL, SESSION), cache.read(MODEL, SESSION)
    assert cache.replace(first, [item(2)])
    assert not cache.replace(stale, [item(2), item(3)])
    assert cache.get(MODEL, SESSION) == (item(2),)


def test_a_reset_branch_refuses_a_stale_descendant_with_the_same_values() -> None:
    """TestAntigravityReasoningReplayDescendantMergeRejectsResetBranchABA: the chain grew,
    was cleared and started again with the same first item; a request that read the
    first chain cannot extend the new one, though its values match (ABA)."""
    cache = AntigravityReplayCache()
    cache.replace(cache.read(MODEL, SESSION), [item(1)])
    stale, first = cache.read(MODEL, SESSION), cache.read(MODEL, SESSION)
    assert cache.replace(first, [item(1), item(2)])
    assert cache.clear_if_unchanged(cache.read(MODEL, SESSION))
    assert cache.replace(cache.read(MODEL, SESSION), [item(1)])
    assert not cache.replace(stale, [item(1), item(9)])
    assert cache.get(MODEL, SESSION) == (item(1),)


def test_a_chain_over_the_bound_is_not_cached() -> None:
    """CPA's per-chain bounds (4,096 items, 16 MiB): a larger chain is not cut, it goes."""
    cache = AntigravityReplayCache()
    cache.replace(cache.read(MODEL, SESSION), [item(1)])
    assert not cache.replace(cache.read(MODEL, SESSION), [item(n) for n in range(MAX_CHAIN_ITEMS + 1)])
    assert cache.get(MODEL, SESSION) == ()


def test_invalid_items_are_dropped() -> None:
    """TestAntigravityReasoningReplayHomeReadNormalizesAndRejectsMixedInvalidChain (as a
    write): a text signature under 16 characters or the sentinel is no signature."""
    cache = AntigravityReplayCache()
    short = SignatureItem(1, 0, "short", "text", "h", 0, "")
    bypass = SignatureItem(1, 0, "skip_thought_signature_validator", "text", "h", 0, "")
    assert cache.replace(cache.read(MODEL, SESSION), [short, bypass, item(1)])
    assert cache.get(MODEL, SESSION) == (item(1),)


def test_redis_form_round_trips() -> None:
    """TestAntigravityReasoningReplayHomeWritesRemainLegacyArrayReadable (our form): what
    one worker writes, another reads back whole; anything unreadable is no chain."""
    chain = (CallItem(1, 0, 0, "run", "c1", '{"a":1}', "sig-1234567890abcdef", "ctx"), item(2))
    assert decode_items(encode_items(chain)) == chain
    assert decode_items(b"not json") == ()
    assert decode_items(orjson.dumps([["c", 1]])) == ()


# --------------------------------------------------------------------------- sessions


def key(fmt: Format, body: dict[str, Any], headers: dict[str, str], derived: str = "") -> str:
    return antigravity_replay.session_key(fmt, body, headers, derived)


def test_session_header_wins_over_prompt_cache_key() -> None:
    """TestAntigravityReasoningReplayScopePrefersStableSessionOverExecutionUUID,
    TestAntigravityReasoningReplayScopeKeepsExecutionAheadOfPromptCacheKey and
    TestAntigravityReasoningReplayScopePrefersExecutionSession (the execution session also comes
    before the envelope's sessionId, see test_derived_identity_then_envelope_session): a named
    session first, then the Responses WebSocket's, then the prompt cache key."""
    named = key(Format.RESPONSES, {"prompt_cache_key": "bucket"}, {"Session-Id": "stable-session"})
    assert named.endswith(":responses:stable-session")
    socket = key(Format.RESPONSES, {"prompt_cache_key": "bucket"}, {SESSION_HEADER: "socket"})
    assert socket.endswith(":execution:socket")
    assert key(Format.RESPONSES, {"prompt_cache_key": "bucket"}, {}).endswith(":prompt-cache:bucket")


def test_prompt_cache_and_session_namespaces_differ() -> None:
    """TestAntigravityReasoningReplayScopeSeparatesPromptCacheAndExplicitSessionNamespaces."""
    a = key(Format.OPENAI, {"prompt_cache_key": "same-value"}, {})
    b = key(Format.OPENAI, {"session_id": "same-value"}, {})
    assert a.endswith(":prompt-cache:same-value") and b.endswith(":responses:same-value") and a != b


def test_claude_code_sessions_and_agents() -> None:
    """TestAntigravityReasoningReplayScopeUsesClaudeMetadataSession,
    TestAntigravityReasoningReplayScopeSeparatesClaudeAgents,
    TestAntigravityReasoningReplaySeparatesClaudeSessionTitleFromResumedTranscript (its lanes;
    a lane records and restores as any session): a Claude Code session and agent,
    with a lane per system prompt (its cache marks left out)."""
    user_id = orjson.dumps({"session_id": "claude-session", "device_id": "d"}).decode()
    body = {"metadata": {"user_id": user_id}, "system": [{"type": "text", "text": "You are Claude Code."}]}
    main = key(Format.CLAUDE, body, {})
    assert ":claude:claude-session:agent:main:context:" in main
    marked = {
        **body,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    }
    assert key(Format.CLAUDE, marked, {}) == main  # a resumed transcript: the same lane
    title = {**body, "system": [{"type": "text", "text": "Generate a concise title."}]}
    assert key(Format.CLAUDE, title, {}) != main
    agent = key(
        Format.CLAUDE, {}, {"x-claude-code-session-id": "claude-session", "x-claude-code-agent-id": "sub-1"}
    )
    assert agent.endswith(":claude:claude-session:agent:sub-1")


def test_derived_identity_then_envelope_session() -> None:
    """TestAntigravityReasoningReplayScopeUsesStableSessionWithoutSessionId: with nothing
    named, the conversation's derived identity; without that either, ``build`` keys on the
    envelope's ``sessionId``."""
    assert key(Format.OPENAI, {}, {}, "ctx:v1:abc").endswith(":derived:ctx:v1:abc")
    assert key(Format.OPENAI, {}, {}) == ""
    cache = AntigravityReplayCache()
    request = {"sessionId": "-123", "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    scope = antigravity_replay.restore(cache, request, model=MODEL, session="", headers={})
    assert scope is not None and scope.recorder.read.session == "caller:-:session:123"


def test_callers_never_share_a_session() -> None:
    """Deliberate difference: the same named session under two proxy API keys is two
    sessions (CPA shares one)."""
    a = key(Format.OPENAI, {"prompt_cache_key": "p"}, {"Authorization": "Bearer key-a"})
    b = key(Format.OPENAI, {"prompt_cache_key": "p"}, {"Authorization": "Bearer key-b"})
    assert a != b and "key-a" not in a


def test_claude_models_have_no_replay() -> None:
    """CPA antigravityUsesReasoningReplayCache: Gemini, flash and agent models, never Claude."""
    assert (
        antigravity_replay.restore(
            AntigravityReplayCache(), {"contents": []}, model="claude-sonnet-4-6", session="s", headers={}
        )
        is None
    )


# --------------------------------------------------------------------------- clearing


CRED = Credential(id="ag-1", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})


def test_invalid_signature_400_clears_the_session() -> None:
    """TestAntigravityReasoningReplayClearsOnInvalidSignature400: Antigravity refusing a
    signature (a 400 that names one) forgets the session, whatever was put back."""
    provider = AntigravityProvider()
    session = "caller:-:responses:invalid-sig"
    bad = SignatureItem(1, 0, "INVALID_REPLAY_SIGNATURE_PR3900_XXXXXXXXX", "", "", None, "")
    provider.replay.replace(provider.replay.read(MODEL, session), [bad])
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "id1", "name": "Bash", "args": {}}}]},
            {"role": "model", "parts": [{"functionResponse": {"id": "id1", "name": "Bash", "response": {}}}]},
        ],
        antigravity_replay.CARRIED: [session, MODEL],
    }
    provider.build(CRED, body, model=MODEL, stream=False, client_headers={})
    refusal = b'{"error":{"message":"Invalid thoughtSignature in model content","code":400}}'
    provider.classify(400, {}, refusal)
    assert provider.replay.get(MODEL, session) == ()


def test_other_errors_keep_the_session() -> None:
    provider = AntigravityProvider()
    session = "caller:-:responses:kept"
    provider.replay.replace(provider.replay.read(MODEL, session), [item(1)])
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        antigravity_replay.CARRIED: [session, MODEL],
    }
    provider.build(CRED, body, model=MODEL, stream=False, client_headers={})
    provider.classify(429, {}, b'{"error":{"message":"Resource has been exhausted","code":429}}')
    provider.classify(400, {}, b'{"error":{"message":"Invalid argument","code":400}}')
    assert provider.replay.get(MODEL, session) == (item(1),)
