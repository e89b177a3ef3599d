"""CPA's session-affinity cases (sdk/cliproxy/auth/selector_test.go): which session a
request names, with CPA's precedence and prefixes, and how the pool keeps a session on
its credential."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson
import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.session import extract_session_key, extract_session_keys
from cliproxy.state.memory import MemoryState

from .conftest import cred

UUID = "ac980658-63bd-4fb3-97ba-8da64cb1e344"
CLAUDE_USER = {"metadata": {"user_id": f"user_xxx_account__session_{UUID}"}}


def key(headers: dict[str, str] | None = None, body: Any = None, meta: dict[str, Any] | None = None) -> str:
    return extract_session_key(headers, body, meta) or ""


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (
            {"metadata": {"user_id": "user_3f22_account__session_ac980658-63bd-4fb3-97ba-8da64cb1e344"}},
            f"claude:{UUID}",
        ),
        (
            {"metadata": {"user_id": '{"device_id":"be82","account_uuid":"","session_id":"e26d4046-0f88"}'}},
            "claude:e26d4046-0f88",
        ),
        ({"metadata": {"user_id": '{"device_id":"abc123"}'}}, 'user:{"device_id":"abc123"}'),
        ({"metadata": {"user_id": "user_abc123"}}, "user:user_abc123"),
        ({"conversation_id": "conv-12345"}, "conv:conv-12345"),
        ({"model": "claude-3"}, ""),
        (None, ""),
    ],
    ids=[
        "claude_code",
        "json_user_id",
        "json_without_session",
        "user_id",
        "conversation_id",
        "none",
        "empty",
    ],
)
def test_extract_session_id(body, want):
    """TestExtractSessionID: Claude Code's session in metadata.user_id (both spellings),
    a plain user id, a conversation id, nothing."""
    assert key(body=body) == want


@pytest.mark.parametrize(
    ("headers", "body", "meta", "want"),
    [
        ({"X-Session-ID": "header-session-id"}, CLAUDE_USER, None, f"claude:{UUID}"),
        (None, CLAUDE_USER, {"idempotency_key": "idem-12345"}, f"claude:{UUID}"),
        ({"X-Session-ID": "my-explicit-session"}, None, None, "header:my-explicit-session"),
        ({"Session_id": "codex-session-123"}, None, None, "codex:codex-session-123"),
        ({"X-Client-Request-Id": "pi-session-123"}, None, None, "clientreq:pi-session-123"),
        (
            {"X-Client-Request-Id": "pi-session-123", "Session_id": "codex-session-456"},
            None,
            None,
            "codex:codex-session-456",
        ),
        (None, None, {"idempotency_key": "idem-12345"}, ""),
    ],
    ids=[
        "ClaudeCodePriorityOverHeader",
        "ClaudeCodePriorityOverIdempotencyKey",
        "Headers",
        "CodexSessionIDHeader",
        "ClientRequestIDHeader",
        "CodexSessionIDPriorityOverClientRequestID",
        "IdempotencyKey",
    ],
)
def test_extract_session_id_headers_and_metadata(headers, body, meta, want):
    """TestExtractSessionID_<id>: header precedence, and an idempotency key never names a
    session (it changes with every request).
    CPA: TestExtractSessionID_ClaudeCodePriorityOverHeader,
    TestExtractSessionID_ClaudeCodePriorityOverIdempotencyKey, TestExtractSessionID_Headers,
    TestExtractSessionID_CodexSessionIDHeader, TestExtractSessionID_ClientRequestIDHeader,
    TestExtractSessionID_CodexSessionIDPriorityOverClientRequestID, TestExtractSessionID_IdempotencyKey."""
    assert key(headers, body, meta) == want


def test_extract_session_id_derived_session_and_explicit_priority():
    """TestExtractSessionID_DerivedSessionAndExplicitPriority: a derived identity is used
    only when nothing explicit names the session; an execution session beats it; explicit
    body and header sessions beat both; header names match in any case, values trimmed."""
    meta = {"derived_session_id": "ctx:v1:derived-root"}
    body = {"messages": [{"role": "user", "content": "hello"}]}
    assert key(None, body, meta) == "derived:ctx:v1:derived-root"
    assert (
        key(None, body, {**meta, "execution_session_id": "execution-session"})
        == "execution:execution-session"
    )
    explicit = {"session_id": "explicit-session", "prompt_cache_key": "explicit-cache", **body}
    assert key(None, explicit, meta) == "session:explicit-session"
    user = {"metadata": {"user_id": "explicit-user"}, "conversation_id": "explicit-conversation", **body}
    assert key(None, user, meta) == "user:explicit-user"
    assert key({"x-session-id": " lowercase-session "}, body, meta) == "header:lowercase-session"
    assert key({"X-Session-ID": "header-session"}, explicit, meta) == "header:header-session"


def test_extract_session_id_message_hash_fallback():
    """TestExtractSessionID_MessageHashFallback and _MultimodalContent: the first turn hashes
    to a ``msg:`` key; once an assistant turn exists the key differs, is stable, and the
    first-turn key stays its fallback; image parts do not count, other text does.
    CPA: TestExtractSessionID_MultimodalContent."""
    first = {"messages": [{"role": "user", "content": "Hello world"}]}
    later = {
        "messages": [
            {"role": "user", "content": "Hello world"},
            {"role": "assistant", "content": "Hi! How can I help?"},
            {"role": "user", "content": "Tell me a joke"},
        ]
    }
    short = key(body=first)
    assert short.startswith("msg:")
    full, fallback = extract_session_keys(None, later)
    assert full != short and fallback == short and key(body=later) == full
    image = {"type": "image", "source": {"data": "..."}}
    multimodal = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello world"}, image]}]}
    assert key(body=multimodal) == short
    other = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Different content"}]}]}
    assert key(body=other) != short


def test_extract_session_id_claude_api_top_level_system():
    """TestExtractSessionID_ClaudeAPITopLevelSystem: a top-level system (array or string)
    counts; a second turn hashes differently from the first."""
    as_array = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "system": [{"type": "text", "text": "You are Claude Code"}],
    }
    as_string = {"messages": [{"role": "user", "content": "Hello"}], "system": "You are Claude Code"}
    assert key(body=as_array).startswith("msg:") and key(body=as_string) == key(body=as_array)
    turns = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "Help me"},
    ]
    assert key(body={"messages": turns, "system": "You are Claude Code"}) not in ("", key(body=as_string))


def test_extract_session_id_gemini_format():
    """TestExtractSessionID_GeminiFormat: systemInstruction and contents hash stably; another
    first user text gives another key."""

    def body(user: str) -> dict[str, Any]:
        return {
            "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]},
            "contents": [
                {"role": "user", "parts": [{"text": user}]},
                {"role": "model", "parts": [{"text": "Hi there!"}]},
            ],
        }

    assert key(body=body("Hello Gemini")).startswith("msg:")
    assert (
        key(body=body("Hello Gemini")) == key(body=body("Hello Gemini")) != key(body=body("Hello different"))
    )


def test_extract_session_id_openai_responses_api():
    """TestExtractSessionID_OpenAIResponsesAPI: instructions and input messages hash (reasoning
    items skipped); the second and third turns share the key of their first assistant text."""

    def msg(role: str, text: str) -> dict[str, Any]:
        kind = "output_text" if role == "assistant" else "input_text"
        return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}

    opening = [msg("developer", "system instructions"), msg("user", "hi")]
    reasoning = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "thinking..."}],
        "encrypted_content": "xxx",
    }
    second = [*opening, reasoning, msg("assistant", "Hello!"), msg("user", "what can you do")]
    third = [*second, msg("assistant", "I can help with..."), msg("user", "thanks")]
    base = {"instructions": "You are Codex, based on GPT-5."}
    assert key(body={**base, "input": opening}).startswith("msg:")
    assert key(body={**base, "input": second}) == key(body={**base, "input": third}) != ""


@pytest.mark.parametrize(
    ("headers", "body", "want"),
    [
        ({"X-Claude-Code-Session-Id": "claude-session"}, None, "claude:claude-session"),
        ({"x-claude-code-session-id": "lowercase-session"}, None, "claude:lowercase-session"),
        ({"Session-Id": "codex-session"}, None, "codex:codex-session"),
        ({"Session_id": "legacy-codex-session"}, None, "codex:legacy-codex-session"),
        ({"X-Session-Affinity": "ses_opencode"}, None, "affinity:ses_opencode"),
        (None, {"prompt_cache_key": "prompt-session"}, "pck:prompt-session"),
        (None, {"conversation": {"id": "conv-object"}}, "conv:conv-object"),
        (None, {"conversation": "conv-string"}, "conv:conv-string"),
        # TestExtractSessionIDNativeSignalPriority
        (
            {"X-Claude-Code-Session-Id": "header-session"},
            {"metadata": {"user_id": "user_h_account__session_2222-42"}},
            "claude:header-session",
        ),
        (
            {"Session-Id": "codex-session"},
            {"metadata": {"user_id": "user_h_account__session_2222-42"}},
            "claude:2222-42",
        ),
        (
            {"Session-Id": "codex-session", "X-Session-Id": "generic"},
            {"prompt_cache_key": "p"},
            "codex:codex-session",
        ),
        (
            {"X-Session-Id": "generic-session", "X-Session-Affinity": "affinity"},
            None,
            "header:generic-session",
        ),
        (None, {"conversation": {"id": "conversation-session"}, "prompt_cache_key": "shared"}, "pck:shared"),
        (
            {"X-Client-Request-Id": "client-session"},
            {"prompt_cache_key": "p", "conversation": {"id": "c"}},
            "clientreq:client-session",
        ),
        # TestExtractSessionIDRejectsInvalidExplicitSignals
        ({"X-Claude-Code-Session-Id": "   "}, None, ""),
        ({"X-Session-Id": "bad\nsession"}, None, ""),
        ({"Session-Id": "bad\x00session"}, None, ""),
        ({"X-Client-Request-Id": "a" * 257}, None, ""),
        (
            {"X-Claude-Code-Session-Id": "bad\nsession", "Session-Id": "valid-codex"},
            None,
            "codex:valid-codex",
        ),
        (
            None,
            {"prompt_cache_key": "   ", "conversation": {"id": "valid-conversation"}},
            "conv:valid-conversation",
        ),
    ],
)
def test_extract_session_id_native_signals(headers, body, want):
    """TestExtractSessionIDNativeSignals, TestExtractSessionIDNativeSignalPriority and
    TestExtractSessionIDRejectsInvalidExplicitSignals: each client's own session signal,
    their order, and unusable values (blank, control characters, over 256 bytes) skipped."""
    assert key(headers, body) == want


@pytest.mark.parametrize("indent", [False, True], ids=["compact", "pretty"])
def test_claude_metadata_parses_before_bounding_session_id(indent):
    """TestExtractSessionIDClaudeMetadataParsesBeforeBoundingSessionID: a long JSON user_id
    (compact or pretty-printed) still yields its session_id."""
    sid = "11111111-1111-4111-8111-111111111111"
    inner = {
        "device_id": "d" * 64,
        "account_uuid": "a" * 36,
        "session_id": sid,
        "organization_uuid": "b" * 36,
        "email": "user@example.com",
    }
    user_id = orjson.dumps(inner, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    assert key(body={"metadata": {"user_id": user_id}}) == f"claude:{sid}"


def test_body_identifier_transitions_keep_the_keys():
    """TestSessionAffinitySelectorBodyIdentifierTransitionsPreserveBinding (the keys): with a
    conversation and a prompt_cache_key, the prompt key is primary and the conversation its
    fallback, so either one alone finds the binding made under both."""
    both = {"conversation": {"id": "conversation-session"}, "prompt_cache_key": "shared-cache-bucket"}
    assert extract_session_keys(None, both) == ("pck:shared-cache-bucket", "conv:conversation-session")


def make_pool(clock, ids, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, session_affinity=True, affinity_ttl=60, **kw)
    pool.replace([cred(i) for i in ids])
    return pool


async def test_same_session_same_auth_and_thinking_suffix_variants(clock):
    """TestSessionAffinitySelector_SameSessionSameAuth and
    _ThinkingSuffixVariantsPreserveBindingAndRelease: one session keeps its credential, also
    under ``model(high)``; a failure releases the binding and the next pick moves on.
    CPA: TestSessionAffinitySelector_ThinkingSuffixVariantsPreserveBindingAndRelease."""
    pool = make_pool(clock, ["auth-a", "auth-b", "auth-c"])
    sk = key(body=CLAUDE_USER)
    first = (await pool.pick("claude-sonnet-4-5", session_key=sk)).id
    for model in ["claude-sonnet-4-5"] * 5 + ["claude-sonnet-4-5(high)", "claude-sonnet-4-5(medium)"]:
        assert (await pool.pick(model, session_key=sk)).id == first
    await pool.mark_failure(pool.get(first), "claude-sonnet-4-5(high)", 429, session_key=sk)
    assert (await pool.pick("claude-sonnet-4-5", session_key=sk)).id != first


async def test_no_session_falls_back_to_the_strategy(clock):
    """TestSessionAffinitySelector_NoSessionFallback: without a session, fill-first picks."""
    pool = make_pool(clock, ["auth-b", "auth-a", "auth-c"], strategy="fill-first")
    assert (await pool.pick("claude-3", session_key=key(body={"model": "claude-3"}))).id == "auth-a"


async def test_weighted_binding_rebinds_after_weight_becomes_zero(clock):
    """TestSessionAffinitySelector_WeightedBindingRebindsAfterWeightBecomesZero: a bound
    credential whose weight drops to 0 loses the session, and the new binding holds when the
    weight comes back."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock, strategy="wrr", session_affinity=True)
    pool.replace([cred("auth-a", weight=1), cred("auth-b", weight=1)])
    sk = "claude:weight-change"
    assert (await pool.pick("claude-3", session_key=sk)).id == "auth-a"
    pool.replace([cred("auth-a", weight=0), cred("auth-b", weight=1)])
    assert (await pool.pick("claude-3", session_key=sk)).id == "auth-b"
    pool.replace([cred("auth-a", weight=10), cred("auth-b", weight=1)])
    assert (await pool.pick("claude-3", session_key=sk)).id == "auth-b"


async def test_weighted_new_sessions_reset_after_weight_change(clock):
    """TestSessionAffinitySelector_WeightedNewSessionsResetAfterWeightChange: new sessions
    follow the new weights at once (10:10 of 20 after a change from 1000000:1)."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock, strategy="wrr", session_affinity=True)
    pool.replace([cred("auth-a", weight=1_000_000), cred("auth-b", weight=1)])
    for i in range(1000):
        await pool.pick("claude-3", session_key=f"session:session-{i}")
    pool.replace([cred("auth-a", weight=1), cred("auth-b", weight=1)])
    seen = Counter([(await pool.pick("claude-3", session_key=f"session:s-{i}")).id for i in range(20)])
    assert seen == {"auth-a": 10, "auth-b": 10}


async def test_sessions_distribute_round_robin_and_stay(clock):
    """TestSessionAffinitySelector_RoundRobinDistribution, _DifferentSessionsDifferentAuths
    and _ThreeScenarios: 12 new sessions spread 4 per credential, each stays put.
    CPA: TestSessionAffinitySelector_DifferentSessionsDifferentAuths, TestSessionAffinitySelector_ThreeScenarios."""
    pool = make_pool(clock, ["auth-a", "auth-b", "auth-c"])
    keys = [f"claude:{i:08d}-0000" for i in range(12)]
    bound = {k: (await pool.pick("model", session_key=k)).id for k in keys}
    assert Counter(bound.values()) == {"auth-a": 4, "auth-b": 4, "auth-c": 4}
    for k in keys:
        assert (await pool.pick("model", session_key=k)).id == bound[k]


async def test_failover_when_auth_unavailable(clock):
    """TestSessionAffinitySelector_FailoverWhenAuthUnavailable: a bound credential that cools
    hands the session to another, which then keeps it."""
    pool = make_pool(clock, ["auth-a", "auth-b", "auth-c"])
    sk = "claude:failover-test-uuid"
    first = (await pool.pick("claude-3", session_key=sk)).id
    await pool.mark_failure(pool.get(first), "claude-3", 429, retry_after=600)
    second = (await pool.pick("claude-3", session_key=sk)).id
    assert second != first
    assert {(await pool.pick("claude-3", session_key=sk)).id for _ in range(5)} == {second}


async def test_multi_model_and_cross_provider_isolation(clock):
    """TestSessionAffinitySelector_MultiModelSession and _CrossProviderIsolation: bindings
    are per model and per provider, so one session uses the credential each one serves.
    CPA: TestSessionAffinitySelector_CrossProviderIsolation."""
    pool = make_pool(clock, ["auth-a", "auth-b"])

    def serves(c, model):
        return (c.id == "auth-a") == (model == "model-a")

    sk = "claude:multi-model-test"
    for _ in range(5):
        assert (await pool.pick("model-a", session_key=sk, supports=serves)).id == "auth-a"
        assert (await pool.pick("model-b", session_key=sk, supports=serves)).id == "auth-b"
    pool.replace([cred("auth-claude"), cred("auth-gemini", "gemini")])
    for _ in range(3):
        assert (await pool.pick("claude-3", ["claude"], session_key=sk)).id == "auth-claude"
        assert (await pool.pick("gemini-2.5-pro", ["gemini"], session_key=sk)).id == "auth-gemini"


async def test_combined_identifiers_bind_conversation_fallback(clock):
    """TestSessionAffinitySelectorCombinedIdentifiersBindConversationFallback and
    _BodyIdentifierTransitionsPreserveBinding: a binding made under prompt key and
    conversation answers to the conversation alone, and a conversation bound first is found
    again when the prompt key joins it."""
    pool = make_pool(clock, ["auth-a", "auth-b"])
    first = (await pool.pick("gpt-test", session_key="pck:shared", session_fallback_key="conv:c1")).id
    assert (await pool.pick("gpt-test", session_key="conv:c1")).id == first
    other = (await pool.pick("gpt-test", session_key="conv:c2")).id
    assert (await pool.pick("gpt-test", session_key="pck:new", session_fallback_key="conv:c2")).id == other


async def test_session_binding_expires_after_ttl(clock):
    """TestSessionCache_GetAndRefresh: each use refreshes the binding's TTL; a binding left
    alone for a whole TTL is gone."""
    pool = make_pool(clock, ["auth-a", "auth-b", "auth-c"])
    first = (await pool.pick("m", session_key="s")).id
    for _ in range(3):
        clock.advance(40)  # under the 60 s TTL each time: refreshed
        assert (await pool.pick("m", session_key="s")).id == first
    clock.advance(61)
    assert await pool.state.get_binding("mixed::s::m", 60, refresh=False) is None


async def test_a_shared_prompt_key_keeps_each_conversations_binding(clock):
    """TestSessionAffinitySelectorSharedPromptKeyPreservesConversationAliases: two
    conversations sharing one prompt_cache_key share its credential, and each conversation
    alone still finds it (the second binding took the first's aliases along; before, it
    dropped them and conversation A was given the next credential)."""
    pool = make_pool(clock, ["auth-a", "auth-b"])
    keys = [
        extract_session_keys(None, {"conversation": {"id": c}, "prompt_cache_key": "shared"}) for c in "ab"
    ]
    first = (await pool.pick("gpt-test", session_key=keys[0][0], session_fallback_key=keys[0][1])).id
    second = (await pool.pick("gpt-test", session_key=keys[1][0], session_fallback_key=keys[1][1])).id
    assert second == first
    for conversation in ("conv:a", "conv:b"):
        assert (await pool.pick("gpt-test", session_key=conversation)).id == first


async def test_prompt_key_traffic_keeps_the_conversation_alias_alive(clock):
    """TestSessionAffinitySelectorPrimaryTrafficKeepsConversationAliasAlive: requests that
    carry only the prompt key refresh the whole group, so the conversation alone still
    finds the credential after more than a TTL of such traffic."""
    pool = make_pool(clock, ["auth-a", "auth-b"])
    first = (await pool.pick("gpt-test", session_key="pck:shared", session_fallback_key="conv:c")).id
    for _ in range(3):
        clock.advance(40)  # the 60 s TTL, refreshed by the prompt key each time
        assert (await pool.pick("gpt-test", session_key="pck:shared")).id == first
    assert (await pool.pick("gpt-test", session_key="conv:c")).id == first


async def test_a_reload_keeps_bindings_and_the_strategy(clock):
    """CPA: TestServiceApplyConfigRuntimePreservesSelectorForUnchangedRouting,
    TestBuilderPreservesInitialSelectorForSameRouting and
    TestServiceAppliesSameValueNewestSelectorCommit: a config reload with the same routing
    keeps the session bindings, and fill-first keeps picking the first credential by id.
    Differs on purpose: CPA builds a new selector, losing the bindings, when the routing
    changes; cliproxy keeps bindings and cursors in ``state/`` keyed by session and model,
    so a changed strategy applies to new sessions and a bound one stays put."""
    pool = make_pool(clock, ["auth-b", "auth-a", "auth-c"], strategy="round-robin")
    sk = key(body=CLAUDE_USER)
    await pool.pick("claude-sonnet-4-5")  # moves the round-robin cursor: the session gets another
    bound = (await pool.pick("claude-sonnet-4-5", session_key=sk)).id
    assert bound != "auth-a"
    for strategy in ("round-robin", "fill-first", "fill-first"):
        pool.configure(strategy=strategy, session_affinity=True, affinity_ttl=60)
        assert (await pool.pick("claude-sonnet-4-5", session_key=sk)).id == bound
    assert [(await pool.pick("claude-3")).id for _ in range(2)] == ["auth-a", "auth-a"]


async def test_concurrent_picks_keep_the_sessions_credential(clock):
    """TestSessionAffinitySelector_Concurrent: once a session is bound, 32 tasks of 50 picks
    each all get the bound credential."""
    pool = make_pool(clock, ["auth-a", "auth-b", "auth-c"])
    sk = key(body={"metadata": {"user_id": "user_xxx_account__session_concurrent-test"}})
    first = (await pool.pick("claude-3", session_key=sk)).id

    async def worker() -> set[str]:
        return {(await pool.pick("claude-3", session_key=sk)).id for _ in range(50)}

    assert set().union(*await asyncio.gather(*(worker() for _ in range(32)))) == {first}


async def test_a_conversation_in_the_body_alone_binds(clock):
    """TestSessionAffinitySelectorUsesRequestPayloadWhenOriginalRequestMissing: a Responses
    body naming only ``conversation.id`` keeps its credential on the next request. (CPA's
    case is about which of two payload fields it reads; cliproxy has the one client body.)"""
    pool = make_pool(clock, ["auth-a", "auth-b"])
    primary, fallback = extract_session_keys(
        None, {"conversation": {"id": "request-only-conversation"}, "input": "hello"}
    )
    assert primary
    picks = [
        (await pool.pick("gpt-test", session_key=primary, session_fallback_key=fallback)).id for _ in "ab"
    ]
    assert picks[0] == picks[1]


async def test_a_binding_stays_when_a_higher_priority_credential_recovers(clock):
    """CPA: TestManagerSessionAffinityPreservesBindingAcrossHigherPriorityRecovery: a new
    session binds the higher-priority credential; when it cools the session moves to the
    lower one and stays there after the higher one recovers, while a new session binds the
    higher one; when the bound one cools, the session moves back.
    TestSessionAffinityFallbackOnlyReceivesHighestAvailablePriority: a pick without a
    session also takes the highest priority available."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock, session_affinity=True, affinity_ttl=3600)
    pool.replace([cred("high", priority=1), cred("low", priority=0)])
    sk = "session:stable-session"
    assert (await pool.pick("m", session_key=sk)).id == "high"
    assert (await pool.pick("m")).id == "high"
    await pool.mark_failure(pool.get("high"), "m", 429, retry_after=60)
    assert (await pool.pick("m", session_key=sk)).id == "low"
    clock.advance(61)
    assert (await pool.pick("m", session_key=sk)).id == "low"
    assert (await pool.pick("m", session_key="session:new-session")).id == "high"
    await pool.mark_failure(pool.get("low"), "m", 429, retry_after=60)
    assert (await pool.pick("m", session_key=sk)).id == "high"
