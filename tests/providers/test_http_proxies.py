"""HttpClient through an HTTP proxy and a SOCKS5 proxy, and ``direct`` bypassing a global proxy."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cliproxy.providers import http as http_module
from cliproxy.providers.http import HttpClient, UpstreamNetworkError, proxy_key
from tests.fakes.proxies import http_proxy, socks_proxy  # noqa: F401

CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture
async def http():
    client = HttpClient()
    yield client
    await client.close()


async def _chat(http: HttpClient, url: str, proxy: str) -> dict:
    resp = await http.request(
        "POST",
        url + "/v1/chat/completions",
        proxy=proxy,
        body=CHAT,
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    try:
        assert resp.status == 200
        return orjson.loads(await resp.read())
    finally:
        resp.release()


async def test_http_proxy_forwards(http, http_proxy, fake_openai) -> None:  # noqa: F811
    data = await _chat(http, fake_openai.base_url, proxy_key("", http_proxy.url))
    assert data["object"] == "chat.completion"
    assert http_proxy.connections == 1
    assert http_proxy.targets == [f"127.0.0.1:{fake_openai.port}"]
    assert fake_openai.last.path == "/v1/chat/completions"
    assert "Proxy-Connection" not in fake_openai.last.headers


async def test_socks5_proxy_relays(http, socks_proxy, fake_openai) -> None:  # noqa: F811
    for _ in range(2):
        await _chat(http, fake_openai.base_url, proxy_key(socks_proxy.url, None))
    assert 1 <= socks_proxy.connections <= 2  # the second request may reuse the tunnel
    assert socks_proxy.targets[0] == f"127.0.0.1:{fake_openai.port}"
    assert len(fake_openai.requests) == 2


async def test_direct_bypasses_global_proxy(http, http_proxy, socks_proxy, fake_openai) -> None:  # noqa: F811
    """CPA: TestBuildHTTPTransportDirectBypassesProxy, TestRoundTripperForDirectBypassesProxy;
    TestNewProxyAwareWebsocketDialerDirectDisablesProxy too: the upstream WebSocket
    dials through the same ``HttpClient._session(proxy)``."""
    await _chat(http, fake_openai.base_url, proxy_key("direct", http_proxy.url))
    await _chat(http, fake_openai.base_url, proxy_key("none", socks_proxy.url))
    assert http_proxy.connections == 0 and socks_proxy.connections == 0
    assert len(fake_openai.requests) == 2


async def test_credential_proxy_wins_over_global(http, http_proxy, socks_proxy, fake_openai) -> None:  # noqa: F811
    await _chat(http, fake_openai.base_url, proxy_key(socks_proxy.url, http_proxy.url))
    assert socks_proxy.connections == 1 and http_proxy.connections == 0


async def test_proxy_sessions_are_bounded(http, http_proxy, fake_openai, monkeypatch) -> None:  # noqa: F811
    """CPA: TestTransportCacheReusesEntriesPerKey, TestTransportCacheBoundsEntries,
    TestTransportCacheEvictsLeastRecentlyUsed: one session per proxy value, reused; past
    the bound the least recently used one is closed (not the one just used again)."""
    monkeypatch.setattr(http_module, "SESSIONS_MAX", 2)
    a = http_proxy.url
    b, c = a + "/", a.replace("http://", "http://user:pw@")  # three values, one proxy
    await _chat(http, fake_openai.base_url, a)
    await _chat(http, fake_openai.base_url, b)
    first, dropped = http._sessions[a], http._sessions[b]
    await _chat(http, fake_openai.base_url, a)  # a is now the most recently used
    await _chat(http, fake_openai.base_url, c)
    assert list(http._sessions) == [a, c] and http._sessions[a] is first
    await asyncio.gather(*http._closing)
    assert dropped.closed and not first.closed
    assert len(fake_openai.requests) == 4


async def test_an_evicted_session_finishes_its_answer_first(
    http,
    http_proxy,  # noqa: F811
    fake_openai,
    monkeypatch,
) -> None:
    """CPA closes only an evicted transport's idle connections: a stream still read through
    it goes on. Here the evicted session waits for its last answer, then closes (before,
    it closed at once and the stream broke off)."""
    monkeypatch.setattr(http_module, "SESSIONS_MAX", 1)
    fake_openai.stream_delay = 0.05
    a = http_proxy.url
    stream = CHAT[:-1] + b',"stream":true}'
    resp = await http.request(
        "POST",
        fake_openai.base_url + "/v1/chat/completions",
        proxy=a,
        body=stream,
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    try:
        assert resp.status == 200
        body = bytearray()
        chunks = resp.chunks()
        body += await anext(chunks)
        evicted = http._sessions[a]
        await _chat(http, fake_openai.base_url, a + "/")  # a second proxy value: ``a`` goes
        assert a not in http._sessions and not evicted.closed
        async for chunk in chunks:
            body += chunk
    finally:
        resp.release()
    assert bytes(body).rstrip().endswith(b"data: [DONE]")
    async with asyncio.timeout(5):
        await asyncio.gather(*http._closing)
    assert evicted.closed


async def test_a_proxy_url_that_fails_to_build_is_not_kept(http, fake_openai) -> None:
    """CPA: TestTransportCacheDoesNotCacheBuildFailures: a SOCKS URL the connector refuses
    is the request's error and takes no session slot; the next request builds again."""
    for _ in range(2):
        with pytest.raises(UpstreamNetworkError):
            await _chat(http, fake_openai.base_url, "socks5://127.0.0.1:notaport")
    assert http._sessions == {}
    assert not fake_openai.requests


async def test_http_proxy_connect_tunnel(http_proxy, fake_openai) -> None:  # noqa: F811
    reader, writer = await asyncio.open_connection("127.0.0.1", http_proxy.port)
    try:
        writer.write(f"CONNECT 127.0.0.1:{fake_openai.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nConnection: close\r\n\r\n"
        )
        reply = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert reply.startswith(b"HTTP/1.1 200") and b"gpt-4o" in reply
    assert http_proxy.connections == 1
