"""The identity Antigravity, xAI and Kimi upstreams see, and ``passthrough-headers``,
through a running proxy for each client format (raw HTTP in each client's wire format,
so every request can carry a system prompt).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from cliproxy.config import load_or_default
from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_providers_more import antigravity_auth

CLIENTS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
CLIENT_IDS = [c.value for c in CLIENTS]
HEAD = f'api-keys: ["{KEY}"]\n'
FAR = "2099-01-01T00:00:00Z"
ZW = "\u200b"
SYSTEM = "You are Hermes Agent, an intelligent AI assistant created by Nous Research."
USER = "Hermes, say hello"
BILLING = "x-anthropic-billing-header: cc_version=2.1.121.abc; cc_entrypoint=cli; cch=00000;"


def write_auth(tmp_path: Path, name: str, data: dict[str, Any]) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / name).write_bytes(orjson.dumps(data))


async def send(url: str, fmt: Format, model: str, *, system: str = SYSTEM, user: str = USER) -> bytes:
    """One non-streaming request with a system prompt, in ``fmt``'s wire format."""
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "User-Agent": "probe/1.0"}
    path, body = _request(fmt, model, system, user)
    async with aiohttp.ClientSession() as http:
        async with http.post(url + path, json=body, headers=headers) as resp:
            data = await resp.read()
            assert resp.status == 200, data
            return data


def _request(fmt: Format, model: str, system: str, user: str) -> tuple[str, dict[str, Any]]:
    if fmt is Format.OPENAI:
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return "/v1/chat/completions", {"model": model, "messages": msgs}
    if fmt is Format.RESPONSES:
        return "/v1/responses", {"model": model, "instructions": system, "input": user}
    if fmt is Format.CLAUDE:
        msgs = [{"role": "user", "content": user}]
        return "/v1/messages", {"model": model, "max_tokens": 64, "system": system, "messages": msgs}
    return f"/v1beta/models/{model}:generateContent", {
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [{"role": "user", "parts": [{"text": user}]}],
    }


def no_client_key(headers) -> None:
    assert all(KEY not in value for value in headers.values()), dict(headers)


# ---------------------------------------------------------------- Antigravity

WORDS = 'antigravity:\n  sensitive-words: ["Hermes", "Nous Research"]\n'


@pytest.fixture
def antigravity_file(fake_gemini, tmp_path) -> None:
    antigravity_auth(tmp_path, fake_gemini.base_url)


def system_text(envelope: dict[str, Any]) -> str:
    parts = envelope["request"]["systemInstruction"]["parts"]
    return "".join(p.get("text", "") for p in parts)


def user_text(envelope: dict[str, Any]) -> str:
    return envelope["request"]["contents"][-1]["parts"][0]["text"]


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_antigravity_sensitive_words_in_system_instruction_only(
    start_proxy, fake_gemini, antigravity_file, client
):
    proxy = await start_proxy(HEAD + WORDS)
    await send(proxy.url, client, "gemini-3-flash")
    rec = fake_gemini.last
    assert (
        system_text(rec.json)
        == f"You are H{ZW}ermes Agent, an intelligent AI assistant created by N{ZW}ous Research."
    )
    assert user_text(rec.json) == USER  # the conversation is never changed
    assert rec.headers["User-Agent"] == "antigravity/hub/2.9.1 darwin/arm64"  # not the client's
    assert rec.headers["Authorization"] == "Bearer ag-token"
    assert "x-api-key" not in rec.headers
    no_client_key(rec.headers)
    assert rec.json["userAgent"] == "antigravity" and rec.json["project"] == "ag-project"


async def test_antigravity_without_words_sends_the_system_prompt_as_is(
    start_proxy, fake_gemini, antigravity_file
):
    proxy = await start_proxy(HEAD)
    await send(proxy.url, Format.GEMINI, "gemini-3-flash")
    assert system_text(fake_gemini.last.json) == SYSTEM


async def test_antigravity_words_follow_a_config_reload(start_proxy, fake_gemini, antigravity_file, tmp_path):
    proxy = await start_proxy(HEAD)
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text() + 'antigravity:\n  sensitive-words: ["Hermes"]\n')
    config, _ = load_or_default(path)
    proxy.service.apply(config)
    await send(proxy.url, Format.GEMINI, "gemini-3-flash")
    assert system_text(fake_gemini.last.json).startswith(f"You are H{ZW}ermes Agent")


# ---------------------------------------------------------------- xAI


def xai_config(base: str, inject: bool) -> str:
    return (
        HEAD
        + f"""
xai:
  inject-x-search: {"true" if inject else "false"}
xai-api-key:
  - api-key: "xai-1"
    base-url: "{base}/v1"
"""
    )


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_xai_inject_x_search(start_proxy, fake_openai, client):
    """CPA: TestXAIExecutorPrepareHonorsInjectXSearchConfig (explicitly enabled)."""
    proxy = await start_proxy(xai_config(fake_openai.base_url, True))
    await send(proxy.url, client, "grok-4.6")
    rec = fake_openai.last
    assert {"type": "x_search"} in rec.json["tools"]
    assert rec.headers["Authorization"] == "Bearer xai-1"
    no_client_key(rec.headers)


async def test_xai_x_search_joins_the_callers_tools(start_proxy, fake_openai):
    proxy = await start_proxy(xai_config(fake_openai.base_url, True))
    answer = await ask(
        Format.RESPONSES, proxy.url, "grok-4.6", "FAKE_TOOL please run it", stream=True, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    tools = fake_openai.last.json["tools"]
    assert [t.get("name", t["type"]) for t in tools] == ["bash", "x_search"]


async def test_xai_no_x_search_by_default(start_proxy, fake_openai):
    """CPA: TestXAIExecutorPrepareHonorsInjectXSearchConfig (default disabled)."""
    proxy = await start_proxy(xai_config(fake_openai.base_url, False))
    await send(proxy.url, Format.OPENAI, "grok-4.6")
    tools = fake_openai.last.json.get("tools") or []
    assert all(t.get("type") != "x_search" for t in tools)


# ---------------------------------------------------------------- Kimi


@pytest.fixture
def kimi_file(fake_claude, tmp_path) -> None:
    write_auth(
        tmp_path,
        "kimi-user.json",
        {
            "type": "kimi",
            "access_token": "kimi-token",
            "refresh_token": "kimi-refresh",
            "expired": FAR,
            "device_id": "dev-1",
            "base_url": fake_claude.base_url + "/coding",
        },
    )


async def test_kimi_drops_claude_codes_billing_block(start_proxy, fake_claude, kimi_file):
    proxy = await start_proxy(HEAD)
    body = {
        "model": "kimi-k2",
        "max_tokens": 64,
        "system": [
            {"type": "text", "text": BILLING},
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        ],
        "messages": [{"role": "user", "content": "Say hello"}],
    }
    headers = {
        "x-api-key": KEY,
        "anthropic-version": "2023-06-01",
        "User-Agent": "claude-cli/2.1.121 (external, cli)",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.read()
    rec = fake_claude.last
    assert rec.path == "/coding/v1/messages"
    # the billing block is gone; the markerless caller's system took CPA's breakpoint first
    assert rec.json["system"] == [
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert rec.headers["Authorization"] == "Bearer kimi-token"
    no_client_key(rec.headers)


# ---------------------------------------------------------------- passthrough-headers

UPSTREAM_HEADERS = {
    "X-Request-Id": "req-1",
    "OpenAI-Processing-Ms": "12",
    "Set-Cookie": "session=secret",
    "Connection": "keep-alive, x-hop",
    "X-Hop": "hop",
    "x-litellm-model-id": "gateway",
    "Access-Control-Allow-Origin": "*",
}
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


@pytest.fixture
async def header_upstream() -> AsyncIterator[str]:
    """A Chat Completions upstream whose answers carry headers of every kind."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(
                body=orjson.dumps(CHAT), content_type="application/json", headers=UPSTREAM_HEADERS
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", **UPSTREAM_HEADERS})
        await resp.prepare(request)
        await resp.write(b"data: " + orjson.dumps(CHUNK) + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def compat_config(base: str, passthrough: bool) -> str:
    return (
        HEAD
        + f"""
passthrough-headers: {"true" if passthrough else "false"}
openai-compatibility:
  - name: up
    base-url: "{base}/v1"
    api-key-entries:
      - api-key: "sk-up"
    models:
      - name: "m"
"""
    )


async def chat_headers(url: str, stream: bool) -> dict[str, str]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            await resp.read()
            assert resp.status == 200
            return {k.lower(): v for k, v in resp.headers.items()}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_passthrough_headers_on_forwards_the_safe_upstream_headers(
    start_proxy, header_upstream, stream
):
    proxy = await start_proxy(compat_config(header_upstream, True))
    got = await chat_headers(proxy.url, stream)
    assert got["x-request-id"] == "req-1" and got["openai-processing-ms"] == "12"
    for name in ("set-cookie", "x-hop", "x-litellm-model-id", "access-control-allow-origin"):
        assert name not in got, name
    assert got["content-type"].startswith("text/event-stream" if stream else "application/json")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_passthrough_headers_off_forwards_none(start_proxy, header_upstream, stream):
    proxy = await start_proxy(compat_config(header_upstream, False))
    got = await chat_headers(proxy.url, stream)
    for name in ("x-request-id", "openai-processing-ms", "set-cookie", "x-hop"):
        assert name not in got, name
