"""``replay.restore_signatures``: thinking a client sends back without Claude's signature is
signed from the cache by its text; side-by-side blocks (a streamed Gemini thought, one part
per chunk) are looked up as one text and become one block."""

from __future__ import annotations

from cliproxy.translate import ir
from cliproxy.translate.replay import SignatureCache, restore_signatures

MODEL = "claude-sonnet-4-6"
SIG = "E" + "s" * 80
OTHER = "E" + "o" * 80
THOUGHT = "Let me think about this briefly."


def cache_with(*entries: tuple[str, str]) -> SignatureCache:
    cache = SignatureCache()
    for text, sig in entries:
        assert cache.put(MODEL, text, sig)
    return cache


def gemini_thought(text: str, sig: str | None = None) -> ir.Thinking:
    return ir.Thinking(text, sig, "gemini")


def turn(*blocks: ir.Block) -> list[ir.Message]:
    return [ir.Message("user", [ir.Text("hi")]), ir.Message("assistant", list(blocks))]


def test_streamed_fragments_become_one_signed_block() -> None:
    call = ir.ToolCall("toolu_1", "bash", "{}")
    messages = turn(
        gemini_thought("Let me think"),
        gemini_thought(" about this"),
        gemini_thought(" briefly."),
        gemini_thought("", "skip_thought_signature_validator"),  # the part that carried the signature
        call,
    )
    out = restore_signatures(messages, cache_with((THOUGHT, SIG)), MODEL)
    assert out is not None and out[0] is messages[0]
    assert out[1].content == [ir.Thinking(THOUGHT, SIG, "claude"), call]
    assert messages[1].content[0] == gemini_thought("Let me think")  # the client's request is not edited


def test_a_single_block_is_signed_by_its_own_text() -> None:
    out = restore_signatures(
        turn(gemini_thought(THOUGHT, "skip_thought_signature_validator")), cache_with((THOUGHT, SIG)), MODEL
    )
    assert out is not None and out[1].content == [ir.Thinking(THOUGHT, SIG, "claude")]


def test_a_run_whose_whole_text_is_unknown_is_looked_up_block_by_block() -> None:
    """Two thoughts of two answers side by side: each keeps its own signature."""
    cache = cache_with(("first", SIG), ("second", OTHER))
    out = restore_signatures(turn(gemini_thought("first"), gemini_thought("second")), cache, MODEL)
    assert out is not None
    assert out[1].content == [ir.Thinking("first", SIG, "claude"), ir.Thinking("second", OTHER, "claude")]


def test_other_blocks_end_a_run() -> None:
    cache = cache_with(("a", SIG), ("ab", OTHER))
    text = ir.Text("between")
    out = restore_signatures(turn(gemini_thought("a"), text, gemini_thought("b")), cache, MODEL)
    assert out is not None
    assert out[1].content == [ir.Thinking("a", SIG, "claude"), text, gemini_thought("b")]


def test_claude_signed_and_redacted_blocks_are_left_alone() -> None:
    signed = ir.Thinking("a", OTHER, "claude")
    redacted = ir.Thinking("", "opaque", "claude", redacted=True)
    cache = cache_with(("a", SIG), ("ab", SIG))
    assert restore_signatures(turn(signed, redacted, ir.Text("x")), cache, MODEL) is None
    # a Claude-signed block does not join the run: "b" alone is not cached ("ab" is)
    assert restore_signatures(turn(signed, gemini_thought("b")), cache, MODEL) is None


def test_nothing_cached_changes_nothing() -> None:
    messages = turn(gemini_thought("x"), gemini_thought("y"), ir.ToolCall("t", "bash", "{}"))
    assert restore_signatures(messages, SignatureCache(), MODEL) is None
