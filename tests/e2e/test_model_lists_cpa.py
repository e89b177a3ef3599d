"""The model lists a client gets by who it is, through a running proxy: Grok Build's
terminal client (CPA internal/api/server_grok_models_test.go). Client: aiohttp."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

AUTH = {"Authorization": f"Bearer {KEY}"}
SHELLS = ["grok-shell/0.2.119 (macos; aarch64)", "grok-pager/0.2.119 grok-shell/0.2.119 (macos; aarch64)"]


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    return await start_proxy(matrix_config(fakes))


async def get(proxy: Any, path: str, agent: str) -> tuple[int, dict[str, Any]]:
    headers = {**AUTH, "User-Agent": agent}
    async with aiohttp.ClientSession() as http, http.get(proxy.url + path, headers=headers) as r:
        return r.status, orjson.loads(await r.read())


@pytest.mark.parametrize("agent", SHELLS, ids=["shell", "pager"])
async def test_grok_shell_gets_its_own_model_list(proxy, agent: str) -> None:
    """CPA TestModelsDispatchByGrokShellUserAgent: a ``User-Agent`` naming grok-shell gets
    the Grok Build list (before, the OpenAI list, which the shell cannot read), even with
    ``?client_version``: every served model, whatever its provider, with ``model`` = ``id``,
    its display name, its context window, ``api_backend: responses``,
    ``supported_in_api`` and its reasoning levels as ``reasoning_efforts``."""
    status, body = await get(proxy, "/v1/models?client_version", agent)
    assert status == 200 and body["object"] == "list"
    by_id = {m["id"]: m for m in body["data"]}
    assert {"codex-model", "claude-model", "gemini-model", "compat-model"} <= set(by_id)
    codex = by_id["codex-model"]
    assert codex["model"] == "codex-model" and codex["name"] == "gpt-5.4"
    assert codex["context_window"] > 0
    assert codex["api_backend"] == "responses" and codex["supported_in_api"] is True
    assert [e["value"] for e in codex["reasoning_efforts"]] == ["low", "medium", "high", "xhigh"]
    assert by_id["claude-model"]["api_backend"] == "responses"


async def test_grok_shell_list_omits_what_a_model_lacks(proxy) -> None:
    """CPA TestGrokHomeModelAdapterOmitsReasoning (through the registry: cliproxy has no
    Home): a model with no known context window has no ``context_window`` member, one with
    no reasoning levels no ``reasoning_efforts``, and the name falls back to the id."""
    _, body = await get(proxy, "/v1/models", SHELLS[0])
    by_id = {m["id"]: m for m in body["data"]}
    assert "reasoning_efforts" not in by_id["gemini-model"]
    assert by_id["gemini-model"]["context_window"] > 0
    compat = by_id["compat-model"]
    assert "context_window" not in compat and compat["name"] == "compat-model"


async def test_ordinary_clients_keep_the_openai_list(proxy) -> None:
    """CPA TestModelsDispatchKeepsOrdinaryOpenAIResponse: curl gets the OpenAI list, with
    no Grok member on any model."""
    status, body = await get(proxy, "/v1/models", "curl/8.7.1")
    assert status == 200 and body["object"] == "list"
    assert "codex-model" in {m["id"] for m in body["data"]}
    assert all("api_backend" not in m and m["object"] == "model" for m in body["data"])
