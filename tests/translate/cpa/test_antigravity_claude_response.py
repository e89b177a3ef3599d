"""Ported from CPA internal/translator/antigravity/claude/antigravity_claude_response_test.go: a
Claude model's thinking behind Antigravity as a Claude client reads it, streamed and whole, in
the signature cache mode (the signature is cached under the whole thinking text and handed out
as ``claude#<signature>``) and in bypass mode.

Deliberate difference: only a Claude signature is cached and handed out (CPA caches whatever
value comes, e.g. its tests' ``abc123validSignature...``), so these cases use a real one."""

from __future__ import annotations

from typing import Any

from cliproxy.translate.registry import default_registry
from cliproxy.translate.replay import SignatureCache
from tests.translate.cpa._run import CLAUDE, GEMINI, claude_blocks, events, ir_of, sse
from tests.translate.cpa.signature_fixtures import b64, claude_signature
from tests.translate.cpa.test_antigravity_signatures import (
    LONG,
    MODEL,
    claude_payload,
    contents,
    r_form,
    said,
    signer,
)

SIG = r_form(LONG)  # what Antigravity sends for a Claude model: the double-layer form
ASK = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def chunk(*parts: dict[str, Any], finish: str = "", usage: dict[str, int] | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        cand["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": MODEL, "responseId": "resp-test"}
    if usage:
        out["usageMetadata"] = usage
    return out


def streamed(cache: SignatureCache, *chunks: dict[str, Any]) -> list[dict[str, Any]]:
    """The Claude client's stream events (cache mode) for Antigravity's ``chunks``."""
    req = signer(True, cache=cache).prepare(ir_of(CLAUDE, ASK))
    tr = default_registry().stream_translator(GEMINI, CLAUDE, req, MODEL)
    return events(tr.feed(sse(*chunks, events=False)) + tr.finish())


def thought(text: str, signature: str = "") -> dict[str, Any]:
    part: dict[str, Any] = {"text": text, "thought": True}
    if signature:
        part["thoughtSignature"] = signature
    return part


def test_streamed_thinking_is_accumulated_and_its_signature_cached() -> None:
    """TestConvertAntigravityResponseToClaude_ParamsInitialized,
    TestConvertAntigravityResponseToClaude_ThinkingTextAccumulated,
    TestConvertAntigravityResponseToClaude_SignatureOnlyChunk and
    TestConvertAntigravityResponseToClaude_SignatureCached: thought chunks make one thinking
    block; the signature that ends it (a part of its own) is cached under the whole text."""
    cache = SignatureCache()
    blocks = claude_blocks(
        streamed(
            cache,
            chunk(thought("First part of thinking...")),
            chunk(thought(" Second part of thinking...")),
            chunk(thought("", SIG)),
            chunk({"text": "Answer"}, finish="STOP"),
        )
    )
    text = "First part of thinking... Second part of thinking..."
    assert blocks == [
        {"type": "thinking", "thinking": text, "signature": "claude#" + SIG},
        {"type": "text", "text": "Answer"},
    ]
    assert cache.get(MODEL, text) == SIG


def test_text_and_signature_in_the_same_chunk() -> None:
    """TestConvertAntigravityResponseToClaude_TextAndSignatureInSameChunk: the last thought text
    is kept and the signature covers the whole text."""
    cache = SignatureCache()
    evs = streamed(cache, chunk(thought("First part.")), chunk(thought(" Second part.", SIG), finish="STOP"))
    assert claude_blocks(evs) == [
        {"type": "thinking", "thinking": "First part. Second part.", "signature": "claude#" + SIG}
    ]
    assert cache.get(MODEL, "First part. Second part.") == SIG


def test_multiple_thinking_blocks_cache_each_signature() -> None:
    """TestConvertAntigravityResponseToClaude_MultipleThinkingBlocks."""
    cache = SignatureCache()
    sig2 = r_form(claude_signature())
    blocks = claude_blocks(
        streamed(
            cache,
            chunk(thought("First thinking block")),
            chunk(thought("", SIG)),
            chunk({"text": "Regular text output"}),
            chunk(thought("Second thinking block")),
            chunk(thought("", sig2), finish="STOP"),
        )
    )
    assert [b["type"] for b in blocks] == ["thinking", "text", "thinking"]
    assert cache.get(MODEL, "First thinking block") == SIG
    assert cache.get(MODEL, "Second thinking block") == sig2


def test_signature_only_chunk_without_thought_flag_closes_the_stream_once() -> None:
    """TestConvertAntigravityResponseToClaude_SignatureOnlyChunkWithoutThoughtFlag: no text
    block is opened for the signature part, block 0 stops once, the usage counts the thoughts."""
    cache = SignatureCache()
    usage = {"promptTokenCount": 10, "thoughtsTokenCount": 2, "totalTokenCount": 12}
    evs = streamed(
        cache,
        chunk(thought("Full thinking text.")),
        chunk({"text": "", "thoughtSignature": SIG}, finish="STOP", usage=usage),
    )
    assert [(e["type"], e.get("index")) for e in evs] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert evs[3]["delta"] == {"type": "signature_delta", "signature": "claude#" + SIG}
    assert evs[5]["usage"]["output_tokens"] == 2
    assert cache.get(MODEL, "Full thinking text.") == SIG


def test_claude_thought_and_call_signatures_in_bypass_mode() -> None:
    """TestConvertAntigravityResponseToClaude_PreservesClaudeThoughtAndToolSignatures, with our
    difference: the call's signature is not handed out (a Claude model's call goes back
    unsigned: CPA's executor strips that signature before sending, so the wire is the same); the
    thought's comes back as Anthropic's own form and is sent again in Antigravity's."""
    native1 = claude_signature()
    native2 = b64(claude_payload(13, 2, "claude-opus-4-6", True))
    call = {"functionCall": {"id": "native-id", "name": "run_command", "args": {"command": "true"}}}
    body = chunk(
        thought("hidden", r_form(native1)), {**call, "thoughtSignature": r_form(native2)}, finish="STOP"
    )
    s = signer(False)
    content = default_registry().translate_response(
        GEMINI, CLAUDE, body, s.prepare(ir_of(CLAUDE, ASK)), MODEL
    )["content"]
    assert content[0] == {"type": "thinking", "thinking": "hidden", "signature": native1}
    assert content[1]["type"] == "tool_use" and "signature" not in content[1]
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": content[1]["id"], "content": "ok"}],
    }
    parts = contents(signer(False), {"role": "user", "content": "hi"}, said(*content), result)[1]["parts"]
    assert parts[0] == {"text": "hidden", "thought": True, "thoughtSignature": r_form(native1)}
    assert parts[1] == {"functionCall": {"name": "run_command", "args": {"command": "true"}}}
