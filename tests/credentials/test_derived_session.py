"""The derived conversation identity (CPA sdk/cliproxy/session/identity_test.go, ported:
inputs and asserted facts), plus the encoding facts CPA's ids depend on."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
import pytest

from cliproxy.credentials.derived_session import (
    affinity_key,
    antigravity_session_id,
    caller_scope,
    derive_id,
    has_explicit_session,
    provider_session_uuid,
    session_identity,
)
from cliproxy.formats import Format
from cliproxy.providers.codex_ws_wire import SESSION_HEADER

GROWTH = [
    (
        Format.OPENAI,
        {"messages": [{"role": "system", "content": "system prompt"}, {"role": "developer", "content": "developer prompt"}, {"role": "user", "content": "complete first user prompt"}]},
        {"messages": [{"role": "system", "content": "system prompt"}, {"role": "developer", "content": "developer prompt"}, {"role": "user", "content": "complete first user prompt"}, {"role": "assistant", "content": "answer"}, {"role": "developer", "content": "later instruction"}, {"role": "user", "content": "next"}]},
    ),
    (
        Format.CLAUDE,
        {"system": [{"type": "text", "text": "system prompt"}], "messages": [{"role": "user", "content": [{"type": "text", "text": "complete first user prompt"}]}]},
        {"system": [{"type": "text", "text": "system prompt"}], "messages": [{"role": "user", "content": [{"type": "text", "text": "complete first user prompt"}]}, {"role": "assistant", "content": "answer"}, {"role": "user", "content": "next"}]},
    ),
    (
        Format.RESPONSES,
        {"instructions": "system prompt", "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "developer prompt"}]}, {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "complete first user prompt"}]}]},
        {"instructions": "system prompt", "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "developer prompt"}]}, {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "complete first user prompt"}]}, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answer"}]}, {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]}]},
    ),
    (
        Format.GEMINI,
        {"systemInstruction": {"parts": [{"text": "system prompt"}]}, "contents": [{"role": "user", "parts": [{"text": "complete first user prompt"}]}]},
        {"systemInstruction": {"parts": [{"text": "system prompt"}]}, "contents": [{"role": "user", "parts": [{"text": "complete first user prompt"}]}, {"role": "model", "parts": [{"text": "answer"}]}, {"role": "user", "parts": [{"text": "next"}]}]},
    ),
    (
        Format.INTERACTIONS,
        {"system_instruction": "system prompt", "input": [{"type": "developer_instruction", "text": "developer prompt"}, {"type": "user_input", "content": [{"type": "text", "text": "complete first user prompt"}]}]},
        {"system_instruction": "system prompt", "input": [{"type": "developer_instruction", "text": "developer prompt"}, {"type": "user_input", "content": [{"type": "text", "text": "complete first user prompt"}]}, {"type": "model_output", "content": [{"type": "text", "text": "answer"}]}, {"type": "user_input", "content": [{"type": "text", "text": "next"}]}]},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "first", "later"), GROWTH, ids=[g[0].value for g in GROWTH])
def test_stable_across_conversation_growth(fmt: Format, first: dict[str, Any], later: dict[str, Any]) -> None:
    """CPA: TestDeriveIDStableAcrossConversationGrowth."""
    first_id = derive_id(fmt, first, "caller-a")
    assert first_id.startswith("ctx:v1:") and len(first_id) == len("ctx:v1:") + 64
    assert derive_id(fmt, later, "caller-a") == first_id


def test_instruction_prefix_and_full_user() -> None:
    """CPA: TestDeriveIDInstructionPrefixAndFullUser."""
    prefix = "界" * 50

    def body(system_tail: str, user_tail: str) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": prefix + system_tail},
                {"role": "user", "content": "u" * 120 + user_tail},
            ]
        }

    first = derive_id(Format.OPENAI, body("timestamp-a", "a"), "caller-a")
    assert first
    # what follows the first 50 characters of an instruction does not count
    assert derive_id(Format.OPENAI, body("timestamp-b", "a"), "caller-a") == first
    # the first user input counts whole
    assert derive_id(Format.OPENAI, body("timestamp-b", "b"), "caller-a") != first


def test_caller_isolation_and_gemini_cached_content() -> None:
    """CPA: TestDeriveIDCallerIsolationAndGeminiCachedContent."""
    payload = {"messages": [{"role": "user", "content": "same prompt"}]}
    a = derive_id(Format.OPENAI, payload, caller_scope("api-key-a"))
    b = derive_id(Format.OPENAI, payload, caller_scope("api-key-b"))
    assert a and b and a != b

    def cached(*texts: str) -> dict[str, Any]:
        roles = ["user", "model", "user"]
        return {
            "cachedContent": "cachedContents/abc",
            "contents": [{"role": roles[i], "parts": [{"text": t}]} for i, t in enumerate(texts)],
        }

    first = derive_id(Format.GEMINI, cached("first"), "caller-a")
    assert first and derive_id(Format.GEMINI, cached("first", "answer", "next"), "caller-a") == first
    assert derive_id(Format.GEMINI, cached("different"), "caller-a") != first
    # the cached content is part of the root
    assert derive_id(Format.GEMINI, {"contents": cached("first")["contents"]}, "caller-a") != first


def test_requires_first_user() -> None:
    """CPA: TestDeriveIDRequiresFirstUser."""
    assert derive_id(Format.OPENAI, {"messages": [{"role": "system", "content": "shared system"}]}, "c") == ""
    assert derive_id(Format.RESPONSES, {"instructions": "x"}, "c") == ""
    # a first user turn with nothing in it ends the search (CPA: later turns are not read)
    empty_first = {"messages": [{"role": "user", "content": ""}, {"role": "user", "content": "later"}]}
    assert derive_id(Format.OPENAI, empty_first, "c") == ""


EXPLICIT: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("claude code header", {"X-Claude-Code-Session-Id": "claude-session"}, {}),
    ("session header", {"x-session-id": "header-session"}, {}),
    ("opencode affinity header", {"X-Session-Affinity": "opencode-session"}, {}),
    ("codex session header", {"Session_id": "s"}, {}),
    ("client request id", {"X-Client-Request-Id": "r"}, {}),
    ("conversation object", {}, {"conversation": {"id": "conversation-session"}}),
    ("conversation string", {}, {"conversation": "conversation-session"}),
    ("metadata user id", {}, {"metadata": {"user_id": "explicit-user"}}),
    (
        "long legacy claude metadata session",
        {},
        {"metadata": {"user_id": "x" * 300 + "_session_ac980658-63bd-4fb3-97ba-8da64cb1e344"}},
    ),
    ("json metadata user id without a session", {}, {"metadata": {"user_id": '{"device_id":"abc123"}'}}),
    ("body session id", {}, {"session_id": "body-session"}),
    ("prompt cache key", {}, {"prompt_cache_key": "cache-session", "input": "hello"}),
]


@pytest.mark.parametrize(("headers", "extra"), [e[1:] for e in EXPLICIT], ids=[e[0] for e in EXPLICIT])
def test_explicit_sessions_skip_derivation(headers: dict[str, str], extra: dict[str, Any]) -> None:
    """CPA: TestEnrichSkipsDerivationForExplicitSessions; also the derivation half of
    TestEnrichCarriesRequestPayloadIntoSelectionOptions (a body conversation is explicit)."""
    body = {"messages": [{"role": "user", "content": "hello"}], **extra}
    assert has_explicit_session(headers, body)
    assert session_identity(Format.OPENAI, body, headers, "key") == ""


INVALID: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("oversized prompt cache key", {}, {"prompt_cache_key": "x" * 257}),
    ("trailing control character prompt cache key", {}, {"prompt_cache_key": "tenant\n"}),
    ("leading control character prompt cache key", {}, {"prompt_cache_key": "\ttenant"}),
    ("control character session header", {"X-Session-Affinity": "bad\nsession"}, {}),
]


@pytest.mark.parametrize(("headers", "extra"), [e[1:] for e in INVALID], ids=[e[0] for e in INVALID])
def test_invalid_session_identity_derives(headers: dict[str, str], extra: dict[str, Any]) -> None:
    """CPA: TestEnrichDerivesAfterInvalidSessionIdentity."""
    body = {"input": "hello", **extra}
    assert not has_explicit_session(headers, body)
    assert session_identity(Format.RESPONSES, body, headers, "") == derive_id(Format.RESPONSES, body, "")
    assert session_identity(Format.RESPONSES, body, headers, "") != ""


def test_caller_scope_is_cpas_hash() -> None:
    """CPA: TestRequestExecutionMetadataIncludesHashedCallerScope: the scope is a hash of
    the client's key, never the key itself."""
    want = hashlib.sha256(b"cli-proxy-api:caller-scope:v1\x00api-key-a").hexdigest()
    assert caller_scope(" api-key-a ") == want
    assert caller_scope("  ") == ""


def test_root_is_encoded_as_go_encodes_it() -> None:
    """The hash is of the JSON Go writes for CPA's struct: fields in declaration order,
    empty instructions left out, map keys sorted, HTML characters escaped."""
    body = {
        "messages": [
            {"role": "system", "content": "be <brief> & kind"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"z": 1.0, "a": {"cache_control": {"type": "ephemeral"}, "b": True}},
                ],
            },
        ]
    }
    root = (
        b'{"version":"cpa-session-root-v1","format":"openai","caller_scope":"s",'
        b'"instructions":["be \\u003cbrief\\u003e \\u0026 kind"],'
        b'"user":[{"kind":"text","value":"hi"},{"kind":"image","value":"https://x/y.png"},'
        b'{"kind":"json","value":"{\\"a\\":{\\"b\\":true},\\"z\\":1}"}]}'
    )
    assert derive_id(Format.OPENAI, body, "s") == "ctx:v1:" + hashlib.sha256(root).hexdigest()
    no_instructions = {"messages": [{"role": "user", "content": "hi"}]}
    bare = b'{"version":"cpa-session-root-v1","format":"openai","caller_scope":"","user":[{"kind":"text","value":"hi"}]}'
    assert derive_id(Format.OPENAI, no_instructions, "") == "ctx:v1:" + hashlib.sha256(bare).hexdigest()


def test_media_parts() -> None:
    claude = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}
                ],
            }
        ]
    }
    gemini = {
        "contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAA"}}]}]
    }
    root_claude = orjson.dumps(
        {
            "version": "cpa-session-root-v1",
            "format": "claude",
            "caller_scope": "",
            "user": [{"kind": "image", "mime": "image/png", "value": "AAA"}],
        }
    )
    assert derive_id(Format.CLAUDE, claude, "") == "ctx:v1:" + hashlib.sha256(root_claude).hexdigest()
    root_gemini = root_claude.replace(b'"claude"', b'"gemini"').replace(b'"image"', b'"inline_data"')
    assert derive_id(Format.GEMINI, gemini, "") == "ctx:v1:" + hashlib.sha256(root_gemini).hexdigest()


def test_provider_uuids() -> None:
    """CPA: TestDerivedSessionProviderMappings, TestProviderSessionUUIDPrefersExecutionSession,
    TestDerivedSessionProviderMappingsRequireIdentity: each provider its own stable UUID of
    the derived id; the execution session wins over the derived id; nothing without an
    identity (Antigravity's caller asks only with a derived id)."""
    codex = provider_session_uuid("codex", "", "ctx:v1:x")
    assert str(uuid.UUID(codex)) == codex == provider_session_uuid("codex", "", "ctx:v1:x")
    assert codex != provider_session_uuid("xai", "", "ctx:v1:x")
    execution = provider_session_uuid("codex", "ws-1", "ctx:v1:x")
    assert execution == provider_session_uuid("Codex", "ws-1", "ctx:v1:other") != codex
    assert provider_session_uuid("codex", "", "") == ""
    sid = antigravity_session_id("ctx:v1:x")
    assert sid.startswith("-") and sid[1:].isdigit() and sid == antigravity_session_id("ctx:v1:x")


def test_affinity_key_order() -> None:
    """CPA's selector order: a named session, the WebSocket's execution session, the
    derived identity (per caller), and only then the hash of the opening."""
    body = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hello"}]}
    a = {"authorization": "Bearer key-a"}
    derived = affinity_key(Format.OPENAI, a, body)
    assert derived == "derived:" + derive_id(Format.OPENAI, body, caller_scope("key-a"))
    grown = {
        "messages": [
            *body["messages"],
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "more"},
        ]
    }
    assert affinity_key(Format.OPENAI, a, grown) == derived
    assert affinity_key(Format.OPENAI, {"authorization": "Bearer key-b"}, body) != derived
    assert affinity_key(Format.OPENAI, {**a, SESSION_HEADER: "ws-1"}, body) == "execution:ws-1"
    assert affinity_key(Format.OPENAI, {**a, "x-session-id": "named"}, body) == "header:named"
    # no user input: the opening's hash, as before
    system_only = {"messages": [{"role": "system", "content": "s"}]}
    assert (affinity_key(Format.OPENAI, a, system_only) or "").startswith("msg:")
