"""Claude Code's TLS hello through ``curl_cffi`` (``cliproxy.providers.impersonate``).

The expected fingerprints are CPA's, from its uTLS specs and their tests
(``helps/utls_client_test.go``, ``auth/claude/utls_transport_test.go``: Claude Code
2.1.220 on Node). A local TLS fake behind a front that records the raw ClientHello
stands in for api.anthropic.com; a CONNECT proxy that sends every tunnel there lets the
client ask for ``https://api.anthropic.com`` itself, so the hello carries the real SNI.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import anthropic
import openai
import orjson
import pytest

from cliproxy.providers import impersonate
from cliproxy.providers.http import HttpClient
from cliproxy.providers.impersonate import (
    CHATGPT_PREFIXES,
    CHROME,
    CLAUDE_CODE,
    CLAUDE_OAUTH,
    ImpersonatingClient,
    OriginRouter,
    is_anthropic_url,
)
from cliproxy.providers.transport import UpstreamNetworkError
from tests.e2e.clients import KEY
from tests.fakes.claude import ClaudeFake
from tests.fakes.openai import OpenAIFake
from tests.fakes.proxies import HttpProxy, http_proxy, socks_proxy  # noqa: F401
from tests.fakes.server import Behavior
from tests.fakes.tls import Cert, HelloFront, make_cert, serve_tls

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")

# CPA claudeCodeTLSFingerprintFixture (native Claude Code 2.1.220 capture)
CODE_JA3 = (
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53,"
    "0-23-65281-10-11-35-16-5-13-18-51-45-43-21,29-23-24,0"
)
CODE_JA3_MD5 = "d871d02cecbde59abbf8f4806134addf"
CODE_LENGTH = 508
CODE_EXTENSION_LENGTHS = [
    (0, 22), (23, 0), (65281, 1), (10, 8), (11, 2), (35, 0), (16, 11),
    (5, 5), (13, 20), (18, 0), (51, 38), (45, 2), (43, 5), (21, 231),
]  # fmt: skip
SIGALGS = [1027, 2052, 1025, 1283, 2053, 1281, 2054, 1537, 513]
# JA4 of that hello (FoxIO JA4, computed from the fixture's ciphers, extensions, ALPN, sigalgs)
CODE_JA4 = "t13d1714h1_5b57614c22b0_43ade6aba3df"
# CPA claudeOAuthTLSClientHelloSpec (Axios on the OAuth control plane: no ALPN)
OAUTH_JA3 = (
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53,"
    "0-23-65281-10-11-35-13-51-45-43,29-23-24,0"
)
OAUTH_JA3_MD5 = "203503b7023848ab87b9836c336b8e81"
OAUTH_LENGTH = 245
OAUTH_JA4 = "t13d171000_5b57614c22b0_78e6aca7449b"
# Chrome 133 (uTLS HelloChrome_Auto in CPA's uTLS 1.8.2): JA4 is order-free, so it is stable
CHROME_JA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"

MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": "sk-ant", "Content-Type": "application/json", "anthropic-version": "2023-06-01"}


class Redirect(HttpProxy):
    """An HTTP proxy that tunnels every CONNECT to 127.0.0.1:``to``, whatever it names."""

    def __init__(self, to: int) -> None:
        super().__init__()
        self.to = to
        self.asked: list[str] = []

    async def relay(self, reader, writer, host, port, first=b"", reply=b"") -> None:
        self.asked.append(f"{host}:{port}")
        await super().relay(reader, writer, "127.0.0.1", self.to, first, reply)


@pytest.fixture
def cert(tmp_path) -> Cert:
    return make_cert(tmp_path)


@pytest.fixture
async def tls_claude(cert) -> AsyncIterator[tuple[ClaudeFake, HelloFront, Redirect]]:
    """The Claude fake over HTTPS, behind a front that records every ClientHello, and a
    proxy that takes any tunnel (``api.anthropic.com:443``) to the front."""
    fake = await serve_tls(ClaudeFake(), cert)
    front = await HelloFront(fake.port).start()
    redirect = await Redirect(front.port).start()
    yield fake, front, redirect
    await redirect.stop()
    await front.stop()
    await fake.stop()


def _client(cert: Cert, profile=CLAUDE_CODE, limits=None) -> ImpersonatingClient:
    return ImpersonatingClient(profile, limits=limits, verify=str(cert.cert))


async def _post(client, proxy: str, url="https://api.anthropic.com/v1/messages?beta=true", body=MESSAGE):
    resp = await client.request("POST", url, headers=HEADERS, body=orjson.dumps(body), proxy=proxy)
    try:
        return resp.status, await resp.read()
    finally:
        resp.release()


async def test_the_inference_hello_is_claude_codes(tls_claude, cert) -> None:
    """CPA: TestClaudeCodeTLSClientHelloSpecMatches220Capture."""
    fake, front, redirect = tls_claude
    client = _client(cert)
    try:
        status, body = await _post(client, redirect.url)
    finally:
        await client.close()
    assert status == 200 and orjson.loads(body)["type"] == "message"
    assert fake.last.headers["x-api-key"] == "sk-ant"
    assert redirect.asked == ["api.anthropic.com:443"]
    hello = front.hellos[0]
    assert hello.length == CODE_LENGTH
    assert hello.extension_lengths == CODE_EXTENSION_LENGTHS
    assert hello.ja3 == CODE_JA3 and hello.ja3_md5 == CODE_JA3_MD5
    assert hello.ja4 == CODE_JA4
    assert hello.alpn == ["http/1.1"]
    assert hello.groups == [29, 23, 24] and hello.point_formats == [0]
    assert hello.sigalgs == SIGALGS
    assert hello.versions == [772, 771]
    assert hello.key_share_groups == [29]
    assert hello.ext(0) is not None and b"api.anthropic.com" in hello.ext(0)


async def test_the_oauth_profile_hello_has_no_alpn(tls_claude, cert) -> None:
    """CPA: TestClaudeOAuthTLSClientHelloSpecMatchesNative220Capture."""
    _, front, redirect = tls_claude
    client = _client(cert, CLAUDE_OAUTH)
    try:
        status, _ = await _post(client, redirect.url)
    finally:
        await client.close()
    assert status == 200
    hello = front.hellos[0]
    assert hello.ja3 == OAUTH_JA3 and hello.ja3_md5 == OAUTH_JA3_MD5
    assert hello.length == OAUTH_LENGTH
    assert hello.alpn == [] and hello.ext(16) is None
    assert hello.ja4 == OAUTH_JA4


async def test_the_hello_of_a_python_client_differs(tls_claude, cert) -> None:
    """The check can fail: aiohttp's hello (what Claude requests used) is not Claude Code's."""
    _, front, _ = tls_claude
    http = HttpClient()
    try:
        await _post(http, "", f"https://localhost:{front.port}/v1/messages")
    except UpstreamNetworkError:
        pass  # certificate not trusted: the hello was sent all the same
    finally:
        await http.close()
    assert front.hellos and front.hellos[0].ja3_md5 != CODE_JA3_MD5


async def test_a_stream_arrives_in_pieces_and_connections_are_reused(tls_claude, cert) -> None:
    """CPA: TestCachedClaudeCodeRoundTripperReusesTransport (one curl session per hello profile)."""
    fake, front, redirect = tls_claude
    fake.stream_delay = 0.01
    client = _client(cert)
    try:
        for _ in range(2):
            resp = await client.request(
                "POST",
                "https://api.anthropic.com/v1/messages",
                headers=HEADERS,
                body=orjson.dumps({**MESSAGE, "stream": True}),
                proxy=redirect.url,
            )
            assert resp.status == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            pieces = [chunk async for chunk in resp.chunks()]
            resp.release()
            text = b"".join(pieces)
            assert len(pieces) > 1
            assert text.count(b"event: ") >= 5 and text.rstrip().endswith(b'{"type":"message_stop"}')
    finally:
        await client.close()
    assert len(front.hellos) == 1  # the second request rode the first connection


async def test_releasing_a_stream_midway_stops_it(tls_claude, cert) -> None:
    """A client that goes away: the transfer stops at once, the next request still works.
    CPA: TestCloseConnectionBodyClosesConnectionBeforeBodyOnce (what carries over: release
    closes the connection, once, safely twice)."""
    fake, front, redirect = tls_claude
    fake.stream_delay = 0.05
    client = _client(cert)
    try:
        resp = await client.request(
            "POST",
            "https://api.anthropic.com/v1/messages",
            headers=HEADERS,
            body=orjson.dumps({**MESSAGE, "stream": True}),
            proxy=redirect.url,
        )
        chunks = resp.chunks()
        assert (await anext(chunks)).startswith(b"event: message_start")
        resp.release()
        resp.release()  # safe twice
        async with asyncio.timeout(2):
            status, _ = await _post(client, redirect.url)
        assert status == 200
    finally:
        await client.close()
    assert len(front.hellos) == 2  # the cut connection was not reused


async def test_first_byte_and_idle_timeouts(tls_claude, cert) -> None:
    fake, _, redirect = tls_claude
    limits = HttpClient(connect_timeout=5, first_byte_timeout=0.2, idle_timeout=0.2)
    client = _client(cert, limits=limits)
    try:
        fake.script(Behavior(delay=1.0))
        with pytest.raises(UpstreamNetworkError) as info:
            await _post(client, redirect.url)
        assert info.value.status == 504 and "no response" in info.value.message

        limits.set_timeouts(connect=5, first_byte=5, idle=0.2)  # read per request
        fake.script(Behavior(stream_delay=1.0))
        resp = await client.request(
            "POST",
            "https://api.anthropic.com/v1/messages",
            headers=HEADERS,
            body=orjson.dumps({**MESSAGE, "stream": True}),
            proxy=redirect.url,
        )
        with pytest.raises(TimeoutError):
            async for _ in resp.chunks():
                pass
        resp.release()
    finally:
        await client.close()
        await limits.close()


async def test_connect_timeout_and_refused(cert) -> None:
    """CPA: TestUtlsRoundTripperBoundsTLSHandshake (the connect timeout covers the handshake)."""
    held: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)  # never speaks TLS
    port = silent.sockets[0].getsockname()[1]
    redirect = await Redirect(port).start()
    limits = HttpClient(connect_timeout=0.3)
    client = _client(cert, limits=limits)
    try:
        with pytest.raises(UpstreamNetworkError) as info:
            await _post(client, redirect.url)
        assert info.value.status == 504 and info.value.message == "upstream connect timed out"
        silent.close()
        await silent.wait_closed()
        with pytest.raises(UpstreamNetworkError) as info:
            await _post(client, "", f"https://127.0.0.1:{port}/v1/messages?key=secret")
        assert info.value.status == 502 and "secret" not in info.value.detail
    finally:
        for w in held:
            w.close()
        await redirect.stop()
        await client.close()
        await limits.close()


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_through_a_proxy_the_hello_is_the_same(kind, tls_claude, cert, http_proxy, socks_proxy) -> None:  # noqa: F811
    _, front, _ = tls_claude
    proxy = http_proxy if kind == "http" else socks_proxy
    client = _client(cert)
    try:
        status, _ = await _post(client, proxy.url, f"https://127.0.0.1:{front.port}/v1/messages")
    finally:
        await client.close()
    assert status == 200
    assert proxy.connections == 1 and proxy.targets[0].endswith(f":{front.port}")
    # an IP literal has no SNI, and the shorter hello needs no padding either
    assert front.hellos[0].ja3 == CODE_JA3.replace(",0-23-", ",23-").replace("-21,", ",")


@pytest.mark.parametrize(
    ("url", "anthropic"),
    [  # CPA TestFallbackRoundTripperSelectsProviderFingerprint
        ("https://api.anthropic.com/v1/messages", True),
        ("https://api.anthropic.com:443/v1/messages", True),
        ("https://api.anthropic.com:8443/v1/messages", False),
        ("https://caller@api.anthropic.com/v1/messages", False),
        ("https://api.anthropic.com.example/v1/messages", False),
        ("https://example.com/v1/messages", False),
        ("http://api.anthropic.com/v1/messages", False),
    ],
)
def test_only_anthropics_own_origin_is_impersonated(url: str, anthropic: bool) -> None:
    assert is_anthropic_url(url) is anthropic


CONFIG = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant"
    base-url: "https://api.anthropic.com"
    proxy-url: "{{redirect}}"
    models: [{{name: "claude-sonnet-4-6", alias: "tls-model"}}]
  - api-key: "sk-fake"
    base-url: "{{plain}}"
    models: [{{name: "claude-sonnet-4-6", alias: "plain-model"}}]
"""


async def test_claude_requests_to_anthropic_carry_claude_codes_hello(
    start_proxy, tls_claude, cert, fake_claude
):
    fake, front, redirect = tls_claude
    proxy = await start_proxy(
        CONFIG.replace("{plain}", fake_claude.base_url).replace("{redirect}", redirect.url)
    )
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)  # trust the fake's certificate

    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        whole = await client.messages.create(
            model="tls-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        async with client.messages.stream(
            model="tls-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            streamed = await stream.get_final_message()
        plain = await client.messages.create(
            model="plain-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert whole.content[0].text and streamed.content[0].text and plain.content[0].text
    assert [r.headers["x-api-key"] for r in fake.requests] == ["sk-ant", "sk-ant"]
    assert {h.ja3_md5 for h in front.hellos} == {CODE_JA3_MD5}
    assert set(redirect.asked) == {"api.anthropic.com:443"}
    assert [r.key for r in fake_claude.requests] == ["sk-fake"]  # a custom base-url: aiohttp


def test_without_curl_cffi_claude_falls_back_with_one_warning() -> None:
    code = """
import logging, sys
sys.modules["curl_cffi"] = None  # the library is missing
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
from cliproxy.providers import impersonate
from cliproxy.providers.http import HttpClient
from cliproxy.providers.registry import Providers
assert not impersonate.available()
for _ in range(2):
    providers = Providers()
    assert impersonate.install(providers, HttpClient()) == []
    assert providers.get("claude").transport is None and providers.get("codex").transport is None
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "curl_cffi is not installed" in warnings[0]


@pytest.mark.parametrize(
    ("url", "chrome"),
    [  # CPA: https and the host chatgpt.com
        ("https://chatgpt.com/backend-api/codex/responses", True),
        ("https://chatgpt.com:8443/backend-api/codex/responses", True),
        ("http://chatgpt.com/backend-api/codex/responses", False),
        ("https://chatgpt.com.example/backend-api/codex/responses", False),
        ("https://api.openai.com/v1/responses", False),
    ],
)
def test_only_chatgpt_gets_chromes_hello(url: str, chrome: bool) -> None:
    assert url.startswith(CHATGPT_PREFIXES) is chrome


async def test_codex_requests_to_chatgpt_carry_chromes_hello(tls_claude, cert) -> None:
    """Chrome 133 (uTLS HelloChrome_Auto): GREASE, X25519MLKEM768 first, h2 offered, the
    new ALPS codepoint and ECH GREASE; its extension order is shuffled per connection."""
    _, front, redirect = tls_claude
    client = ImpersonatingClient(CHROME, verify=str(cert.cert))
    try:
        status, _ = await _post(client, redirect.url, "https://chatgpt.com/v1/messages")
    finally:
        await client.close()
    assert status == 200  # the fake offers no h2: HTTP/1.1
    assert redirect.asked == ["chatgpt.com:443"]
    hello = front.hellos[0]
    assert hello.ja4 == CHROME_JA4  # stable although the extension order is shuffled
    assert hello.alpn == ["h2", "http/1.1"]
    assert hello.groups[:2] == [4588, 29]
    assert {17613, 65037, 27, 0, 16} <= set(hello.extension_types)
    assert any(c & 0x0F0F == 0x0A0A for c in hello.ciphers)  # GREASE


CODEX_CONFIG = f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex"
    base-url: "https://chatgpt.com/backend-api/codex"
    proxy-url: "{{redirect}}"
    models: [{{name: "gpt-5-codex", alias: "chrome-model"}}]
"""


async def test_codex_requests_to_chatgpt_go_through_chrome(start_proxy, cert) -> None:
    fake = await serve_tls(OpenAIFake(), cert)
    front = await HelloFront(fake.port).start()
    redirect = await Redirect(front.port).start()
    try:
        proxy = await start_proxy(CODEX_CONFIG.replace("{redirect}", redirect.url))
        router = proxy.service.providers.get("codex").transport
        assert isinstance(router, OriginRouter) and router.impersonating.profile is CHROME
        router.impersonating.verify = str(cert.cert)  # trust the fake's certificate
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            answer = await client.responses.create(model="chrome-model", input="hi")
        assert answer.output_text
        assert fake.last.path == "/backend-api/codex/responses" and fake.last.key == "sk-codex"
        assert redirect.asked == ["chatgpt.com:443"]
        assert front.hellos[0].ja4 == CHROME_JA4
    finally:
        await redirect.stop()
        await front.stop()
        await fake.stop()
