"""Claude Code emulation through a running proxy into the fake Anthropic upstream: every
client format x each cloak mode, checked on the exact upstream system blocks, headers and
``metadata.user_id``; a real Claude Code capture passes through untouched."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.formats import Format
from tests.e2e.clients import KEY

MODEL = "claude-sonnet-4-6"  # in the OAuth catalog; refuses mid-conversation system turns
FAR = "2099-01-01T00:00:00Z"
SYSTEM = "You are a terse assistant."
PROMPT = "Say hello to the proxy"
IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
BILLING = re.compile(
    r"^x-anthropic-billing-header: cc_version=2\.1\.220\.[0-9a-f]{3}; cc_entrypoint=cli;( cch=[0-9a-f]{5};)?$"
)
DATE = "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# currentDate\n"
ACCOUNT = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


def write_oauth(tmp_path: Path, name: str, base_url: str, **extra: object) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "claude",
        "access_token": f"sk-ant-oat01-{name}",
        "refresh_token": "rt",
        "expired": FAR,
        "email": f"{name}@example.com",
        "base_url": base_url,
        "account_uuid": ACCOUNT,
        **extra,
    }
    staging = tmp_path / (name + ".staging")
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / f"claude-{name}.json")


async def send(fmt: Format, base: str, model: str, *, stream: bool = False, system: str = SYSTEM) -> None:
    """One request with a system prompt, from the official SDK of ``fmt``."""
    if fmt is Format.OPENAI:
        async with openai.AsyncOpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0) as client:
            messages: list = [{"role": "system", "content": system}, {"role": "user", "content": PROMPT}]
            if stream:
                async for _ in await client.chat.completions.create(
                    model=model, messages=messages, stream=True
                ):
                    pass
            else:
                await client.chat.completions.create(model=model, messages=messages)
    elif fmt is Format.RESPONSES:
        async with openai.AsyncOpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0) as client:
            await client.responses.create(model=model, instructions=system, input=PROMPT)
    elif fmt is Format.CLAUDE:
        async with anthropic.AsyncAnthropic(base_url=base, api_key=KEY, max_retries=0) as client:
            msgs: list = [{"role": "user", "content": PROMPT}]
            if stream:
                async with client.messages.stream(
                    model=model, max_tokens=64, system=system, messages=msgs
                ) as s:
                    await s.get_final_message()
            else:
                await client.messages.create(model=model, max_tokens=64, system=system, messages=msgs)
    else:
        client = genai.Client(
            api_key=KEY,
            http_options=gtypes.HttpOptions(
                base_url=base, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
            ),
        )
        config = gtypes.GenerateContentConfig(system_instruction=system)
        await client.aio.models.generate_content(model=model, contents=PROMPT, config=config)


def last(fake, path: str = "/v1/messages"):
    return [r for r in fake.requests if r.path == path][-1]


def texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content if b.get("type") == "text"]  # type: ignore[union-attr]


FORMATS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
async def test_oauth_auto_cloaks_every_client(start_proxy, fake_claude, tmp_path, fmt: Format) -> None:
    """CPA: TestApplyClaudeHeaders_UsesOAuthAuthorizationAndBrowserFingerprint,
    TestClaudeExecutor_LegacySystemReminderAcrossMessagesAndStream,
    TestClaudeExecutor_CacheTTLIsPairedWithExtendedCacheTTLBeta. (its count part: we ask a gateway's
    count_tokens first, see test_count_tokens_local.py)
    """
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(fmt, proxy.url, MODEL)
    rec = last(fake_claude)
    body = rec.json
    system = body["system"]
    assert len(system) == 2
    assert BILLING.match(system[0]["text"]) and " cch=" in system[0]["text"]  # OAuth always signs
    assert system[0].keys() == {"type", "text"}
    # an OAuth cloak takes the 1h cache pool (CPA upgradeClaudeCacheControlTTL)
    assert system[1] == {
        "type": "text",
        "text": IDENTITY,
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }
    first = body["messages"][0]
    assert first["role"] == "user"
    parts = texts(first["content"])
    # sonnet-4-6 refuses role=system turns: the caller's system is a reminder in the first user turn
    assert parts[0].startswith(DATE)
    assert parts[1] == f"<system-reminder>\n{SYSTEM}\n</system-reminder>"
    assert parts[2] == PROMPT
    assert all(m["role"] != "system" for m in body["messages"])
    headers = rec.headers
    assert headers["User-Agent"] == "claude-cli/2.1.220 (external, cli)"
    assert headers["X-App"] == "cli"
    assert headers["Anthropic-Version"] == "2023-06-01"
    assert headers["Anthropic-Dangerous-Direct-Browser-Access"] == "true"
    assert headers["Authorization"] == "Bearer sk-ant-oat01-one"
    betas = headers["Anthropic-Beta"].split(",")
    assert betas[:2] == ["claude-code-20250219", "oauth-2025-04-20"]
    assert "extended-cache-ttl-2025-04-11" in betas and "mid-conversation-system-2026-04-07" not in betas
    for name, value in {
        "X-Stainless-Lang": "js",
        "X-Stainless-Runtime": "node",
        "X-Stainless-Runtime-Version": "v26.3.0",
        "X-Stainless-Package-Version": "0.94.0",
        "X-Stainless-Os": "MacOS",
        "X-Stainless-Arch": "arm64",
        "X-Stainless-Retry-Count": "0",
        "X-Stainless-Timeout": "600",
    }.items():
        assert headers[name] == value, name
    uid = orjson.loads(body["metadata"]["user_id"])
    assert list(uid) == ["device_id", "account_uuid", "session_id"]
    assert uid["account_uuid"] == ACCOUNT and re.fullmatch(r"[0-9a-f]{64}", uid["device_id"])
    assert headers["X-Claude-Code-Session-Id"] == uid["session_id"]


async def test_user_id_is_stable_per_conversation(start_proxy, fake_claude, tmp_path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(Format.CLAUDE, proxy.url, MODEL)
    await send(Format.CLAUDE, proxy.url, MODEL)
    first, second = (orjson.loads(r.json["metadata"]["user_id"]) for r in fake_claude.requests[-2:])
    assert first == second  # same conversation, same credential: same id
    await send(Format.CLAUDE, proxy.url, MODEL, system="another conversation")
    other = orjson.loads(fake_claude.requests[-1].json["metadata"]["user_id"])
    assert other["session_id"] != first["session_id"]
    assert (other["device_id"], other["account_uuid"]) == (first["device_id"], first["account_uuid"])


async def test_two_oauth_files_send_different_identities(start_proxy, fake_claude, tmp_path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    write_oauth(tmp_path, "two", fake_claude.base_url, account_uuid="cccccccc-cccc-4ccc-8ccc-cccccccccccc")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  strategy: round-robin\n')
    for _ in range(4):
        await send(Format.CLAUDE, proxy.url, MODEL)
    by_token = {
        r.headers["Authorization"]: orjson.loads(r.json["metadata"]["user_id"]) for r in fake_claude.requests
    }
    assert len(by_token) == 2
    one, two = by_token["Bearer sk-ant-oat01-one"], by_token["Bearer sk-ant-oat01-two"]
    assert one["device_id"] != two["device_id"]
    assert (one["account_uuid"], two["account_uuid"]) == (ACCOUNT, "cccccccc-cccc-4ccc-8ccc-cccccccccccc")
    assert one["session_id"] == two["session_id"]  # the conversation's, whatever the credential


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
async def test_strict_mode_drops_the_caller_system(start_proxy, fake_claude, tmp_path, fmt: Format) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url, cloak_strict_mode="true")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(fmt, proxy.url, MODEL)
    body = last(fake_claude).json
    assert [b["text"] for b in body["system"]][1] == IDENTITY
    dumped = orjson.dumps(body["messages"]).decode()
    assert SYSTEM not in dumped and PROMPT in dumped


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
async def test_mode_never_keeps_the_callers_system_behind_the_billing_block(
    start_proxy, fake_claude, tmp_path, fmt: Format
) -> None:
    """CPA: TestClaudeExecutor_CustomBaseURLOAuthGeneratesMissingCCH."""
    write_oauth(tmp_path, "one", fake_claude.base_url, cloak_mode="never")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(fmt, proxy.url, MODEL)
    rec = last(fake_claude)
    system = rec.json["system"]
    # not cloaked, but an OAuth token still carries the CLI identity and a signed billing block
    assert [b["text"] for b in system][1:] == [SYSTEM]
    assert BILLING.match(system[0]["text"]) and " cch=" in system[0]["text"]
    assert rec.headers["User-Agent"].startswith("claude-cli/")
    assert orjson.loads(rec.json["metadata"]["user_id"])["account_uuid"] == ACCOUNT
    assert not any(t.startswith(DATE) for t in texts(rec.json["messages"][0]["content"]))


async def test_disable_claude_cloak_mode_turns_the_default_off(start_proxy, fake_claude, tmp_path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    write_oauth(tmp_path, "two", fake_claude.base_url, cloak_mode="always")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ndisable-claude-cloak-mode: true\n')
    for _ in range(4):
        await send(Format.CLAUDE, proxy.url, MODEL)
    seen = {r.headers["Authorization"]: [b["text"] for b in r.json["system"]] for r in fake_claude.requests}
    assert seen["Bearer sk-ant-oat01-one"][1:] == [SYSTEM]  # the global switch: not cloaked
    assert seen["Bearer sk-ant-oat01-two"][1:] == [IDENTITY]  # a credential's own mode wins


async def test_sensitive_words_and_mid_conversation_system(start_proxy, fake_claude, tmp_path) -> None:
    """CPA: TestClaudeExecutor_NonClaudeRequestUsesClaudeCode220CLIFingerprint."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
    cloak:
      mode: always
      sensitive-words: ["proxy", "terse"]
    models:
      - name: "claude-opus-4-8"
        alias: "opus"
"""
    proxy = await start_proxy(cfg)
    await send(Format.OPENAI, proxy.url, "opus")
    rec = last(fake_claude)
    body = rec.json
    assert (
        BILLING.match(body["system"][0]["text"]) and " cch=" not in body["system"][0]["text"]
    )  # API key: unsigned
    assert [m["role"] for m in body["messages"]] == ["user", "system"]  # opus-4-8 takes a role=system turn
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "You are a t\u200berse assistant.", "cache_control": {"type": "ephemeral"}}
    ]
    assert texts(body["messages"][0]["content"])[1] == "Say hello to the p\u200broxy"
    assert "mid-conversation-system-2026-04-07" in rec.headers["Anthropic-Beta"]
    assert "oauth-2025-04-20" not in rec.headers["Anthropic-Beta"]
    assert rec.headers["Authorization"] == "Bearer sk-ant-api-1"  # a custom base takes a bearer (CPA)
    uid = orjson.loads(body["metadata"]["user_id"])
    assert uid["account_uuid"] == "" and re.fullmatch(r"[0-9a-f]{64}", uid["device_id"])  # CPA's fake id


async def test_plain_api_key_keeps_the_callers_request(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_DefaultDoesNotInjectUserID,
    TestClaudeExecutor_CustomBaseURLPreservesBodyByDefault.
    """
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
"""
    proxy = await start_proxy(cfg)
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    # the caller's text and shape, plus CPA's breakpoints for a markerless caller
    # (ensureCacheControl: the system as one marked block, the rolling mark on the last turn)
    assert rec.json["system"] == [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert rec.json["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": PROMPT, "cache_control": {"type": "ephemeral"}}],
        }
    ]
    assert "metadata" not in rec.json
    assert not rec.headers["User-Agent"].startswith("claude-cli/")


async def test_fingerprint_profile_cli_on_an_api_key(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeHeaders_LegacyThirdPartyUsesStableConfiguredOSArch,
    TestApplyClaudeHeaders_UnsetStabilizationUsesStableConfiguredOSArch,
    TestResolveClaudeFingerprintPolicy (its config-entry row),
    TestClaudeExecutor_ClaudeCodeCLIFingerprintStreamMatchesWirePolicy (a gateway stream with
    the profile: the OAuth betas; its tool aliases: test_claude_tool_alias.py).
    """
    cfg = f"""
api-keys: ["{KEY}"]
claude-header-defaults:
  user-agent: "claude-cli/2.1.300 (external, cli)"
  package-version: "0.99.0"
  os: "Linux"
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
    fingerprint-profile: claude-code-cli
"""
    proxy = await start_proxy(cfg)
    await send(Format.OPENAI, proxy.url, MODEL, stream=True)
    rec = last(fake_claude)
    body = rec.json
    assert body["system"][0]["text"].startswith("x-anthropic-billing-header: cc_version=2.1.300.")
    assert " cch=" not in body["system"][0]["text"]  # signed only on api.anthropic.com
    assert body["system"][1]["text"] == IDENTITY
    assert rec.headers["User-Agent"] == "claude-cli/2.1.300 (external, cli)"
    assert rec.headers["X-Stainless-Package-Version"] == "0.99.0"
    assert rec.headers["X-Stainless-Os"] == "Linux"
    assert rec.headers["Anthropic-Beta"].startswith(
        "claude-code-20250219,oauth-2025-04-20,"
    )  # CPA's CLI betas
    assert rec.headers["Accept"] == "text/event-stream"
    uid = orjson.loads(body["metadata"]["user_id"])
    assert uid["device_id"] == hashlib.sha256(b"cpa-claude-code-cli-device|sk-ant-api-1").hexdigest()
    assert uid["account_uuid"] == str(
        uuid.uuid5(uuid.NAMESPACE_OID, "cpa-claude-code-cli-account|sk-ant-api-1")
    )


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_count_tokens_stays_native(start_proxy, fake_claude, tmp_path) -> None:
    """CPA: TestClaudeExecutor_CountTokensCloakMatchesMeasuredDirectAnthropicShape,
    TestClaudeExecutor_ClaudeCodeCLIFingerprintCountTokensKeepsNativeShape (the native shape
    and betas; its aliased tools: test_count_tokens_counts_the_aliased_tools)."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.count_tokens(
            model=MODEL, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}]
        )
    rec = last(fake_claude, "/v1/messages/count_tokens")
    assert "system" not in rec.json and "metadata" not in rec.json
    assert not any("x-anthropic-billing-header" in t for t in texts(rec.json["messages"][0]["content"]))
    assert texts(rec.json["messages"][0]["content"])[0] == f"<system-reminder>\n{SYSTEM}\n</system-reminder>"
    assert rec.headers["Anthropic-Beta"] == (
        "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
        "context-management-2025-06-27,token-counting-2024-11-01"
    )
    assert "X-Stainless-Timeout" not in rec.headers


async def test_a_non_text_system_block_is_the_clients_400(start_proxy, fake_claude, tmp_path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model=MODEL,
                max_tokens=16,
                system=[
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}
                ],  # type: ignore[list-item]
                messages=[{"role": "user", "content": PROMPT}],
            )
    assert caught.value.status_code == 400
    assert "system.0" in str(caught.value)
    assert not [r for r in fake_claude.requests if r.path == "/v1/messages"]


# a Claude Code 2.1.330 request (reference/real-clients-requests.md), strings shortened
CAPTURE_SESSION = "cef6305b-531b-4fdd-80ed-ad54f65bf1c3"
CAPTURE_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": "claude-cli/2.1.330 (external, sdk-cli)",
    "x-claude-code-session-id": CAPTURE_SESSION,
    "x-stainless-arch": "x64",
    "x-stainless-lang": "js",
    "x-stainless-os": "Linux",
    "x-stainless-package-version": "0.128.0",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime": "node",
    "x-stainless-runtime-version": "v26.12.1",
    "x-stainless-timeout": "600",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13",
    "anthropic-dangerous-direct-browser-access": "true",
    "anthropic-version": "2023-06-01",
    "x-api-key": KEY,
    "x-app": "cli",
}
CAPTURE_BODY = {
    "model": "claude-opus-5-5",
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<system-reminder>\nAttribution for git commits\n</system-reminder>",
                },
                {
                    "type": "text",
                    "text": "FAKE_TOOL Use your shell tool to run exactly this command: echo FAKE_TOOL_OK",
                },
            ],
        },
        {
            "role": "system",
            "content": "# Environment\nYou have been invoked in the following environment: \n - x",
        },
    ],
    "system": [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.330.40e; cc_entrypoint=sdk-cli; cch=1a2b3;",
        },
        {
            "type": "text",
            "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
            "cache_control": {"type": "ephemeral"},
        },
    ],
    "tools": [
        {
            "name": "Bash",
            "description": "Executes a bash command",
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        }
    ],
    "metadata": {
        "user_id": orjson.dumps(
            {"device_id": "37124ee7" + "0" * 56, "account_uuid": "", "session_id": CAPTURE_SESSION}
        ).decode()
    },
    "max_tokens": 128000,
    "thinking": {"type": "adaptive", "display": "updates"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
    "stream": False,
}
CAPTURE_DEFAULTS = """
claude-header-defaults:
  user-agent: "claude-cli/2.1.330 (external, sdk-cli)"
  package-version: "0.128.0"
  runtime-version: "v26.12.1"
"""


async def post_capture(proxy) -> None:
    raw = orjson.dumps(CAPTURE_BODY)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/messages?beta=true", data=raw, headers=CAPTURE_HEADERS
        ) as resp:
            assert resp.status == 200, await resp.text()


async def test_real_claude_code_passes_through_byte_identical(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_ConfirmedClaudeCodeRequestPreservesInteractiveIdentity,
    TestClaudeExecutor_ConfirmedClaudeCodeWithoutCacheControlPreservesContent,
    TestClaudeDeviceProfileStabilizationEnabled_DefaultFalse. (stabilizing is off by default: the
    client's Linux platform goes on)
    """
    cfg = f"""
api-keys: ["{KEY}"]
{CAPTURE_DEFAULTS}
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
    cloak:
      mode: always
    models:
      - name: "claude-opus-5-5"
        thinking: {{levels: [low, medium, high, max]}}  # its own: a model the catalog lacks thinks
"""
    proxy = await start_proxy(cfg)
    await post_capture(proxy)
    rec = last(fake_claude)
    assert rec.body == orjson.dumps(CAPTURE_BODY)  # "always" never overrides a confirmed Claude Code
    for name in (
        "user-agent",
        "x-claude-code-session-id",
        "anthropic-beta",
        "x-stainless-os",
        "x-stainless-arch",
    ):
        assert rec.headers[name] == CAPTURE_HEADERS[name], name


async def test_real_claude_code_on_oauth_takes_the_credentials_identity(
    start_proxy, fake_claude, tmp_path
) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{CAPTURE_DEFAULTS}')
    body = {**CAPTURE_BODY, "model": MODEL}
    raw = orjson.dumps(body)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/messages?beta=true", data=raw, headers=CAPTURE_HEADERS
        ) as resp:
            assert resp.status == 200, await resp.text()
    rec = last(fake_claude)
    sent = rec.json
    uid = orjson.loads(sent["metadata"]["user_id"])
    assert uid["session_id"] == CAPTURE_SESSION and uid["account_uuid"] == ACCOUNT  # the account sending it
    assert sent["messages"] == body["messages"] and sent["tools"] == body["tools"]
    assert sent["system"][1:] == body["system"][1:]
    assert re.fullmatch(r".*cc_entrypoint=sdk-cli; cch=[0-9a-f]{5};", sent["system"][0]["text"])
    assert sent["system"][0]["text"] != body["system"][0]["text"]  # re-signed for the new body
    betas = rec.headers["anthropic-beta"].split(",")
    assert (
        betas[:2] == ["claude-code-20250219", "oauth-2025-04-20"]
        and betas[-1] == "extended-cache-ttl-2025-04-11"
    )


async def test_a_credentials_own_headers_win_over_the_cli_identity(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeHeaders_LegacyModePreservesConfiguredUserAgentOverrideForClaudeClients."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
    cloak: {{mode: always}}
    headers:
      User-Agent: "my-gateway-agent/1.0"
"""
    proxy = await start_proxy(cfg)
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    assert rec.headers.getall("User-Agent") == ["my-gateway-agent/1.0"]  # one header, the credential's
    assert rec.headers["X-App"] == "cli"
