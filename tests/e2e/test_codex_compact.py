"""``/v1/responses/compact`` and ``/backend-api/codex/responses/compact``: through the
official openai SDK to the fake Codex backend and to an OpenAI-compatible upstream; CPA's
handler and executor cases; failure rules (no cooldown, request faults stop failover)."""

from __future__ import annotations

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

HISTORY = [
    {"type": "message", "role": "user", "content": "history"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "old answer"}]},
    {"type": "compaction_trigger"},
]


async def _post(url: str, body: dict, path: str = "/v1/responses/compact") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(url + path, json=body, headers=headers) as resp:
            return resp.status, orjson.loads(await resp.read())


async def test_compact_through_the_openai_sdk_to_codex(matrix) -> None:
    """CPA codex_executor_compact_test.go
    TestCodexExecutorCompactAddsDefaultInstructionsWithoutInjectingImageTool: the call goes
    to ``{base}/responses/compact`` without ``stream``, ``instructions`` becomes "", no tool
    is injected, the input order is kept; the answer reaches the SDK as it came."""
    fake = matrix.fakes.responses
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.compact(model="codex-model", input=HISTORY)  # type: ignore[arg-type]
    assert done.object == "response.compaction"
    assert [getattr(item, "type", None) for item in done.output][-1] == "compaction"
    sent = fake.last
    assert sent.path == "/backend-api/codex/responses/compact"
    body = sent.json
    assert body["model"] == "gpt-5.4"
    assert body["instructions"] == ""
    assert "stream" not in body and "tools" not in body
    assert [i.get("type") for i in body["input"]] == ["message", "message", "compaction_trigger"]


@pytest.mark.parametrize("instructions", [None, "missing"])
async def test_compact_instructions_null_or_missing_become_empty(matrix, instructions) -> None:
    """Both cases of TestCodexExecutorCompactAddsDefaultInstructionsWithoutInjectingImageTool."""
    body: dict = {"model": "codex-model", "input": HISTORY}
    if instructions is None:
        body["instructions"] = None
    status, answer = await _post(matrix.url, body, "/backend-api/codex/responses/compact")
    assert status == 200, answer
    assert matrix.fakes.responses.last.json["instructions"] == ""


async def test_compact_keeps_given_instructions_and_drops_stream_false(matrix) -> None:
    """CPA's Compact handler deletes a ``stream: false`` before executing."""
    body = {"model": "codex-model", "input": HISTORY, "instructions": "be brief", "stream": False}
    status, answer = await _post(matrix.url, body)
    assert status == 200, answer
    sent = matrix.fakes.responses.last.json
    assert sent["instructions"] == "be brief"
    assert "stream" not in sent


async def test_compact_rejects_stream(matrix) -> None:
    """CPA openai_responses_compact_test.go TestOpenAIResponsesCompactRejectsStream: 400, and
    no upstream call."""
    before = len(matrix.fakes.responses.requests)
    status, answer = await _post(matrix.url, {"model": "codex-model", "input": "hi", "stream": True})
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert "Streaming not supported" in answer["error"]["message"]
    assert len(matrix.fakes.responses.requests) == before


async def test_compact_to_an_openai_compatible_upstream(matrix) -> None:
    """CPA openai_compat_executor.go: compact goes to ``{base}/responses/compact`` with the
    Responses body (not translated to Chat Completions), ``stream`` removed."""
    status, answer = await _post(matrix.url, {"model": "compat-model", "input": HISTORY, "stream": False})
    assert status == 200, answer
    assert answer["object"] == "response.compaction"
    sent = matrix.fakes.openai.last
    assert sent.path == "/v1/responses/compact"
    assert sent.json["input"][-1] == {"type": "compaction_trigger"}
    assert "messages" not in sent.json and "stream" not in sent.json


@pytest.mark.parametrize("model", ["claude-model", "gemini-model"])
async def test_compact_on_other_upstreams_is_501(matrix, model) -> None:
    """CPA's claude / gemini / antigravity executors: ``/responses/compact not supported``
    (501); no upstream is called."""
    status, answer = await _post(matrix.url, {"model": model, "input": "hi"})
    assert status == 501
    assert "/responses/compact not supported" in answer["error"]["message"]
    assert not matrix.fakes.claude.requests and not matrix.fakes.gemini.requests


def _two_codex(fakes) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    return f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{base}"
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
  - api-key: "sk-codex-2"
    base-url: "{base}"
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
"""


async def test_compact_transient_failure_does_not_cool_the_credential(start_proxy, fakes) -> None:
    """CPA openai_responses_compact_test.go
    TestOpenAIResponsesCompactTransientFailureDoesNotCooldownAuthAndPreservesError: every
    credential answers 500 to compact; the client gets that 500 with the upstream's
    message, and neither credential is cooled: a normal request right after is served.
    CPA: TestManager_ResponsesCompact_TransientFailure_AvailabilityNeutral."""
    proxy = await start_proxy(_two_codex(fakes))
    fakes.responses.script(
        Behavior(status=500, message="compact upstream temporary error", path="compact", times=2)
    )
    status, answer = await _post(proxy.url, {"model": "codex-model", "input": HISTORY})
    assert status == 500
    assert "compact upstream temporary error" in answer["error"]["message"]
    assert len([r for r in fakes.responses.requests if r.path.endswith("/compact")]) == 2
    for cred in proxy.service.pool.credentials():
        assert not await proxy.service.pool.cooldowns(cred)
    status, answer = await _post(proxy.url, {"model": "codex-model", "input": "hi"}, "/v1/responses")
    assert status == 200, answer


async def test_compact_request_fault_stops_failover(start_proxy, fakes) -> None:
    """CPA openai_responses_compact_test.go
    TestOpenAIResponsesCompactRequestFaultStopsFallbackAndPreservesError: a 404 from the
    first credential goes to the client as it is; the second is not tried, none cools.
    CPA: TestManager_ResponsesCompact_RequestFault_StopsFallback."""
    proxy = await start_proxy(_two_codex(fakes))
    fakes.responses.script(Behavior(status=404, message="404 page not found", path="compact", times=2))
    status, answer = await _post(proxy.url, {"model": "codex-model", "input": HISTORY})
    assert status == 404
    assert "404 page not found" in answer["error"]["message"]
    assert len(fakes.responses.requests) == 1
    for cred in proxy.service.pool.credentials():
        assert not await proxy.service.pool.cooldowns(cred)


async def test_compact_rate_limit_cools_and_fails_over(start_proxy, fakes) -> None:
    """CPA conductor_cooldown.go isResponsesCompactAvailabilityNeutralError: 401/402/403/429
    keep their cooldown; the next credential answers.
    CPA: TestManager_ResponsesCompact_Quota429_CoolsCredential (a 429 naming
    ``usage_limit_reached`` marks the credential's quota exceeded)."""
    proxy = await start_proxy(_two_codex(fakes))
    error = {"error": {"type": "usage_limit_reached", "message": "quota exceeded"}}
    fakes.responses.script(Behavior(status=429, body=error, path="compact", times=1))
    status, answer = await _post(proxy.url, {"model": "codex-model", "input": HISTORY})
    assert status == 200, answer
    records = [r for c in proxy.service.pool.credentials() for r in await proxy.service.pool.cooldowns(c)]
    assert len({r.credential_id for r in records}) == 1
    assert any(r.quota_exceeded for r in records)


@pytest.mark.parametrize("status", [401, 403], ids=["unauthorized", "forbidden"])
async def test_compact_auth_failure_cools_and_fails_over(start_proxy, fakes, status) -> None:
    """CPA conductor_compact_cooldown_test.go TestManager_ResponsesCompact_Unauthorized_CoolsCredential
    and TestManager_ResponsesCompact_Forbidden_CoolsCredential: a 401 or 403 to compact cools that credential (an API
    key cannot refresh) and the next credential answers. (A 401 whose body names an
    ``invalid_request_error``, as OpenAI's bad-key answer does, is a request fault instead,
    here as in CPA's clienterror.IsRequestFault.)"""
    proxy = await start_proxy(_two_codex(fakes))
    error = {"error": {"message": "unauthorized", "type": "authentication_error"}}
    fakes.responses.script(Behavior(status=status, body=error, path="compact", times=1))
    status_, answer = await _post(proxy.url, {"model": "codex-model", "input": HISTORY})
    assert status_ == 200, answer
    assert len([r for r in fakes.responses.requests if r.path.endswith("/compact")]) == 2
    cooled = [c for c in proxy.service.pool.credentials() if await proxy.service.pool.cooldowns(c)]
    assert len(cooled) == 1


async def test_compact_forwards_an_invalid_reasoning_signature(matrix) -> None:
    """CPA: TestOpenAIResponsesCompactForwardsInvalidReasoningEncryptedContentToExecutor: a
    reasoning item whose ``encrypted_content`` is not OpenAI's is no client error; the call
    reaches the upstream (which, for Codex, gets the item without the foreign value)."""
    before = len(matrix.fakes.responses.requests)
    item = {"id": "rs_bad", "type": "reasoning", "encrypted_content": "bad", "summary": []}
    status, answer = await _post(matrix.url, {"model": "codex-model", "input": [item]})
    assert status == 200, answer
    assert len(matrix.fakes.responses.requests) == before + 1
    assert "encrypted_content" not in matrix.fakes.responses.last.json["input"][0]
