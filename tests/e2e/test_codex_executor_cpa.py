"""CPA's Codex executor cases (internal/runtime/executor/codex_executor_instructions_test.go
and codex_executor_retry_test.go) that the other Codex tests did not hold: what reaches the
Codex backend's ``/responses`` and what a Responses client gets back from Codex's errors,
through the proxy against the fake Codex backend."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.identity import confuse_uuid
from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

AUTH = {"Authorization": f"Bearer {KEY}"}


async def _post(url: str, body: dict[str, Any], path: str = "/v1/responses") -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.post(url + path, json=body, headers=AUTH) as resp,
    ):
        return resp.status, await resp.read()


@pytest.mark.parametrize(
    "path", ["/v1/responses", "/backend-api/codex/responses"], ids=["responses", "codex"]
)
@pytest.mark.parametrize("given", ["null", "missing"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_null_or_missing_instructions_reach_codex_as_empty(
    matrix, path: str, given: str, stream: bool
) -> None:
    """CPA TestCodexExecutorExecuteNormalizesNullInstructions and
    TestCodexExecutorExecuteStreamNormalizesNullInstructions: ``instructions: null`` (and,
    as CPA's normalizeCodexInstructions does, no ``instructions`` at all) reaches
    ``{base}/responses`` as the empty string, whole and streamed, from a Responses client
    and from one on the Codex route (whose body passes through untranslated)."""
    body: dict[str, Any] = {"model": "codex-model", "input": "hello", "stream": stream}
    if given == "null":
        body["instructions"] = None
    status, answer = await _post(matrix.url, body, path)
    assert status == 200, answer
    sent = matrix.fakes.responses.last
    assert sent.path == "/backend-api/codex/responses"
    assert sent.json["instructions"] == ""


async def test_given_instructions_reach_codex_as_sent(matrix) -> None:
    """The normalization touches only a missing or null value."""
    status, answer = await _post(
        matrix.url, {"model": "codex-model", "input": "hi", "instructions": "be brief"}
    )
    assert status == 200, answer
    assert matrix.fakes.responses.last.json["instructions"] == "be brief"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_instructions_a_payload_rule_removed_are_empty(start_proxy, fakes, stream: bool) -> None:
    """CPA normalizes ``instructions`` in the executor, after the payload rules: a ``filter``
    rule that takes them out still sends Codex ``instructions: ""``."""
    rule = '\npayload:\n  filter:\n    - models: [{name: "*"}]\n      params: ["instructions"]\n'
    proxy = await start_proxy(_codex(fakes) + rule)
    body = {"model": "codex-model", "input": "hi", "instructions": "be brief", "stream": stream}
    status, answer = await _post(proxy.url, body)
    assert status == 200, answer
    assert fakes.responses.last.json["instructions"] == ""


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (b'{"error":{"type":"usage_limit_reached","resets_in_seconds":30}}', True),
        (b'{"type":"usage_limit_reached"}', True),
        (b'{"error":{"type":"rate_limit_error","code":"rate_limit_exceeded"}}', False),
        (b"", False),
    ],
    ids=["nested", "top-level", "transient rate limit", "empty"],
)
def test_a_usage_limit_is_known_by_its_type(body: bytes, limit: bool) -> None:
    """CPA TestIsCodexUsageLimitError: ``usage_limit_reached`` as the error's type or the
    body's own is a plan limit (a 429 whatever the status); a transient rate limit and an
    empty body are not."""
    assert CodexProvider().classify(400, {}, body).status == (429 if limit else 400)


def _codex(fakes: Any) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    return (
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
    )


KNOWN = [
    (
        413,
        {
            "message": "context length exceeded",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        },
    ),
    (
        400,
        {
            "message": "Invalid signature in thinking block",
            "type": "invalid_request_error",
            "code": "invalid_request_error",
        },
    ),
    (
        400,
        {
            "message": "No response found for previous_response_id resp_123",
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
        },
    ),
    (401, {"message": "invalid or expired token", "type": "authentication_error", "code": "invalid_api_key"}),
]


@pytest.mark.parametrize(
    ("status", "error"), KNOWN, ids=["context length", "signature", "previous response", "auth"]
)
async def test_known_codex_failures_keep_their_status(start_proxy, fakes, status: int, error: dict) -> None:
    """CPA TestNewCodexStatusErrClassifiesKnownCodexFailures: the client gets Codex's status,
    type and message (a one-account setup: the 401 has nowhere else to go). Our difference:
    the body keeps Codex's own ``code`` (the one the Codex CLI and the OpenAI SDKs know)
    where CPA rewrites it to ``context_too_large`` / ``thinking_signature_invalid`` /
    ``auth_unavailable``."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.script(Behavior(status=status, body={"error": error}))
    got, raw = await _post(proxy.url, {"model": "codex-model", "input": "hi"})
    assert got == status, raw
    answer = orjson.loads(raw)["error"]
    assert answer["message"] == error["message"]
    assert answer["code"] == error["code"] and answer["type"] == error["type"]


async def test_an_unclassified_codex_failure_keeps_its_body(start_proxy, fakes) -> None:
    """CPA TestNewCodexStatusErrPreservesUnclassifiedErrors: a 502 whose message merely
    mentions tokens is no context-length error: the client gets the 502 with Codex's body
    as it was."""
    proxy = await start_proxy(_codex(fakes))
    error = {
        "message": "documentation mentions too many tokens, but this is a billing configuration failure",
        "type": "server_error",
        "code": "billing_config_error",
    }
    fakes.responses.script(Behavior(status=502, body={"error": error}, times=None))
    got, raw = await _post(proxy.url, {"model": "codex-model", "input": "hi"})
    assert got == 502, raw
    assert orjson.loads(raw)["error"] == error


async def test_identity_confuse_on_failover_starts_from_the_clients_key(start_proxy, fakes) -> None:
    """CPA TestCodexIdentityConfuseKeepsClientBodySeparateFromUpstreamBody: the upstream
    body gets the credential's own key while the client's body keeps ``cache-1``; seen
    through the proxy, the account that serves after a failover gets *its* mapping of the
    client's key, not a mapping of the first account's."""
    base = f"{fakes.responses.base_url}/backend-api/codex"
    entries = "".join(
        f'  - api-key: "sk-codex-{i}"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
        for i in (1, 2)
    )
    cfg = f'api-keys: ["{KEY}"]\nrouting:\n  strategy: fill-first\ncodex:\n  identity-confuse: true\n'
    proxy = await start_proxy(cfg + "codex-api-key:\n" + entries)
    fakes.responses.script(Behavior(status=500, message="boom"))
    status, answer = await _post(
        proxy.url, {"model": "codex-model", "input": "hi", "prompt_cache_key": "cache-1"}
    )
    assert status == 200, answer
    by_key = {c.api_key: c.id for c in proxy.service.pool.credentials()}
    first, second = fakes.responses.requests[-2:]
    assert first.key != second.key
    for rec in (first, second):
        assert rec.json["prompt_cache_key"] == confuse_uuid(by_key[rec.key], "prompt-cache", "cache-1")


# ---- Grok Build's model list (internal/client/grokbuild/grokbuild_test.go)


@pytest.mark.parametrize(
    ("agent", "grok"),
    [
        ("grok-shell/0.2.119 (macos; aarch64)", True),
        ("grok-pager/0.2.119 grok-shell/0.2.119 (macos; aarch64)", True),
        ("GROK-PAGER/1.0 GROK-SHELL/1.0", True),
        ("curl/8.7.1", False),
    ],
    ids=["shell", "pager", "case insensitive", "ordinary client"],
)
async def test_grok_shell_is_known_by_its_user_agent(matrix, agent: str, grok: bool) -> None:
    """CPA TestIsGrokShellUserAgent and TestBuildResponse: a User-Agent naming grok-shell, in
    any case, gets Grok Build's model list (``model`` = ``id``, the display name or the id,
    ``api_backend: responses``, ``supported_in_api``, the context window and reasoning levels
    when known, none when not); curl gets the OpenAI list."""
    headers = {**AUTH, "User-Agent": agent}
    async with aiohttp.ClientSession() as http, http.get(matrix.url + "/v1/models", headers=headers) as r:
        assert r.status == 200
        models = {m["id"]: m for m in orjson.loads(await r.read())["data"]}
    codex, compat = models["codex-model"], models["compat-model"]
    if not grok:
        assert codex["object"] == "model" and "api_backend" not in codex
        return
    assert codex["model"] == "codex-model" and codex["name"] == "gpt-5.4" and codex["context_window"] > 0
    assert codex["api_backend"] == "responses" and codex["supported_in_api"] is True
    assert [e["value"] for e in codex["reasoning_efforts"]] == ["low", "medium", "high", "xhigh"]
    assert compat["name"] == "compat-model" and "context_window" not in compat
    assert "reasoning_efforts" not in models["gemini-model"]
