"""A credential's ``headers:`` value ``$NAME`` copies the client's header NAME to the
upstream, for every provider kind (CPA custom_magic_headers_test.go), through a running
proxy into the fake upstreams, from the official ``openai`` SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY

HEADERS = (
    '{X-Claude-Code-Session-Id: "$ABC", X-Missing: "$NONEXISTENT", X-Static: "static-value", '
    'X-Empty-Var: "$   ", X-Only-Dollar: "$"}'
)


def _setup(kind: str, fakes: Any) -> tuple[str, str, Any]:
    """(config YAML, model, the fake that serves it) for one provider kind."""
    if kind == "claude-api-key":
        base, model, fake = fakes.claude.base_url, "claude-sonnet-4-6", fakes.claude
    elif kind == "codex-api-key":
        base, model, fake = f"{fakes.responses.base_url}/backend-api/codex", "gpt-5.4", fakes.responses
    elif kind == "xai-api-key":
        base, model, fake = f"{fakes.openai.base_url}/v1", "grok-4.6", fakes.openai
    elif kind in ("vertex-api-key", "gemini-api-key"):
        base, model, fake = fakes.gemini.base_url, "gemini-2.5-flash", fakes.gemini
    elif kind == "interactions-api-key":
        base, model, fake = fakes.gemini.base_url, "gemini-2.5-pro", fakes.gemini
    else:
        yaml = (
            f'openai-compatibility:\n  - name: up\n    base-url: "{fakes.openai.base_url}/v1"\n'
            f'    api-key-entries: [{{api-key: "ok"}}]\n    headers: {HEADERS}\n'
            '    models: [{name: "gpt-4o", alias: "gpt-4o"}]\n'
        )
        return yaml, "gpt-4o", fakes.openai
    yaml = (
        f'{kind}:\n  - api-key: "k"\n    base-url: "{base}"\n    headers: {HEADERS}\n'
        f'    models: [{{name: "{model}", alias: "{model}"}}]\n'
    )
    return yaml, model, fake


KINDS = (
    "openai-compatibility",
    "gemini-api-key",
    "interactions-api-key",
    "vertex-api-key",
    "xai-api-key",
    "claude-api-key",
    "codex-api-key",
)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_dollar_value_copies_the_clients_header(start_proxy, fakes, kind: str, stream: bool) -> None:
    """CPA: TestCustomMagicHeaders_OpenAICompat, TestCustomMagicHeaders_OpenAICompat_Stream,
    TestCustomMagicHeaders_Gemini, TestCustomMagicHeaders_GeminiInteractions,
    TestCustomMagicHeaders_GeminiVertex,
    TestCustomMagicHeaders_XAI, TestCustomMagicHeaders_Claude, TestCustomMagicHeaders_Codex:
    ``$ABC`` sends the client's ``Abc``, ``$X-Client-Session`` its ``X-Client-Session``, a
    fixed value goes as it is, and a copy of a header the client did not send (or of no
    name: ``$``, ``$   ``) is left out. CPA: TestApplyCustomHeadersFromAttrs_MagicVariable
    (its gin-context fallback is Go plumbing: the proxy always has the client's headers)."""
    yaml, model, fake = _setup(kind, fakes)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + yaml)
    client_headers = {"Abc": "session-abc-value"}
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, default_headers=client_headers
    ) as client:
        messages: list[Any] = [{"role": "user", "content": "hi"}]
        if stream:
            async for _ in await client.chat.completions.create(model=model, messages=messages, stream=True):
                pass
        else:
            await client.chat.completions.create(model=model, messages=messages)
    sent = fake.last.headers
    assert sent.get("X-Claude-Code-Session-Id") == "session-abc-value", kind
    assert sent.get("X-Static") == "static-value", kind
    for absent in ("X-Missing", "X-Empty-Var", "X-Only-Dollar"):
        assert absent not in sent, (kind, absent, sent.get(absent))


async def test_a_fixed_host_header_names_the_host(start_proxy, fakes) -> None:
    """CPA: TestApplyCustomHeadersFromAttrs_StaticHeaders: a fixed ``Host`` in ``headers:``
    is the Host the upstream sees; another fixed header goes as it is."""
    yaml = (
        f'openai-compatibility:\n  - name: up\n    base-url: "{fakes.openai.base_url}/v1"\n'
        '    api-key-entries: [{api-key: "ok"}]\n'
        '    headers: {X-Custom-Static: "static-value", Host: "custom.host.com"}\n'
        '    models: [{name: "gpt-4o", alias: "gpt-4o"}]\n'
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + yaml)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    sent = fakes.openai.last.headers
    assert sent.get("X-Custom-Static") == "static-value"
    assert sent.get("Host") == "custom.host.com"
