"""Vertex, xAI, Antigravity and Kimi through a running proxy, with the official SDKs as clients.

Each provider's base URL points at a fake upstream; the fakes' records show the URL, the
auth header and the body shape each provider received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.providers.antigravity import AntigravityProvider
from tests.e2e.clients import KEY, ask
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.usage.helpers import logs, settle

CLIENTS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
CLIENT_IDS = [c.value for c in CLIENTS]
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
PEM = (Path(__file__).parents[1] / "providers" / "data" / "sa_key.pem").read_text()
FAR = "2099-01-01T00:00:00Z"  # token expiry far away: the refresh loop leaves it alone
HEAD = f'api-keys: ["{KEY}"]\n'


def write_auth(tmp_path: Path, name: str, data: dict) -> Path:
    """An auth file in the directory the ``start_proxy`` fixture uses."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    path = auth_dir / name
    path.write_bytes(orjson.dumps(data))
    return path


def antigravity_auth(tmp_path: Path, base_url: str) -> Path:
    """An Antigravity OAuth file (a token far from expiry) for the fake Gemini at ``base_url``."""
    return write_auth(
        tmp_path,
        "antigravity-ag.json",
        {
            "type": "antigravity",
            "access_token": "ag-token",
            "refresh_token": "ag-refresh",
            "expired": FAR,
            "project_id": "ag-project",
            "email": "ag@example.com",
            "base_url": base_url,
        },
    )


def public_numbers() -> tuple[int, int]:
    """(n, e) of the test service account, read by an independent library."""
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    numbers = serialization.load_pem_private_key(PEM.encode(), None).public_key().public_numbers()
    return numbers.n, numbers.e


def _stream_action(stream: bool) -> str:
    return "streamGenerateContent" if stream else "generateContent"


# ---------------------------------------------------------------- vertex: service account

SA_EMAIL = "bot@proj-1.iam.gserviceaccount.com"


@pytest.fixture
async def vertex_sa(start_proxy, fake_gemini, oauth_fake, tmp_path):  # noqa: F811
    oauth_fake.public_key = public_numbers()  # a badly signed JWT gets invalid_grant
    account = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "kid-1",
        "private_key": PEM,
        "client_email": SA_EMAIL,
        "token_uri": oauth_fake.url("/token"),
    }
    write_auth(
        tmp_path,
        "vertex-proj-1.json",
        {
            "type": "vertex",
            "project_id": "proj-1",
            "location": "europe-west4",
            "email": SA_EMAIL,
            "base_url": fake_gemini.base_url,
            "service_account": account,
        },
    )
    proxy = await start_proxy(HEAD)
    proxy.fake, proxy.oauth = fake_gemini, oauth_fake
    return proxy


@STREAMS
@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_vertex_service_account_text(vertex_sa, client, stream):
    answer = await ask(client, vertex_sa.url, "gemini-2.5-flash", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    rec = vertex_sa.fake.last
    assert rec.path == (
        "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/"
        f"gemini-2.5-flash:{_stream_action(stream)}"
    )
    assert rec.query.get("alt") == ("sse" if stream else None)
    assert rec.headers["Authorization"] == "Bearer at-1"
    assert "x-goog-api-key" not in rec.headers
    token_requests = vertex_sa.oauth.requests
    assert len(token_requests) == 1
    claims = token_requests[0].claims  # only filled when the RS256 signature verified
    assert token_requests[0].grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert claims["iss"] == SA_EMAIL and claims["aud"] == vertex_sa.oauth.url("/token")
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"


@STREAMS
async def test_vertex_service_account_tool_call_and_token_reuse(vertex_sa, stream):
    for _ in range(2):
        answer = await ask(
            Format.OPENAI,
            vertex_sa.url,
            "gemini-2.5-flash",
            "FAKE_TOOL please run it",
            stream=stream,
            tools=True,
        )
        assert [name for name, _ in answer.calls] == ["bash"], answer.raw
        assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]
    assert len(vertex_sa.oauth.requests) == 1  # the token is cached between requests
    assert vertex_sa.fake.last.json["tools"][0]["functionDeclarations"][0]["name"] == "bash"


async def test_vertex_service_account_bad_signature_is_not_served(vertex_sa):
    vertex_sa.oauth.public_key = (vertex_sa.oauth.public_key[0] + 2, 65537)  # not the signer's key
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            vertex_sa.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        ) as r,
    ):
        assert r.status == 401, await r.text()
    assert not vertex_sa.fake.requests  # no token, no upstream call


# ---------------------------------------------------------------- vertex: API key


@pytest.fixture
async def vertex_key(start_proxy, fake_gemini):
    proxy = await start_proxy(
        HEAD
        + f"""
vertex-api-key:
  - api-key: "vk-1"
    base-url: "{fake_gemini.base_url}"
    models: [{{name: "gemini-2.5-flash", alias: "vertex-flash"}}]
"""
    )
    proxy.fake = fake_gemini
    return proxy


@STREAMS
@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_vertex_api_key_text(vertex_key, client, stream):
    answer = await ask(client, vertex_key.url, "vertex-flash", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    rec = vertex_key.fake.last
    assert rec.path == f"/v1/publishers/google/models/gemini-2.5-flash:{_stream_action(stream)}"
    assert rec.headers["x-goog-api-key"] == "vk-1"
    assert "Authorization" not in rec.headers


@STREAMS
async def test_vertex_api_key_tool_call(vertex_key, stream):
    answer = await ask(
        Format.CLAUDE, vertex_key.url, "vertex-flash", "FAKE_TOOL please run it", stream=stream, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]


# ---------------------------------------------------------------- xAI: API key, Responses upstream


@pytest.fixture
async def xai(start_proxy, fake_openai):
    proxy = await start_proxy(
        HEAD
        + f"""
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
"""
    )
    proxy.fake = fake_openai
    return proxy


@STREAMS
@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_xai_text_is_always_streamed_upstream(xai, client, stream):
    answer = await ask(client, xai.url, "grok-4.6", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    rec = xai.fake.last
    assert rec.path == "/v1/responses"
    assert rec.headers["Authorization"] == "Bearer xai-1"
    assert rec.json["model"] == "grok-4.6"
    assert rec.json["stream"] is True  # a non-streaming client too
    assert "X-XAI-Token-Auth" not in rec.headers  # API keys skip the Grok CLI identity


@STREAMS
@pytest.mark.parametrize("client", [Format.OPENAI, Format.RESPONSES], ids=["openai", "responses"])
async def test_xai_tool_call(xai, client, stream):
    answer = await ask(client, xai.url, "grok-4.6", "FAKE_TOOL please run it", stream=stream, tools=True)
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]
    assert xai.fake.last.json["tools"][0]["name"] == "bash"


# ---------------------------------------------------------------- Antigravity: OAuth file, envelope


@pytest.fixture
async def antigravity(start_proxy, fake_gemini, tmp_path):
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(HEAD)
    proxy.fake = fake_gemini
    return proxy


@STREAMS
@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_antigravity_envelope_in_and_unwrapped_out(antigravity, client, stream):
    """CPA: TestConvertAntigravityResponseToGeminiNonStream, TestConvertAntigravityResponseToGeminiStream
    (the envelope comes off and usage reaches every client; CPA's ``cpaUsageMetadata`` is
    its executor's own rename, which we never make)."""
    answer = await ask(client, antigravity.url, "gemini-3-flash", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    rec = antigravity.fake.last
    assert rec.path == f"/v1internal:{_stream_action(stream)}"
    assert rec.query.get("alt") == ("sse" if stream else None)
    assert rec.headers["Authorization"] == "Bearer ag-token"
    assert rec.headers["User-Agent"].startswith("antigravity/")
    envelope = rec.json
    assert envelope["project"] == "ag-project" and envelope["model"] == "gemini-3-flash"
    assert envelope["userAgent"] == "antigravity" and envelope["requestId"].startswith("agent-")
    assert envelope["request"]["contents"][0]["parts"][0]["text"] == "Say hello"


@STREAMS
async def test_antigravity_tool_call(antigravity, stream):
    answer = await ask(
        Format.OPENAI, antigravity.url, "gemini-3-flash", "FAKE_TOOL please run it", stream=stream, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_antigravity_stream_loses_its_envelope_once(antigravity, client, monkeypatch):
    """A translated stream's decoder takes the envelope off the objects it parses: no
    payload is parsed, unwrapped and serialised again first (``unwrap_chunk``). Only a
    Gemini client, which gets the upstream's own bytes, needs them unwrapped."""
    calls: list[bytes] = []
    unwrap_chunk = AntigravityProvider.unwrap_chunk

    def counted(self: AntigravityProvider, data: bytes) -> bytes:
        calls.append(data)
        return unwrap_chunk(self, data)

    monkeypatch.setattr(AntigravityProvider, "unwrap_chunk", counted)
    answer = await ask(client, antigravity.url, "gemini-3-flash", "Say hello", stream=True)
    assert "Hello from fake" in answer.text, answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    if client is Format.GEMINI:
        assert calls and all(b'"traceId"' in c for c in calls)
        assert "traceId" not in str(answer.raw)
    else:
        assert calls == []


async def test_antigravity_stream_falls_back_when_the_decoder_cannot_unwrap(antigravity, monkeypatch):
    """A plugin's Gemini adapter whose decoder has no ``unwrapping``: the bytes lose their
    envelope before it reads them, as they did before decoders could unwrap."""
    reg = antigravity.service.pipeline.translations
    gemini = reg.adapter(Format.GEMINI)

    class Plain:  # duck-typed, as a plugin's decoder may be
        def __init__(self, request: Any) -> None:
            self.inner = gemini.stream_decoder(request)
            self.seen: list[bytes] = []

        def decode(self, chunk: bytes) -> list[Any]:
            self.seen.append(chunk)
            return self.inner.decode(chunk)

        def flush(self) -> list[Any]:
            return self.inner.flush()

    made: list[Plain] = []

    class PluginAdapter:
        def __getattr__(self, name: str) -> Any:
            return getattr(gemini, name)

        def stream_decoder(self, request: Any = None) -> Plain:
            made.append(Plain(request))
            return made[-1]

    monkeypatch.setitem(reg._adapters, Format.GEMINI, PluginAdapter())
    answer = await ask(
        Format.CLAUDE, antigravity.url, "gemini-3-flash", "FAKE_TOOL please run it", stream=True, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    seen = b"".join(b"".join(d.seen) for d in made)
    assert b'"candidates"' in seen and b'"traceId"' not in seen and b'"response"' not in seen


async def test_antigravity_request_log_keeps_the_upstream_bytes(start_proxy, fake_gemini, tmp_path):
    """The request log shows a stream as the upstream sent it, envelope and all (as it does
    a whole body); the client's part shows what the client got."""
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(HEAD + "request-log: true\n")
    for client in (Format.CLAUDE, Format.GEMINI):
        answer = await ask(client, proxy.url, "gemini-3-flash", "Say hello", stream=True)
        assert "Hello from fake" in answer.text
    [*_, claude_log, gemini_log] = sorted(logs(await settle(proxy)), key=lambda p: p.stat().st_mtime_ns)
    for log in (claude_log, gemini_log):
        upstream, client_part = log.read_text().split("=== API RESPONSE 1 ===")[1].split("=== RESPONSE ===")
        assert '"response":{' in upstream and '"traceId":' in upstream
        assert '"traceId"' not in client_part
    assert "event: message_start" in claude_log.read_text().split("=== RESPONSE ===")[1]


# ---------------------------------------------------------------- Kimi: OAuth file, two endpoints


def kimi_file(tmp_path: Path, base: str) -> None:
    write_auth(
        tmp_path,
        "kimi-user.json",
        {
            "type": "kimi",
            "access_token": "kimi-token",
            "refresh_token": "kimi-refresh",
            "expired": FAR,
            "device_id": "dev-1",
            "base_url": base + "/coding",
        },
    )


@pytest.fixture
async def kimi_claude(start_proxy, fake_claude, tmp_path):
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    proxy.fake = fake_claude
    return proxy


@pytest.fixture
async def kimi_openai(start_proxy, fake_openai, tmp_path):
    kimi_file(tmp_path, fake_openai.base_url)
    proxy = await start_proxy(HEAD)
    proxy.fake = fake_openai
    return proxy


@STREAMS
async def test_kimi_claude_client_uses_messages_endpoint(kimi_claude, stream):
    answer = await ask(Format.CLAUDE, kimi_claude.url, "kimi-k2", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    rec = kimi_claude.fake.last
    assert rec.path == "/coding/v1/messages"
    assert rec.headers["Authorization"] == "Bearer kimi-token"
    assert rec.headers["anthropic-version"]
    assert rec.json["model"] == "k2" and rec.json["stream"] is stream


@STREAMS
async def test_kimi_claude_client_tool_call(kimi_claude, stream):
    answer = await ask(
        Format.CLAUDE, kimi_claude.url, "kimi-k2", "FAKE_TOOL please run it", stream=stream, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert kimi_claude.fake.last.path == "/coding/v1/messages"


@STREAMS
@pytest.mark.parametrize(
    "client", [Format.OPENAI, Format.RESPONSES, Format.GEMINI], ids=["openai", "responses", "gemini"]
)
async def test_kimi_other_clients_use_chat_completions(kimi_openai, client, stream):
    answer = await ask(client, kimi_openai.url, "kimi-k2", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    rec = kimi_openai.fake.last
    assert rec.path == "/coding/v1/chat/completions"
    assert rec.headers["Authorization"] == "Bearer kimi-token"
    assert rec.headers["X-Msh-Device-Id"] == "dev-1"
    assert rec.json["model"] == "k2"
    assert rec.json.get("stream", False) is stream
    # a stream is always asked its usage (as CPA asks it), so that it can be accounted
    assert rec.json.get("stream_options") == ({"include_usage": True} if stream else None)
    assert answer.input_tokens > 0 and answer.output_tokens > 0


@STREAMS
async def test_kimi_openai_client_tool_call(kimi_openai, stream):
    answer = await ask(
        Format.OPENAI, kimi_openai.url, "kimi-k2", "FAKE_TOOL please run it", stream=stream, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]


async def test_kimi_claude_request_without_anthropic_version_header(kimi_claude):
    body = {"model": "kimi-k2", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(kimi_claude.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        status, raw = r.status, await r.read()
    assert kimi_claude.fake.requests, "nothing reached the upstream"
    assert kimi_claude.fake.last.path == "/coding/v1/messages"
    assert status == 200 and b"Hello from fake" in raw
