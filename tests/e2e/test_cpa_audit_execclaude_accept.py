"""A caller-owned Claude request's ``Accept`` (an API key without the Claude Code profile),
as CPA's claude_fingerprint_policy_test.go pins it:

- a gateway's whole answer keeps the credential's ``headers:`` entries for ``Accept`` and
  ``Accept-Encoding`` (the operator's escape hatch for a gateway that wants its own media
  type), and without one the caller's ``Accept``;
- a gateway's stream asks for events whatever the credential says (an ``Accept`` entry must
  not turn event negotiation off);
- api.anthropic.com never takes a credential's entry: the caller's ``Accept`` goes, and
  Claude Code's ``Accept-Encoding``.

Before, the proxy wrote ``application/json`` over the credential's entry and never
forwarded the caller's ``Accept``.

One difference on purpose: a caller that sends its own ``Accept`` on a gateway stream
still gets ``text/event-stream`` upstream (CPA forwards the caller's): the proxy reads that
answer as events, whatever the caller asked for.
"""

from __future__ import annotations

import aiohttp
import pytest

from cliproxy.providers import impersonate
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import MODEL, last
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

_HEADERS = '{Accept: "application/vnd.gateway+json", Accept-Encoding: "identity"}'


def _config(base_url: str, proxy_url: str = "") -> str:
    more = f'    proxy-url: "{proxy_url}"\n' if proxy_url else ""
    return (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-operator-headers"\n'
        f'    base-url: "{base_url}"\n    headers: {_HEADERS}\n' + more
    )


async def _post(base: str, headers: dict[str, str], *, stream: bool = False) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    async with (
        aiohttp.ClientSession(skip_auto_headers=["Accept", "Accept-Encoding"]) as session,
        session.post(f"{base}/v1/messages", json=body, headers=sent) as resp,
    ):
        assert resp.status == 200, await resp.text()
        await resp.read()


def _one(rec, name: str) -> str:
    (value,) = rec.headers.getall(name)  # never a second spelling
    return value


async def test_operator_accept_headers_are_scoped_like_cpa(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeHeaders_CallerOwnedScopesOperatorHeaderOverrides (its gateway
    halves). The caller sends neither header; only the credential names them."""
    proxy = await start_proxy(_config(fake_claude.base_url))
    await _post(proxy.url, {})
    rec = last(fake_claude)
    assert _one(rec, "Accept") == "application/vnd.gateway+json"
    assert _one(rec, "Accept-Encoding") == "identity"
    await _post(proxy.url, {}, stream=True)
    rec = last(fake_claude)
    assert _one(rec, "Accept") == "text/event-stream"
    assert _one(rec, "Accept-Encoding") == "identity"
    # the credential's entry wins over the caller's on a gateway's whole answer
    await _post(proxy.url, {"Accept": "application/vnd.caller+json"})
    assert _one(last(fake_claude), "Accept") == "application/vnd.gateway+json"
    # our difference: a gateway stream asks for events whatever the caller sent
    await _post(proxy.url, {"Accept": "application/json"}, stream=True)
    assert _one(last(fake_claude), "Accept") == "text/event-stream"


async def test_a_gateway_without_an_entry_gets_the_callers_accept(start_proxy, fake_claude) -> None:
    """CPA's caller-owned mode forwards the caller's ``Accept`` (``EnsureHeader``), and
    sends ``application/json`` when it sent none."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-plain"\n'
        f'    base-url: "{fake_claude.base_url}"\n'
    )
    await _post(proxy.url, {"Accept": "application/vnd.caller+json"})
    assert _one(last(fake_claude), "Accept") == "application/vnd.caller+json"
    await _post(proxy.url, {})
    assert _one(last(fake_claude), "Accept") == "application/json"


needs_curl = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")


@needs_curl
async def test_the_callers_accept_is_restored_on_anthropic(start_proxy, tls_claude, cert) -> None:  # noqa: F811
    """CPA: TestApplyClaudeHeaders_CallerOwnedRestoreKeepsCallerAccept and the
    api.anthropic.com half of TestApplyClaudeHeaders_CallerOwnedScopesOperatorHeaderOverrides:
    the credential's ``Accept`` and ``Accept-Encoding`` are clawed back; the caller's own
    ``Accept`` is what goes, ``application/json`` when it sent none."""
    fake, _front, redirect = tls_claude
    proxy = await start_proxy(_config("https://api.anthropic.com", redirect.url))
    proxy.service.providers.get("claude").transport.impersonating.verify = str(cert.cert)
    await _post(proxy.url, {"Accept": "application/vnd.caller+json"})
    rec = fake.requests[-1]
    assert _one(rec, "Accept") == "application/vnd.caller+json"
    assert _one(rec, "Accept-Encoding") == "gzip, deflate, br, zstd"
    await _post(proxy.url, {})
    rec = fake.requests[-1]
    assert _one(rec, "Accept") == "application/json"
    assert _one(rec, "Accept-Encoding") == "gzip, deflate, br, zstd"
