"""Which Claude credentials wear Claude Code's fingerprint (CPA
claude_fingerprint_policy_test.go): a subscription token always; an API key or a Kimi file
only with ``fingerprint-profile: claude-code-cli`` (or its ``oauth-cli`` alias), wherever
it points; only ``api.anthropic.com`` gets the billing block signed. Without the profile
an API key's request stays the caller's own."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_identity as ident
from cliproxy.providers import impersonate
from cliproxy.providers.claude_cloak import settings
from cliproxy.providers.claude_plan import CredentialPlan
from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_provider_identity import FAR, write_auth
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

MODEL = "claude-sonnet-4-6"
ANTHROPIC = "https://api.anthropic.com"
OAUTH_BETA = "oauth-2025-04-20"


def plan(cred: Credential, base: str = ANTHROPIC, *, kimi: bool = False) -> CredentialPlan:
    oauth = False if kimi else ident.is_oauth(cred)  # a Kimi token is no Claude subscription
    return CredentialPlan(
        cred, base=base, oauth=oauth, api_key_header=True, anthropic_host=ANTHROPIC, cloak_disabled=False
    )


POLICY_CASES: list[tuple[str, dict[str, Any], bool, bool]] = [
    # (name, credential fields, OAuth token, Claude Code CLI profile)
    ("real oauth token", {"api_key": "sk-ant-oat-real"}, True, True),
    ("api key default", {"api_key": "key-default"}, False, False),
    (
        "claude-code-cli attribute",
        {"api_key": "k", "attributes": {"fingerprint_profile": "claude-code-cli"}},
        False,
        True,
    ),
    ("oauth-cli alias", {"api_key": "k", "attributes": {"fingerprint_profile": "oauth-cli"}}, False, True),
    (
        "explicit 443 with profile",
        {
            "api_key": "k",
            "base_url": "https://api.anthropic.com:443",
            "attributes": {"fingerprint_profile": "claude-code-cli"},
        },
        False,
        True,
    ),
    (
        "gateway with profile",
        {
            "api_key": "k",
            "base_url": "https://gateway.example",
            "attributes": {"fingerprint_profile": "claude-code-cli"},
        },
        False,
        True,
    ),
    (
        "metadata profile",
        {"api_key": "k", "metadata": {"fingerprint_profile": "claude-code-cli"}},
        False,
        True,
    ),
    (
        "unknown profile ignored",
        {"api_key": "k", "attributes": {"fingerprint_profile": "not-a-profile"}},
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("fields", "oauth", "cli"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_policy_follows_the_token_and_the_profile(fields: dict[str, Any], oauth: bool, cli: bool) -> None:
    """CPA: TestResolveClaudeFingerprintPolicy (its Claude rows; the config-entry row is
    test_fingerprint_profile_cli_on_an_api_key in test_claude_cloak.py). One predicate,
    ``cli``, drives the OAuth betas, the CLI identity, the tool aliases and the cloak; an
    API key's identity is synthesized (``derived_account``), a token's is its own."""
    p = plan(Credential(id="c", provider="claude", **fields))
    assert (p.oauth, p.cli, p.settings.profile_cli or p.oauth) == (oauth, cli, cli)
    assert p.cloaks is cli  # auto mode: a CLI credential is cloaked, a plain key is not


@pytest.mark.parametrize(
    ("metadata", "cli"),
    [
        ({}, False),
        ({"fingerprint_profile": "claude-code-cli"}, True),
        ({"fingerprint-profile": "claude-code-cli"}, True),  # the hyphenated key of a Kimi OAuth file
    ],
    ids=["default", "profile", "hyphenated"],
)
def test_kimi_file_takes_the_profile_from_its_metadata(metadata: dict[str, Any], cli: bool) -> None:
    """CPA: TestResolveClaudeFingerprintPolicy (its Kimi rows)."""
    cred = Credential(
        id="kimi-1", provider="kimi", metadata={"access_token": "kimi-access-token", **metadata}
    )
    p = plan(cred, "https://api.kimi.com/coding", kimi=True)
    assert not p.oauth and p.cli is cli and not p.signed


def test_policy_is_origin_independent() -> None:
    """CPA: TestResolveClaudeFingerprintPolicyIsOriginIndependent: the same credential is a
    CLI credential whatever its upstream; only api.anthropic.com signs the billing block."""
    for base, signed in [
        (ANTHROPIC, True),
        ("https://gateway.example", False),
        ("https://api.kimi.com", False),
    ]:
        cred = Credential(
            id="o",
            provider="claude",
            api_key="key-origin",
            base_url=base,
            attributes={"fingerprint_profile": "claude-code-cli"},
        )
        p = plan(cred, base)
        assert (p.oauth, p.cli, p.signed) == (False, True, signed), base


SIGNING_CASES: list[tuple[str, str, str, bool, bool]] = [
    # (name, api key, base URL, claude-code-cli profile, signed)
    ("official API key default", "key-123", ANTHROPIC, False, False),
    ("official API key opt-in", "key-123", ANTHROPIC, True, True),
    ("Kimi API key default", "key-123", "https://api.kimi.com", False, False),
    ("Kimi API key opt-in", "key-123", "https://api.kimi.com", True, False),
    ("gateway API key opt-in", "key-123", "https://gateway.example", True, False),
    ("anthropic host over http opt-in", "key-123", "http://api.anthropic.com", True, False),
    ("anthropic host explicit 443 opt-in", "key-123", "https://api.anthropic.com:443", True, True),
    ("anthropic lookalike host opt-in", "key-123", "https://api.anthropic.com.evil.example", True, False),
    ("Claude OAuth", "sk-ant-oat-custom", ANTHROPIC, False, True),
    ("Claude OAuth custom gateway", "sk-ant-oat-custom", "https://gateway.example", False, True),
]


@pytest.mark.parametrize(
    ("api_key", "base", "profile", "signed"),
    [c[1:] for c in SIGNING_CASES],
    ids=[c[0] for c in SIGNING_CASES],
)
def test_which_requests_sign_the_billing_block(api_key: str, base: str, profile: bool, signed: bool) -> None:
    """CPA: TestClaudeCCHSigningEnabled (its Claude rows). A subscription token signs on
    every upstream (the proxy is the hop that has to produce the cch); an opted-in API key
    only on https://api.anthropic.com, where Claude Code itself signs; a gateway keeps a
    cache-stable billing block. CPA's Vertex and other-provider rows are n.a.: cliproxy
    sends Claude requests to Anthropic's Messages API or a gateway of it only."""
    attributes = {"fingerprint_profile": "claude-code-cli"} if profile else {}
    cred = Credential(id="s", provider="claude", api_key=api_key, base_url=base, attributes=attributes)
    assert plan(cred, base).signed is signed


def test_kimi_identity_survives_access_token_rotation() -> None:
    """CPA: TestKimiExecutor_ClaudeCodeCLIIdentitySurvivesAccessTokenRotation: a Kimi file's
    synthesized device and account come from the credential, not its current token."""
    before, after = (
        Credential(id="stable-kimi-auth", provider="kimi", metadata={"access_token": token})
        for token in ("token-before-refresh", "token-after-refresh")
    )
    assert ident.derived_device(before) == ident.derived_device(after)
    assert ident.derived_account(before) == ident.derived_account(after)


# ---------------------------------------------------------------------- through the proxy


async def test_cli_profile_on_a_gateway_takes_a_bearer_and_the_oauth_betas(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_ClaudeCodeCLIFingerprintOnThirdPartyGateway,
    TestApplyClaudeHeaders_ClaudeCodeCLIProfileUsesOAuthBetasWithoutPretendingToken. The key
    goes as a bearer (no ``x-api-key``), with the full OAuth beta set; the billing block is
    unsigned off Anthropic's host; the synthesized identity's session is the session header;
    custom tools go as ``mcp__`` aliases (their round trip: test_claude_tool_alias.py)."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-third-party"\n'
        f'    base-url: "{fake_claude.base_url}"\n    fingerprint-profile: claude-code-cli\n'
    )
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=32,
            messages=[{"role": "user", "content": "What can you do?"}],
            tools=[{"name": "read_file", "description": "Read a file", "input_schema": TOOL_SCHEMA}],
        )
    rec = fake_claude.last
    assert rec.headers["Authorization"] == "Bearer key-third-party" and "x-api-key" not in rec.headers
    betas = rec.headers["anthropic-beta"].split(",")
    assert {OAUTH_BETA, "extended-cache-ttl-2025-04-11", ident.FALLBACK_CREDIT_BETA} <= set(betas)
    billing = rec.json["system"][0]["text"]
    assert billing.startswith("x-anthropic-billing-header:") and "cch=" not in billing
    assert rec.json["system"][1]["text"] == "You are Claude Code, Anthropic's official CLI for Claude."
    uid = orjson.loads(rec.json["metadata"]["user_id"])
    assert uid["account_uuid"] and uid["session_id"] == rec.headers["X-Claude-Code-Session-Id"]
    assert rec.json["tools"][0]["name"].startswith("mcp__")
    assert "diagnostics" not in rec.json  # CPA: never off Anthropic's host


async def test_a_plain_key_forwards_the_callers_user_agent_or_names_the_proxy(
    start_proxy, fake_claude
) -> None:
    """CPA: TestClaudeExecutor_CallerOwnedForwardsCallerUserAgent,
    TestClaudeExecutor_CallerOwnedNeverSendsGoTransportUserAgent. A caller's User-Agent goes
    through verbatim; without one the proxy names itself, never an HTTP library. The name
    differs on purpose: ``cliproxy/<version>`` where CPA sends ``CLIProxyAPI/<version>``."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-caller-owned"\n'
        f'    base-url: "{fake_claude.base_url}"\n'
    )
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    seen = []
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as http:
        for agent in ({"User-Agent": "my-sdk/1.2.3"}, {}):
            headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **agent}
            async with http.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
            seen.append(fake_claude.last.headers["User-Agent"])
    assert seen[0] == "my-sdk/1.2.3"
    assert re.fullmatch(r"cliproxy/\S+", seen[1])


# ---------------------------------------------------------------------- api.anthropic.com

needs_curl = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")


async def _official(start_proxy, tls_claude, cert, profile: str) -> Any:  # noqa: F811
    fake, _front, redirect = tls_claude
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-official"\n'
        f'    base-url: "https://api.anthropic.com"\n    proxy-url: "{redirect.url}"\n' + profile
    )
    proxy.service.providers.get("claude").transport.impersonating.verify = str(cert.cert)
    return proxy, fake


@needs_curl
async def test_official_api_key_default_respects_the_client(start_proxy, tls_claude, cert) -> None:  # noqa: F811
    """CPA: TestClaudeExecutor_OfficialAPIKeyDefaultRespectsClient,
    TestApplyClaudeHeaders_OfficialAPIKeyDefaultRespectsClient,
    TestClaudeExecutor_OfficialAPIKeyDefaultPreservesCallerCCH. ``x-api-key`` auth, the
    caller's betas and User-Agent, its tool names and its own billing block byte for byte;
    no OAuth beta, no identity, no signing, no diagnostics."""
    proxy, fake = await _official(start_proxy, tls_claude, cert, "")
    caller_billing = "x-anthropic-billing-header: cc_version=caller; cch=abcde;"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=64,
            system=[{"type": "text", "text": caller_billing}, {"type": "text", "text": "Keep this rule."}],
            messages=[{"role": "user", "content": "hello"}],
            tools=[{"name": "read_file", "input_schema": TOOL_SCHEMA}],
            extra_headers={
                "anthropic-beta": "caller-private-beta-2099-01-01",
                "User-Agent": "caller-agent/1.0",
            },
        )
    rec = fake.requests[-1]
    assert rec.headers["x-api-key"] == "key-official" and "Authorization" not in rec.headers
    assert rec.headers["anthropic-beta"] == "caller-private-beta-2099-01-01"
    assert rec.headers["User-Agent"] == "caller-agent/1.0"
    assert [b["text"] for b in rec.json["system"]] == [caller_billing, "Keep this rule."]
    assert rec.json["tools"][0]["name"] == "read_file"
    assert "diagnostics" not in rec.json and "metadata" not in rec.json


@needs_curl
async def test_official_api_key_with_the_profile_is_signed(start_proxy, tls_claude, cert) -> None:  # noqa: F811
    """CPA: TestApplyClaudeHeaders_OfficialAPIKeyClaudeCodeCLIProfileUsesOAuthBetas,
    TestClaudeExecutor_OfficialAPIKeyClaudeCodeCLIFingerprintIncludesDiagnostics.
    ``x-api-key`` auth stays; the OAuth betas, a synthesized identity, Claude Code's
    ``diagnostics`` and a finalized ``cch`` come with the profile."""
    proxy, fake = await _official(start_proxy, tls_claude, cert, "    fingerprint-profile: claude-code-cli\n")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hello"}]
        )
    rec = fake.requests[-1]
    assert rec.headers["x-api-key"] == "key-official" and "Authorization" not in rec.headers
    assert {OAUTH_BETA, "extended-cache-ttl-2025-04-11"} <= set(rec.headers["anthropic-beta"].split(","))
    assert isinstance(rec.json["diagnostics"], dict)
    billing = rec.json["system"][0]["text"]
    assert re.search(r" cch=[0-9a-f]{5};$", billing) and "cch=00000" not in billing
    uid = orjson.loads(rec.json["metadata"]["user_id"])
    assert ident.valid_device_id(uid["device_id"]) and uid["account_uuid"]


# ---------------------------------------------------------------------- Kimi


async def test_default_kimi_file_keeps_the_callers_request_without_its_billing_block(
    start_proxy, fake_claude, tmp_path
) -> None:
    """CPA: TestKimiExecutor_StripsCallerClaudeCodeCCH,
    TestStripDefaultKimiClaudeCodeAttributionRespectsProfile (its default half),
    TestKimiExecutor_ClaudeMessagesWithAndWithoutClaudeCodeCLIFingerprint (its default half;
    the profiled half: test_cli_profile_keeps_an_unsigned_billing_block in
    test_claude_kimi.py), TestKimiExecutor_DefaultCountTokensRespectsCallerBody. Kimi would
    read a caller's Claude Code billing block as prompt text: it is dropped, the rest of the
    caller's request (system, betas, User-Agent; a count's metadata) goes as sent."""
    write_auth(
        tmp_path,
        "kimi-user.json",
        {
            "type": "kimi",
            "access_token": "kimi-token",
            "refresh_token": "kimi-refresh",
            "expired": FAR,
            "base_url": fake_claude.base_url + "/coding",
        },
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.220; cch=abcde;"},
        {"type": "text", "text": "Keep this rule."},
    ]
    messages = [{"role": "user", "content": "hello"}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="kimi-k2",
            max_tokens=32,
            system=system,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            extra_headers={"anthropic-beta": "kimi-caller-beta", "User-Agent": "kimi-caller/1.0"},
        )
        rec = fake_claude.last
        assert [b["text"] for b in rec.json["system"]] == ["Keep this rule."]
        assert "metadata" not in rec.json
        assert rec.headers["anthropic-beta"] == "kimi-caller-beta"
        assert rec.headers["User-Agent"] == "kimi-caller/1.0"
        await client.messages.count_tokens(
            model="kimi-k2",
            system="caller system",
            messages=messages,  # type: ignore[arg-type]
            extra_body={"metadata": {"user_id": "caller-user"}, "context_management": {"edits": []}},
        )
    rec = fake_claude.last
    assert rec.path.endswith("/count_tokens")
    assert rec.json["metadata"] == {"user_id": "caller-user"} and rec.json["context_management"] == {
        "edits": []
    }
    assert "caller system" in orjson.dumps(rec.json["system"]).decode()
    assert b"x-anthropic-billing-header" not in orjson.dumps(rec.json)


def test_an_unknown_profile_is_warned_about_once_per_value(caplog: pytest.LogCaptureFixture) -> None:
    """CPA: TestNormalizeClaudeFingerprintProfileWarnsOncePerValue: a typo resolves to the
    default and is logged once per distinct value, not per request. Before, it was
    ignored without a word."""
    typos = ("claude-code-cli-test-typo-a", "claude-code-cli-test-typo-b")
    with caplog.at_level(logging.WARNING, logger="cliproxy.providers.claude_cloak"):
        for typo in (typos[0],) * 5 + (typos[1],) + ("claude-code-cli", "") * 3:
            cred = Credential(
                id="t", provider="claude", api_key="k", attributes={"fingerprint_profile": typo}
            )
            assert settings(cred).profile_cli is (typo == "claude-code-cli")
    logged = [r.getMessage() for r in caplog.records if "fingerprint-profile" in r.getMessage()]
    assert [sum(t in m for m in logged) for t in typos] == [1, 1] and len(logged) == 2
