"""Antigravity: the Cloud Code envelope around Gemini requests and its unwrapping."""

from __future__ import annotations

import orjson

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.antigravity import AntigravityProvider, unwrap_body, unwrap_chunk
from cliproxy.providers.http import HttpClient


def cred(**meta) -> Credential:
    metadata = {"type": "antigravity", "access_token": "ya29.tok", "project_id": "proj-1", **meta}
    return Credential(id="antigravity-a.json", provider="antigravity", kind=KIND_OAUTH, metadata=metadata)


def gemini_body() -> dict:
    return {
        "model": "x",
        "contents": [{"role": "user", "parts": [{"text": "hello"}]}],
        "safetySettings": [{"category": "c"}],
        "generationConfig": {"temperature": 0.2},
    }


def test_generate_envelope() -> None:
    req = AntigravityProvider().build(
        cred(), gemini_body(), model="gemini-3-pro", stream=False, client_headers={}
    )
    assert (
        req.url == "https://daily-cloudcode-pa.googleapis.com/v1internal:generateContent" and not req.stream
    )
    assert req.headers["Authorization"] == "Bearer ya29.tok"
    assert req.headers["User-Agent"].startswith("antigravity/hub/")
    body = orjson.loads(req.body)
    assert body["project"] == "proj-1" and body["model"] == "gemini-3-pro"
    assert body["userAgent"] == "antigravity" and body["requestType"] == "agent"
    assert body["requestId"].startswith("agent-")
    inner = body["request"]
    assert "safetySettings" not in inner and "model" not in inner
    assert inner["generationConfig"] == {"temperature": 0.2}
    assert inner["sessionId"].startswith("-")


def test_session_id_is_stable_per_conversation() -> None:
    provider = AntigravityProvider()
    one = orjson.loads(provider.build(cred(), gemini_body(), model="m", stream=False, client_headers={}).body)
    two = orjson.loads(provider.build(cred(), gemini_body(), model="m", stream=False, client_headers={}).body)
    assert one["request"]["sessionId"] == two["request"]["sessionId"]
    assert one["requestId"] != two["requestId"]


def test_stream_and_count_urls() -> None:
    provider = AntigravityProvider()
    stream = provider.build(cred(), gemini_body(), model="m", stream=True, client_headers={})
    assert stream.url == "https://daily-cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
    assert stream.stream
    custom = cred()
    custom.base_url = "http://127.0.0.1:9"
    count = provider.build(custom, gemini_body(), model="m", stream=True, client_headers={}, action="count")
    assert count.url == "http://127.0.0.1:9/v1internal:countTokens" and not count.stream
    assert set(orjson.loads(count.body)) == {"request"}


def test_image_models_and_missing_project() -> None:
    c = cred(user_agent="antigravity/hub/9.9.9 linux/amd64")
    del c.metadata["project_id"]
    req = AntigravityProvider().build(
        c, gemini_body(), model="gemini-3-pro-image", stream=False, client_headers={}
    )
    body = orjson.loads(req.body)
    assert "project" not in body and body["requestType"] == "image_gen"
    assert body["requestId"].startswith("image_gen/") and body["requestId"].endswith("/12")
    assert req.headers["User-Agent"] == "antigravity/hub/9.9.9 linux/amd64"


def test_unwrap() -> None:
    inner = {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}
    assert unwrap_body({"response": inner, "traceId": "t"}) == inner
    assert unwrap_body({"totalTokens": 3}) == {"totalTokens": 3}
    assert orjson.loads(unwrap_chunk(orjson.dumps({"response": inner}))) == inner
    assert unwrap_chunk(b"[DONE]") == b"[DONE]"
    plain = orjson.dumps(inner)
    assert unwrap_chunk(plain) is plain
    provider = AntigravityProvider()
    assert provider.unwrap_body({"response": inner}) == inner
    assert orjson.loads(provider.unwrap_chunk(b'{"response":{"a":1}}')) == {"a": 1}


async def test_classify_quota_reset_delay(fake_gemini) -> None:
    fake_gemini.fail_next(429, quota_reset_delay="3.5s")
    http = HttpClient()
    try:
        resp = await http.request(
            "POST",
            fake_gemini.url("/v1beta/models/m:generateContent"),
            headers={"x-goog-api-key": "k"},
            body=b"{}",
        )
        body = await resp.read()
        resp.release()
    finally:
        await http.close()
    err = AntigravityProvider().classify(resp.status, resp.headers, body, "antigravity-a.json")
    assert err.status == 429 and err.retry_after == 3.5
