"""Kimi: Claude clients to /v1/messages, others to /v1/chat/completions."""

from __future__ import annotations

import platform

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.formats import Format
from cliproxy.providers.http import HttpClient
from cliproxy.providers.kimi import KimiProvider, upstream_model


def cred() -> Credential:
    return Credential(
        id="kimi-1.json",
        provider="kimi",
        kind=KIND_OAUTH,
        metadata={"type": "kimi", "access_token": "kat", "device_id": "dev-1"},
    )


def test_upstream_format_follows_the_client() -> None:
    """CPA: TestKimiExecutorRequestToFormatMatchesWireProtocol (whole and streamed alike)."""
    provider = KimiProvider()
    assert provider.upstream_format(Format.CLAUDE) is Format.CLAUDE
    for client in (Format.OPENAI, Format.RESPONSES, Format.GEMINI, Format.CODEX):
        assert provider.upstream_format(client) is Format.OPENAI


def test_claude_clients_use_messages() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    req = KimiProvider().build(
        cred(),
        body,
        model="kimi-k2[1m]",
        stream=True,
        client_headers={"anthropic-version": "2023-06-01", "anthropic-beta": "b1"},
    )
    assert req.url == "https://api.kimi.com/coding/v1/messages?beta=true" and req.stream  # CPA's Claude URL
    assert req.headers["Authorization"] == "Bearer kat"
    assert req.headers["anthropic-beta"] == "b1"
    sent = orjson.loads(req.body)
    assert sent["model"] == "k2" and sent["stream"] is True
    count = KimiProvider().build(
        cred(),
        {"messages": []},
        model="k2",
        stream=False,
        client_headers={},
        action="count",
        fmt=Format.CLAUDE,
    )
    assert count.url == "https://api.kimi.com/coding/v1/messages/count_tokens?beta=true"


def test_other_clients_use_chat_completions() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "stream_options": {}}
    req = KimiProvider().build(cred(), body, model="kimi-k2.7-code", stream=False, client_headers={})
    assert req.url == "https://api.kimi.com/coding/v1/chat/completions" and not req.stream
    assert req.headers["X-Msh-Device-Id"] == "dev-1" and req.headers["X-Msh-Platform"] == "CLIProxyAPI"
    sent = orjson.loads(req.body)
    assert sent["model"] == "kimi-for-coding" and "stream" not in sent and "stream_options" not in sent
    explicit = KimiProvider().build(
        cred(),
        {"messages": []},
        model="k2",
        stream=True,
        client_headers={"anthropic-version": "x"},
        fmt=Format.OPENAI,
    )
    assert explicit.url.endswith("/chat/completions")


def test_upstream_model_names() -> None:
    assert upstream_model("kimi-k2-thinking") == "k2-thinking"
    assert upstream_model("kimi-k2.7-code-highspeed") == "kimi-for-coding-highspeed"
    assert upstream_model("kimi-k3[1m](1024)") == "k3(1024)"
    assert upstream_model("moonshot-v1") == "moonshot-v1"


async def test_classify_claude_style_error(fake_claude) -> None:
    fake_claude.fail_next(529)
    http = HttpClient()
    try:
        resp = await http.request(
            "POST",
            fake_claude.url("/v1/messages"),
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
            body=b"{}",
        )
        body = await resp.read()
        resp.release()
    finally:
        await http.close()
    err = KimiProvider().classify(resp.status, resp.headers, body, "kimi-1.json")
    assert err.status == 529 and err.message == "Overloaded"


@pytest.mark.parametrize(
    ("system", "machine", "model"),
    [
        ("Linux", "x86_64", "linux amd64"),
        ("Darwin", "arm64", "darwin arm64"),
        ("Linux", "aarch64", "linux arm64"),
    ],
)
def test_chat_requests_name_the_device_as_cpas_executor_does(monkeypatch, system, machine, model) -> None:
    """CPA's Kimi executor sends ``X-Msh-Device-Model`` as Go's ``GOOS GOARCH``
    (``getKimiDeviceModel``): ``linux amd64``, not Python's ``linux x86_64``; a user moving
    from CPA with the same device id shows Kimi the same device."""
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    req = KimiProvider().build(cred(), body, model="kimi-k2.7-code", stream=False, client_headers={})
    assert req.headers["X-Msh-Device-Model"] == model
