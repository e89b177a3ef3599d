"""Thinking off for a Claude request whose tool loop does not start with thinking: the
sanitizer (:mod:`cliproxy.translate.signature_bodies`) dropped another backend's thinking
that led it, or a client of another format could not carry it back. Anthropic refuses such
a loop with thinking on ("a final `assistant` message must start with a thinking block")
and its error advises turning thinking off, which is what this request gets. So does a
pass-through request whose loop another backend (a non-Anthropic credential of a mixed pool,
an earlier model of the client's) answered without thinking (:func:`unled_turn`).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["settle_loop_thinking", "unled_loop", "unled_turn"]

log = logging.getLogger(__name__)

_THINKING_ON: tuple[str, ...] = ("enabled", "adaptive")
_MANUAL = ("enabled",)  # the only setting under which Anthropic certainly refuses an unled turn


def settle_loop_thinking(body: dict[str, Any], client_messages: Any) -> None:
    """Thinking off for this request, in place, when the sanitizer dropped the thinking
    (another backend's, which Anthropic would refuse) that led the tool loop the last user
    message answers, and thinking is on: Anthropic would refuse the loop anyway ("a final
    `assistant` message must start with a thinking block") and its error advises turning
    thinking off. CPA sends the body and the client gets that 400.

    ``client_messages``: the messages the client sent. The sanitizer calls this, and the
    thinking step again (after it wrote the client's setting back) when the sanitizer
    changed the messages. ``None``: a body translated from another format whose loop does
    not start with thinking (:func:`unled_loop`): its client could not carry Claude's signed
    thinking back (a Gemini client gets the validator-skip sentinel in its place) and the
    replay cache did not restore it (no session named); Anthropic would refuse it the same.
    The body's own list (a pass-through body the sanitizer left alone): the client's loop as
    it came, which :func:`unled_turn` found Anthropic would refuse."""
    messages = body.get("messages")
    if type(messages) is not list:
        return
    kinds = _THINKING_ON
    if messages is client_messages:  # the client's own loop, unled as it came (:func:`unled_turn`)
        client_messages, kinds = None, _MANUAL
    elif client_messages is not None and type(client_messages) is not list:
        return
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") not in kinds:
        return
    lost = client_messages is None or _led_loop(messages) < _led_loop(client_messages)
    if lost and not _loop_led(messages):
        log.debug("claude: thinking off for this request: its tool loop does not start with thinking")
        _thinking_off(body)


def unled_loop(body: dict[str, Any]) -> bool:
    """Whether the last message of a Messages body answers a tool loop whose assistant turns
    do not start with thinking (a cheap look at the last message when it answers none)."""
    messages = body.get("messages")
    return type(messages) is list and not _loop_led(messages)


def unled_turn(body: dict[str, Any]) -> bool:
    """Whether a pass-through Messages body Anthropic would certainly refuse: manual thinking
    on (``enabled``) and its last message answers a tool loop whose first assistant message
    does not start with thinking (another backend, or the client with thinking off, answered
    it). Anthropic names that message ("messages.1.content.0.type: Expected `thinking`...");
    with manual thinking on, its own first answer of a turn always starts with thinking.
    Not ``adaptive``: Anthropic's answer itself may then start with a tool call (forced tool
    use, a step it chose not to think in) and it takes that back; nor a later message of
    the loop alone (interleaved thinking may skip a step).

    Read from the end: the last assistant message first (one Anthropic answered with
    thinking on starts with thinking: nothing more is read, the common case), the loop's
    start only when it does not (a loop another backend or thinking off answered is
    unled to its end). A tool result comes first in the user message that carries it, as
    Anthropic asks."""
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") != "enabled":
        return False
    messages = body.get("messages")
    if type(messages) is not list or len(messages) < 2 or not _results_first(messages[-1]):
        return False
    last = messages[-2]
    if type(last) is dict and last.get("role") == "assistant" and _led(last):
        return False
    lead: Any = None
    for msg in reversed(messages):
        if type(msg) is not dict:
            return False
        if msg.get("role") == "assistant":
            lead = msg
        elif not _results_first(msg):
            break
    return lead is not None and not _led(lead)


def _results_first(msg: Any) -> bool:
    """Whether a user message starts with a ``tool_result`` (it answers tool calls)."""
    content = msg.get("content") if type(msg) is dict and msg.get("role") == "user" else None
    head = content[0] if type(content) is list and content else None
    return type(head) is dict and head.get("type") == "tool_result"


def _loop(messages: list[Any]) -> list[Any] | None:
    """The assistant messages of the tool loop the last message answers (a user message
    with a ``tool_result``; the loop starts after the last user message without one), or
    None when the last message answers no tool call."""
    if not messages or not _answers_tools(messages[-1]):
        return None
    turn: list[Any] = []
    for msg in reversed(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "assistant":
            turn.append(msg)
        elif role == "user" and not _answers_tools(msg):
            break
    turn.reverse()
    return turn


def _answers_tools(msg: Any) -> bool:
    content = msg.get("content") if isinstance(msg, dict) and msg.get("role") == "user" else None
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _led(msg: Any) -> bool:
    """Whether an assistant message starts with thinking (``thinking`` or ``redacted_thinking``)."""
    content = msg.get("content")
    first = content[0] if isinstance(content, list) and content else None
    return isinstance(first, dict) and first.get("type") in ("thinking", "redacted_thinking")


def _led_loop(messages: list[Any]) -> int:
    """How many assistant messages of the answered tool loop start with thinking."""
    return sum(map(_led, _loop(messages) or ()))


def _loop_led(messages: list[Any]) -> bool:
    """Whether the answered tool loop's first and last assistant messages start with
    thinking, as Anthropic asks with thinking on (True when there is no such loop)."""
    turn = _loop(messages)
    return not turn or (_led(turn[0]) and _led(turn[-1]))


def _thinking_off(body: dict[str, Any]) -> None:
    """Thinking off, in place: ``{"type": "disabled"}`` (Anthropic's newer models think by
    default when the member is absent), and ``context_management`` without the
    ``clear_thinking_20251015`` edits Anthropic refuses without thinking (the member goes
    when nothing else is left). ``output_config.effort`` stays: Anthropic takes it alone."""
    body["thinking"] = {"type": "disabled"}
    cm = body.get("context_management")
    if not isinstance(cm, dict) or not isinstance(edits := cm.get("edits"), list):
        return
    kept = [e for e in edits if not (isinstance(e, dict) and e.get("type") == "clear_thinking_20251015")]
    if len(kept) == len(edits):
        return
    if kept or len(cm) > 1:
        body["context_management"] = {**cm, "edits": kept}
    else:
        del body["context_management"]
