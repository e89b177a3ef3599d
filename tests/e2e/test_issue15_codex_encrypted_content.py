"""Reasoning ``encrypted_content`` that is not OpenAI's is dropped on the way to Codex
(CPA runtime/executor/codex_executor_signature_test.go, openai_responses_signature.go):
on a generation (streamed or not) and on ``/responses/compact``; the fake Codex issues
Fernet-shaped ``gAAAA...`` values, which go back untouched."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.openai_responses import ENCRYPTED
from tests.translate.cpa.signature_fixtures import claude_signature, gpt_signature


def history(**extra: Any) -> dict[str, Any]:
    return {
        "model": "codex-model",
        "input": [
            {
                "id": "rs_bad",
                "type": "reasoning",
                "encrypted_content": "gAAAAABqFTIa\u2026abc",
                "summary": [],
            },
            {"id": "rs_non_string", "type": "reasoning", "encrypted_content": 123, "summary": []},
            {"id": "rs_claude", "type": "reasoning", "encrypted_content": claude_signature(), "summary": []},
            {"id": "rs_good", "type": "reasoning", "encrypted_content": gpt_signature(), "summary": []},
            {"id": "rs_orphan", "type": "reasoning", "summary": []},
            {"role": "user", "content": "hello", "encrypted_content": "leave-message-alone"},
        ],
        **extra,
    }


async def post(url: str, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.read()


def check(sent: list[dict[str, Any]], store: bool) -> None:
    for bad in sent[:3]:
        assert "encrypted_content" not in bad
        assert ("id" in bad) is store
    assert sent[3]["encrypted_content"] == gpt_signature() and sent[3]["id"] == "rs_good"
    assert ("id" in sent[4]) is store  # no encrypted_content: an id nothing stored can answer
    assert sent[5]["encrypted_content"] == "leave-message-alone"


@pytest.mark.parametrize("stream", [False, True], ids=["execute", "stream"])
async def test_generation_drops_foreign_encrypted_content(matrix: Any, stream: bool) -> None:
    """TestCodexExecutorDropsInvalidReasoningEncryptedContentFromFinalRequest and
    TestCodexExecutorExecuteStreamDropsInvalidReasoningEncryptedContentFromFinalRequest
    (plus a Claude signature a client carried from another backend)."""
    status, answer = await post(matrix.url, "/v1/responses", history(stream=stream))
    assert status == 200, answer
    check(matrix.fakes.responses.last.json["input"], store=False)


async def test_compact_drops_foreign_encrypted_content(matrix: Any) -> None:
    """TestCodexExecutorCompactDropsInvalidReasoningEncryptedContentFromFinalRequest."""
    status, answer = await post(matrix.url, "/v1/responses/compact", history())
    assert status == 200, answer
    sent = matrix.fakes.responses.last
    assert sent.path.endswith("/responses/compact")
    check(sent.json["input"], store=False)


async def test_codex_reasoning_goes_back_as_it_came(matrix: Any) -> None:
    """The fake Codex's own (Fernet-shaped) encrypted_content survives a client's replay."""
    body = {
        "model": "codex-model",
        "input": "FAKE_TOOL=bash run it",
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    status, raw = await post(matrix.url, "/v1/responses", body)
    assert status == 200, raw
    output = orjson.loads(raw)["output"]
    reasoning = next(o for o in output if o["type"] == "reasoning")
    assert reasoning["encrypted_content"] == ENCRYPTED
    replay = {**body, "input": [{"role": "user", "content": "again"}, *output]}
    await post(matrix.url, "/v1/responses", replay)
    sent = next(i for i in matrix.fakes.responses.last.json["input"] if i.get("type") == "reasoning")
    assert sent["encrypted_content"] == ENCRYPTED and sent["id"] == reasoning["id"]
