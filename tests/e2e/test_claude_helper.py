"""A real Claude Code's Haiku helper requests through the proxy to a Claude OAuth token:
passed through as CPA passes them (claude_executor_native_helper_test.go:
TestClaudeExecutorMinimalNativeHelperPreservesMarkerlessWire,
TestClaudeExecutorStructuredNativeHelperPreservesStreamProfile). The client is a raw HTTP
client sending the captured bytes and headers, as Claude Code would."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
import pytest

from cliproxy.providers import claude_helper as helper
from cliproxy.providers.claude_identity import can_decode_br_zstd
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.providers.test_claude_helper import (
    SESSION,
    STRUCTURED_BETA,
    helper_headers,
    minimal_raw,
    structured_raw,
)

KEPT = (
    "accept",
    "content-type",
    "user-agent",
    "x-app",
    "anthropic-version",
    "anthropic-dangerous-direct-browser-access",
    "x-claude-code-session-id",
    "x-client-request-id",
    "x-stainless-async",
    "x-stainless-lang",
    "x-stainless-runtime",
    "x-stainless-package-version",
    "x-stainless-runtime-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-retry-count",
    "x-stainless-timeout",
)


async def _post(url: str, headers: dict[str, str], raw: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, skip_auto_headers=("User-Agent",)) as session:
        async with session.post(
            url + "/v1/messages?beta=true", data=raw.encode(), headers={**headers, "x-api-key": KEY}
        ) as resp:
            data = await resp.read()
            assert resp.status == 200, data
            return data


def _assert_headers_kept(got, sent: dict[str, str]) -> None:
    assert got["anthropic-beta"] == sent["anthropic-beta"]  # no claude-code / extended-cache-ttl betas
    for name in KEPT:
        assert got.get(name, "") == sent.get(name, ""), name


async def test_minimal_helper_keeps_its_markerless_wire(start_proxy, fake_claude, tmp_path: Path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    sent = helper_headers(helper.beta_profile(True))
    await _post(proxy.url, sent, minimal_raw())
    rec = last(fake_claude)
    body = rec.json
    for absent in ("system", "stream", "context_management", "output_config"):
        assert absent not in body
    assert b'"cache_control"' not in rec.body
    assert body["messages"][0]["content"] == "helper probe"
    assert rec.body.startswith(b'{"model":"claude-haiku-4-5-20251001","max_tokens":1,"messages":')
    uid = orjson.loads(body["metadata"]["user_id"])
    assert uid["session_id"] == SESSION and uid["account_uuid"] == "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    _assert_headers_kept(rec.headers, sent)
    assert rec.headers["Accept-Encoding"] == "gzip"


async def test_structured_helper_keeps_its_stream_profile(start_proxy, fake_claude, tmp_path: Path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    sent = helper_headers(helper.beta_profile(True, STRUCTURED_BETA), structured=True)
    await _post(proxy.url, sent, structured_raw())
    rec = last(fake_claude)
    body = rec.json
    assert len(body["system"]) == 3
    assert rec.body.startswith(b'{"model":"claude-haiku-4-5-20251001","messages":')
    assert "context_management" not in body and "effort" not in body["output_config"]
    assert b'"cache_control"' not in rec.body
    assert body["stream"] is True and body["temperature"] == 1
    billing = body["system"][0]["text"]
    assert " cch=" in billing and "cch=00000" not in billing  # re-signed
    _assert_headers_kept(rec.headers, sent)
    # CPA forwards the helper's full set; the proxy only offers codings it can decode
    want = sent["accept-encoding"] if can_decode_br_zstd() else "gzip"
    assert rec.headers["Accept-Encoding"] == want


async def test_a_near_miss_helper_is_cloaked(start_proxy, fake_claude, tmp_path: Path) -> None:
    """The unexpected-beta near miss is another client: cloaked like any other."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    sent = helper_headers(helper.beta_profile(True) + ",unknown-beta")
    await _post(proxy.url, sent, minimal_raw())
    rec = last(fake_claude)
    assert rec.json["system"][1]["text"].startswith("You are Claude Code")
    assert rec.headers["anthropic-beta"].startswith("claude-code-20250219,oauth-2025-04-20")


@pytest.mark.parametrize(
    ("entry", "kept"),
    [("", True), ("    fingerprint-profile: claude-code-cli\n", False)],
    ids=["unconfirmed caller default", "unconfirmed caller profile"],
)
async def test_caller_async_header_without_the_cli_profile(
    start_proxy, fake_claude, entry: str, kept: bool
) -> None:
    """CPA claude_executor_native_helper_test.go
    TestApplyClaudeHeadersPreservesCallerAsyncWithoutFingerprintOptIn (its confirmed-native
    case is the structured helper above): a caller-owned request keeps the caller's
    Stainless headers, the CLI profile sends its own."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
{entry}"""
    proxy = await start_proxy(cfg)
    raw = '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}'
    await _post(proxy.url, {"content-type": "application/json", "x-stainless-async": "async"}, raw)
    headers = last(fake_claude).headers
    assert headers.get("X-Stainless-Async") == ("async" if kept else None)
    if kept:  # and a caller that sent no User-Agent is not given a library's default
        assert headers["User-Agent"].startswith("cliproxy/")
