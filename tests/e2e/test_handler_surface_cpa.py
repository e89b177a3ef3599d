"""CPA's client-facing handler cases that sit outside one route's stream handling, through
a running proxy: the unknown-model error (sdk/api/handlers/handlers_request_details_test.go),
the model list's shape chosen by the request (internal/api/server_test.go), and the Claude
error envelope built from another family's upstream error
(sdk/api/handlers/claude/code_handlers_error_test.go). Clients are aiohttp and the
official ``anthropic`` SDK."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior

AUTH = {"Authorization": f"Bearer {KEY}"}
CONTEXT = "Your input exceeds the context window of this model. Please adjust your input and try again."


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    p = await start_proxy(matrix_config(fakes))
    p.fakes = fakes
    return p


async def get(proxy: Any, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(proxy.url + path, headers={**AUTH, **headers}) as r:
        return r.status, orjson.loads(await r.read())


@pytest.mark.parametrize(
    "model",
    ["unroutable-model", 'foo"bar', 'x","code":"insufficient_quota","x":"', 'x"}}', "foo\\bar", "foo\nbar"],
)
async def test_unknown_model_error_resists_json_injection(proxy, model: str) -> None:
    """CPA TestGetRequestDetails_UnknownModelErrorResistsJSONInjection: a model name no
    credential serves is echoed in the error, which stays valid JSON whose code is
    ``model_not_found`` whatever quotes or braces the name holds; status 400."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(proxy.url + "/v1/chat/completions", json=body, headers=AUTH) as r,
    ):
        status, raw = r.status, await r.read()
    error = orjson.loads(raw)["error"]
    assert status == 400
    assert error["code"] == "model_not_found"
    assert error["message"] == "unknown provider for model " + model


async def test_models_list_with_anthropic_version_is_claude_shaped(proxy) -> None:
    """CPA TestModelsDispatchByAnthropicVersionHeader: ``GET /v1/models`` from a client
    that sends ``Anthropic-Version`` (not the Claude CLI) gets Anthropic's list envelope
    (``has_more``, no ``object: list``) with Claude's model fields; without the header the
    same route answers OpenAI's list."""
    status, claude = await get(
        proxy, "/v1/models", {"User-Agent": "Zed/1.0", "Anthropic-Version": "2023-06-01"}
    )
    assert status == 200
    assert claude.get("object") != "list" and "has_more" in claude
    assert all(m["type"] == "model" and "display_name" in m for m in claude["data"])
    status, plain = await get(proxy, "/v1/models", {"User-Agent": "Zed/1.0"})
    assert status == 200 and plain["object"] == "list"


async def test_models_with_client_version_is_the_codex_catalog(proxy) -> None:
    """CPA TestModelsWithClientVersionReturnsCodexCatalog: ``/v1/models?client_version``
    (what the Codex CLI asks) answers the Codex model catalog: ``models`` with a ``slug``
    each, and neither ``object`` nor ``data``, whatever the User-Agent. This proxy fetched
    no Codex client template catalog, so the list is empty (tests/e2e/
    test_codex_client_models_cpa.py shows why, and the entries served with one)."""
    status, body = await get(proxy, "/v1/models?client_version=0.99.0", {"User-Agent": "claude-cli/1.0"})
    assert status == 200
    assert body == {"models": []}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_openai_style_upstream_error_reaches_a_claude_client_in_its_envelope(
    proxy, stream: bool
) -> None:
    """CPA TestClaudeErrorExtractsOpenAIStyleUpstreamJSON and
    TestWriteClaudeErrorResponseUsesClaudeEnvelope: an OpenAI-compatible upstream refuses
    with an OpenAI-shaped 400 (``context_too_large``); the Claude client gets Anthropic's
    envelope (``type: error``, ``error.type: invalid_request_error``) with the upstream's
    message, which the anthropic SDK raises as a ``BadRequestError``
    (TestPendingClaudeStreamErrorUsesBufferedError: also when it asked for a stream)."""
    body = {"error": {"message": CONTEXT, "type": "invalid_request_error", "code": "context_too_large"}}
    proxy.fakes.openai.script(Behavior(status=400, body=body))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            kw: dict[str, Any] = {"model": "compat-model", "max_tokens": 16}
            messages = [{"role": "user", "content": "hi"}]
            if stream:
                async with client.messages.stream(messages=messages, **kw) as s:  # type: ignore[arg-type]
                    await s.get_final_message()
            else:
                await client.messages.create(messages=messages, **kw)  # type: ignore[arg-type]
    err = info.value.body
    assert isinstance(err, dict) and err["type"] == "error"
    assert err["error"]["type"] == "invalid_request_error" and err["error"]["message"] == CONTEXT


async def test_claude_style_upstream_rate_limit_keeps_its_type(proxy) -> None:
    """CPA TestClaudeErrorExtractsClaudeStyleUpstreamJSON: a Claude upstream's own 429
    body (``rate_limit_error``) reaches the Claude client with its type and message."""
    message = "This request would exceed your account's rate limit. Please try again later."
    body = {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": message},
        "request_id": "req_123",
    }
    proxy.fakes.claude.script(Behavior(status=429, body=body))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError) as info:
            await client.messages.create(
                model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    err = info.value.body
    assert isinstance(err, dict) and err["error"]["type"] == "rate_limit_error"
    assert err["error"]["message"] == message
