"""Header names and order of Claude Code credential requests, as Claude Code 2.1.220 puts
them on the wire (CPA: ``helps/utls_client.go`` claudeCodeMessagesHeaderOrder /
claudeCodeCountTokensHeaderOrder and claude_executor_wire_casing_test.go
TestApplyClaudeHeaders_WireCasingMatchesRealClient), recorded by the fake upstream:
over the impersonating client to ``api.anthropic.com`` and over aiohttp to a gateway."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

from cliproxy.formats import Format
from cliproxy.providers import impersonate
from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import MODEL, last, send, write_oauth
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

SORTED_BLOCK = [
    "Accept",
    "Authorization",
    "Content-Type",
    "User-Agent",
    "X-Claude-Code-Session-Id",
    "X-Stainless-Arch",
    "X-Stainless-Lang",
    "X-Stainless-OS",
    "X-Stainless-Package-Version",
    "X-Stainless-Retry-Count",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Timeout",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "anthropic-version",
    "x-app",
    "x-client-request-id",
]
CODE_ORDER = [*SORTED_BLOCK, "Connection", "Host", "Accept-Encoding", "Content-Length"]


@pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")
async def test_anthropic_requests_carry_claude_codes_header_order(start_proxy, tls_claude, cert) -> None:  # noqa: F811
    """Through curl to api.anthropic.com: every name in Claude Code's casing and place but
    ``Connection``, which curl always writes last.

    CPA: TestClaudeExecutor_Execute_SetsCompressedAcceptEncoding,
    TestApplyClaudeHeaders_UsesOAuthAuthorizationAndBrowserFingerprint,
    TestApplyClaudeHeaders_StreamTransportNegotiation. (its api.anthropic.com half, here non-stream)
    CPA: TestClaudeCodeRequestHeaderOrderMatchesNative220Capture (difference: curl writes
    Connection last). CPA: TestApplyClaudeHeaders_UserAgentStillHoistedByGo (difference:
    Go writes User-Agent ahead of the block; here it sits in the block, as the real
    client writes it)."""
    fake, _front, redirect = tls_claude
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-oat01-wire"
    base-url: "https://api.anthropic.com"
    proxy-url: "{redirect.url}"
"""
    proxy = await start_proxy(cfg)
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        await client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    messages, count = fake.requests[-2], fake.requests[-1]
    assert messages.headers["Host"] == "api.anthropic.com"
    # an sk-ant-oat key is an OAuth token: Bearer, also on Anthropic's host (CPA claudeCredentialUsesOAuth)
    assert (
        messages.headers["Authorization"] == "Bearer sk-ant-oat01-wire"
        and "x-api-key" not in messages.headers
    )
    want = [n for n in CODE_ORDER if n != "Connection"] + ["Connection"]
    assert list(messages.headers.keys()) == want
    # Claude Code's codings, whatever the shared client decodes: curl decodes them all
    # (CPA claude_executor_test.go Execute_SetsCompressedAcceptEncoding)
    assert messages.headers["Accept-Encoding"] == "gzip, deflate, br, zstd"
    # count_tokens: the same without X-Stainless-Timeout (claudeCodeCountTokensHeaderOrder)
    assert list(count.headers.keys()) == [n for n in want if n != "X-Stainless-Timeout"]


async def test_gateway_requests_carry_claude_codes_names_and_order(
    start_proxy, fake_claude, tmp_path: Path
) -> None:
    """Through aiohttp to another base URL: Claude Code's names and order (no
    x-client-request-id off Anthropic, as in CPA), but aiohttp writes ``Host`` first.

    CPA: TestApplyClaudeHeaders_WireCasingIsAnthropicOnly (difference: CPA writes Go's
    canonical names, ``Anthropic-Beta``, ``X-App``, to any other host; here a gateway
    gets Claude Code's own casing, as Claude Code itself pointed at that gateway would
    send it: CPA's reason to restore the casing on Anthropic, names that reach the
    server verbatim over HTTP/1.1, holds for a gateway that relays them as well)."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(Format.OPENAI, proxy.url, MODEL)
    want = ["Host", *(n for n in CODE_ORDER if n not in ("Host", "x-client-request-id"))]
    assert list(last(fake_claude).headers.keys()) == want


@pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")
@pytest.mark.parametrize("key", ["sk-ant-api03-plain", "sk-ant-oat01-wire"], ids=["api-key", "oauth"])
async def test_anthropic_count_tokens_drops_the_fields_it_refuses(start_proxy, tls_claude, cert, key) -> None:  # noqa: F811
    """CPA TestClaudeExecutor_DefaultCountTokensStillStripsAnthropicRejectedFields: Anthropic's
    count_tokens refuses ``metadata``, ``context_management`` and ``diagnostics``
    ("Extra inputs are not permitted"): they are left out for any credential there."""
    fake, _front, redirect = tls_claude
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "{key}"\n'
        f'    base-url: "https://api.anthropic.com"\n    proxy-url: "{redirect.url}"\n'
    )
    router = proxy.service.providers.get("claude").transport
    router.impersonating.verify = str(cert.cert)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.count_tokens(
            model=MODEL,
            messages=[{"role": "user", "content": "hello"}],
            extra_body={
                "metadata": {"user_id": "caller-user"},
                "context_management": {"edits": []},
                "diagnostics": {"previous_message_id": None},
            },
        )
    sent = fake.requests[-1]
    assert sent.path.endswith("/count_tokens")
    assert not {"metadata", "context_management", "diagnostics"} & set(sent.json)
    assert len(sent.json["messages"]) == 1
