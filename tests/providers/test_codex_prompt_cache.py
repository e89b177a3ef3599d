"""Codex prompt-cache keys for clients that bring none (``cliproxy.providers.codex_cache``).

CPA's ``codex_executor_cache_test.go`` (``cacheHelper``) and the
``TestApplyCodexPromptCacheHeaders*`` cases of ``codex_websockets_executor_test.go``, ported:
their inputs and asserted facts, run the way the pipeline runs them here (``carry`` on the
client's request, then ``CodexProvider.build`` on the translated body), with CPA's derived
session identity (``cliproxy.credentials.derived_session``) where the request names none.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import orjson
from multidict import CIMultiDict

from cliproxy.credentials.derived_session import caller_scope, derive_id
from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers import codex_cache
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.codex_ws import SESSION_HEADER
from cliproxy.providers.identity import CodexIdentity, confuse_uuid

CRED = Credential(id="auth-1", provider="codex", api_key="sk-codex")
WS_CRED = Credential(id="auth-ws", provider="codex", api_key="sk-codex", attributes={"websockets": "true"})
CLAUDE_SESSION_HEADER = "X-Claude-Code-Session-Id"
CLAUDE_AGENT_HEADER = "X-Claude-Code-Agent-Id"


def _send(
    fmt: Format,
    client_body: dict[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    model: str = "gpt-5.4",
    upstream: dict[str, Any] | None = None,
    cred: Credential = CRED,
    provider: CodexProvider | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The upstream body and headers for a client request, as the pipeline makes them:
    the key carried on the translated body (``upstream``), then ``build``."""
    client_headers = CIMultiDict(headers or {})
    body = dict(upstream) if upstream is not None else {"model": model, "stream": True}
    codex_cache.carry(body, fmt, client_body, client_headers, model)
    req = (provider or CodexProvider()).build(
        cred, body, model=model, stream=True, client_headers=client_headers
    )
    return orjson.loads(req.body), req.headers


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


def _session_headers(headers: Mapping[str, str]) -> dict[str, str]:
    names = {"session-id", "session_id", "conversation_id"}
    return {k: v for k, v in headers.items() if k.lower() in names}


def _claude_body(user_id: str, text: str) -> dict[str, Any]:
    return {
        "model": "gpt-5.4",
        "metadata": {"user_id": user_id},
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def _claude_key(session: str, agent: str = "main", model: str = "gpt-5.4") -> str:
    return _uuid(f"cli-proxy-api:codex:claude-code\x00{model}\x00claude:{session}:agent:{agent}")


# ---------------------------------------------------------------- Chat Completions clients


def test_chat_client_conversation_gets_its_derived_key():
    """A Chat client that names no session: the UUID of its conversation's derived
    identity (CPA's ProviderSessionUUID("codex"), ahead of the API key's), stable as the
    conversation grows, one per caller. CPA: TestCodexExecutorCacheHelper_UsesDerivedSessionUUID"""
    first = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    headers = {"Authorization": "Bearer test-api-key"}
    derived = derive_id(Format.OPENAI, {"messages": first}, caller_scope("test-api-key"))
    want = _uuid("cli-proxy-api\x00codex\x00derived-session\x00" + derived)
    body, sent = _send(Format.OPENAI, {"messages": first}, headers)
    assert body["prompt_cache_key"] == want and sent["Session-Id"] == want
    grown = [*first, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    assert _send(Format.OPENAI, {"messages": grown}, headers)[0]["prompt_cache_key"] == want
    other, _ = _send(Format.OPENAI, {"messages": first}, {"Authorization": "Bearer another-key"})
    assert other["prompt_cache_key"] != want


def test_other_client_formats_get_their_derived_key():
    """Gemini and Responses clients without a key get one too (CPA's last step)."""
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    body, _ = _send(Format.GEMINI, gemini, {"Authorization": "Bearer k"})
    derived = derive_id(Format.GEMINI, gemini, caller_scope("k"))
    assert body["prompt_cache_key"] == _uuid("cli-proxy-api\x00codex\x00derived-session\x00" + derived)
    responses, _ = _send(Format.RESPONSES, {"input": "hi"}, {"Authorization": "Bearer k"})
    assert responses["prompt_cache_key"] not in (None, body["prompt_cache_key"])


def test_chat_client_gets_a_stable_key_from_its_api_key():
    """TestCodexExecutorCacheHelper_OpenAIChatCompletions_StablePromptCacheKeyFromAPIKey,
    with no user input yet: nothing to derive a conversation from (CPA's executor test
    does not run session.Enrich, so it reaches the API key's step with one)."""
    client = {"model": "gpt-5.3-codex", "messages": [{"role": "system", "content": "hi"}]}
    headers = {"Authorization": "Bearer test-api-key"}
    want = _uuid("cli-proxy-api:codex:prompt-cache:test-api-key")
    body, sent = _send(Format.OPENAI, client, headers, model="gpt-5.3-codex")
    assert body["prompt_cache_key"] == want
    assert _session_headers(sent) == {"Session-Id": want}  # no Conversation_id, no session_id
    again, _ = _send(Format.OPENAI, client, headers, model="gpt-5.3-codex")
    assert again["prompt_cache_key"] == want


def test_chat_client_api_key_never_goes_upstream_in_clear():
    body, sent = _send(Format.OPENAI, {"messages": []}, {"x-api-key": "sk-proxy-secret"})
    assert body["prompt_cache_key"] == _uuid("cli-proxy-api:codex:prompt-cache:sk-proxy-secret")
    assert b"sk-proxy-secret" not in orjson.dumps(body)
    assert all("sk-proxy-secret" not in v for v in sent.values())


def test_chat_client_own_key_is_carried_trimmed():
    """CPA reads a Chat client's ``prompt_cache_key`` from its request (the translation to
    Codex drops it) and trims it; it wins over the API key."""
    client = {"prompt_cache_key": "  chat-cache-1 ", "messages": []}
    body, sent = _send(Format.OPENAI, client, {"Authorization": "Bearer k"})
    assert body["prompt_cache_key"] == "chat-cache-1"
    assert sent["Session-Id"] == "chat-cache-1"


def test_chat_client_without_key_or_api_key_gets_nothing():
    body, sent = _send(Format.OPENAI, {"messages": []}, {})
    assert "prompt_cache_key" not in body and _session_headers(sent) == {}


# ---------------------------------------------------------------- Claude clients


def test_claude_metadata_session_gives_one_key_per_session():
    """TestCodexExecutorCacheHelper_ClaudeUsesClaudeCodeSessionID (and the WebSocket
    case, TestApplyCodexPromptCacheHeadersClaudeUsesClaudeCodeSessionID): the device
    differs, the session does not."""
    first = _claude_body('{"device_id":"device-a","account_uuid":"","session_id":"cache-session-1"}', "first")
    second = _claude_body('{"device_id":"device-b","account_uuid":"","session_id":"cache-session-1"}', "next")
    body1, sent1 = _send(Format.CLAUDE, first)
    body2, sent2 = _send(Format.CLAUDE, second)
    key = body1["prompt_cache_key"]
    assert key == _claude_key("cache-session-1")
    assert body2["prompt_cache_key"] == key
    assert _session_headers(sent1) == {"Session-Id": key} == _session_headers(sent2)
    other, _ = _send(Format.CLAUDE, _claude_body('{"session_id":"cache-session-2"}', "first"))
    assert other["prompt_cache_key"] != key


def test_claude_legacy_user_id_session_suffix():
    user_id = "user_0f3a_account_5b1c_session_8c2d9e4f-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
    body, _ = _send(Format.CLAUDE, _claude_body(user_id, "hi"))
    assert body["prompt_cache_key"] == _claude_key("8c2d9e4f-1a2b-4c3d-9e8f-0a1b2c3d4e5f")


def test_claude_bare_user_id_gives_no_key():
    """TestCodexExecutorCacheHelper_ClaudeRejectsBareUserID (and the WebSocket case,
    TestApplyCodexPromptCacheHeadersClaudeRejectsBareUserID)."""
    body, sent = _send(Format.CLAUDE, _claude_body("same-user-across-chats", "first"))
    assert "prompt_cache_key" not in body
    assert _session_headers(sent) == {}


def test_claude_session_header_gives_one_key_per_session():
    """TestCodexExecutorCacheHelper_ClaudeUsesSessionHeader."""
    headers = {CLAUDE_SESSION_HEADER: "cache-session-header"}
    first = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "first"}]}
    second = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "next"}]}
    body1, _ = _send(Format.CLAUDE, first, headers)
    body2, _ = _send(Format.CLAUDE, second, headers)
    assert body1["prompt_cache_key"] == body2["prompt_cache_key"] == _claude_key("cache-session-header")


def test_claude_session_header_wins_over_metadata():
    body, _ = _send(
        Format.CLAUDE, _claude_body('{"session_id":"from-metadata"}', "hi"), {CLAUDE_SESSION_HEADER: "hdr"}
    )
    assert body["prompt_cache_key"] == _claude_key("hdr")


def test_claude_agents_and_models_are_scoped_and_websocket_agrees():
    """TestCodexExecutorCacheHelper_ClaudeAgentScopeUsesResolvedModelAcrossHTTPAndWebsocket:
    a sub-agent gets a key of its own; the upstream model counts, the client's alias does
    not; HTTP and the WebSocket give the same key."""
    root = {CLAUDE_SESSION_HEADER: "resolved-model-session"}
    child = {**root, CLAUDE_AGENT_HEADER: "agent-a"}
    client = {"model": "requested-alias", "messages": [{"role": "user", "content": "hello"}]}
    root_key = _send(Format.CLAUDE, client, root)[0]["prompt_cache_key"]
    child_key = _send(Format.CLAUDE, client, child)[0]["prompt_cache_key"]
    assert root_key and child_key and root_key != child_key
    assert child_key == _claude_key("resolved-model-session", "agent-a")
    alias = {**client, "model": "another-local-alias-low"}
    assert _send(Format.CLAUDE, alias, child)[0]["prompt_cache_key"] == child_key
    other_model = _send(Format.CLAUDE, client, child, model="gpt-5.5")[0]["prompt_cache_key"]
    assert other_model != child_key
    ws_body, ws_headers = _send(Format.CLAUDE, alias, {**child, SESSION_HEADER: "sock-1"}, cred=WS_CRED)
    assert ws_body["prompt_cache_key"] == child_key
    assert ws_headers["session_id"] == child_key


# ---------------------------------------------------------------- Responses clients


def test_a_body_with_its_own_key_is_left_alone():
    """A Codex CLI sets its own key and session header: neither is replaced."""
    upstream = {"model": "gpt-5.4", "prompt_cache_key": "cli-cache", "input": []}
    body, sent = _send(
        Format.RESPONSES, {"prompt_cache_key": "cli-cache"}, {"session-id": "cli-session"}, upstream=upstream
    )
    assert body["prompt_cache_key"] == "cli-cache"
    assert _session_headers(sent) == {"Session-Id": "cli-session"}


def test_a_carried_key_never_replaces_the_bodys_own():
    """A Claude session whose translated body got a key some other way (a payload rule)."""
    upstream = {"model": "gpt-5.4", "prompt_cache_key": "configured"}
    body, sent = _send(Format.CLAUDE, {}, {CLAUDE_SESSION_HEADER: "s"}, upstream=upstream)
    assert body["prompt_cache_key"] == "configured" and sent["Session-Id"] == "configured"
    assert codex_cache.CARRIED not in body


def test_responses_client_key_names_the_http_session():
    """cacheHelper: a Responses client's own key is the ``Session-Id`` too."""
    upstream = {"model": "gpt-5-codex", "prompt_cache_key": "cache-1"}
    body, sent = _send(Format.RESPONSES, {"prompt_cache_key": "cache-1"}, {}, upstream=upstream)
    assert body["prompt_cache_key"] == "cache-1"
    assert _session_headers(sent) == {"Session-Id": "cache-1"}


def test_websocket_names_the_session_the_older_way_and_the_conversation():
    """TestApplyCodexPromptCacheHeadersSetsSessionIDAndLegacyConversation."""
    upstream = {"model": "gpt-5-codex", "prompt_cache_key": "cache-1"}
    _, sent = _send(
        Format.RESPONSES,
        {"prompt_cache_key": "cache-1"},
        {SESSION_HEADER: "s1"},
        upstream=upstream,
        cred=WS_CRED,
    )
    assert _session_headers(sent) == {"session_id": "cache-1", "Conversation_id": "cache-1"}


def test_websocket_execution_session_keeps_its_key_across_turns():
    """TestApplyCodexPromptCacheHeadersKeepsExecutionSessionAcrossIncrementalRoots: the
    downstream socket is CPA's execution session."""
    headers = {SESSION_HEADER: "connection-1"}
    first, _ = _send(Format.RESPONSES, {"input": "first"}, headers, cred=WS_CRED)
    second, _ = _send(Format.RESPONSES, {"input": "second"}, headers, cred=WS_CRED)
    want = _uuid("cli-proxy-api\x00codex\x00execution-session\x00connection-1")
    assert first["prompt_cache_key"] == second["prompt_cache_key"] == want


def test_other_clients_over_http_get_nothing():
    body, sent = _send(Format.GEMINI, {"contents": []}, {"Authorization": "Bearer k"})
    assert "prompt_cache_key" not in body and _session_headers(sent) == {}


# ---------------------------------------------------------------- build


def test_the_carried_key_never_goes_upstream_under_its_private_name():
    body, _ = _send(Format.CLAUDE, {}, {CLAUDE_SESSION_HEADER: "s"})
    assert codex_cache.CARRIED not in body and body["prompt_cache_key"] == _claude_key("s")


def test_compact_is_keyed_and_images_are_not():
    """CPA's executeCompact runs cacheHelper as a generation does (the client's key names
    the session; tests/providers/test_ident_claude_codex_compact.py: the derived key); a
    direct Images call has no conversation to key."""
    provider = CodexProvider()
    body = {"model": "gpt-5.4", "prompt_cache_key": "cache-1"}
    req = provider.build(CRED, body, model="gpt-5.4", stream=False, client_headers={}, action="compact")
    assert _session_headers(req.headers) == {"Session-Id": "cache-1"}
    body = {"model": "gpt-5.4", "prompt_cache_key": "cache-1"}
    req = provider.build(
        CRED, body, model="gpt-5.4", stream=False, client_headers={}, action="images.generations"
    )
    assert _session_headers(req.headers) == {}


def test_identity_confuse_remaps_only_the_clients_own_key():
    """TestCodexExecutorCacheHelper_IdentityConfuseRemapsBodyAndHeaders (the key and its
    session header); a derived key is the client's nothing: CPA leaves it as it is."""
    provider = CodexProvider()
    provider.identity = CodexIdentity(
        SimpleNamespace(
            codex=SimpleNamespace(identity_confuse=True, disable_codex_cloaking=False),
            routing=SimpleNamespace(strategy="fill-first", session_affinity=False),
        )
    )
    upstream = {"model": "gpt-5-codex", "prompt_cache_key": "cache-1"}
    body, sent = _send(
        Format.RESPONSES, {"prompt_cache_key": "cache-1"}, {}, upstream=upstream, provider=provider
    )
    want = confuse_uuid("auth-1", "prompt-cache", "cache-1")
    assert body["prompt_cache_key"] == want
    assert _session_headers(sent) == {"Session-Id": want}
    derived, sent = _send(Format.CLAUDE, {}, {CLAUDE_SESSION_HEADER: "s"}, provider=provider)
    assert derived["prompt_cache_key"] == _claude_key("s") == sent["Session-Id"]
