"""CPA runtime/executor/kimi_thinking_replay_test.go
(``TestShouldClearKimiThinkingReplayAfterErrorOnlyForUpstreamRequestRejection``,
``TestKimiExecutorClaudeErrorClearsAppliedReplay``) and the stream half of
``wrapThinkingReplayStream``: a Kimi thinking replay that Kimi refuses leaves the cache."""

from __future__ import annotations

import contextvars
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.formats import Format
from cliproxy.providers.kimi import KimiProvider
from cliproxy.translate.kimi_replay import KimiReplayCache, Scope, StreamRecorder, refused, session_key

CALL = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "README.md"}}
CACHED: list[dict[str, Any]] = [
    {"type": "thinking", "thinking": "reasoning", "signature": "kimi-signature"},
    CALL,
]
HEADERS = {"x-api-key": "caller-a", "anthropic-version": "2023-06-01"}
META = {"user_id": orjson.dumps({"session_id": "error-clears-replay"}).decode()}
SESSION = session_key(HEADERS, {"metadata": META})
REJECTION = b'{"error":{"message":"invalid thinking signature"}}'


def cred() -> Credential:
    return Credential(
        id="kimi-1.json",
        provider="kimi",
        kind=KIND_OAUTH,
        metadata={"type": "kimi", "access_token": "kat", "device_id": "dev-1"},
    )


def claude_body() -> dict[str, Any]:
    """A Claude Code turn whose assistant tool call lost its thinking."""
    return {
        "model": "kimi-k3-256k",
        "max_tokens": 32,
        "metadata": META,
        "messages": [
            {"role": "assistant", "content": [CALL]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
        ],
    }


def seeded() -> KimiProvider:
    provider = KimiProvider()
    provider.replay.store("k3", SESSION, CACHED)
    return provider


def send(provider: KimiProvider, *, stream: bool = False) -> dict[str, Any]:
    req = provider.build(
        cred(), claude_body(), model="kimi-k3-256k", stream=stream, client_headers=HEADERS, fmt=Format.CLAUDE
    )
    return orjson.loads(req.body)


def test_should_clear_only_for_upstream_request_rejection() -> None:
    """Only a 400 or 422 from Kimi says the request's content was refused; a server error,
    a rate limit or an auth failure leaves a valid replay in place (a transport error and
    the proxy's own validation never reach ``classify``)."""
    assert refused(400) and refused(422)
    for status in (401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 529):
        assert not refused(status)


def test_claude_error_clears_applied_replay() -> None:
    provider = seeded()
    sent = send(provider)
    assert sent["messages"][0]["content"] == CACHED  # the replay went out
    err = provider.classify(400, {"content-type": "application/json"}, REJECTION, "kimi-1.json")
    assert err.status == 400 and err.message == "invalid thinking signature"
    assert provider.replay.get("k3", SESSION) is None
    assert send(provider)["messages"][0]["content"] == [CALL]  # the retry goes without it


def test_unprocessable_clears_applied_replay() -> None:
    provider = seeded()
    send(provider)
    provider.classify(422, {}, REJECTION, "kimi-1.json")
    assert provider.replay.get("k3", SESSION) is None


@pytest.mark.parametrize("status", [401, 429, 500, 503, 529])
def test_other_errors_keep_the_replay(status: int) -> None:
    provider = seeded()
    send(provider)
    provider.classify(status, {}, b'{"error":{"message":"busy"}}', "kimi-1.json")
    assert provider.replay.get("k3", SESSION) == CACHED


def test_refusal_without_applied_replay_keeps_the_entry() -> None:
    """CPA clears only when the replay was applied: a request that already carries its
    thinking (nothing restored) says nothing about the cached content."""
    provider = seeded()
    body = claude_body()
    body["messages"][0]["content"] = CACHED
    provider.build(cred(), body, model="kimi-k3", stream=False, client_headers=HEADERS, fmt=Format.CLAUDE)
    provider.classify(400, {}, REJECTION, "kimi-1.json")
    assert provider.replay.get("k3", SESSION) == CACHED


def test_chat_request_after_a_replay_clears_nothing() -> None:
    """Each build names its own request: a later Chat request's 400 is not the replay's."""
    provider = seeded()
    send(provider)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    provider.build(cred(), body, model="kimi-k3", stream=False, client_headers={}, fmt=Format.OPENAI)
    provider.classify(400, {}, REJECTION, "kimi-1.json")
    assert provider.replay.get("k3", SESSION) == CACHED


def test_refusal_keeps_a_newer_entry() -> None:
    """DeleteKimiThinkingReplayIfUnchanged: an answer stored meanwhile is not the refused one."""
    provider = seeded()
    send(provider)
    newer = [{**CACHED[0], "signature": "newer"}, CALL]
    provider.replay.store("k3", SESSION, newer)
    provider.classify(400, {}, REJECTION, "kimi-1.json")
    assert provider.replay.get("k3", SESSION) == newer


def test_requests_in_other_tasks_do_not_see_the_scope() -> None:
    """The scope lives in the attempt's context: another task's 400 clears nothing."""
    provider = seeded()
    send(provider)
    contextvars.Context().run(provider.classify, 400, {}, REJECTION, "kimi-1.json")
    assert provider.replay.get("k3", SESSION) == CACHED


def test_stream_error_event_clears_applied_replay() -> None:
    """wrapThinkingReplayStream: an ``error`` event in a 200 stream is a refusal too."""
    provider = seeded()
    req = provider.build(
        cred(), claude_body(), model="kimi-k3", stream=True, client_headers=HEADERS, fmt=Format.CLAUDE
    )
    assert req.rewrite_chunk is not None
    start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n'
    error = (
        b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}\n\n'
    )
    assert req.rewrite_chunk(start) == start
    assert provider.replay.get("k3", SESSION) == CACHED
    assert req.rewrite_chunk(error) == error
    assert provider.replay.get("k3", SESSION) is None


def test_stream_error_without_applied_replay_keeps_the_entry() -> None:
    cache = KimiReplayCache()
    cache.store("k3", "s", CACHED)
    scope = Scope(cache, "k3", "s")  # nothing restored
    rec = StreamRecorder(scope.keep, scope.forget)
    rec.feed(b'data: {"type":"error","error":{"message":"overloaded"}}\n\n')
    assert cache.get("k3", "s") == CACHED


def test_error_after_an_abandoned_answer_still_clears() -> None:
    """An unknown delta stops the recording, not the watch for a refusal (CPA's accumulator
    reads ``error`` events after it gave up on the content)."""
    calls: list[str] = []
    rec = StreamRecorder(lambda content: calls.append("done"), lambda: calls.append("failed"))
    rec.feed(
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n'
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"future_delta"}}\n'
    )
    assert rec.abandoned and not calls
    rec.feed(b'data: {"type":"error","error":{"message":"bad"}}\n')
    rec.feed(b'data: {"type":"error","error":{"message":"again"}}\n')
    assert calls == ["failed"]
