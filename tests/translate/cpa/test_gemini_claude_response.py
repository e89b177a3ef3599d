"""CPA internal/translator/gemini/claude/gemini_claude_response_test.go: Gemini upstream ->
Claude client, the thought-signature cases.

Deliberate differences, asserted below: the signature reaches the client inside our marked
carrier (``cpa-gemini-carrier-v1:...``, as CPA's Antigravity translator hands out), not
raw, so the next turn can put it back on the part it came on; and a visible text part that
carries a signature without ``thought: true`` stays text (Gemini signs the first part of a
turn, whatever it is), its signature on a thinking block of its own anchored to it, where
CPA's plain Gemini translator turns the text into thinking."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.translate.carriers import CLAUDE_CARRIER_PREFIX
from tests.translate.cpa._run import CLAUDE, GEMINI, claude_blocks, events, resp, sse, stream

REQUEST = {"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]}


def answer(parts: list[dict[str, Any]], whole: bool) -> list[dict[str, Any]]:
    body = {
        "candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        "modelVersion": "gemini-2.5-pro",
        "responseId": "resp-non-stream",
    }
    if whole:
        return resp(GEMINI, CLAUDE, body, REQUEST)["content"]
    return claude_blocks(events(stream(GEMINI, CLAUDE, sse(body, events=False), {**REQUEST, "stream": True})))


def unwrap(carrier: str) -> str:
    """The signature inside a carrier (``<prefix>:<direction>[:<kind>]:<base64url>``)."""
    assert carrier.startswith(CLAUDE_CARRIER_PREFIX), carrier
    raw = carrier.rsplit(":", 1)[1]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()


def signature(block: dict[str, Any]) -> str:
    return unwrap(block["signature"])


WHOLE = pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])


@WHOLE
@pytest.mark.parametrize("key", ["thoughtSignature", "thought_signature"])
def test_signed_text_without_thought_flag(whole: bool, key: str) -> None:
    """CPA: TestConvertGeminiResponseToClaudeNonStream_PartWithThoughtSignatureWithoutThoughtBool
    (a difference: the text stays text, see the module docstring). The signature, camelCase or
    snake_case, is never dropped: a whole answer lost the snake_case one."""
    blocks = answer([{"text": "inferred reasoning", key: "sig-snake-case"}, {"text": "final answer"}], whole)
    assert [b["type"] for b in blocks] == ["thinking", "text", "text"]
    assert signature(blocks[0]) == "sig-snake-case"
    assert [b["text"] for b in blocks[1:]] == ["inferred reasoning", "final answer"]


@WHOLE
def test_thought_split_over_parts_is_one_signed_block(whole: bool) -> None:
    """CPA: TestConvertGeminiResponseToClaudeNonStream_PreservesThoughtSignature: two thought
    parts make one thinking block with the later part's signature (a whole answer made two,
    the first unsigned), then the visible text."""
    blocks = answer(
        [
            {"text": "thinking step 1\n", "thought": True},
            {"text": "thinking step 2", "thought": True, "thoughtSignature": "sig-xyz-123"},
            {"text": "visible answer"},
        ],
        whole,
    )
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"] == "thinking step 1\nthinking step 2"
    assert signature(blocks[0]) == "sig-xyz-123"
    assert blocks[1]["text"] == "visible answer"


@WHOLE
def test_trailing_signature_only_part_signs_the_thought(whole: bool) -> None:
    """CPA: TestConvertGeminiResponseToClaudeNonStream_TrailingSignatureOnlyPart."""
    blocks = answer(
        [
            {"text": "thinking step 1\n", "thought": True},
            {"text": "", "thoughtSignature": "sig-trailing"},
            {"text": "visible answer"},
        ],
        whole,
    )
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"] == "thinking step 1\n" and signature(blocks[0]) == "sig-trailing"
    assert blocks[1]["text"] == "visible answer"


def test_signature_only_chunk_opens_no_empty_text_block() -> None:
    """CPA: TestConvertGeminiResponseToClaude_SignatureOnlyPartDoesNotOpenEmptyTextBlock: the
    signature-only chunk is a signature delta on the open thought, no text block opens, the
    thought stops once, and the final message_delta counts the thought tokens although the
    chunk has no candidatesTokenCount."""
    request = {
        "model": "gemini-test",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    thinking = {
        "candidates": [{"content": {"parts": [{"text": "thinking text", "thought": True}]}}],
        "modelVersion": "gemini-test",
        "responseId": "resp-test",
    }
    signed = {
        "candidates": [
            {"content": {"parts": [{"text": "", "thoughtSignature": "sig-test"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 10, "thoughtsTokenCount": 2, "totalTokenCount": 12},
        "modelVersion": "gemini-test",
        "responseId": "resp-test",
    }
    evs = events(stream(GEMINI, CLAUDE, sse(thinking, signed, events=False), {**request, "stream": True}))
    starts = [e["content_block"]["type"] for e in evs if e["type"] == "content_block_start"]
    assert starts == ["thinking"]
    assert [e["index"] for e in evs if e["type"] == "content_block_stop"] == [0]
    deltas = [e["delta"] for e in evs if e["type"] == "content_block_delta"]
    assert deltas[-1]["type"] == "signature_delta"
    assert unwrap(deltas[-1]["signature"]) == "sig-test"
    final = [e for e in evs if e["type"] == "message_delta"][-1]
    assert final["usage"]["output_tokens"] == 2
    assert evs[-1]["type"] == "message_stop"
