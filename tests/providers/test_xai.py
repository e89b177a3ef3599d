"""xAI: Responses dialect, always streamed; API keys vs OAuth (Grok CLI chat proxy)."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.errors import UnsupportedError
from cliproxy.formats import Format
from cliproxy.providers.http import HttpClient
from cliproxy.providers.xai import XAIProvider


def build(cred: Credential, stream: bool = False, headers: dict[str, str] | None = None):
    body = {
        "input": "hi",
        "previous_response_id": "resp_1",
        "stream_options": {"include_usage": True},
        "safety_identifier": "s",
        "prompt_cache_retention": "24h",
        "stream": stream,
    }
    return XAIProvider().build(cred, body, model="grok-4", stream=stream, client_headers=headers or {})


def test_api_key_goes_to_api_x_ai() -> None:
    provider = XAIProvider()
    assert provider.format is Format.CODEX and provider.always_stream
    req = build(Credential(id="xai:apikey:1", provider="xai", api_key="xk"))
    assert req.url == "https://api.x.ai/v1/responses" and req.stream
    assert req.headers["Authorization"] == "Bearer xk"
    assert req.headers["Accept"] == "text/event-stream"
    assert "X-XAI-Token-Auth" not in req.headers
    body = orjson.loads(req.body)
    assert body == {"input": "hi", "stream": True, "model": "grok-4"}


def test_oauth_uses_the_cli_chat_proxy() -> None:
    cred = Credential(
        id="xai-a.json",
        provider="xai",
        kind=KIND_OAUTH,
        metadata={"type": "xai", "auth_kind": "oauth", "access_token": "oat"},
    )
    req = build(cred, headers={"x-grok-conv-id": "conv-1"})
    assert req.url == "https://cli-chat-proxy.grok.com/v1/responses"
    assert req.headers["Authorization"] == "Bearer oat"
    assert req.headers["X-XAI-Token-Auth"] == "xai-grok-cli"
    assert req.headers["x-grok-client-identifier"] == "grok-shell"
    assert req.headers["x-grok-conv-id"] == "conv-1"


def test_oauth_with_using_api_goes_to_the_api() -> None:
    cred = Credential(
        id="xai-b.json",
        provider="xai",
        kind=KIND_OAUTH,
        metadata={"auth_kind": "oauth", "access_token": "oat", "using_api": "true"},
    )
    assert build(cred).url == "https://api.x.ai/v1/responses"
    custom = Credential(
        id="xai-c.json",
        provider="xai",
        kind=KIND_OAUTH,
        base_url="https://grok.example/v1",
        metadata={"auth_kind": "oauth", "access_token": "oat"},
    )
    assert build(custom).url == "https://grok.example/v1/responses"


def test_count_is_not_an_upstream_call() -> None:
    with pytest.raises(UnsupportedError):
        XAIProvider().build(
            Credential(id="x", provider="xai", api_key="k"),
            {},
            model="grok-4",
            stream=False,
            client_headers={},
            action="count",
        )


async def test_classify_retry_after(fake_openai) -> None:
    fake_openai.fail_next(429, retry_after=9)
    http = HttpClient()
    try:
        resp = await http.request(
            "POST",
            fake_openai.url("/v1/responses"),
            headers={"Authorization": "Bearer k"},
            body=b'{"model":"grok-4","input":"hi"}',
        )
        body = await resp.read()
        resp.release()
    finally:
        await http.close()
    err = XAIProvider().classify(resp.status, resp.headers, body, "xai:apikey:1")
    assert err.status == 429 and err.retry_after == 9
