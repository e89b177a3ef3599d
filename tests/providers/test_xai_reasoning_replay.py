"""CPA internal/cache/xai_reasoning_replay_cache_test.go and the reasoning replay cases of
internal/runtime/executor/xai_executor_test.go, ported: what the xAI replay records from
an answer, what of it goes back into the next request and where, its session keys, and
when it is forgotten. Answers are fed to the request's own chunk rewriter as xAI streams
them; the runs through a live proxy and the SDKs are in
tests/e2e/test_xai_reasoning_replay.py.

Where we differ from CPA on purpose, the test says so: Chat Completions clients get the
replay too (CPA: Claude and Responses clients), and a cached turn whose call the client
carried goes back in front of that call (CPA: in front of the first message).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers import xai_replay, xai_session
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.codex_ws_wire import PREVIOUS_HEADER, SESSION_HEADER
from cliproxy.providers.xai import XAIProvider
from cliproxy.providers.xai_request import shape
from cliproxy.translate.codex_replay import insert_items
from cliproxy.translate.envelopes_plain import inspect_grok, is_valid_grok
from cliproxy.translate.xai_replay import XAIReplayCache, decode_turns, encode_turns, filter_items, make_turn
from tests.fakes.openai_responses import ENCRYPTED, grok_encrypted

MODEL = "grok-4.3"
HEADERS = {"x-api-key": "client-key-a"}


def sealed(seed: int) -> str:
    """CPA testValidGrokEncryptedContentForSeed: xAI-shaped, one per seed."""
    return grok_encrypted(f"seed-{seed}")


def reasoning(seed: int) -> dict[str, Any]:
    return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": sealed(seed)}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def claude_body(session: str, *messages: Any) -> dict[str, Any]:
    user_id = orjson.dumps({"device_id": "device-test", "account_uuid": "", "session_id": session}).decode()
    return {"model": MODEL, "metadata": {"user_id": user_id}, "messages": list(messages)}


def build(
    provider: XAIProvider,
    items: list[Any],
    client_body: dict[str, Any],
    *,
    fmt: Format = Format.CLAUDE,
    headers: dict[str, str] = HEADERS,
    action: str = "generate",
) -> tuple[UpstreamRequest, list[dict[str, Any]]]:
    """The attempt's body as ``start_attempt`` leaves it (the sessions carried), built."""
    body: dict[str, Any] = {"model": MODEL, "input": items}
    if action == "generate":
        xai_session.carry(body, client_body, headers, MODEL, fmt)
    else:
        body = {**client_body, "input": items}
    cred = Credential(id="xai-a", provider="xai", api_key="xai-token")
    req = provider.build(cred, body, model=MODEL, stream=True, client_headers=headers, action=action)
    return req, orjson.loads(req.body)["input"]


def answer(req: UpstreamRequest, *events: dict[str, Any]) -> None:
    """xAI's SSE lines, one chunk each, through the request's chunk rewriter."""
    assert req.rewrite_chunk is not None
    for event in events:
        req.rewrite_chunk(b"data: " + orjson.dumps(event) + b"\n")


def done(item: dict[str, Any], index: int) -> dict[str, Any]:
    return {"type": "response.output_item.done", "item": item, "output_index": index}


def completed(output: list[Any] | None = None) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {"id": "resp_1", "status": "completed", "output": output or []},
    }


def cached(cache: XAIReplayCache, session: str) -> list[dict[str, Any]]:
    turns = cache.get(MODEL, session)
    return list(turns[-1].items) if turns else []


def store(cache: XAIReplayCache, session: str, items: list[dict[str, Any]]) -> bool:
    turn = make_turn(items)
    return turn is not None and cache.append(MODEL, session, turn)


# --------------------------------------------------------------------------- the Grok shape


def test_grok_shape() -> None:
    """signature/grok_validation_test.go: a high-entropy unpadded standard-base64 blob
    passes; OpenAI's Fernet shape, padding, foreign characters, a short or low-entropy
    payload and a bad base64 length do not."""
    assert inspect_grok(sealed(1)) >= 32 and is_valid_grok(sealed(2))
    low_entropy = "pa" * 40
    for bad in (
        "",
        "bad",
        " opaque",
        "gAAAAABinvalid-gpt-shape",
        "abcd_efg",
        ENCRYPTED,
        low_entropy,
        "AAAAA",
    ):
        assert not is_valid_grok(bad), bad
    assert not is_valid_grok(sealed(3) + "=")
    assert not is_valid_grok("x" * 4340)  # a Kimi signature's length


# --------------------------------------------------------------------------- the cache


def test_cache_rejects_codex_encrypted_content() -> None:
    """TestXAIReasoningReplayCacheRejectsCodexEncryptedContent."""
    cache = XAIReplayCache()
    item = {
        "type": "reasoning",
        "summary": [],
        "content": None,
        "encrypted_content": "gAAAAABinvalid-gpt-shape",
    }
    assert not store(cache, "claude:xai-cache-test", [item])
    assert not store(cache, "claude:xai-cache-test", [{**item, "encrypted_content": ENCRYPTED}])
    assert cached(cache, "claude:xai-cache-test") == []


def test_cache_stores_grok_encrypted_content() -> None:
    """TestXAIReasoningReplayCacheStoresGrokEncryptedContent: the summary is not kept."""
    cache = XAIReplayCache()
    visible = [{"type": "summary_text", "text": "visible"}]
    assert store(
        cache,
        "s",
        [{"type": "reasoning", "summary": visible, "content": None, "encrypted_content": sealed(1)}],
    )
    assert cached(cache, "s") == [reasoning(1)]


def test_cache_stores_assistant_message_with_reasoning() -> None:
    """TestXAIReasoningReplayCacheStoresAssistantMessageWithReasoning: ids, status,
    annotations and logprobs go."""
    cache = XAIReplayCache()
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "answer", "annotations": [], "logprobs": []}],
    }
    rs = {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "v"}],
        "encrypted_content": sealed(2),
    }
    assert store(cache, "prompt-cache:session", [rs, message])
    assert cached(cache, "prompt-cache:session") == [reasoning(2), assistant("answer")]


def test_cache_rejects_assistant_message_without_reasoning() -> None:
    """TestXAIReasoningReplayCacheRejectsAssistantMessageWithoutReasoning."""
    assert make_turn([{"id": "msg_1", **assistant("answer")}]) is None


@pytest.mark.parametrize(
    ("item", "field", "want"),
    [
        (
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q":"weather"}'},
            "arguments",
            '{"q":"weather"}',
        ),
        ({"type": "custom_tool_call", "call_id": "call_2", "name": "shell", "input": "pwd"}, "input", "pwd"),
    ],
    ids=["function call", "custom tool call"],
)
def test_cache_stores_tool_call_without_reasoning(item: dict[str, Any], field: str, want: str) -> None:
    """TestXAIReasoningReplayCacheStoresToolCallWithoutReasoning."""
    cache = XAIReplayCache()
    assert store(cache, "prompt-cache:call-only", [item])
    (kept,) = cached(cache, "prompt-cache:call-only")
    assert kept["type"] == item["type"] and kept[field] == want


def test_cache_stores_refusal_message_part() -> None:
    """TestXAIReasoningReplayCacheStoresRefusalMessagePart: a refusal keeps its own field."""
    cache = XAIReplayCache()
    refusal = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "I cannot help with that"}],
    }
    assert store(
        cache,
        "prompt-cache:refusal",
        [{"type": "reasoning", "summary": [], "encrypted_content": sealed(3)}, refusal],
    )
    assert cached(cache, "prompt-cache:refusal")[1] == refusal


def test_redis_form_round_trips_and_a_bad_value_is_no_turns() -> None:
    """TestXAIReasoningReplayRequiredHomeExpireFailureReturnsItems and
    TestApplyXAIReasoningReplayCacheFallsBackWhenReadFails, as far as they concern us: the
    Redis form of a turn reads back as it was, and an unreadable value is no turn (the
    request then goes as the client sent it)."""
    turn = make_turn([reasoning(4), assistant("a")])
    assert turn is not None
    assert decode_turns(encode_turns((turn,))) == (turn,)
    assert decode_turns(encode_turns((turn,)))[0].items == turn.items
    assert decode_turns(b"not json") == () and decode_turns(b"[[1]]") == ()


# --------------------------------------------------------------------------- recorded, restored


def test_stores_final_done_and_injects_next_claude_request() -> None:
    """TestXAIExecutorReasoningReplayCacheStoresFinalDoneAndInjectsNextClaudeRequest: the
    reasoning of the *done* item, not the added one, from a completed event whose output
    xAI left empty; the next request gets it in front of its first message."""
    provider = XAIProvider()
    req, _ = build(provider, [user("hello")], claude_body("xai-session-1"))
    added = {
        "id": "rs_added",
        "type": "reasoning",
        "status": "in_progress",
        "summary": [],
        "encrypted_content": sealed(1),
    }
    answer(
        req,
        {"type": "response.output_item.added", "item": added, "output_index": 0},
        done({"id": "rs_done", "type": "reasoning", "summary": [], "encrypted_content": sealed(2)}, 0),
        completed(),
    )
    _, sent = build(provider, [user("next")], claude_body("xai-session-1"))
    assert sent[0]["type"] == "reasoning" and sent[0]["encrypted_content"] == sealed(2)
    assert sent[1]["role"] == "user"


def test_responses_sse_replays_encrypted_reasoning_and_assistant_message() -> None:
    """TestXAIExecutorResponsesSSEReplaysEncryptedReasoningAndAssistantMessage: a
    Responses client with its prompt cache key; the answer reaches it with Grok's blob,
    and the next request gets the reasoning and the answer in front of the new input."""
    provider = XAIProvider()
    client = {"model": MODEL, "prompt_cache_key": "codex-sse-session", "input": [user("first")]}
    req, _ = build(provider, [user("first")], client, fmt=Format.RESPONSES)
    assert req.rewrite_chunk is not None
    line = req.rewrite_chunk(
        b"data: "
        + orjson.dumps(
            done({"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": sealed(9)}, 0)
        )
        + b"\n"
    )
    assert orjson.loads(line[5:])["item"]["encrypted_content"] == sealed(9)
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "first answer"}],
    }
    answer(req, done(message, 1), completed())
    client = {**client, "input": [user("second")]}
    _, sent = build(provider, [user("second")], client, fmt=Format.RESPONSES)
    assert [i.get("type") for i in sent] == ["reasoning", "message", "message"]
    assert sent[0]["encrypted_content"] == sealed(9)
    assert sent[1] == assistant("first answer") and sent[2] == user("second")


def test_replays_function_call_for_claude_tool_result() -> None:
    """TestXAIExecutorReasoningReplayCacheReplaysFunctionCallForClaudeToolResult: a Claude
    client that sends the tool result without the call gets both back, in front of it."""
    provider = XAIProvider()
    req, _ = build(provider, [user("call lookup")], claude_body("xai-session-tool"))
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": '{"q":"weather"}',
        "status": "completed",
    }
    answer(
        req,
        done({"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": sealed(3)}, 0),
        done(call, 1),
        completed(),
    )
    result = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    _, sent = build(provider, [user("call lookup"), result], claude_body("xai-session-tool"))
    assert [i["type"] for i in sent] == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[2]["call_id"] == sent[3]["call_id"] == "call_1"


def test_replays_function_call_without_reasoning() -> None:
    """TestXAIReasoningReplayCacheReplaysFunctionCallWithoutReasoning."""
    cache = XAIReplayCache()
    assert store(
        cache, "s", [{"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"}]
    )
    items = [user("call lookup"), {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]
    out = insert_items(items, filter_items(items, cached(cache, "s")))
    assert [i["type"] for i in out] == ["message", "function_call", "function_call_output"]
    assert out[1]["call_id"] == "call_1"


def test_reasoning_goes_before_the_call_the_client_carried() -> None:
    """Ours: a Chat client keeps the call (``tool_calls``) but has no place for the
    reasoning; it goes back in front of that call, as the turn had it. CPA puts it in
    front of the first message (no replayed call to anchor it)."""
    cache = XAIReplayCache()
    call = {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{}"}
    assert store(cache, "s", [reasoning(5), call])
    items = [user("run it"), call, {"type": "function_call_output", "call_id": "call_1", "output": "ok"}]
    provider = XAIProvider()
    provider.replay = cache
    body: dict[str, Any] = {"model": MODEL, "input": items, xai_replay.CARRIED: "s"}
    xai_replay.restore(cache, body, MODEL)
    assert [i["type"] for i in body["input"]] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]


def test_claude_injects_latest_cached_reasoning_when_history_has_only_older_signature() -> None:
    """TestXAIExecutorClaudeInjectsLatestCachedReasoningWhenHistoryHasOnlyOlderSignature,
    on the translated input: the history keeps an older Grok reasoning and the latest
    answer's text, not the latest reasoning; it gets the latest, and the answer once.
    The Claude side (the older signature read from a thinking block, both reaching xAI)
    runs through the proxy in tests/e2e/test_xai_claude_signature.py."""
    cache = XAIReplayCache()
    assert store(cache, "s", [reasoning(22), assistant("latest answer")])
    items = [user("hello"), reasoning(21), assistant("latest answer"), user("next")]
    out = insert_items(items, filter_items(items, cached(cache, "s")))
    kept = [i["encrypted_content"] for i in out if i["type"] == "reasoning"]
    assert sorted(kept) == sorted([sealed(21), sealed(22)])
    assert sum(1 for i in out if i.get("role") == "assistant") == 1


def test_completed_without_replayable_state_clears_previous_entry() -> None:
    """TestCacheXAIReasoningReplayFromCompletedClearsPreviousEntryWhenNoReplayableState."""
    cache = XAIReplayCache()
    assert store(cache, "prompt-cache:clear-previous", [reasoning(14), assistant("previous answer")])
    xai_replay.Scope(cache, MODEL, "prompt-cache:clear-previous").completed(
        [assistant("message without reasoning")]
    )
    assert cached(cache, "prompt-cache:clear-previous") == []


def test_incomplete_turn_keeps_the_previous_entry() -> None:
    """CPA caches from ``response.completed`` only: a truncated turn leaves the last one."""
    provider = XAIProvider()
    req, _ = build(provider, [user("hello")], claude_body("trunc"))
    answer(req, done(reasoning(15), 0), completed())
    req, _ = build(provider, [user("more")], claude_body("trunc"))
    incomplete = {
        "type": "response.incomplete",
        "response": {"id": "r", "status": "incomplete", "output": [assistant("cut")]},
    }
    answer(req, incomplete)
    _, sent = build(provider, [user("again")], claude_body("trunc"))
    assert sent[0]["encrypted_content"] == sealed(15)


# --------------------------------------------------------------------------- filtered


def filtered(items: list[Any], replay: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return filter_items(items, replay)


def test_filter_skips_matching_cached_turn() -> None:
    """TestFilterXAIReasoningReplayItemsSkipsMatchingCachedTurn."""
    items = [reasoning(10), assistant("first answer"), user("second")]
    assert filtered(items, [reasoning(10), assistant("first answer")]) == []


def test_filter_skips_ambiguous_cached_turn_when_input_has_older_reasoning() -> None:
    """TestFilterXAIReasoningReplayItemsSkipsAmbiguousCachedTurnWhenInputHasOlderReasoning."""
    items = [reasoning(10), assistant("older answer"), user("next")]
    assert filtered(items, [reasoning(12), assistant("new answer")]) == []


def test_filter_skips_duplicate_assistant_message() -> None:
    """TestFilterXAIReasoningReplayItemsSkipsDuplicateAssistantMessage."""
    items = [assistant("first answer"), user("second")]
    assert filtered(items, [reasoning(11), assistant("first answer")]) == [reasoning(11)]


def test_filter_recognizes_role_only_assistant_message() -> None:
    """TestFilterXAIReasoningReplayItemsRecognizesRoleOnlyAssistantMessage: a message
    without ``type`` and with string content is the cached answer; the reasoning goes in
    front of it."""
    items: list[Any] = [
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second"},
    ]
    kept = filtered(items, [reasoning(31), assistant("first answer")])
    assert kept == [reasoning(31)]
    out = insert_items(items, kept)
    assert [i.get("type") for i in out] == ["reasoning", None, None] and out[1]["role"] == "assistant"


def test_filter_does_not_match_older_assistant_message() -> None:
    """TestFilterXAIReasoningReplayItemsDoesNotMatchOlderAssistantMessage."""
    items = [assistant("OK"), user("continue"), assistant("different answer"), user("next")]
    assert filtered(items, [reasoning(13), assistant("OK")]) == []


def test_filter_skips_ambiguous_turn_when_last_assistant_text_drifts() -> None:
    """TestFilterXAIReasoningReplayItemsSkipsAmbiguousTurnWhenLastAssistantTextDrifts."""
    items = [assistant("first answer."), user("second")]
    assert filtered(items, [reasoning(20), assistant("first answer")]) == []


# --------------------------------------------------------------------------- sessions


def session(fmt: Format, body: dict[str, Any], headers: dict[str, str] | CIMultiDict[str]) -> str:
    return xai_replay.session_key(fmt, body, headers)


def test_scope_isolates_responses_prompt_cache_key_by_api_key() -> None:
    """TestXAIReasoningReplayScopeIsolatesOpenAIResponsePromptCacheKeyByAPIKey."""
    body = {"model": MODEL, "prompt_cache_key": "shared-session", "input": []}
    a = session(Format.RESPONSES, body, {"Authorization": "Bearer api-key-a"})
    b = session(Format.RESPONSES, body, {"Authorization": "Bearer api-key-b"})
    assert a and b and a != b
    assert a.startswith("caller:") and "prompt-cache:shared-session" in a
    assert session(Format.RESPONSES, body, {}) == ""


def test_scope_disables_claude_without_api_key() -> None:
    """TestXAIReasoningReplayScopeDisablesClaudeWithoutAPIKey."""
    body = claude_body("shared-session", {"role": "user", "content": "hello"})
    assert session(Format.CLAUDE, body, {}) == ""
    keyed = session(Format.CLAUDE, body, {"x-api-key": "api-key-a"})
    assert keyed.startswith("caller:") and "claude:shared-session" in keyed


def test_scope_allows_the_socket_session_without_api_key() -> None:
    """TestXAIReasoningReplayScopeAllowsTrustedExecutionSessionWithoutAPIKey: the
    downstream Responses WebSocket's session (ours, random per socket) needs no caller key."""
    headers = CIMultiDict({SESSION_HEADER: "trusted-session"})
    assert session(Format.RESPONSES, {"input": []}, headers) == "execution:trusted-session"


def test_scope_skips_websocket_message_with_previous_response() -> None:
    """TestXAIReasoningReplayScopeSkipsIncrementalWebsocketPreviousResponse: a socket
    message naming a previous response gets no scope, and nothing goes into a history
    that lacks the cached reasoning."""
    headers = CIMultiDict({SESSION_HEADER: "ws-1", PREVIOUS_HEADER: "1", "Authorization": "Bearer k"})
    body = {"model": MODEL, "prompt_cache_key": "codex-ws-session", "input": []}
    assert session(Format.RESPONSES, body, headers) == ""
    provider = XAIProvider()
    assert store(provider.replay, "execution:ws-1", [reasoning(7), assistant("a")])
    _, sent = build(provider, [user("b")], body, fmt=Format.RESPONSES, headers=dict(headers))
    assert sent == [user("b")]
    del headers[PREVIOUS_HEADER]
    _, sent = build(provider, [user("b")], body, fmt=Format.RESPONSES, headers=dict(headers))
    assert sent[0]["encrypted_content"] == sealed(7)


def test_chat_client_is_keyed_by_its_api_key() -> None:
    """Ours: a Chat or Gemini client's turns are kept per API key (CPA replays xAI for
    Claude and Responses clients only; Codex's replay keys Chat clients this way in CPA
    too). Neither format has a place for the encrypted reasoning."""
    a = session(Format.OPENAI, {"messages": []}, {"Authorization": "Bearer a"})
    assert a.startswith("caller:") and session(Format.OPENAI, {"messages": []}, {}) == ""
    assert session(Format.GEMINI, {"contents": []}, {"x-goog-api-key": "a"}) == a
    assert session(Format.GEMINI, {"contents": []}, {}) == ""
    assert session(Format.INTERACTIONS, {"input": []}, {"Authorization": "Bearer a"}) == ""


# --------------------------------------------------------------------------- compaction


def test_compact_clears_replay_before_post_compact_turn() -> None:
    """TestXAIExecutorCompactClearsReplayBeforePostCompactTurn: the compact request gets
    the cached turn too; once it succeeds the session's turn is gone, so the next request
    starts from the compaction alone."""
    provider = XAIProvider()
    headers = {"Authorization": "Bearer xai-compact-caller"}
    client = {"model": MODEL, "prompt_cache_key": "compact-session"}
    key = session(Format.RESPONSES, client, headers)
    assert store(provider.replay, key, [reasoning(42), assistant("pre-compact answer")])
    compaction = {"type": "compaction", "encrypted_content": sealed(41)}
    req, sent = build(
        provider,
        [compaction, user("compact")],
        client,
        fmt=Format.RESPONSES,
        headers=headers,
        action="compact",
    )
    assert sealed(42) in orjson.dumps(sent).decode()
    assert req.rewrite_body is not None and req.rewrite_body(b'{"output":[]}') == b'{"output":[]}'
    assert cached(provider.replay, key) == []
    _, sent = build(
        provider, [compaction, user("after compact")], client, fmt=Format.RESPONSES, headers=headers
    )
    assert sent == [compaction, user("after compact")]


def test_compact_failure_retains_replay() -> None:
    """TestXAIExecutorCompactFailureRetainsReplay: a failed compaction's answer never
    reaches ``rewrite_body``; the turn stays."""
    provider = XAIProvider()
    headers = {"Authorization": "Bearer xai-compact-failure-caller"}
    client = {"model": MODEL, "prompt_cache_key": "compact-failure-session"}
    key = session(Format.RESPONSES, client, headers)
    assert store(provider.replay, key, [reasoning(43)])
    build(provider, [user("compact")], client, fmt=Format.RESPONSES, headers=headers, action="compact")
    assert cached(provider.replay, key) == [reasoning(43)]


# --------------------------------------------------------------------------- sanitised


def test_sanitize_drops_invalid_reasoning_blob() -> None:
    """TestSanitizeXAIInputEncryptedContent_DropsInvalidReasoningBlob."""
    body = {
        "input": [
            {"type": "reasoning", "summary": [], "encrypted_content": "bad"},
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABinvalid-gpt-shape"},
            {"role": "user", "content": "hi"},
        ]
    }
    shape(body, MODEL)
    assert all("encrypted_content" not in i for i in body["input"])


def test_sanitize_preserves_valid_blob() -> None:
    """TestSanitizeXAIInputEncryptedContent_PreservesValidBlob."""
    body = {"input": [{"type": "reasoning", "summary": [], "encrypted_content": sealed(1)}]}
    shape(body, MODEL)
    assert body["input"][0]["encrypted_content"] == sealed(1)


def test_re_merges_reasoning_after_dropping_invalid_encrypted_content() -> None:
    """TestXAIExecutorReMergesReasoningAfterDroppingInvalidEncryptedContent."""
    body = {
        "input": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "first"}]},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "second"}],
                "encrypted_content": "gAAAAABforeign-codex-replay",
            },
            {"role": "user", "content": "hi"},
        ]
    }
    shape(body, MODEL)
    assert [s["text"] for s in body["input"][0]["summary"]] == ["first", "second"]
    assert body["input"][1]["role"] == "user" and len(body["input"]) == 2


def test_drops_invalid_compaction_item() -> None:
    """TestXAIExecutorDropsInvalidCompactionItem (a ``null`` blob too)."""
    for blob in ("gAAAAABforeign-codex-replay", None, 7):
        body = {
            "input": [{"type": "compaction", "encrypted_content": blob}, {"role": "user", "content": "hi"}]
        }
        shape(body, MODEL)
        assert body["input"] == [{"role": "user", "content": "hi"}]
