"""CPA's sdk/proxyutil/proxy_test.go: what each ``proxy-url`` value does (``direct`` /
``none``, ``http(s)://``, ``socks5://``, ``socks5h://``, anything else), the proxy's
credentials on the CONNECT, a cancelled dial that closes the proxy connection, and proxy
URLs in log lines without their credentials. Through ``HttpClient`` (the proxy's upstream
client) against the fake proxies, and through the running proxy where a client sees it.
``direct`` / ``none`` and plain HTTP and SOCKS5 relaying: tests/providers/test_http_proxies.py."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket

import openai
import pytest

from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient, redact_proxy
from tests.fakes.proxies import HttpProxy, http_proxy, socks_proxy  # noqa: F401


@pytest.fixture
async def http():
    client = HttpClient()
    yield client
    await client.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def get_models(http: HttpClient, base: str, proxy: str) -> int:
    resp = await http.request(
        "GET", base + "/v1/models", headers={"Authorization": "Bearer k"}, body=None, proxy=proxy
    )
    try:
        await resp.read()
        return resp.status
    finally:
        resp.release()


async def test_socks5h_relays_like_socks5(http, socks_proxy, fake_openai) -> None:  # noqa: F811
    """CPA: TestBuildHTTPTransportSOCKS5HProxy, TestBuildHTTPTransportSOCKS5ProxyInheritsDefaultTransportSettings
    (socks5 itself: test_http_proxies). ``socks5h`` names the proxy the same way; the target
    is reached through it."""
    proxy = socks_proxy.url.replace("socks5://", "socks5h://")
    assert await get_models(http, fake_openai.base_url, proxy) == 200
    assert socks_proxy.connections == 1 and socks_proxy.targets == [f"127.0.0.1:{fake_openai.port}"]


async def test_an_unsupported_value_goes_direct_with_one_error_line(http, fake_openai, caplog) -> None:
    """CPA: TestParse (its invalid case). CPA logs the parse error and builds no proxy
    transport, so the request goes out without one; we do the same, with the value
    redacted in the one error line (per value, not per request)."""
    caplog.set_level(logging.ERROR, logger="cliproxy.providers.http")
    for value in ("bad-value", "ftp://user:secret@proxy.example.com:21"):
        for _ in range(2):
            assert await get_models(http, fake_openai.base_url, value) == 200
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "proxy-url <invalid proxy URL> is not an http, https or socks5 proxy URL: requests go direct",
        "proxy-url ftp://redacted@proxy.example.com:21 is not an http, https or socks5 proxy URL: requests go direct",
    ]


async def test_the_proxys_credentials_go_on_the_connect(http, http_proxy, fake_openai) -> None:  # noqa: F811
    """CPA: TestBuildDialerHTTPProxyCONNECT, TestBuildHTTPTransportHTTPProxy. An ``https``
    target through ``http://user:pass@proxy`` is a CONNECT to its host:port carrying Basic
    proxy credentials (the fake target speaks no TLS, so the request then fails: a 502)."""
    proxy = http_proxy.url.replace("http://", "http://user:pass@")
    with pytest.raises(UpstreamError) as failed:
        await get_models(http, f"https://127.0.0.1:{fake_openai.port}", proxy)
    assert failed.value.status == 502
    assert http_proxy.targets == [f"127.0.0.1:{fake_openai.port}"]
    assert http_proxy.auths == ["Basic " + base64.b64encode(b"user:pass").decode()]


async def test_a_cancelled_dial_closes_the_proxy_connection(http) -> None:
    """CPA: TestBuildDialerHTTPProxyCONNECTCancellation. The proxy reads the CONNECT and
    never answers; the caller gives up: its dial ends and the proxy sees the connection
    close."""
    got_request, closed = asyncio.Event(), asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        got_request.set()
        if not await reader.read(1):
            closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        dial = asyncio.create_task(get_models(http, "https://20.42.0.20:443", f"http://127.0.0.1:{port}"))
        await asyncio.wait_for(got_request.wait(), 5)
        dial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(dial, 1)
        await asyncio.wait_for(closed.wait(), 1)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            "http://user:pass@proxy.example.com:8080/path?token=secret",
            "http://redacted@proxy.example.com:8080",
        ),
        ("socks5://proxy.example.com:1080", "socks5://proxy.example.com:1080"),
        ("bad-value", "<invalid proxy URL>"),
        ("http://user:secret%@proxy.example.com:8080", "http://redacted@proxy.example.com:8080"),
    ],
)
def test_redact_proxy(value: str, shown: str) -> None:
    """CPA: TestRedactProxyURL, TestParseErrorDoesNotExposeProxyCredentials."""
    assert redact_proxy(value) == shown


async def test_a_dead_socks_proxy_is_a_502_without_its_credentials(start_proxy, fake_openai, caplog) -> None:
    """A client whose upstream sits behind an unreachable SOCKS5 proxy gets a 502 in its
    own format, and no log line carries the proxy's password. Before, aiohttp-socks' own
    error escaped the upstream client as an internal error."""
    port = closed_port()
    proxy = await start_proxy(
        f"""
api-keys: ["k-client"]
proxy-url: "socks5://user:secret-pw@127.0.0.1:{port}"
openai-compatibility:
  - name: fakeopenai
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-compat-1"
    models:
      - name: "gpt-4o-mini"
"""
    )
    caplog.set_level(logging.DEBUG)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key="k-client", max_retries=0, timeout=15
    ) as c:
        with pytest.raises(openai.APIStatusError) as failed:
            await c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 502
    assert "secret-pw" not in caplog.text and "secret-pw" not in failed.value.response.text
    assert fake_openai.requests == []


@pytest.mark.parametrize("scheme", ["SOCKS5", "Socks5h"])
async def test_a_scheme_in_capitals_is_the_same_proxy(http, socks_proxy, fake_openai, scheme) -> None:  # noqa: F811
    """A URL's scheme ignores case (RFC 3986), as Go's url.Parse reads it: ``SOCKS5://``
    goes through the SOCKS proxy, one session for every request; before, it went direct
    without a word."""
    proxy = socks_proxy.url.replace("socks5", scheme, 1)
    for _ in range(2):
        assert await get_models(http, fake_openai.base_url, proxy) == 200
    assert socks_proxy.targets == [f"127.0.0.1:{fake_openai.port}"]  # one tunnel, kept alive
    assert len(http._sessions) == 1
