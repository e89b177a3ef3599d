"""``sanitize_claude_body``: thinking goes off for a request only when the sanitizer cut
the thinking that led the tool loop the last user message answers (the whole story is in
tests/e2e/test_claude_foreign_tool_loop.py). Beyond CPA, which sends such a body as it is
and gets Anthropic's 400; every other body is left as CPA leaves it."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate.signature_bodies import sanitize_claude_body
from tests.translate.cpa.signature_fixtures import claude_signature, gemini3_signature

CLAUDE = claude_signature()
FOREIGN = {"type": "thinking", "thinking": "", "signature": gemini3_signature(b"\x01payload")}
SIGNED = {"type": "thinking", "thinking": "plan", "signature": CLAUDE}
CALL = {"type": "tool_use", "id": "t1", "name": "bash", "input": {}}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}
ASK = {"role": "user", "content": "run it"}
THINKING = {"type": "enabled", "budget_tokens": 1024}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def sent(messages: list[Any], thinking: Any = THINKING) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-6", "messages": messages, "thinking": thinking}
    sanitize_claude_body(body)
    return body


@pytest.mark.parametrize(
    "messages",
    [
        [ASK, assistant(FOREIGN, CALL), RESULT],
        # a second step Claude answered without thinking (thinking was off for it)
        [ASK, assistant(FOREIGN, CALL), RESULT, assistant(CALL), RESULT],
        # Gemini began the loop, then answered a later step too
        [ASK, assistant(FOREIGN, CALL), RESULT, assistant(FOREIGN, CALL), RESULT],
    ],
    ids=["one-step", "next-step", "gemini-throughout"],
)
def test_a_loop_that_lost_its_leading_thinking_goes_without_thinking(messages: list[Any]) -> None:
    body = sent(messages)
    assert body["thinking"] == {"type": "disabled"}
    assert FOREIGN not in [
        b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]
    ]


@pytest.mark.parametrize(
    ("messages", "thinking"),
    [
        # the loop still starts with thinking Anthropic signed
        ([ASK, assistant(FOREIGN, SIGNED, CALL), RESULT], THINKING),
        # the client went to Gemini inside a loop Claude began: Anthropic reads the loop's
        # first step (a later one may lack thinking), so thinking stays on
        ([ASK, assistant(SIGNED, CALL), RESULT, assistant(FOREIGN, CALL), RESULT], THINKING),
        ([ASK, assistant(FOREIGN, CALL), RESULT, ASK, assistant(SIGNED, CALL), RESULT], THINKING),
        # no loop to continue: a new question (a new turn may think)
        ([ASK, assistant(FOREIGN, CALL), RESULT, assistant({"type": "text", "text": "done"}), ASK], THINKING),
        # thinking already off, or not asked
        ([ASK, assistant(FOREIGN, CALL), RESULT], {"type": "disabled"}),
        ([ASK, assistant(FOREIGN, CALL), RESULT], None),
    ],
    ids=["signed-first", "gemini-inside", "foreign-outside-loop", "new-turn", "disabled", "none"],
)
def test_thinking_is_left_as_sent(messages: list[Any], thinking: Any) -> None:
    assert sent(messages, thinking)["thinking"] == thinking


def test_the_clients_own_cut_loop_goes_as_sent() -> None:
    """The client itself left its loop without thinking (nothing the proxy dropped): the
    body goes as CPA sends it, and Anthropic's 400 tells the client."""
    messages = [ASK, assistant(FOREIGN, CALL), RESULT, ASK, assistant(CALL), RESULT]
    body = sent(messages)
    assert body["thinking"] == THINKING
    assert body["messages"][4] is messages[4]


def test_a_body_the_sanitizer_leaves_alone_says_so() -> None:
    """The pipeline settles the loop again after the thinking step only for a body whose
    messages changed (``Attempt.cut``): a body with nothing to drop keeps the client's own
    list and answers False; one that lost another backend's thinking answers True."""
    messages = [ASK, assistant(SIGNED, CALL), RESULT]
    body = {"model": "claude-sonnet-4-6", "messages": messages, "thinking": THINKING}
    assert sanitize_claude_body(body) is False
    assert body["messages"] is messages
    body = {"model": "claude-sonnet-4-6", "messages": [ASK, assistant(FOREIGN, CALL), RESULT]}
    assert sanitize_claude_body(body) is True
