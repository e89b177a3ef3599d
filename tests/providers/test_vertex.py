"""Vertex AI: URLs, API-key and service-account auth, the JWT token exchange and its cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.credentials.rs256 import load_pem_private_key, sign_rs256
from cliproxy.credentials.service_account import TokenCache
from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient
from cliproxy.providers.vertex import VertexProvider
from tests.fakes.oauth import oauth_fake  # noqa: F401

DATA = Path(__file__).parent / "data"
PEM = (DATA / "sa_key.pem").read_text()
KEY = load_pem_private_key(PEM)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http():
    client = HttpClient()
    yield client
    await client.close()


def sa_cred(
    token_uri: str = "https://oauth2.googleapis.com/token",
    location: str = "europe-west4",
    pem: str = PEM,
    email: str = "bot@proj.iam.gserviceaccount.com",
) -> Credential:
    account = {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": email,
        "token_uri": token_uri,
    }
    meta = {
        "service_account": account,
        "project_id": "proj",
        "email": email,
        "location": location,
        "type": "vertex",
    }
    return Credential(id="vertex-proj.json", provider="vertex", kind=KIND_OAUTH, metadata=meta)


def build(cred: Credential, stream: bool = False, action: str = "generate", model: str = "gemini-2.5-pro"):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "session_id": "x"}
    return VertexProvider().build(cred, body, model=model, stream=stream, client_headers={}, action=action)


def test_service_account_urls() -> None:
    req = build(sa_cred())
    assert req.url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/locations/europe-west4"
        "/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    body = orjson.loads(req.body)
    assert body["model"] == "gemini-2.5-pro" and "session_id" not in body
    assert "Authorization" not in req.headers and "x-goog-api-key" not in req.headers
    stream = build(sa_cred(), stream=True)
    assert stream.url.endswith(":streamGenerateContent?alt=sse") and stream.stream
    count = build(sa_cred(), stream=True, action="count")
    assert count.url.endswith(":countTokens") and not count.stream


def test_global_location_and_default_region() -> None:
    assert build(sa_cred(location="global")).url.startswith(
        "https://aiplatform.googleapis.com/v1/projects/proj/locations/global/"
    )
    cred = sa_cred()
    del cred.metadata["location"]
    assert build(cred).url.startswith(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/us-central1/"
    )


def test_api_key_url_and_header() -> None:
    cred = Credential(id="vertex:apikey:1", provider="vertex", api_key="vk-1")
    req = build(cred, stream=True)
    assert req.url == (
        "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-pro"
        ":streamGenerateContent?alt=sse"
    )
    assert req.headers["x-goog-api-key"] == "vk-1"
    custom = Credential(
        id="vertex:apikey:2", provider="vertex", api_key="vk-2", base_url="https://vx.example/"
    )
    assert (
        build(custom).url == "https://vx.example/v1/publishers/google/models/gemini-2.5-pro:generateContent"
    )


async def test_api_key_prepare_adds_nothing(http) -> None:
    cred = Credential(id="vertex:apikey:1", provider="vertex", api_key="vk-1")
    assert await VertexProvider().prepare(cred, http) == {}


def test_rs256_matches_pkcs1_and_cryptography() -> None:
    assert load_pem_private_key((DATA / "sa_key_pkcs1.pem").read_text()) == KEY
    assert load_pem_private_key(PEM.replace("\n", "\\n")) == KEY  # keys pasted with literal \n
    signature = sign_rs256(KEY, b"message")
    assert pow(int.from_bytes(signature, "big"), KEY.e, KEY.n) != 0
    crypto = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    theirs = crypto.load_pem_private_key(PEM.encode(), None).sign(
        b"message", padding.PKCS1v15(), hashes.SHA256()
    )
    assert signature == theirs


def test_bad_pem_is_rejected() -> None:
    with pytest.raises(ValueError):
        load_pem_private_key("not a key")
    with pytest.raises(ValueError):
        load_pem_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")


async def test_token_exchange_signs_a_jwt(oauth_fake, http) -> None:  # noqa: F811
    oauth_fake.public_key = (KEY.n, KEY.e)
    provider = VertexProvider(TokenCache())
    headers = await provider.prepare(sa_cred(oauth_fake.url("/token")), http)
    assert headers == {"Authorization": "Bearer at-1"}
    rec = oauth_fake.requests[0]
    assert rec.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert rec.content_type.startswith("application/x-www-form-urlencoded")
    assert rec.claims["iss"] == "bot@proj.iam.gserviceaccount.com"
    assert rec.claims["aud"] == oauth_fake.url("/token")
    assert rec.claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert rec.claims["exp"] - rec.claims["iat"] == 3600


async def test_token_is_cached_until_shortly_before_expiry(oauth_fake, http) -> None:  # noqa: F811
    clock = Clock()
    provider = VertexProvider(TokenCache(clock=clock, skew=60))
    cred = sa_cred(oauth_fake.url())
    assert await provider.prepare(cred, http) == {"Authorization": "Bearer at-1"}
    clock.now += 3500
    assert await provider.prepare(cred, http) == {"Authorization": "Bearer at-1"}
    clock.now += 50  # inside the 60 s skew
    assert await provider.prepare(cred, http) == {"Authorization": "Bearer at-2"}
    assert len(oauth_fake.requests) == 2
    provider.forget(cred)  # e.g. after a 401 from Vertex
    assert await provider.prepare(cred, http) == {"Authorization": "Bearer at-3"}


async def test_concurrent_prepares_share_one_exchange(oauth_fake, http) -> None:  # noqa: F811
    oauth_fake.delay = 0.05
    provider = VertexProvider(TokenCache())
    cred = sa_cred(oauth_fake.url())
    results = await asyncio.gather(*(provider.prepare(cred, http) for _ in range(10)))
    assert {r["Authorization"] for r in results} == {"Bearer at-1"}
    assert len(oauth_fake.requests) == 1 and provider.tokens.exchanges == 1


async def test_rejected_signature_is_401(oauth_fake, http) -> None:  # noqa: F811
    oauth_fake.public_key = (KEY.n + 2, KEY.e)  # not the signer's key
    with pytest.raises(UpstreamError) as info:
        await VertexProvider(TokenCache()).prepare(sa_cred(oauth_fake.url()), http)
    assert info.value.status == 401


async def test_token_endpoint_failure_is_502_and_not_cached(oauth_fake, http) -> None:  # noqa: F811
    oauth_fake.fail_next(500, "server_error")
    provider = VertexProvider(TokenCache())
    cred = sa_cred(oauth_fake.url())
    with pytest.raises(UpstreamError) as info:
        await provider.prepare(cred, http)
    assert info.value.status == 502
    assert await provider.prepare(cred, http) == {"Authorization": "Bearer at-1"}


async def test_env_overrides_token_url(oauth_fake, http, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_VERTEX", oauth_fake.url("/elsewhere"))
    assert await VertexProvider(TokenCache()).prepare(sa_cred(), http) == {"Authorization": "Bearer at-1"}
    assert oauth_fake.requests[0].path == "/elsewhere"
    assert oauth_fake.requests[0].claims["aud"] == "https://oauth2.googleapis.com/token"


async def test_missing_private_key_is_401(http) -> None:
    cred = sa_cred()
    del cred.metadata["service_account"]["private_key"]
    with pytest.raises(UpstreamError) as info:
        await VertexProvider().prepare(cred, http)
    assert info.value.status == 401


async def test_classify_google_retry_delay(fake_gemini, http) -> None:
    fake_gemini.fail_next(429, retry_delay=7)
    resp = await http.request(
        "POST",
        fake_gemini.url("/v1/models/gemini-2.5-pro:generateContent"),
        headers={"x-goog-api-key": "k"},
        body=b"{}",
    )
    body = await resp.read()
    resp.release()
    err = VertexProvider().classify(resp.status, resp.headers, body, "vertex-proj.json")
    assert err.status == 429 and err.retry_after == 7 and err.credential_id == "vertex-proj.json"
