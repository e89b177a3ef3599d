"""Claude Code's ``[1m]`` model ids through a running proxy, as CPA serves them.

Claude Code appends ``[1m]`` to the id of a 1M-context variant (``kimi-k3[1m]``,
``claude-sonnet-4-6[1m]``), perhaps followed by a thinking suffix. CPA gives the marker no
meaning of its own when it routes: the id is looked up as written, after the thinking
suffix is cut (handlers_routing.go, getRequestDetailsWithOptions), so it reaches a
provider only when a model alias names it. The Kimi executor then drops ``kimi-`` and
``[1m]`` from the upstream id (normalizeKimiUpstreamModel), and the Claude executor never
infers the ``context-1m-2025-08-07`` beta from the id: it sends it when the caller asks
(claudeCodeCLIBetas and the caller's ``anthropic-beta``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import kimi_file

HEAD = f'api-keys: ["{KEY}"]\n'
CONTEXT_1M = "context-1m-2025-08-07"
QUESTION = [{"role": "user", "content": "hello"}]


def kimi_alias(alias: str) -> str:
    """Config that lets ``alias`` reach Kimi's ``kimi-k3`` beside its own name."""
    return HEAD + f'oauth-model-alias:\n  kimi: [{{name: "kimi-k3", alias: "{alias}", fork: true}}]\n'


def claude_key(base_url: str, alias: str) -> str:
    """Config with one Claude API key serving ``claude-sonnet-4-6`` as ``alias``."""
    models = f'[{{name: "claude-sonnet-4-6", alias: "{alias}"}}]'
    return HEAD + f'claude-api-key:\n  - api-key: "ck"\n    base-url: "{base_url}"\n    models: {models}\n'


async def ask(
    url: str, model: str, stream: bool, headers: dict[str, str] | None = None
) -> anthropic.types.Message:
    client = anthropic.AsyncAnthropic(base_url=url, api_key=KEY, timeout=15, default_headers=headers or {})
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 32, "messages": QUESTION}
    try:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                return await s.get_final_message()
        return await client.messages.create(**kwargs)
    finally:
        await client.close()


@pytest.mark.parametrize("model", ["kimi-k3[1m]", "kimi-k3[1m](high)", "claude-sonnet-4-6[1m]"])
async def test_an_unaliased_1m_id_is_an_unknown_model(
    start_proxy, fake_claude, tmp_path: Path, model: str
) -> None:
    """getRequestDetailsWithOptions: the registry knows ``kimi-k3`` but not ``kimi-k3[1m]``,
    so the request is refused as CPA refuses it (400 ``model_not_found``, naming the id as
    sent), whole, streamed and counted, before any upstream call."""
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, timeout=15, max_retries=0)
    try:
        for call in (
            client.messages.create(model=model, max_tokens=32, messages=QUESTION),
            client.messages.create(model=model, max_tokens=32, messages=QUESTION, stream=True),
            client.messages.count_tokens(model=model, messages=QUESTION),
        ):
            with pytest.raises(anthropic.BadRequestError) as caught:
                await call
            assert f"unknown provider for model {model}" in str(caught.value), caught.value
    finally:
        await client.close()
    assert not fake_claude.requests


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", ["kimi-k3[1m]", "kimi-k3[1m](high)"])
async def test_an_aliased_kimi_1m_id_goes_up_as_k3(
    start_proxy, fake_claude, tmp_path: Path, model: str, stream: bool
) -> None:
    """TestNormalizeKimiUpstreamModel through the proxy: with ``kimi-k3[1m]`` aliased to
    ``kimi-k3`` the request reaches Kimi's Messages endpoint as ``k3``, the thinking
    suffix becomes the request's effort, and the client reads back the id it asked for.
    Counting is tests/providers/test_kimi_cpa_executor.py::test_count_tokens_uses_the_upstream_model."""
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(kimi_alias("kimi-k3[1m]"))
    message = await ask(proxy.url, model, stream)
    sent = fake_claude.last.json
    assert sent["model"] == "k3"
    if model.endswith("(high)"):
        assert sent.get("output_config", {}).get("effort") or sent.get("thinking"), sent
    assert message.model == model


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_1m_beta_follows_the_caller_not_the_id(
    start_proxy, fake_claude, tmp_path: Path, stream: bool
) -> None:
    """TestApplyClaudeHeaders_KnownBodyBetaStillPlacedOnAnthropic and claudeCodeCLIBetas'
    "[1m] model variants only" row: the ``context-1m`` beta reaches Anthropic when Claude
    Code sends it with a ``[1m]`` id, and a ``[1m]`` id alone does not add it. The alias is
    not force-mapped, so the answer names the upstream model, as in CPA."""
    proxy = await start_proxy(claude_key(fake_claude.base_url, "claude-sonnet-4-6[1m]"))
    message = await ask(proxy.url, "claude-sonnet-4-6[1m]", stream, {"anthropic-beta": CONTEXT_1M})
    rec = fake_claude.last
    assert rec.json["model"] == "claude-sonnet-4-6"
    assert CONTEXT_1M in rec.headers.get("anthropic-beta", "").split(",")
    assert message.model == "claude-sonnet-4-6"
    await ask(proxy.url, "claude-sonnet-4-6[1m]", stream)
    assert CONTEXT_1M not in fake_claude.last.headers.get("anthropic-beta", "")


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_claude_1m_count_tokens_keeps_the_callers_beta(
    start_proxy, fake_claude, tmp_path: Path
) -> None:
    """claudeCountTokensBetas' caller half: counting a ``[1m]`` id with the ``context-1m``
    beta sends the upstream name and the beta to ``/v1/messages/count_tokens``."""
    proxy = await start_proxy(claude_key(fake_claude.base_url, "claude-sonnet-4-6[1m]"))
    client = anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, timeout=15, default_headers={"anthropic-beta": CONTEXT_1M}
    )
    try:
        counted = await client.messages.count_tokens(model="claude-sonnet-4-6[1m]", messages=QUESTION)
    finally:
        await client.close()
    assert counted.input_tokens > 0
    rec = fake_claude.last
    assert rec.path.endswith("/v1/messages/count_tokens")
    assert rec.json["model"] == "claude-sonnet-4-6"
    assert CONTEXT_1M in rec.headers.get("anthropic-beta", "").split(",")
