"""Kimi's Chat Completions history, repaired before it is sent (CPA kimi_executor.go,
``normalizeKimiToolMessageLinks``).

With thinking on, Kimi refuses (400) a history in which a tool message names no call or
an assistant turn that made tool calls has no ``reasoning_content``, and it refuses empty
assistant turns. Chat clients in tool loops (OpenCode, Cline) send all three, so, as CPA
does for every non-Claude client, the ``messages`` of a Chat body are repaired:

* a tool message without ``tool_call_id`` takes its ``call_id``, else the one tool call
  still waiting for its answer; with several waiting it is left alone (a guess could pair
  the wrong result);
* an assistant turn with tool calls and no usable reasoning (absent, blank or the
  ``[reasoning unavailable]`` placeholder) takes the last usable reasoning of an earlier
  assistant turn, else its own text, else the placeholder;
* an assistant turn with nothing in it (no tool calls, no legacy ``function_call``, no
  reasoning, blank content) is dropped.

The client's list and messages are never edited: a repaired message is a copy.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from cliproxy.translate.openai_chat.build_messages import UNAVAILABLE

__all__ = ["normalize_tool_links"]

log = logging.getLogger(__name__)


def normalize_tool_links(messages: Any) -> list[Any] | None:
    """``messages`` repaired, as a new list; None when nothing needed repair (a canonical
    history costs one walk and no copy)."""
    if type(messages) is not list:
        return None
    out: list[Any] | None = None
    pending: list[str] = []  # ids of tool calls not answered yet, in order
    latest = ""  # the last usable reasoning of an assistant turn
    ambiguous = 0
    for i, msg in enumerate(messages):
        fixed: Any = msg
        if type(msg) is dict:
            role = _text(msg.get("role")).strip()
            if role == "assistant":
                if _empty_assistant(msg):
                    fixed = None
                else:
                    fixed, latest = _assistant(msg, latest, pending)
            elif role == "tool":
                fixed, unsure = _tool(msg, pending)
                ambiguous += unsure
        if fixed is not msg and out is None:
            out = messages[:i]
        if out is not None and fixed is not None:
            out.append(fixed)
    if ambiguous:
        log.warning(
            "kimi: %d tool message(s) without tool_call_id, %d calls could match",
            ambiguous,
            len(pending),
        )
    if out is not None:
        log.debug("kimi: repaired tool links / reasoning (%d -> %d messages)", len(messages), len(out))
    return out


def _text(value: Any) -> str:
    """A JSON value as text, as CPA reads any field as a string: a string as it is,
    null or absent as "", anything else as its JSON."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def _usable(reasoning: str) -> bool:
    """Reasoning worth sending or inheriting: not blank, not the placeholder."""
    text = reasoning.strip()
    return bool(text) and text != UNAVAILABLE


def _assistant(msg: dict[str, Any], latest: str, pending: list[str]) -> tuple[dict[str, Any], str]:
    """The assistant turn (a copy when it needed reasoning) and the latest usable reasoning
    after it; its tool call ids join ``pending``."""
    own = _text(msg.get("reasoning_content"))
    if _usable(own):
        latest = own
    calls = msg.get("tool_calls")
    if type(calls) is not list or not calls:
        return msg, latest
    for call in calls:
        cid = _text(call.get("id")).strip() if type(call) is dict else ""
        if cid:
            pending.append(cid)
    if _usable(own):
        return msg, latest
    return {**msg, "reasoning_content": _fallback_reasoning(msg, latest)}, latest


def _fallback_reasoning(msg: dict[str, Any], latest: str) -> str:
    """Reasoning for a tool-calling turn that has none: the earlier turn's, else the turn's
    own visible text (parts joined by newlines), else the placeholder."""
    if _usable(latest):
        return latest
    content = msg.get("content")
    if type(content) is str:
        if text := content.strip():
            return text
    elif type(content) is list:
        texts = [t for part in content if type(part) is dict and (t := _text(part.get("text")).strip())]
        if texts:
            return "\n".join(texts)
    return UNAVAILABLE


def _tool(msg: dict[str, Any], pending: list[str]) -> tuple[dict[str, Any], bool]:
    """The tool message (a copy when its ``tool_call_id`` was filled in) and whether it
    has none while several pending calls could be its own (then it is left as it is).
    Its call leaves ``pending``."""
    cid = _text(msg.get("tool_call_id")).strip()
    fixed = msg
    if not cid:
        cid = _text(msg.get("call_id")).strip()
        if not cid:
            if len(pending) > 1:
                return msg, True
            cid = pending[0] if pending else ""
        if cid:
            fixed = {**msg, "tool_call_id": cid}
    if cid in pending:
        pending.remove(cid)
    return fixed, False


def _empty_assistant(msg: dict[str, Any]) -> bool:
    """An assistant turn with no tool call, no legacy call, no reasoning and blank content."""
    calls = msg.get("tool_calls")
    if type(calls) is list and calls:
        return False
    legacy = msg.get("function_call")
    if legacy is not None and legacy != {}:
        return False
    if _text(msg.get("reasoning_content")).strip():
        return False
    return _blank(msg.get("content"))


def _blank(content: Any) -> bool:
    """Content with nothing to read: absent, null, blank text, or only blank parts."""
    if content is None:
        return True
    if type(content) is str:
        return not content.strip()
    if type(content) is not list:
        return False
    return all(_blank_part(part) for part in content)


def _blank_part(part: Any) -> bool:
    """A content part with nothing to read: a blank text, a text part without text, ``{}``."""
    if part is None:
        return True
    if type(part) is str:
        return not part.strip()
    if type(part) is not dict:
        return False
    if "text" in part:
        return not _text(part["text"]).strip()
    return _text(part.get("type")).strip() == "text" or not part
