"""CPA's uTLS cases (helps/utls_client_test.go, utls_client_resumption_test.go,
auth/claude/utls_transport_test.go) that carry over to cliproxy's curl_cffi client: a
TLS session resumes with a hello whose ``pre_shared_key`` is its last extension (the first
hello staying the captured one), and a request cancelled while its TLS handshake waits
returns at once, the handshake bounded by the connect timeout. The hello captures themselves are in
tests/providers/test_impersonate.py."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cliproxy.providers import impersonate
from cliproxy.providers.http import HttpClient
from cliproxy.providers.impersonate import CLAUDE_CODE, CLAUDE_OAUTH, Profile
from tests.providers.test_impersonate import (
    CODE_LENGTH,
    HEADERS,
    MESSAGE,
    OAUTH_LENGTH,
    Redirect,
    _client,
    cert,  # noqa: F401
    tls_claude,  # noqa: F401
)

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")

PSK = 41  # pre_shared_key
PADDING = 21


@pytest.mark.parametrize(
    ("profile", "length"),
    [(CLAUDE_CODE, CODE_LENGTH), (CLAUDE_OAUTH, OAUTH_LENGTH)],
    ids=["inference", "oauth"],
)
async def test_a_resumed_hello_ends_with_its_pre_shared_key(
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
    profile: Profile,
    length: int,
) -> None:
    """CPA: TestClaudeCodeTLSResumptionIsWireSafe, TestClaudeOAuthTLSResumptionIsWireSafe,
    TestClaudeCodeTLSSessionResumptionCompletesHandshake. Three connections (each stream
    released midway, so none is reused): the first hello is the captured one, without a
    pre_shared_key; the later ones resume the session, with the same extensions and the
    pre_shared_key last (RFC 8446 4.2.11; no padding once the hello is past 511 bytes),
    and their handshakes complete (each request is answered)."""
    fake, front, redirect = tls_claude
    fake.stream_delay = 0.05
    client = _client(cert, profile)
    try:
        for _ in range(3):
            resp = await client.request(
                "POST",
                "https://api.anthropic.com/v1/messages",
                headers=HEADERS,
                body=orjson.dumps({**MESSAGE, "stream": True}),
                proxy=redirect.url,
            )
            assert resp.status == 200
            assert (await anext(resp.chunks())).startswith(b"event: message_start")
            resp.release()
    finally:
        await client.close()
    first, *later = front.hellos
    assert len(later) == 2
    assert first.length == length and PSK not in first.extension_types
    fresh = [t for t in first.extension_types if t != PADDING]
    for hello in later:
        assert hello.extension_types == [*fresh, PSK]


async def test_a_cancelled_request_ends_at_once_and_its_handshake_is_bounded(cert) -> None:  # noqa: F811
    """CPA: TestUtlsRoundTripperHandshakeUsesRequestContext,
    TestUtlsRoundTripperDialUsesRequestContext, TestUtlsRoundTripperBoundsTLSHandshake.
    A server that takes the connection and never answers the hello: the cancelled request
    returns at once. A difference: curl_cffi keeps the abandoned transfer (dial and
    handshake are one transfer to it) until the connect timeout, where CPA's cancelled
    context closes the connection at once; the connect timeout bounds the handshake."""
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass  # the hello, never answered
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    redirect = await Redirect(server.sockets[0].getsockname()[1]).start()
    limits = HttpClient(connect_timeout=1)
    client = _client(cert, limits=limits)
    try:
        task = asyncio.create_task(
            client.request(
                "POST",
                "https://api.anthropic.com/v1/messages",
                headers=HEADERS,
                body=orjson.dumps(MESSAGE),
                proxy=redirect.url,
            )
        )
        await asyncio.sleep(0.3)
        assert not task.done()
        task.cancel()
        async with asyncio.timeout(0.5):
            with pytest.raises(asyncio.CancelledError):
                await task
        async with asyncio.timeout(3):
            await closed.wait()
    finally:
        await client.close()
        await limits.close()
        await redirect.stop()
        server.close()
        await server.wait_closed()
