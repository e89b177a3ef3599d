"""CPA internal/runtime/executor/codex_executor_reasoning_replay_cache_test.go, ported: the
Codex reasoning replay's session keys, where cached turns go back into ``input``, what is
recorded from an answer and when it is forgotten. The upstream's answers are fed to the
provider's own chunk rewriter (``CompletedOutput``) as Codex streams them; the runs
through a live proxy and the SDKs are in tests/e2e/test_codex_reasoning_replay.py.

Where we differ from CPA on purpose, the test says so: sessions are namespaced by the
caller's proxy API key (CPA shares a session across client keys), Chat Completions
clients get the replay too (CPA: Claude clients only), and a Claude-visible call id is
our own shortened form (``sanitize_tool_id``), not CPA's.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers import codex_cache, codex_replay
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.codex import CodexProvider
from cliproxy.translate.claude.ids import sanitize_tool_id
from cliproxy.translate.codex_replay import CodexReplayCache, CodexTurn, PrefixHashes, insert_turns, make_turn
from cliproxy.translate.replay_keys import caller_scoped, claude_code_scope

MODEL = "gpt-5.4"
HEADERS = {"x-api-key": "client-key-a"}


def encrypted(seed: int) -> str:
    """CPA validCodexReasoningEncryptedContentForTestSeed: Fernet-shaped, as OpenAI's."""
    payload = bytearray(1 + 8 + 16 + 16 + 32)
    payload[0] = 0x80
    for i in range(9, len(payload)):
        payload[i] = (seed + i) & 0xFF
    return base64.urlsafe_b64encode(bytes(payload)).decode().rstrip("=")


def reasoning(seed: int) -> dict[str, Any]:
    return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": encrypted(seed)}


def claude_body(session: str, *messages: Any) -> dict[str, Any]:
    user_id = orjson.dumps({"device_id": "device-test", "account_uuid": "", "session_id": session}).decode()
    return {"model": MODEL, "metadata": {"user_id": user_id}, "messages": list(messages)}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def cred(ident: str = "codex-a") -> Credential:
    return Credential(id=ident, provider="codex", api_key="k-" + ident)


def build(
    provider: CodexProvider,
    items: list[Any],
    client_body: dict[str, Any],
    *,
    fmt: Format = Format.CLAUDE,
    headers: dict[str, str] = HEADERS,
    credential: Credential | None = None,
) -> tuple[UpstreamRequest, list[dict[str, Any]]]:
    """The attempt's body as ``start_attempt`` leaves it (the session carried), built."""
    body: dict[str, Any] = {"model": MODEL, "input": items}
    codex_cache.carry(body, fmt, client_body, headers, MODEL)
    req = provider.build(credential or cred(), body, model=MODEL, stream=True, client_headers=headers)
    return req, orjson.loads(req.body)["input"]


def answer(req: UpstreamRequest, *events: dict[str, Any]) -> None:
    """Codex's SSE lines, one chunk each, through the request's chunk rewriter."""
    assert req.rewrite_chunk is not None
    for event in events:
        req.rewrite_chunk(b"data: " + orjson.dumps(event) + b"\n")


def done(item: dict[str, Any], index: int) -> dict[str, Any]:
    return {"type": "response.output_item.done", "item": item, "output_index": index}


def completed(output: list[Any] | None = None) -> dict[str, Any]:
    response = {"id": "resp_1", "object": "response", "status": "completed", "model": MODEL}
    return {"type": "response.completed", "response": {**response, "output": output or []}}


def turn(output: list[Any], request: str = "") -> CodexTurn:
    made = make_turn(output, request)
    assert made is not None
    return made


def session(body: dict[str, Any], headers: dict[str, str] = HEADERS, fmt: Format = Format.CLAUDE) -> str:
    return codex_replay.session_key(fmt, body, headers)


# --------------------------------------------------------------------------- recorded, restored


def test_stores_final_done_and_injects_next_claude_request() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheStoresFinalDoneAndInjectsNextClaudeRequest,
    TestCodexExecutorReasoningReplayCacheExecuteStreamStoresFinalDoneForClaude.
    Whole and streamed answers pass the same rewriter: the reasoning of the *done* item,
    not the added one, from a completed event whose output Codex left empty."""
    provider = CodexProvider()
    req, _ = build(provider, [user("hello")], claude_body("session-1"))
    added = {"id": "rs_added", "type": "reasoning", "status": "in_progress", "summary": []}
    answer(
        req,
        {"type": "response.output_item.added", "item": {**added, "encrypted_content": encrypted(1)}},
        done({"id": "rs_done", "type": "reasoning", "summary": [], "encrypted_content": encrypted(2)}, 0),
        completed(),
    )
    _, sent = build(provider, [user("next")], claude_body("session-1"))
    assert sent == [reasoning(2), user("next")]


def test_same_session_across_codex_credentials() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheSharesSameSessionAcrossCodexAuths.
    The key names no credential (a failover to
    another account keeps the session's reasoning)."""
    provider = CodexProvider()
    req, _ = build(provider, [user("hello")], claude_body("session-auth-switch"), credential=cred("a"))
    answer(
        req, done({"type": "reasoning", "summary": [], "encrypted_content": encrypted(12)}, 0), completed()
    )
    _, sent = build(provider, [user("next")], claude_body("session-auth-switch"), credential=cred("b"))
    assert sent[0] == reasoning(12)


def test_other_client_keys_do_not_share_a_session() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheSharesSameSessionAcrossClientKeys.
    CPA's test asserts the opposite. We namespace every
    replay session by the caller's proxy API key, as the Claude thinking replay does: a
    session id is the client's to choose, and another caller naming it must not be handed
    encrypted reasoning that is not theirs. The same caller keeps its session."""
    body = claude_body("session-only")
    first = session(body, {"x-api-key": "client-key-a"})
    assert first and first == session(body, {"authorization": "Bearer client-key-a"})
    assert first != session(body, {"x-api-key": "client-key-b"})
    provider = CodexProvider()
    req, _ = build(provider, [user("next")], body, headers={"x-api-key": "client-key-a"})
    answer(req, completed([reasoning(11)]))
    _, other = build(provider, [user("next")], body, headers={"x-api-key": "client-key-b"})
    assert other == [user("next")]
    _, same = build(provider, [user("next")], body, headers={"x-api-key": "client-key-a"})
    assert same[0] == reasoning(11)


def test_no_caller_key_no_replay() -> None:
    """A client-chosen session without a caller key would be shared by everyone: none."""
    assert session(claude_body("s"), {}) == ""


# --------------------------------------------------------------------------- session keys


def test_session_key_uses_claude_code_json_session_id() -> None:
    """TestCodexExecutorReasoningReplaySessionKeyUsesClaudeCodeJSONSessionID"""
    body = claude_body("session-json-1", {"role": "user", "content": "next"})
    assert claude_code_scope(body, {}) == "claude:session-json-1:agent:main"
    assert session(body) == caller_scoped(HEADERS, "claude:session-json-1:agent:main")


def test_session_key_isolates_claude_code_agents() -> None:
    """CPA: TestCodexExecutorReasoningReplaySessionKeyIsolatesClaudeCodeAgents.
    The Claude Code session header wins over the
    client's prompt_cache_key, and each agent has its own session."""
    body = {"model": "local-alias", "prompt_cache_key": "shared-client-key", "messages": []}
    root = {**HEADERS, "x-claude-code-session-id": "session-agents"}
    child_a = {**root, "x-claude-code-agent-id": "agent-a"}
    child_b = {**root, "x-claude-code-agent-id": "agent-b"}
    keys = {session(body, h) for h in (root, child_a, child_b)}
    assert len(keys) == 3 and all(keys)


def test_session_key_rejects_bare_claude_user_id() -> None:
    """TestCodexExecutorReasoningReplaySessionKeyRejectsBareClaudeUserID: a user, not a conversation."""
    body = {"model": MODEL, "metadata": {"user_id": "same-user-across-chats"}, "messages": []}
    assert session(body) == ""


def test_session_header_aliases_make_one_key() -> None:
    """TestCodexExecutorReasoningReplaySessionKeyCanonicalizesSessionHeaderAliases"""
    keys = {
        session({}, {**HEADERS, name: "session-alias"}) for name in ("Session_id", "session_id", "Session-Id")
    }
    assert keys == {caller_scoped(HEADERS, "session-id:session-alias")}


def test_window_header_and_payload_make_one_key() -> None:
    """TestCodexExecutorReasoningReplaySessionKeyCanonicalizesWindowHeaderWithPayload"""
    from_body = session({"client_metadata": {"x-codex-window-id": "window-1"}})
    from_header = session({}, {**HEADERS, "X-Codex-Window-Id": "window-1"})
    assert from_body == from_header == caller_scoped(HEADERS, "window:window-1")


def test_chat_client_falls_back_to_its_api_key() -> None:
    """A Chat client with no session of its own: one per API key (CPA's prompt-cache UUID);
    CPA does not replay for Chat clients at all (see the module docstring)."""
    key = session({"messages": []}, fmt=Format.OPENAI)
    assert key.startswith(caller_scoped(HEADERS, "prompt-cache:"))
    assert session({"messages": []}, fmt=Format.CLAUDE) == ""


# --------------------------------------------------------------------------- native Responses


def test_native_responses_request_is_not_injected() -> None:
    """TestCodexExecutorReasoningReplayCacheDoesNotInjectNativeResponsesRequest"""
    provider = CodexProvider()
    provider.replay.append(MODEL, session({"prompt_cache_key": "native-session"}), turn([reasoning(3)]))
    client = {"model": MODEL, "prompt_cache_key": "native-session", "input": "native"}
    _, sent = build(provider, [user("native")], client, fmt=Format.RESPONSES)
    assert sent == [user("native")]


def test_native_responses_request_is_not_stored() -> None:
    """TestCodexExecutorReasoningReplayCacheDoesNotStoreNativeResponsesRequest"""
    provider = CodexProvider()
    client = {"model": MODEL, "prompt_cache_key": "native-store", "input": "native"}
    req, _ = build(provider, [user("native")], client, fmt=Format.RESPONSES)
    answer(req, completed([{"id": "rs_native", **reasoning(4)}]))
    assert len(provider.replay) == 0


# --------------------------------------------------------------------------- not twice, in place


def seeded(seed: int, sess: str) -> CodexProvider:
    """A cached turn with nothing to anchor it (CPA seeds an unmarked item the same way)."""
    provider = CodexProvider()
    provider.replay.append(MODEL, session(claude_body(sess)), turn([reasoning(seed)]))
    return provider


def test_does_not_duplicate_claude_client_reasoning() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheDoesNotDuplicateClaudeClientReasoning.
    The client carried reasoning of its own;
    a cached turn with no anchor stays out (its place would be a guess)."""
    provider = seeded(5, "session-2")
    items = [reasoning(6), assistant("answer"), user("next")]
    _, sent = build(provider, items, claude_body("session-2"))
    assert sent == items


def test_inserts_reasoning_before_assistant_output_in_claude_history() -> None:
    """TestCodexExecutorReasoningReplayCacheInsertsReasoningBeforeAssistantOutputInClaudeHistory"""
    provider = seeded(7, "session-history")
    _, sent = build(
        provider, [user("first"), assistant("answer"), user("next")], claude_body("session-history")
    )
    assert sent == [user("first"), reasoning(7), assistant("answer"), user("next")]


# --------------------------------------------------------------------------- forgotten


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_cleared_on_response_failed_invalid_signature(stream: bool) -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheClearsOnNonStreamResponseFailedInvalidSignature,
    TestCodexExecutorReasoningReplayCacheClearsOnStreamResponseFailedInvalidSignature.
    An
    in-band ``response.failed`` (a 200 whose stream refuses the reasoning)."""
    provider = seeded(9, "session-invalid")
    body = claude_body("session-invalid")
    req = provider.build(
        cred(), _carried([user("next")], body), model=MODEL, stream=stream, client_headers=HEADERS
    )
    error = {"message": "Invalid signature in thinking block", "type": "invalid_request_error"}
    answer(req, {"type": "response.failed", "response": {"id": "resp_1", "status": "failed", "error": error}})
    assert provider.replay.get(MODEL, session(body)) == ()


def test_cleared_on_http_error_invalid_encrypted_content() -> None:
    """An error status whose body refuses the reasoning (CPA's status path), via ``classify``;
    another error (a rate limit) leaves it."""
    provider = seeded(10, "session-invalid-http")
    body = claude_body("session-invalid-http")
    provider.build(cred(), _carried([user("next")], body), model=MODEL, stream=True, client_headers=HEADERS)
    provider.classify(429, {}, b'{"error":{"type":"rate_limit_error","message":"slow down"}}', "codex-a")
    assert provider.replay.get(MODEL, session(body))
    refusal = b'{"error":{"code":"invalid_encrypted_content","message":"The encrypted content could not be verified."}}'
    assert provider.classify(400, {}, refusal, "codex-a").status == 400
    assert provider.replay.get(MODEL, session(body)) == ()


def _carried(items: list[Any], client_body: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "input": items}
    codex_cache.carry(body, Format.CLAUDE, client_body, HEADERS, MODEL)
    return body


# --------------------------------------------------------------------------- turns in a history


def restored(turns: list[Any], items: list[Any]) -> list[Any]:
    out = insert_turns(items, tuple(turns), PrefixHashes(items))
    return out if out is not None else items


def call(call_id: str, q: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "lookup",
        "arguments": orjson.dumps({"q": q}).decode(),
    }


def output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def test_restores_cumulative_tool_turns() -> None:
    """TestCodexExecutorReasoningReplayCacheRestoresCumulativeToolTurns"""
    turns = [
        make_turn([reasoning(21), call("call_1", "first")]),
        make_turn([reasoning(22), call("call_2", "second")]),
    ]
    items = [user("first"), output("call_1", "one"), user("second"), output("call_2", "two"), user("third")]
    got = restored(turns, items)
    assert [i["type"] for i in got] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert got[1] == reasoning(21) and got[5] == reasoning(22)


def test_restores_cumulative_assistant_turns() -> None:
    """TestCodexExecutorReasoningReplayCacheRestoresCumulativeAssistantTurns"""
    turns = [
        make_turn([reasoning(23), assistant("first answer")]),
        make_turn([reasoning(24), assistant("second answer")]),
    ]
    items = [
        user("first"),
        assistant("first answer"),
        user("second"),
        assistant("second answer"),
        user("third"),
    ]
    got = restored(turns, items)
    assert got == [*items[:1], reasoning(23), *items[1:3], reasoning(24), *items[3:]]


def test_skips_detached_turn_after_compaction() -> None:
    """TestCodexExecutorReasoningReplayCacheSkipsDetachedTurnAfterCompaction"""
    turns = [
        make_turn([reasoning(25), assistant("removed answer")]),
        make_turn([reasoning(26), assistant("retained answer")]),
    ]
    items = [user("compacted summary"), assistant("retained answer"), user("continue")]
    assert restored(turns, items) == [items[0], reasoning(26), *items[1:]]


def test_matches_newest_duplicate_assistant_after_compaction() -> None:
    """TestCodexExecutorReasoningReplayCacheMatchesNewestDuplicateAssistantAfterCompaction"""
    turns = [make_turn([reasoning(27), assistant("Done")]), make_turn([reasoning(28), assistant("Done")])]
    items = [user("compacted summary"), assistant("Done"), user("continue")]
    assert restored(turns, items) == [items[0], reasoning(28), *items[1:]]


def test_uses_request_prefix_for_duplicate_out_of_order_turns() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheUsesRequestPrefixForDuplicateOutOfOrderTurns.
    The same answer twice; each turn
    goes where the input in front is the request that led to it."""
    items = [user("first"), assistant("Done"), user("second"), assistant("Done"), user("third")]
    prefix = PrefixHashes(items)
    newer = make_turn([reasoning(30), assistant("Done")], prefix.at(3))
    older = make_turn([reasoning(29), assistant("Done")], prefix.at(1))
    got = restored([newer, older], items)
    assert got == [items[0], reasoning(29), *items[1:3], reasoning(30), *items[3:]]


def test_drops_function_call_without_matching_output() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheDropsFunctionCallWithoutMatchingOutput.
    The client dropped the call and its
    result; neither the call nor its reasoning moves to the front."""
    provider = CodexProvider()
    body = claude_body("session-dropped-tool")
    dropped = {"type": "function_call", "call_id": "call_dropped", "name": "TaskCreate", "arguments": "{}"}
    provider.replay.append(MODEL, session(body), turn([reasoning(14), dropped]))
    _, sent = build(provider, [user("next")], body)
    assert sent == [user("next")]


def test_matches_shortened_claude_tool_result_call_id() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheMatchesShortenedClaudeToolResultCallID.
    A call id too long for Claude reaches
    the Claude client shortened; its tool result names the short form, and the replayed
    call takes that form too. The short form is ours (``sanitize_tool_id``: toolu_ and 32
    hex of its sha256), not CPA's (a prefix and 16 hex): it is what our Claude encoder
    showed the client."""
    long_id = "call_" + "a" * 62
    short = sanitize_tool_id(long_id)
    assert len(long_id) > 64 and len(short) <= 64 and short != long_id
    provider = CodexProvider()
    body = claude_body("claude-session-short-tool")
    req, _ = build(provider, [user("call lookup")], body)
    answer(
        req,
        done({"id": "rs_long", "type": "reasoning", "summary": [], "encrypted_content": encrypted(13)}, 0),
        done({"id": "fc_long", "status": "completed", **call(long_id, "weather")}, 1),
        completed(),
    )
    _, sent = build(provider, [user("call lookup"), output(short, "sunny")], body)
    assert [i["type"] for i in sent] == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[2]["call_id"] == sent[3]["call_id"] == short


def test_replays_function_call_for_claude_tool_result() -> None:
    """CPA: TestCodexExecutorReasoningReplayCacheReplaysFunctionCallForClaudeToolResult.
    The client's history has the tool result
    but not the call; both the reasoning and the call go back in front of it."""
    provider = CodexProvider()
    body = claude_body("claude-session-tool")
    req, _ = build(provider, [user("call lookup")], body)
    answer(
        req,
        done({"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": encrypted(8)}, 0),
        done({"id": "fc_1", "status": "completed", **call("call_1", "weather")}, 1),
        completed(),
    )
    _, sent = build(provider, [user("call lookup"), output("call_1", "sunny")], body)
    assert sent == [user("call lookup"), reasoning(8), call("call_1", "weather"), output("call_1", "sunny")]


def test_prefix_fingerprints_match_direct_computation() -> None:
    """TestCodexReplayPrefixFingerprintsMatchesDirectComputation"""
    items = [
        {"type": "message", "role": "user", "content": "a"},
        {"type": "reasoning", "encrypted_content": "abc"},
        {"type": "function_call", "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
    ]

    def direct(end: int) -> str:
        digest = hashlib.sha256()
        for item in items[:end]:
            digest.update(b"\x00item\x00" + orjson.dumps(item))
        return digest.hexdigest()

    hashes = PrefixHashes(items)
    for end in (4, 2, 0, 3, 1, 4, 2):  # out of order and repeated, as the anchor search asks
        assert hashes.at(end) == direct(end)
    assert hashes.at(-1) == hashes.at(5) == ""


# --------------------------------------------------------------------------- bounds


def test_cache_bounds_are_cpas() -> None:
    """CPA's constants: 1 h, 10,240 sessions, 256 turns and 16 MiB a session; and ours:
    256 MiB in all. A turn larger than a session may hold is not kept."""
    cache = CodexReplayCache(max_session_bytes=300)
    assert cache.max_turns == 256
    small = make_turn([reasoning(1)])
    big = make_turn(
        [reasoning(1), {"type": "function_call", "call_id": "c", "name": "n", "arguments": "x" * 400}]
    )
    assert small is not None and big is not None
    assert cache.append(MODEL, "s", small) and not cache.append(MODEL, "s", big)
    assert CodexReplayCache()._entries.max_weight == 256 << 20
