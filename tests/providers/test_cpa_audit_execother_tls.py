"""The TLS hello of Antigravity's own connection pools (CPA
``TestAntigravityTransportMatchesNativeTLSProfile``, antigravity_executor.go
``cloneTransportWithHTTP11``): the native Antigravity client sends no ALPN extension and
speaks HTTP/1.1 over TLS 1.3, so CPA's per-account transports clear ``NextProtos``. Cloud
Code sees the hello before any header; a hello that offers ``http/1.1`` where the native
client offers nothing sets a CPA-or-native request apart from ours.

A local HTTPS server behind a front that records each raw ClientHello stands in for Cloud
Code; the process trusts its self-signed certificate through ``SSL_CERT_FILE`` (read when a
client makes its TLS context, on first use). Every other upstream keeps the shared client's
hello, ALPN ``http/1.1`` (docs/identity.md, "TLS fingerprint").
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from cliproxy.providers.account_pools import AccountPools
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import UpstreamNetworkError, read_body
from tests.fakes.tls import Cert, HelloFront, make_cert

ALPN = 16  # the application_layer_protocol_negotiation extension


class _Https:
    """A server that answers every request with its protocol version and TLS version."""

    def __init__(self, cert: Cert) -> None:
        self.cert = cert
        self.port = 0
        self.seen: list[tuple[str, str | None]] = []
        self._runner: web.AppRunner | None = None

    async def _any(self, request: web.Request) -> web.Response:
        tls = request.transport.get_extra_info("ssl_object") if request.transport else None
        version = tls.version() if isinstance(tls, ssl.SSLObject) else None
        self.seen.append((f"HTTP/{request.version.major}.{request.version.minor}", version))
        return web.json_response({"ok": True})

    async def start(self) -> _Https:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.cert.server_context())
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[HelloFront, _Https]]:
    cert = make_cert(tmp_path, ("localhost",))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
    server = await _Https(cert).start()
    hello = await HelloFront(server.port).start()
    yield hello, server
    await hello.stop()
    await server.stop()


@pytest.mark.parametrize("kind", ["fast", "aiohttp"])
async def test_an_antigravity_pool_offers_no_alpn(front: tuple[HelloFront, _Https], kind: str) -> None:
    """An account's pool (``upstream-http`` either way) sends a hello without ALPN and then
    HTTP/1.1 over TLS 1.3, twice on one connection (the pool keeps it)."""
    hellos, server = front
    base = HttpClient(upstream_http=kind)
    try:
        client = AccountPools(base).pool("id:antigravity-native-tls")
        for _ in range(2):
            resp = await client.request(
                "POST", f"https://127.0.0.1:{hellos.port}/v1internal:generateContent", headers={}, body=b"{}"
            )
            assert resp.status == 200, await read_body(resp)
            await read_body(resp)
    finally:
        await base.close()
    assert len(hellos.hellos) == 1
    assert hellos.hellos[0].ext(ALPN) is None
    assert server.seen == [("HTTP/1.1", "TLSv1.3")] * 2


@pytest.mark.parametrize("kind", ["fast", "aiohttp"])
async def test_the_shared_client_keeps_its_alpn(front: tuple[HelloFront, _Https], kind: str) -> None:
    """Every other upstream goes through the shared client, whose hello offers ``http/1.1``
    (unchanged: docs/identity.md lists it as aiohttp's / Python's OpenSSL hello)."""
    hellos, _ = front
    base = HttpClient(upstream_http=kind)
    try:
        # aiohttp made its default context at import, before SSL_CERT_FILE named the test's
        # certificate: the handshake fails after the hello, which is all this test reads
        with contextlib.suppress(UpstreamNetworkError):
            await read_body(
                await base.request("GET", f"https://127.0.0.1:{hellos.port}/x", headers={}, body=None)
            )
    finally:
        await base.close()
    assert hellos.hellos[0].ext(ALPN) == b"\x00\x09\x08http/1.1"
