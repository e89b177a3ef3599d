"""CPA's claude_executor_fast_error_test.go cases a running proxy shows: a fast-mode
request to Anthropic that fails without an HTTP error (the connection could not be made,
a success answer whose body does not decode) belongs to the request, like its HTTP errors
(tests/providers/test_claude_fast_mode.py): the client gets our 502, no other credential is
tried, nothing cools. Through ``api.anthropic.com`` (the fake behind a TLS redirect)."""

from __future__ import annotations

import socket
from typing import Any

import anthropic
import pytest

from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.fakes.claude import Compression
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401


def dead_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_keys(proxy_a: str, proxy_b: str) -> str:
    """sk-a first (priority), each through its own CONNECT proxy to api.anthropic.com."""
    return f"""api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "https://api.anthropic.com"
    proxy-url: "{proxy_a}"
    priority: 2
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
  - api-key: "sk-b"
    base-url: "https://api.anthropic.com"
    proxy-url: "{proxy_b}"
    priority: 1
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""


async def start(start_proxy: Any, cert: Any, proxy_a: str, proxy_b: str) -> Any:  # noqa: F811
    proxy = await start_proxy(two_keys(proxy_a, proxy_b))
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    return proxy


async def ask(proxy: Any, *, fast: bool, stream: bool = False) -> int:
    """The status the client sees."""
    extra: dict[str, Any] = {"speed": "fast"} if fast else {}
    msgs: list[Any] = [{"role": "user", "content": "hi"}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as c:
        try:
            if stream:
                async with c.messages.stream(
                    model="claude-model", max_tokens=16, messages=msgs, extra_body=extra
                ) as s:
                    await s.get_final_text()
            else:
                await c.messages.create(model="claude-model", max_tokens=16, messages=msgs, extra_body=extra)
        except anthropic.APIStatusError as exc:
            return exc.status_code
    return 200


async def cooled(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_fast_request_whose_connection_fails_is_not_retried(
    start_proxy,
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
    stream: bool,
) -> None:
    """CPA: TestClaudeExecutorFastTransportErrorIsRequestScopedWithoutRetry. sk-a's proxy
    refuses the connection: the fast request fails with our 502 and sk-b is not asked;
    sk-a does not cool. The same failure of an ordinary request moves on to sk-b."""
    fake, _front, redirect = tls_claude
    proxy = await start(start_proxy, cert, f"http://127.0.0.1:{dead_port()}", redirect.url)
    assert await ask(proxy, fast=True, stream=stream) == 502
    assert fake.requests == []
    assert await cooled(proxy) == []
    assert await ask(proxy, fast=False, stream=stream) == 200  # control: the ordinary request fails over
    assert [r.key for r in fake.requests] == ["sk-b"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_fast_success_that_does_not_decode_is_not_retried(
    start_proxy,
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
    stream: bool,
) -> None:
    """CPA: TestClaudeExecutorFastSuccessfulHTTPDecodeErrorDoesNotExposeSuccessStatus. A
    200 that names gzip and is not: the client of a fast request gets our 502 (never the
    upstream's 200), from sk-a alone, and sk-a does not cool.
    CPA: TestManagerFastLocalErrorDoesNotRefreshRetryOrCoolCredential."""
    fake, _front, redirect = tls_claude
    fake.compression["sk-a"] = Compression("gzip", labelled=True, broken=True)
    proxy = await start(start_proxy, cert, redirect.url, redirect.url)
    assert await ask(proxy, fast=True, stream=stream) == 502
    assert [r.key for r in fake.requests] == ["sk-a"]
    assert await cooled(proxy) == []
