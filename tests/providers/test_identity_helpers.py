"""The identity helpers one by one, with CPA's test cases (inputs and asserted facts)."""

from __future__ import annotations

import uuid

import pytest
from multidict import CIMultiDict

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.identity import (
    CODEX_ORIGINATOR,
    CODEX_USER_AGENT,
    CodexIdentity,
    confuse_uuid,
    forwardable_response_headers,
    inject_x_search,
    obfuscate,
    obfuscate_system_instruction,
    sensitive_words,
    strip_claude_attribution,
)

ZW = "\u200b"


# ---------------------------------------------------------------- sensitive words


def test_system_instruction_only_is_obfuscated():
    pattern = sensitive_words(["proxy"])
    contents = [{"role": "user", "parts": [{"text": "proxy remains unchanged"}]}]
    body = {"systemInstruction": {"parts": [{"text": "Use proxy safely"}]}, "contents": contents}
    obfuscate_system_instruction(body, pattern)
    assert body["systemInstruction"]["parts"][0]["text"] == f"Use p{ZW}roxy safely"
    assert body["contents"][0]["parts"][0]["text"] == "proxy remains unchanged"


def test_multi_word_phrases_and_case():
    pattern = sensitive_words(["Hermes", "Nous Research"])
    text = "You are Hermes Agent, an intelligent AI assistant created by Nous Research."
    assert obfuscate(text, pattern) == (
        f"You are H{ZW}ermes Agent, an intelligent AI assistant created by N{ZW}ous Research."
    )
    assert obfuscate("HERMES and hermes", pattern) == f"H{ZW}ERMES and h{ZW}ermes"


def test_longest_word_wins_and_short_words_are_skipped():
    pattern = sensitive_words(["API", "API key", "x", " ", f"a{ZW}b"])
    assert pattern is not None
    assert obfuscate("the API key", pattern) == f"the A{ZW}PI key"
    assert sensitive_words(["x", ""]) is None
    assert sensitive_words([]) is None


def test_string_and_snake_case_instructions_and_the_shared_parts_list():
    pattern = sensitive_words(["proxy"])
    parts = [{"text": "a proxy"}, {"inline": 1}]
    client = {"system_instruction": {"parts": parts}}
    body = {"system_instruction": client["system_instruction"].copy(), "systemInstruction": "proxy"}
    obfuscate_system_instruction(body, pattern)
    assert body["system_instruction"]["parts"] == [{"text": f"a p{ZW}roxy"}, {"inline": 1}]
    assert body["systemInstruction"] == f"p{ZW}roxy"
    assert parts == [{"text": "a proxy"}, {"inline": 1}]  # the client's list is not written


def test_no_words_no_change():
    body = {"systemInstruction": {"parts": [{"text": "proxy"}]}}
    obfuscate_system_instruction(body, None)
    assert body == {"systemInstruction": {"parts": [{"text": "proxy"}]}}


# ---------------------------------------------------------------- xAI x_search


def test_x_search_added_to_tools_and_allowed_tools():
    """CPA: TestEnsureXAINativeXSearchTool."""
    tools = [{"type": "function", "name": "lookup"}, {"type": "web_search"}]
    allowed = [{"type": "function", "name": "lookup"}, {"type": "web_search"}]
    body = {"tools": tools, "tool_choice": {"type": "allowed_tools", "tools": allowed}}
    inject_x_search(body)
    assert body["tools"][-1] == {"type": "x_search"} and len(body["tools"]) == 3
    assert body["tool_choice"]["tools"][-1] == {"type": "x_search"}
    assert [t["type"] for t in body["tool_choice"]["tools"]].count("x_search") == 1
    assert len(tools) == 2 and len(allowed) == 2  # the client's lists are not written
    inject_x_search(body)  # idempotent
    assert [t["type"] for t in body["tools"]].count("x_search") == 1


def test_x_search_without_tools_and_already_declared():
    """CPA: TestEnsureXAINativeXSearchTool."""
    body: dict = {"input": "search X"}
    inject_x_search(body)
    assert body["tools"] == [{"type": "x_search"}]
    declared = {"tools": [{"type": "x_search"}], "tool_choice": "auto"}
    inject_x_search(declared)
    assert declared == {"tools": [{"type": "x_search"}], "tool_choice": "auto"}
    nested = {"input": [{"type": "additional_tools", "tools": [{"type": "x_search"}]}]}
    inject_x_search(nested)
    assert "tools" not in nested


def test_x_search_allowed_tools_without_a_list():
    body = {"tool_choice": {"type": "allowed_tools", "mode": "auto"}}
    inject_x_search(body)
    assert body["tool_choice"] == {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "x_search"}]}


# ---------------------------------------------------------------- Kimi attribution


def test_attribution_block_is_dropped_other_system_kept():
    body = {
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.1; cch=00000;"},
            {"type": "text", "text": "You are helpful."},
        ]
    }
    strip_claude_attribution(body)
    assert body["system"] == [{"type": "text", "text": "You are helpful."}]
    only = {"system": "  x-anthropic-billing-header: cc_version=2.1.1;"}
    strip_claude_attribution(only)
    assert "system" not in only
    kept = {"system": "You are x-anthropic-billing-header: no"}
    strip_claude_attribution(kept)
    assert kept["system"] == "You are x-anthropic-billing-header: no"


# ---------------------------------------------------------------- passthrough-headers


def test_response_header_filter_as_cpa():
    src: CIMultiDict[str] = CIMultiDict()
    src.add("Connection", "keep-alive, x-hop-a, x-hop-b")
    src.add("Connection", "x-hop-c")
    for name, value in (
        ("Keep-Alive", "timeout=5"),
        ("X-Hop-A", "a"),
        ("X-Hop-B", "b"),
        ("X-Hop-C", "c"),
        ("X-Request-Id", "req-1"),
        ("Set-Cookie", "session=secret"),
        ("x-cpa-trace-id", "upstream-trace"),
        ("Access-Control-Expose-Headers", "upstream-header"),
        ("x-litellm-model-id", "gw"),
        ("helicone-id", "gw"),
        ("Content-Type", "text/plain"),
        ("Content-Length", "12"),
    ):
        src[name] = value
    out = forwardable_response_headers(src, {"Content-Type": "application/json"})
    assert out == {"X-Request-Id": "req-1"}


# ---------------------------------------------------------------- Codex


def cred(kind: str = KIND_OAUTH, **kw) -> Credential:
    base = {"id": "codex-a.json", "provider": "codex", "kind": kind}
    return Credential(**{**base, **kw})


def test_confuse_uuid_is_stable_per_credential_and_differs_across():
    first = confuse_uuid("auth-1", "prompt-cache", "key")
    assert first == confuse_uuid("auth-1", "prompt-cache", "key")
    assert first != confuse_uuid("auth-2", "prompt-cache", "key")
    assert first != confuse_uuid("auth-1", "installation", "key")
    name = "cli-proxy-api:codex:identity-confuse:prompt-cache:auth-1:key"
    assert first == str(uuid.uuid5(uuid.NAMESPACE_OID, name))


@pytest.mark.parametrize("disable", [False, True])
def test_codex_headers_oauth(disable):
    class Codex:
        disable_codex_cloaking = disable
        identity_confuse = False

    class Config:
        codex = Codex()

    identity = CodexIdentity(Config())
    c = cred(metadata={"access_token": "t", "account_id": " acct "})
    headers = identity.headers(c, {"user-agent": "curl/8", "version": "0.1"})
    identity.finish(headers)
    assert headers["Chatgpt-Account-Id"] == "acct"
    assert headers["Version"] == "0.1"
    if disable:
        assert headers["User-Agent"] == "curl/8" and headers["Originator"] == CODEX_ORIGINATOR
    else:
        assert headers["User-Agent"] == CODEX_USER_AGENT and headers["Originator"] == CODEX_ORIGINATOR


def test_identity_confuse_off_without_sticky_routing():
    class Codex:
        disable_codex_cloaking = False
        identity_confuse = True

    class Routing:
        session_affinity = False
        strategy = "round-robin"

    class Config:
        codex = Codex()
        routing = Routing()

    assert CodexIdentity(Config()).confuse is False
    Routing.strategy = "fill-first"
    assert CodexIdentity(Config()).confuse is True
