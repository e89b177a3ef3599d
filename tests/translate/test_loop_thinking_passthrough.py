"""Which pass-through Claude bodies go with thinking off (``unled_turn``), and which the
Claude fake refuses as Anthropic does: each row a body, what the proxy decides, what the
fake answers the body as it came.

Anthropic names the first assistant message of the tool loop the request answers
("messages.1.content.0.type: Expected `thinking`..."), and with manual thinking on its own
first answer of a turn starts with thinking; a later step may skip thinking (interleaved
thinking), and under adaptive thinking its answer itself may start with a tool call. So
only manual thinking with an unled first message is certain to be refused, and only that
body changes."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate.loop_thinking import settle_loop_thinking, unled_turn
from tests.fakes.claude import issue_signature, thinking_problem

MANUAL = {"type": "enabled", "budget_tokens": 1024}
SIGNED = {"type": "thinking", "thinking": "plan", "signature": issue_signature("claude-sonnet-4-5")}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
TEXT = {"type": "text", "text": "on it"}


def call(n: int) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{n}", "name": "bash", "input": {"command": "ls"}}


def result(n: int) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": "a"}]}


def step(n: int, *lead: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": [*lead, call(n)]}, result(n)]


ASK = {"role": "user", "content": "run it"}
FOREIGN = [ASK, *step(1)]  # another backend answered the step: a tool call, no thinking

# (id, messages, thinking, refused by Anthropic as it came, thinking off by the proxy)
ROWS: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, bool, bool]] = [
    ("foreign-step", FOREIGN, MANUAL, True, True),
    ("foreign-step-text-first", [ASK, *step(1, TEXT)], MANUAL, True, True),
    ("foreign-then-unthinking", [*FOREIGN, *step(2, TEXT)], MANUAL, True, True),
    ("led-loop", [ASK, *step(1, SIGNED), *step(2, SIGNED)], MANUAL, False, False),
    ("redacted-led", [ASK, *step(1, REDACTED)], MANUAL, False, False),
    ("later-step-skipped", [ASK, *step(1, SIGNED), *step(2, TEXT)], MANUAL, False, False),
    (
        "earlier-turn-foreign",
        [*FOREIGN, {"role": "user", "content": "more"}, *step(2, SIGNED)],
        MANUAL,
        False,
        False,
    ),
    ("no-loop", [*FOREIGN, {"role": "assistant", "content": [TEXT]}, ASK], MANUAL, False, False),
    ("thinking-off", FOREIGN, None, False, False),
    ("disabled", FOREIGN, {"type": "disabled"}, False, False),
    (
        "tool-result-after-text",
        [ASK, step(1)[0], {"role": "user", "content": [TEXT, *result(1)["content"]]}],
        MANUAL,
        True,
        False,
    ),  # (not a loop Anthropic takes anyway: its results must come first)
]


@pytest.mark.parametrize(
    ("messages", "thinking", "refused", "off"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_pass_through_rows(
    messages: list[dict[str, Any]], thinking: dict[str, Any] | None, refused: bool, off: bool
) -> None:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "messages": messages}
    if thinking is not None:
        body["thinking"] = thinking
    assert (thinking_problem(body) is not None) is refused
    assert unled_turn(body) is off
    settle_loop_thinking(body, messages)  # the thinking step, for a body unled_turn marked
    if off:
        assert body["thinking"] == {"type": "disabled"}
        assert thinking_problem(body) is None
    assert body["messages"] is messages  # never another list: every block goes as it came


def test_the_fake_names_the_loops_first_message() -> None:
    body = {"messages": [*FOREIGN, *step(2, SIGNED)], "thinking": MANUAL}
    assert (thinking_problem(body) or "").startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    )


def test_adaptive_thinking_goes_as_it_came() -> None:
    """Anthropic's own answer under adaptive thinking may start with a tool call (forced tool
    use, a step it chose not to think in): such a loop goes with thinking on, and the fake
    takes it as Anthropic does."""
    body: dict[str, Any] = {"messages": FOREIGN, "thinking": {"type": "adaptive"}}
    assert thinking_problem(body) is None
    assert not unled_turn(body)
    settle_loop_thinking(body, FOREIGN)
    assert body["thinking"] == {"type": "adaptive"}


def test_the_thinking_step_made_it_adaptive() -> None:
    """Marked with manual thinking, then the thinking step wrote adaptive (a model that takes
    only that): Anthropic takes it, so it goes as it is."""
    body: dict[str, Any] = {"messages": FOREIGN, "thinking": MANUAL}
    assert unled_turn(body)
    body["thinking"] = {"type": "adaptive"}
    settle_loop_thinking(body, FOREIGN)
    assert body["thinking"] == {"type": "adaptive"}


def test_context_management_needing_thinking_goes_with_it() -> None:
    clear = {"type": "clear_thinking_20251015", "keep": "all"}
    body: dict[str, Any] = {"messages": FOREIGN, "thinking": MANUAL, "context_management": {"edits": [clear]}}
    body["output_config"] = {"effort": "high"}
    assert unled_turn(body)
    settle_loop_thinking(body, FOREIGN)
    assert body["thinking"] == {"type": "disabled"}
    assert "context_management" not in body
    assert body["output_config"] == {"effort": "high"}  # Anthropic takes an effort without thinking


@pytest.mark.parametrize(
    "messages",
    [[], [ASK], [ASK, "junk", result(1)], [{"role": "user"}, result(1)], "messages", [result(1)]],
    ids=["empty", "question", "junk-message", "user-without-content", "not-a-list", "results-alone"],
)
def test_odd_bodies_are_left_alone(messages: Any) -> None:
    assert not unled_turn({"messages": messages, "thinking": MANUAL})
