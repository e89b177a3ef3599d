"""The header set an Antigravity request carries on the wire, through a running proxy with
the official ``google-genai`` SDK as client, recorded by the fake Cloud Code server
(tests/fakes/gemini.py) in the order it arrived.

CPA's executor (internal/runtime/executor/antigravity_executor_request.go ``buildRequest``,
antigravity_executor_tokens.go) sets Content-Type, Authorization and User-Agent, no Accept,
and sends through Go's ``net/http`` transport (``newAntigravityHTTPClient``), which writes
Host, User-Agent and Content-Length first, the rest sorted by name, and adds its own
``Accept-Encoding: gzip`` last (then gunzips the answer). The native client is a Go program
on the same stack. Before, the proxy sent aiohttp's ``Accept: */*`` (``text/event-stream``
on a stream), no Accept-Encoding, and its own order. The same head goes out on both upstream
paths: the fast client (direct), aiohttp (``upstream-http: aiohttp``) and aiohttp through a
credential's SOCKS5 ``proxy_url`` (a tunnel: the fake sees the bytes as sent).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.providers.fastwire import head_bytes
from cliproxy.providers.gowire import canonical, ordered
from tests.e2e.clients import KEY
from tests.fakes.gemini import GeminiFake
from tests.fakes.proxies import Socks5Proxy

FAR = "2099-01-01T00:00:00Z"
MODEL = "gemini-3-flash"
# Go's order for CPA's three headers: Host, User-Agent, Content-Length, the rest sorted, the
# transport's Accept-Encoding last
GENERATION = ["Host", "User-Agent", "Content-Length", "Authorization", "Content-Type", "Accept-Encoding"]


def _account(tmp_path: Path, base_url: str, **extra: Any) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "antigravity",
        "access_token": "ag-wire-token",
        "refresh_token": "ag-wire-refresh",
        "expired": FAR,
        "email": "wire@example.com",
        "base_url": base_url,
        **extra,
    }
    staging = tmp_path / "antigravity-wire.staging"
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / "antigravity-wire.json")


def _client(url: str) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


async def _ask_all(url: str) -> None:
    """A generation, a stream and a count, each answered in full."""
    client = _client(url)
    try:
        answer = await client.aio.models.generate_content(model=MODEL, contents="Say hello")
        assert "Hello from fake" in (answer.text or "")
        parts = [
            c.text or ""
            async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="Say hello")
        ]
        assert "Hello from fake" in "".join(parts)
        count = await client.aio.models.count_tokens(model=MODEL, contents="Say hello")
        assert (count.total_tokens or 0) > 0
    finally:
        await client.aio.aclose()


def _names(fake: GeminiFake, action: str) -> list[str]:
    (rec,) = [r for r in fake.requests if r.path == "/v1internal:" + action]
    return list(rec.headers.keys())


@pytest.fixture(params=["fast", "aiohttp", "socks5"])
async def wired(request: Any, start_proxy: Any, fake_gemini: GeminiFake, tmp_path: Path) -> Any:
    """A proxy with one Antigravity account (no project yet: found by loadCodeAssist), whose
    requests go direct through the fast client, through aiohttp, or through a SOCKS5 proxy."""
    config = f'api-keys: ["{KEY}"]\n'
    extra: dict[str, Any] = {"headers": {"x-custom-id": "c-1"}}
    socks: Socks5Proxy | None = None
    if request.param == "aiohttp":
        config += "upstream-http: aiohttp\n"
    elif request.param == "socks5":
        socks = await Socks5Proxy().start()
        extra["proxy_url"] = socks.url
    _account(tmp_path, fake_gemini.base_url, **extra)
    proxy = await start_proxy(config)
    proxy.fake, proxy.socks = fake_gemini, socks
    yield proxy
    if socks is not None:
        await socks.stop()


async def test_every_request_carries_gos_header_set_and_order(wired: Any) -> None:
    """CPA ``buildRequest``'s headers as Go's Request.write puts them (no CPA test asserts
    the head; this is its source and Go's writer, read): each generation,
    stream and count carries exactly Host, User-Agent, Content-Length, Authorization,
    Content-Type, the credential's own header (a canonical name, in sorted place) and
    ``Accept-Encoding: gzip``, and no Accept; the first-use project lookup carries
    loadCodeAssist's explicit ``Accept: */*`` in its sorted place."""
    fake = wired.fake
    await _ask_all(wired.url)
    want = [*GENERATION[:-1], "X-Custom-Id", "Accept-Encoding"]
    for action in ("generateContent", "streamGenerateContent", "countTokens"):
        assert _names(fake, action) == want, action
    stream = next(r for r in fake.requests if r.path == "/v1internal:streamGenerateContent")
    assert stream.headers["Accept-Encoding"] == "gzip" and stream.headers["X-Custom-Id"] == "c-1"
    assert stream.headers["Content-Length"] == str(len(stream.body))
    assert stream.headers["User-Agent"].startswith("antigravity/")
    assert _names(fake, "loadCodeAssist") == [
        "Host", "User-Agent", "Content-Length", "Accept", "Authorization", "Content-Type", "Accept-Encoding",
    ]  # fmt: skip
    if wired.socks is not None:
        assert wired.socks.connections >= 1  # the head above came through the tunnel


async def test_other_providers_keep_their_own_header_set(start_proxy: Any, fake_gemini: GeminiFake) -> None:
    """The Go head is Antigravity's alone: a Gemini API key on the same fake still sends
    ``Accept: */*`` and no Accept-Encoding, as before (its answers stay identity)."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ngemini-api-key:\n  - api-key: "g-key"\n    base-url: "{fake_gemini.base_url}"\n'
    )
    client = _client(proxy.url)
    try:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    finally:
        await client.aio.aclose()
    rec = fake_gemini.last
    assert rec.path.endswith(":generateContent") and rec.headers["Accept"] == "*/*"
    assert "Accept-Encoding" not in rec.headers


def test_gos_head_rules() -> None:
    """Go's Request.write and Transport: canonical names (a later spelling replaces an
    earlier one, as Header.Set), Go's own User-Agent when none is given and none when an
    empty one is, no Content-Length on a GET without a body, no Accept-Encoding of its own
    on a HEAD or when the request names one (or a Range), framing headers of the caller's
    left out (Go writes its own)."""
    assert (
        canonical("x-goog-api-client") == "X-Goog-Api-Client" and canonical("CONTENT-type") == "Content-Type"
    )
    assert canonical("bad name") == "bad name"
    lines = ordered(
        "POST",
        {
            "content-type": "a",
            "Content-Type": "b",
            "transfer-encoding": "chunked",
            "Content-Length": "9",
            "zz": "1",
        },
        "12",
        True,
    )
    assert lines == [
        ("Host", ""), ("User-Agent", "Go-http-client/1.1"), ("Content-Length", "12"), ("Content-Type", "b"),
        ("Zz", "1"), ("Accept-Encoding", "gzip"),
    ]  # fmt: skip
    assert ordered("GET", {"User-Agent": "", "Host": "h.example"}, "0", False) == [
        ("Host", "h.example"),
        ("Accept-Encoding", "gzip"),
    ]
    assert ordered("HEAD", {"User-Agent": "u"}, "0", False) == [("Host", ""), ("User-Agent", "u")]
    assert ordered("POST", {"accept-encoding": "identity"}, "0", False)[-1] == ("Accept-Encoding", "identity")
    assert ("Accept-Encoding", "gzip") not in ordered("GET", {"Range": "bytes=0-1"}, "0", False)
    head = head_bytes(
        "POST", "/v1internal:generateContent", "cloudcode-pa.googleapis.com", {"User-Agent": "u"}, b"{}", True
    )
    assert head == (
        b"POST /v1internal:generateContent HTTP/1.1\r\nHost: cloudcode-pa.googleapis.com\r\nUser-Agent: u\r\n"
        b"Content-Length: 2\r\nAccept-Encoding: gzip\r\n\r\n"
    )
