"""One rule for every path: a body translated to Claude from another format
(:func:`unled_loop`, then the thinking step's :func:`settle_loop_thinking` with no client
messages) and a pass-through body the sanitizer changed (the client's messages given) go
with thinking off where Anthropic refuses the body (the fake's ``thinking_problem``, each
row checked): manual thinking and a tool loop whose first assistant message does not start
with thinking, as for a pass-through body as it came (:func:`unled_turn`, the same rows).
A translated body is read to the loop's start even when its last step thought
("unled-then-led"): its client may have carried a later step's thinking and not the first.

Before, a translated loop whose last step lacked thinking, or any unled loop under adaptive
thinking, went with thinking off too, although Anthropic answers both with thinking."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cliproxy.translate.loop_thinking import settle_loop_thinking, unled_loop
from tests.fakes.claude import thinking_problem
from tests.translate.test_loop_thinking_passthrough import ASK, FOREIGN, MANUAL, ROWS, SIGNED, TEXT, step

ADAPTIVE = {"type": "adaptive"}
_EXTRA = [
    ("led-then-unled-to-the-end", [ASK, *step(1, SIGNED), *step(2), *step(3)], MANUAL, False, False),
    ("led-then-text-first", [ASK, *step(1, SIGNED), *step(2, TEXT)], MANUAL, False, False),
    ("unled-then-led", [*FOREIGN, *step(2, SIGNED)], MANUAL, True, True),
    ("adaptive-foreign-step", FOREIGN, ADAPTIVE, False, False),
    ("adaptive-unled-then-led", [*FOREIGN, *step(2, SIGNED)], ADAPTIVE, False, False),
]
ALL = [*ROWS, *_EXTRA]


def body_of(messages: list[dict[str, Any]], thinking: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "messages": messages}
    if thinking is not None:
        body["thinking"] = thinking
    return body


@pytest.mark.parametrize(
    ("messages", "thinking", "refused", "off"), [r[1:] for r in ALL], ids=[r[0] for r in ALL]
)
def test_translated_rows(
    messages: list[dict[str, Any]], thinking: dict[str, Any] | None, refused: bool, off: bool
) -> None:
    """``unled_loop`` marks the body whatever its thinking (a translated body gets its
    setting later, in the thinking step); the thinking step turns thinking off only where
    Anthropic refuses the body as it is."""
    body = body_of(messages, thinking)
    assert (thinking_problem(body) is not None) is refused
    marked = unled_loop(body)
    assert marked or not off
    if marked:
        settle_loop_thinking(body, None)
    assert body.get("thinking") == ({"type": "disabled"} if off else thinking)
    assert thinking_problem(body) is None or not off
    assert body["messages"] is messages


def test_the_sanitizer_dropped_the_thinking_that_led_the_loop() -> None:
    """The client's loop began with thinking another backend signed (the sanitizer drops
    it): thinking off under manual thinking, on under adaptive. A later step's thinking
    dropped leaves the loop led: thinking stays on."""
    client = [ASK, *step(1, SIGNED), *step(2, SIGNED)]
    sanitized = [ASK, *step(1), *step(2, SIGNED)]
    body = body_of(sanitized, MANUAL)
    settle_loop_thinking(body, client)
    assert body["thinking"] == {"type": "disabled"}
    body = body_of(sanitized, ADAPTIVE)
    settle_loop_thinking(body, client)
    assert body["thinking"] == ADAPTIVE
    body = body_of([ASK, *step(1, SIGNED), *step(2)], MANUAL)
    settle_loop_thinking(body, client)
    assert body["thinking"] == MANUAL


def test_the_sanitizer_dropped_a_later_steps_thinking_of_a_loop_begun_unled() -> None:
    """Another backend answered the loop's first step without thinking and a later one with
    thinking Anthropic refuses (the sanitizer drops it): the loop is unled to its end and
    the sanitizer's doing, so thinking goes off."""
    body = body_of([*FOREIGN, *step(2)], MANUAL)
    settle_loop_thinking(body, [*FOREIGN, *step(2, SIGNED)])
    assert body["thinking"] == {"type": "disabled"}


def test_a_loop_the_client_sent_unled_is_not_the_sanitizers_doing() -> None:
    """The sanitizer changed something else in a body whose loop the client sent unled (an
    ``is-compat`` upstream's body, which keeps its thinking as it came): left alone."""
    body = body_of(copy.deepcopy(FOREIGN), MANUAL)
    settle_loop_thinking(body, FOREIGN)
    assert body["thinking"] == MANUAL
