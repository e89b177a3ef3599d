"""``POST /v0/management/api-call``: which proxy carries the request, as in CPA's
``internal/api/handlers/management/api_tools_test.go``.

The target is the local echo server; the proxies are the forward proxies of
``tests/fakes/proxies.py`` (which record what they relayed) and a closed port standing for a
proxy that must not be used (a request through it fails with 502).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.proxies import HttpProxy
from tests.management.conftest import mcall
from tests.management.test_ops_api import HEAD, Echo, echo, put  # noqa: F401

DEAD = "http://127.0.0.1:1"


@pytest.fixture
async def relay() -> AsyncIterator[HttpProxy]:
    async with HttpProxy() as proxy:
        yield proxy


async def call(proxy: Any, target: Echo, index: str = "", proxy_url: str = "") -> int:
    body = {"auth_index": index, "method": "GET", "url": target.url + "/probe", "proxy_url": proxy_url}
    status, answer = await mcall(proxy, "POST", "/api-call", body)
    assert status == 200, answer
    assert answer["status_code"] == 201
    return len(target.seen)


async def test_request_proxy_url_overrides_credential_and_global(mproxy, echo, relay):  # noqa: F811
    """TestAPICallUsesRequestProxyURL, TestAPICallTransportRequestProxyOverridesCredentialAndGlobalProxy:
    the request's ``proxy_url`` (spaces trimmed) is used even when the credential and the
    global setting name other proxies."""
    proxy = await mproxy(f"{HEAD}proxy-url: {DEAD}\nclaude-api-key:\n  - api-key: k\n    proxy-url: {DEAD}\n")
    index = proxy.service.pool.credentials()[0].index
    assert await call(proxy, echo, index, f" {relay.url} ") == 1
    assert relay.targets == [echo.url.removeprefix("http://")]


async def test_direct_credential_bypasses_global_proxy(mproxy, tmp_path, echo):  # noqa: F811
    """TestAPICallTransportDirectBypassesGlobalProxy: a credential whose ``proxy_url`` is
    ``direct`` goes straight to the target although a global proxy is set."""
    put(tmp_path, "claude-a.json", {"type": "claude", "access_token": "t", "proxy_url": "direct"})
    proxy = await mproxy(f"{HEAD}proxy-url: {DEAD}\n")
    assert await call(proxy, echo, proxy.service.pool.get("claude-a.json").index) == 1


async def test_malformed_credential_proxy_falls_back_to_global(mproxy, tmp_path, echo, relay):  # noqa: F811
    """TestAPICallTransportInvalidAuthFallsBackToGlobalProxy: a credential ``proxy_url`` that
    is not a proxy URL is skipped and the global ``proxy-url`` carries the request (it went
    direct before)."""
    put(tmp_path, "claude-a.json", {"type": "claude", "access_token": "t", "proxy_url": "bad-value"})
    proxy = await mproxy(f"{HEAD}proxy-url: {relay.url}\n")
    assert await call(proxy, echo, proxy.service.pool.get("claude-a.json").index) == 1
    assert relay.connections == 1


async def test_api_key_credentials_use_their_config_entry_proxy(mproxy, echo, relay):  # noqa: F811
    """TestAPICallTransportAPIKeyAuthFallsBackToConfigProxyURL: an API key's ``proxy-url``
    from its config entry (Gemini, Claude, Codex, xAI, OpenAI-compatible) wins over the
    global one."""
    entry = f"  - api-key: {{}}\n    base-url: https://up.example.com\n    proxy-url: {relay.url}\n"
    yaml = (
        f"{HEAD}proxy-url: {DEAD}\n"
        + "".join(
            f"{family}-api-key:\n" + entry.format(family) for family in ("gemini", "claude", "codex", "xai")
        )
        + "openai-compatibility:\n  - name: bohe\n    base-url: https://bohe.example.com\n"
        + f"    api-key-entries:\n      - api-key: compat-key\n        proxy-url: {relay.url}\n"
    )
    proxy = await mproxy(yaml)
    creds = proxy.service.pool.credentials()
    assert len(creds) == 5
    for n, cred in enumerate(creds, 1):
        assert await call(proxy, echo, cred.index) == n
    assert relay.connections == 5


async def test_shared_api_key_indexes_name_their_own_credential(mproxy, echo, relay):  # noqa: F811
    """TestAuthByIndexDistinguishesSharedAPIKeysAcrossProviders: one API key under Gemini
    and an OpenAI-compatible provider gives two ``auth_index`` values, each naming its own
    credential (seen here through the proxy each one's entry sets)."""
    proxy = await mproxy(
        f"{HEAD}gemini-api-key:\n  - api-key: shared-key\n    proxy-url: {relay.url}\n"
        "openai-compatibility:\n  - name: bohe\n    base-url: https://bohe.example.com\n"
        "    api-key-entries:\n      - api-key: shared-key\n"
    )
    by_provider = {c.provider: c.index for c in proxy.service.pool.credentials()}
    assert len(set(by_provider.values())) == 2
    assert await call(proxy, echo, by_provider["openai-compatible-bohe"]) == 1
    assert relay.connections == 0
    assert await call(proxy, echo, by_provider["gemini"]) == 2
    assert relay.connections == 1
