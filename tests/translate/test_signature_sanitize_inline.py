"""``sanitize_claude_messages`` answers the common blocks itself (a thinking block whose
signature its target keeps as it is, a tool call with no signature): those answers must be
the ones ``_sanitized_block`` gives. Checked against a reference loop that sends every
block to ``_sanitized_block``, over random histories mixing every kind of block, for every
target and every flag: the same messages, the same counts, the same untouched objects."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cliproxy.translate.signature_bodies import (
    SanitizeReport,
    _kept_whole,
    _sanitized_block,
    sanitize_claude_messages,
)
from tests.translate.cpa.signature_fixtures import (
    claude_signature,
    gemini3_signature,
    gemini_envelope,
    gpt_signature,
)

CLAUDE = claude_signature()
SIGNATURES = [
    CLAUDE,
    "claude#" + CLAUDE,  # a cache prefix: kept, its normalised form differs from the raw one
    gemini3_signature(b"\x01\x02payload"),
    gemini_envelope(),
    gpt_signature(),
    "c2ln" * 40,  # nobody's
    "   ",
    "",
]


def _blocks() -> list[Any]:
    out: list[Any] = [
        {"type": "text", "text": "hello"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "done"},
        {"type": "redacted_thinking", "data": "abc"},
        {"type": "thinking", "thinking": "reasoning"},  # no signature key
        {"type": "thinking", "thinking": "", "signature": ""},  # an empty placeholder
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
        {"type": "tool_use", "id": "t2", "name": "Bash", "input": {}, "model": "m"},
        {"type": "tool_use", "id": "t3", "name": "Bash", "input": {}, "extra_content": {"other": 1}},
        {"type": "tool_use", "id": "t4", "name": "Bash", "input": {}, "extra_content": {"google": {}}},
        {"type": "image", "source": {"type": "base64", "data": "AA=="}},
        {"text": "no type"},
        "not an object",
        None,
    ]
    for sig in SIGNATURES:
        out.append({"type": "thinking", "thinking": "reasoning", "signature": sig})
        out.append({"type": "thinking", "thinking": " ", "signature": sig})
        out.append({"type": "tool_use", "id": "t5", "name": "Bash", "input": {}, "signature": sig})
        out.append({"type": "tool_use", "id": "t6", "name": "Bash", "input": {}, "thoughtSignature": sig})
        out.append(
            {
                "type": "tool_use",
                "id": "t7",
                "name": "Bash",
                "input": {},
                "extra_content": {"google": {"thought_signature": sig}},
            }
        )
    return out


def _reference(
    messages: Any,
    target: Any,
    drop_tool: bool,
    drop_empty: bool,
    preserve_empty: bool,
    drop_empty_messages: bool,
) -> tuple[list[Any] | None, SanitizeReport]:
    """The loop with every block sent to ``_sanitized_block`` (no inline answers)."""
    report = SanitizeReport(target)
    out: list[Any] | None = None
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        kept: list[Any] | None = None
        if isinstance(content, list):
            for j, block in enumerate(content):
                new = _sanitized_block(block, target, report, drop_tool, drop_empty, preserve_empty)
                if kept is None:
                    if new is block:
                        continue
                    kept = content[:j]
                if new is not None:
                    kept.append(new)
        if kept is None:
            if out is not None:
                out.append(msg)
            continue
        if out is None:
            out = messages[:i]
        if kept or not drop_empty_messages:
            out.append({**msg, "content": kept})
    return out, report


def _history(rng: random.Random, pool: list[Any]) -> list[Any]:
    messages: list[Any] = []
    for _ in range(rng.randint(0, 6)):
        shape = rng.random()
        if shape < 0.1:
            messages.append({"role": "user", "content": "a string turn"})
        elif shape < 0.15:
            messages.append("not a message")
        else:
            blocks = [rng.choice(pool) for _ in range(rng.randint(0, 5))]
            messages.append({"role": rng.choice(("user", "assistant")), "content": blocks})
    return messages


@pytest.mark.parametrize("target", ["claude", "gemini", "gpt", "kimi", "grok"])
def test_the_inline_answers_are_sanitized_blocks_answers(target: Any) -> None:
    rng = random.Random(f"sanitize-{target}")
    pool = _blocks()
    changed = untouched = 0
    for _ in range(400):
        messages = _history(rng, pool)
        flags = [rng.random() < 0.5 for _ in range(4)]
        got, got_report = sanitize_claude_messages(
            messages,
            target,
            drop_tool_signatures=flags[0],
            drop_empty_placeholders=flags[1],
            preserve_empty=flags[2],
            drop_empty_messages=flags[3],
        )
        want, want_report = _reference(messages, target, *flags)
        assert got == want
        assert got_report == want_report
        if want is None:
            untouched += 1
        else:  # the messages that did not change are the client's own objects, as before
            changed += 1
            originals = {id(m) for m in messages}
            for a, b in zip(got or [], want, strict=True):
                assert (id(a) in originals) == (id(b) in originals)
                assert a is b or id(b) not in originals
    assert changed > 50 and untouched > 10  # both outcomes exercised


def _agentic(turns: int) -> list[Any]:
    """A Claude Code history: every assistant turn thinks (signed by Claude), says a word
    and calls a tool; every tool answers."""
    messages: list[Any] = []
    for i in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"step {i}"}]})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "so", "signature": CLAUDE},
                    {"type": "text", "text": "running"},
                    {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": "ls"}},
                ],
            }
        )
        messages.append(
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}]}
        )
    messages.append({"role": "user", "content": "finish"})
    return messages


def test_a_history_that_keeps_every_signature_is_answered_by_the_quick_walk() -> None:
    """The common Claude Code turn: nothing to change. The quick walk answers it (so the
    loop's indexes and copies are not paid), with the loop's answer and counts."""
    history = _agentic(30)
    assert _kept_whole(history, "claude", True) == 30
    got, report = sanitize_claude_messages(history, "claude", drop_tool_signatures=True)
    want, want_report = _reference(history, "claude", True, True, False, True)
    assert got is None and want is None
    assert report == want_report and report.preserved == 30


class _Blocks(list):  # type: ignore[type-arg]
    """A content list of another type than JSON gives."""


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param(lambda h: h.append("not a message"), id="a message that is no object"),
        pytest.param(lambda h: h[-2]["content"].append("text"), id="a block that is no object"),
        pytest.param(
            lambda h: h.append(
                {
                    "role": "assistant",
                    "content": _Blocks([{"type": "thinking", "signature": gpt_signature()}]),
                }
            ),
            id="a list subclass with a foreign signature",
        ),
        pytest.param(
            lambda h: h[1]["content"][0].update(signature=gpt_signature()), id="a foreign signature"
        ),
        pytest.param(lambda h: h[1]["content"][0].update(signature="claude#" + CLAUDE), id="a cache prefix"),
        pytest.param(lambda h: h[1]["content"][2].update(model="m"), id="a tool call naming a model"),
        pytest.param(lambda h: h[4]["content"][0].pop("signature"), id="a thinking block with no signature"),
    ],
)
def test_shapes_the_quick_walk_leaves_to_the_loop(odd: Any) -> None:
    history = _agentic(3)
    odd(history)
    assert _kept_whole(history, "claude", True) == -1
    got, report = sanitize_claude_messages(history, "claude", drop_tool_signatures=True)
    assert (got, report) == _reference(history, "claude", True, True, False, True)
