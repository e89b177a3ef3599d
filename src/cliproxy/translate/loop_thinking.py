"""Thinking off for a Claude request Anthropic would refuse with thinking on: manual
thinking (``{"type": "enabled"}``) and a tool loop whose first assistant message does not
start with thinking. The sanitizer (:mod:`cliproxy.translate.signature_bodies`) dropped
another backend's thinking that led it, a client of another format could not carry it back
(:func:`unled_loop`), or another backend (a non-Anthropic credential of a mixed pool, an
earlier model of the client's) answered it without thinking (:func:`unled_turn`).
Anthropic's 400 ("a final `assistant` message must start with a thinking block") advises
turning thinking off, which is what that one request gets.

One rule for every path, Anthropic's ("Toggling thinking modes in conversations" in its
extended thinking guide): a tool loop is one assistant turn, and that turn must start with
thinking; the 400 names the loop's first assistant message ("messages.1.content.0.type").
Its later steps may lack thinking: without interleaved thinking Claude thinks only at the
start of the turn, and with it may skip a step. Adaptive thinking is left alone: Claude
itself may skip thinking there (at a low effort, or a forced tool call), so Anthropic takes
a turn that starts with a tool call, and the models that take only adaptive thinking
refuse ``disabled``.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["settle_loop_thinking", "unled_loop", "unled_turn"]

log = logging.getLogger(__name__)


def settle_loop_thinking(body: dict[str, Any], client_messages: Any) -> None:
    """Thinking off for this request, in place, when manual thinking is on and the tool
    loop the last user message answers does not start with thinking (:func:`unled_loop`)
    because the proxy lost that thinking or found the client's loop unled. CPA sends the
    body and the client gets Anthropic's 400.

    ``client_messages``: the messages the client sent, when the sanitizer changed them (the
    sanitizer calls this, and the thinking step again after it wrote the client's setting
    back): only when the sanitizer dropped thinking of that loop. ``None``: a body
    translated from another format (its client could not carry Claude's signed thinking back
    and the replay cache did not restore it). The body's own list: a pass-through body the
    sanitizer left alone, which :func:`unled_turn` marked."""
    messages = body.get("messages")
    if type(messages) is not list:
        return
    if messages is client_messages:  # the client's own loop, unled as it came (:func:`unled_turn`)
        client_messages = None
    elif client_messages is not None and type(client_messages) is not list:
        return
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") != "enabled":
        return
    if _unled(messages) and (client_messages is None or _led_steps(messages) < _led_steps(client_messages)):
        log.debug("claude: thinking off for this request: its tool loop does not start with thinking")
        _thinking_off(body)


def unled_loop(body: dict[str, Any]) -> bool:
    """Whether the last message of a Messages body answers a tool loop whose first assistant
    message does not start with thinking, whatever the thinking setting (a translated body
    gets it later, in the thinking step, which :func:`settle_loop_thinking` then reads).
    The whole loop is read: a translated body's later steps may have their thinking back
    (a replay cache, a carrier) while its first lost it."""
    messages = body.get("messages")
    return type(messages) is list and _unled(messages)


def unled_turn(body: dict[str, Any]) -> bool:
    """Whether a pass-through Messages body is one Anthropic would certainly refuse: manual
    thinking on and :func:`unled_loop` (another backend, or the client with thinking off,
    answered the loop's first step).

    The last assistant message is read first: one Anthropic answered with manual thinking on
    starts with thinking, and Anthropic answered it only because the loop then started with
    thinking, which the client sends back as it got it; nothing more is read (the common
    case). A loop another backend or thinking off answered is unled to its end."""
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") != "enabled":
        return False
    messages = body.get("messages")
    if type(messages) is not list or len(messages) < 2:
        return False
    last = messages[-2]
    if type(last) is dict and last.get("role") == "assistant" and _led(last):
        return False
    return _unled(messages)


def _unled(messages: list[Any]) -> bool:
    """Whether the last message answers tool calls and the first assistant message of that
    loop does not start with thinking."""
    steps = _steps(messages)
    return steps is not None and len(steps) > 0 and not _led(steps[-1])


def _led_steps(messages: list[Any]) -> int:
    """How many assistant messages of the answered tool loop start with thinking."""
    return sum(map(_led, _steps(messages) or ()))


def _steps(messages: list[Any]) -> list[Any] | None:
    """The assistant messages of the tool loop the last message answers, the last first:
    back over assistant messages and user messages that start with a ``tool_result`` (as
    Anthropic asks), to the user message that asked. None when the last message answers no
    tool call, or a message is not an object."""
    if not messages or not _results_first(messages[-1]):
        return None
    steps: list[Any] = []
    for msg in reversed(messages):
        if type(msg) is not dict:
            return None
        if msg.get("role") == "assistant":
            steps.append(msg)
        elif not _results_first(msg):
            break
    return steps


def _results_first(msg: Any) -> bool:
    """Whether a user message starts with a ``tool_result`` (it answers tool calls)."""
    content = msg.get("content") if type(msg) is dict and msg.get("role") == "user" else None
    head = content[0] if type(content) is list and content else None
    return type(head) is dict and head.get("type") == "tool_result"


def _led(msg: Any) -> bool:
    """Whether an assistant message starts with thinking (``thinking`` or ``redacted_thinking``)."""
    content = msg.get("content")
    first = content[0] if isinstance(content, list) and content else None
    return isinstance(first, dict) and first.get("type") in ("thinking", "redacted_thinking")


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
