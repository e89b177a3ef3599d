"""CPA's ``claude_executor_test.go`` cases that drive its executor, ported as requests
through a running proxy into the fake Anthropic upstream (a gateway's compressed answers:
``test_claude_cpa_compressed``). Each test names the CPA test it ports; what the fake
received is what CPA's test server received.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last

MODEL = "claude-sonnet-4-6"
CALLER_KEY = "sk-ant-api-1"


def api_key_config(base_url: str, *extra: str) -> str:
    lines = "".join(f"    {line}\n" for line in extra)
    return f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "{CALLER_KEY}"\n    base-url: "{base_url}"\n{lines}'


async def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A raw Messages request (the SDKs refuse some of the shapes these cases send)."""
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **(headers or {})}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/messages", json=body, headers=sent) as resp:
            return resp.status, await resp.read()


def history(*assistant: dict[str, Any], tail: dict[str, Any] | None = None) -> dict[str, Any]:
    """A two-turn conversation whose assistant turn holds ``assistant``."""
    user = tail or {"role": "user", "content": [{"type": "text", "text": "next"}]}
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": list(assistant)},
            user,
        ],
    }


# ---------------------------------------------------------------- thinking history


_ANSWER = {"type": "text", "text": "Answer"}
_BAD_THINKING = [
    (
        {"type": "thinking", "thinking": "codex reasoning", "signature": "gAAAAABopenai-encrypted-content"},
        "openai",
    ),
    (
        {
            "type": "thinking",
            "thinking": "bad reasoning",
            "signature": base64.b64encode(b"\x12\xff\xfe\xfd").decode(),
        },
        "malformed-tree",
    ),
    ({"type": "thinking", "thinking": "bad reasoning", "signature": "E!!!invalid!!!"}, "invalid-base64"),
    ({"type": "thinking", "text": "", "signature": ""}, "empty"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("block", "kind"), _BAD_THINKING, ids=[k for _, k in _BAD_THINKING])
async def test_thinking_a_claude_model_cannot_verify_is_dropped(
    start_proxy, fake_claude, block: dict[str, Any], kind: str, stream: bool
) -> None:
    """TestClaudeExecutor_ExecuteStripsOpenAIEncryptedThinkingBeforeUpstream,
    _ExecuteStreamStripsOpenAIEncryptedThinkingBeforeUpstream,
    _ExecuteStripsMalformedEPrefixThinkingBeforeUpstream,
    _ExecuteStripsInvalidBase64ThinkingBeforeUpstream and
    _ExecuteStripsEmptySignatureEmptyTextThinking: the assistant turn keeps its text only.

    CPA: TestClaudeExecutor_ExecuteStreamStripsOpenAIEncryptedThinkingBeforeUpstream,
    TestClaudeExecutor_ExecuteStripsMalformedEPrefixThinkingBeforeUpstream,
    TestClaudeExecutor_ExecuteStripsInvalidBase64ThinkingBeforeUpstream,
    TestClaudeExecutor_ExecuteStripsEmptySignatureEmptyTextThinking."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    body = {**history(block, _ANSWER), "stream": stream}
    status, _ = await post(proxy.url, body)
    assert status == 200
    sent = last(fake_claude).json
    assert sent["messages"][1]["content"] == [_ANSWER]
    assert b"reasoning" not in orjson.dumps(sent)


async def test_foreign_tool_use_signatures_are_dropped(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_ExecuteStripsForeignToolUseSignaturesBeforeUpstream and
    TestClaudeExecutor_ExecuteSanitizesSignaturesBeforeUpstream: a tool call keeps its
    call, without another backend's signature fields; an unsigned thinking block goes."""
    call = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "lookup",
        "input": {"q": "x"},
        "signature": "skip_thought_signature_validator",
        "thought_signature": "skip_thought_signature_validator",
        "thoughtSignature": "bad2",
        "extra_content": {"google": {"thought_signature": "skip_thought_signature_validator"}},
        "model": "claude-opus-4-1",
    }
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    unsigned = {"type": "thinking", "thinking": "drop this", "signature": ""}
    text = {"type": "text", "text": "I will look it up."}
    status, _ = await post(proxy.url, {**history(unsigned, text, call, tail=result), "tools": tools})
    assert status == 200
    sent = last(fake_claude).json["messages"][1]["content"]
    assert sent == [text, {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]


async def test_a_model_outside_the_claude_family_keeps_its_history(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_ExecuteBypassesSignatureSanitizerForUnknownModel and
    TestSanitizeClaudeMessagesForClaudeUpstream_BypassesUnknownModelSignatureMatrix: a
    model another vendor serves behind an Anthropic-compatible API keeps its reasoning.

    CPA: TestShouldSanitizeClaudeMessagesForUpstream_OnlyClaudeFamily."""
    fake_claude.models = [*fake_claude.models, "mimo-v2"]
    proxy = await start_proxy(api_key_config(fake_claude.base_url, "models:", '  - name: "mimo-v2"'))
    thinking = {"type": "thinking", "thinking": "keep reasoning", "signature": ""}
    await post(proxy.url, {**history(thinking, _ANSWER), "model": "mimo-v2"})
    assert last(fake_claude).json["messages"][1]["content"] == [thinking, _ANSWER]


# ---------------------------------------------------------------- tools, headers


async def test_empty_web_search_domain_lists_are_left_out(start_proxy, fake_claude) -> None:
    """TestSanitizeClaudeWebSearchDomains through the proxy (litellm's payload of CPA issue
    #2681): the empty ``blocked_domains`` Anthropic refuses is left out; the rest stays."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    search = {
        "type": "web_search_20250305",
        "name": "web_search",
        "allowed_domains": ["anthropic.com"],
        "blocked_domains": [],
        "max_uses": 8,
    }
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=16,
            tools=[search],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "search"}],
        )
    sent = last(fake_claude).json["tools"]
    sent[0].pop("cache_control", None)  # CPA's placement: the last tool, with no system
    assert sent == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "allowed_domains": ["anthropic.com"],
            "max_uses": 8,
        }
    ]


_AGENT_HEADERS = {
    "x-claude-code-agent-id": "agent-xyz",
    "x-claude-code-parent-agent-id": "parent-agent-root",
    "x-claude-remote-container-id": "container-123",
    "x-claude-remote-session-id": "remote-sess-456",
    "x-client-app": "custom-sdk",
    "x-anthropic-additional-protection": "true",
}


@pytest.mark.parametrize("sent", [True, False], ids=["carried", "never-made-up"])
async def test_agent_and_environment_headers_are_carried(start_proxy, fake_claude, sent: bool) -> None:
    """TestClaudeExecutor_PreservesNativeAgentAndEnvironmentHeaders: a cloaked request
    carries the caller's subagent and environment headers, and makes none up."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url, "cloak:", "  mode: always"))
    headers = _AGENT_HEADERS if sent else {"user-agent": "test-client"}
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    status, _ = await post(proxy.url, body, headers)
    assert status == 200
    got = {k.lower(): v for k, v in last(fake_claude).headers.items()}
    for name, value in _AGENT_HEADERS.items():
        assert got.get(name) == (value if sent else None), name


# ---------------------------------------------------------------- rebuild-mid-system-message


_MID = {
    "model": MODEL,
    "max_tokens": 16,
    "system": "Top rule",
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "system", "content": "Mid string rule"},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {
            "role": "system",
            "content": [{"type": "text", "text": "Mid array rule", "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": [{"type": "text", "text": "continue"}]},
    ],
}


async def test_mid_system_turns_stay_by_default(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_RebuildMidSystemMessageDisabledByDefault (on a gateway, which
    takes a role=system turn from any model)."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    status, _ = await post(proxy.url, _MID)
    assert status == 200
    sent = last(fake_claude).json
    assert [m["role"] for m in sent["messages"]] == ["user", "system", "assistant", "system", "user"]
    assert sent["system"] == "Top rule"  # the caller placed a mark: its request as sent


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_mid_system_turns_join_the_system_when_asked(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_RebuildMidSystemMessageOptInMovesSystemMessages and
    TestClaudeExecutor_CountTokensRebuildsMidSystemMessagesBeforeValidation:
    ``rebuild-mid-system-message: true`` moves every role=system turn's text to the end of
    the top-level system, its cache mark kept, for Messages and count_tokens alike."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url, "rebuild-mid-system-message: true"))
    status, _ = await post(proxy.url, _MID)
    assert status == 200
    sent = last(fake_claude).json
    assert [b["text"] for b in sent["system"]] == ["Top rule", "Mid string rule", "Mid array rule"]
    assert sent["system"][2]["cache_control"] == {"type": "ephemeral"}
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        counted = await client.messages.count_tokens(
            model=MODEL,
            system="Top rule",
            messages=_MID["messages"],  # type: ignore[arg-type]
        )
    assert counted.input_tokens > 0
    sent = last(fake_claude, "/v1/messages/count_tokens").json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert [b["text"] for b in sent["system"]] == ["Top rule", "Mid string rule", "Mid array rule"]


# ---------------------------------------------------------------- max_tokens


@pytest.mark.parametrize(
    ("models", "model", "want"),
    [
        # TestEnsureModelMaxTokens_UsesRegisteredMaxCompletionTokens: the catalog's limit
        ("", MODEL, "catalog"),
        # TestEnsureModelMaxTokens_DefaultsMissingValue: a registered model without one
        ('models: [{name: "claude-house-model"}]', "claude-house-model", 1024),
    ],
    ids=["catalog", "default"],
)
async def test_missing_max_tokens_is_filled(start_proxy, fakes, models: str, model: str, want: Any) -> None:
    """A Messages request without ``max_tokens`` (Anthropic refuses it) gets the model's
    output limit, or 1024 when the model names none (CPA ``ensureModelMaxTokens``)."""
    proxy = await start_proxy(api_key_config(fakes.claude.base_url, *([models] if models else [])))
    status, raw = await post(proxy.url, {"model": model, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, raw
    sent = fakes.claude.last.json["max_tokens"]
    if want == "catalog":
        info = proxy.service.models.model_info(MODEL, "claude")
        assert info is not None and info.max_output > 0 and sent == info.max_output
    else:
        assert sent == want


async def test_an_explicit_max_tokens_is_kept(start_proxy, fakes) -> None:
    """TestEnsureModelMaxTokens_PreservesExplicitValue."""
    proxy = await start_proxy(api_key_config(fakes.claude.base_url))
    body = {"model": MODEL, "max_tokens": 2048, "messages": [{"role": "user", "content": "hi"}]}
    status, raw = await post(proxy.url, body)
    assert status == 200, raw
    assert fakes.claude.last.json["max_tokens"] == 2048


async def test_an_unregistered_model_gets_no_max_tokens(start_proxy, fakes) -> None:
    """TestEnsureModelMaxTokens_SkipsUnregisteredModel: only a model the Claude provider
    registered is filled in."""
    proxy = await start_proxy(api_key_config(fakes.claude.base_url))
    assert proxy.service.lookups.claude_max_tokens("test-claude-unregistered-model") == 0
    assert proxy.service.lookups.claude_max_tokens(MODEL) > 0


# ---------------------------------------------------------------- cloak settings without a mode


async def test_cloak_settings_without_a_mode_cloak(start_proxy, fake_claude) -> None:
    """TestApplyCloaking_PreservesConfiguredStrictModeAndSensitiveWordsWhenModeOmitted: a
    key whose ``cloak`` block sets strict mode and sensitive words but no ``mode`` is
    cloaked (``auto`` with settings): Claude Code's two system blocks only, the caller's
    system dropped, the sensitive word broken by a zero-width space."""
    cloak = "cloak: {strict-mode: true, sensitive-words: [proxy]}"
    proxy = await start_proxy(api_key_config(fake_claude.base_url, cloak))
    body = {
        "model": MODEL,
        "max_tokens": 16,
        "system": "proxy rules",
        "messages": [{"role": "user", "content": "proxy access"}],
    }
    status, _ = await post(proxy.url, body)
    assert status == 200
    sent = last(fake_claude).json
    assert len(sent["system"]) == 2 and "proxy rules" not in orjson.dumps(sent).decode()
    texts = [b["text"] for b in sent["messages"][0]["content"]]
    assert len(texts) == 2 and texts[1] == "p\u200broxy access"


async def test_cache_user_id_keeps_one_user_id_across_models(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_ReusesUserIDAcrossModelsWhenCacheEnabled: ``cloak.cache-user-id``
    gives a key one fake ``metadata.user_id`` for every model it serves."""
    models = ["models:", '  - name: "claude-sonnet-4-6"', '  - name: "claude-haiku-4-5"']
    proxy = await start_proxy(api_key_config(fake_claude.base_url, "cloak: {cache-user-id: true}", *models))
    ids = []
    for model in ("claude-sonnet-4-6", "claude-haiku-4-5"):
        status, _ = await post(
            proxy.url, {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        )
        assert status == 200
        ids.append(last(fake_claude).json["metadata"]["user_id"])
    assert ids[0] == ids[1] and orjson.loads(ids[0])["device_id"]
