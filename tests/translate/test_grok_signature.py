"""Grok's encrypted reasoning in a Claude client's thinking signature: the Claude reader
tells it from Claude's, Codex's and Gemini's carriers, and the Responses builder gives it
back to a Grok model only (CPA ``codexClaudeTargetAcceptsGrokSignature``). The runs
through the proxy are in tests/e2e/test_xai_claude_signature.py."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER
from cliproxy.translate.signatures import is_grok_signature
from tests.fakes.claude import issue_signature
from tests.fakes.openai_responses import ENCRYPTED, grok_encrypted
from tests.translate.cpa._run import CLAUDE, CODEX, req

GROK = grok_encrypted("reader")


def thinking_of(signature: str) -> ir.Thinking:
    body = {
        "model": "grok-4.3",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "t", "signature": signature}],
            },
            {"role": "user", "content": "next"},
        ],
    }
    block = ADAPTER.parse_request(body).messages[1].content[0]
    assert isinstance(block, ir.Thinking)
    return block


@pytest.mark.parametrize(
    ("signature", "family"),
    [
        (GROK, "grok"),
        (issue_signature("claude-sonnet-4-6"), "claude"),
        (ENCRYPTED, "openai"),
        ("sig-from-somewhere", "claude"),  # unknown: Claude's, as before (it decides)
        (GROK[:40], "claude"),  # too short to be Grok's
        (GROK + " ", "claude"),  # Grok's never has surrounding space
    ],
    ids=["grok", "claude", "codex", "unknown", "short", "padded"],
)
def test_reader_tells_grok_from_the_others(signature: str, family: str) -> None:
    block = thinking_of(signature)
    assert block.family == family
    assert block.signature == (signature if family != "openai" else ENCRYPTED)


def test_is_grok_signature_refuses_other_envelopes() -> None:
    assert is_grok_signature(GROK)
    assert not is_grok_signature(ENCRYPTED)
    assert not is_grok_signature(issue_signature("claude-sonnet-4-6"))
    assert not is_grok_signature("A" * 200)  # base64, but no entropy


def _built(model: str) -> list[dict[str, Any]]:
    body = {
        "model": model,
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "what the client saw", "signature": GROK},
                    {"type": "text", "text": "answer"},
                ],
            },
            {"role": "user", "content": "next"},
        ],
    }
    items: list[dict[str, Any]] = req(CLAUDE, CODEX, body, model)["input"]
    return items


@pytest.mark.parametrize("model", ["grok-4.3", "grok-code-fast-1", "grok-4.3(high)"])
def test_grok_models_get_the_reasoning_item(model: str) -> None:
    items = _built(model)
    assert items[1] == {"type": "reasoning", "summary": [], "content": None, "encrypted_content": GROK}


@pytest.mark.parametrize("model", ["gpt-5.4", "claude-sonnet-4-6", "kimi-k2.5"])
def test_other_models_never_get_it(model: str) -> None:
    assert [i for i in _built(model) if i.get("type") == "reasoning"] == []
