"""Where a Gemini signature a Responses client sent without CPA's carrier mark belongs.

This proxy hands a Gemini signature to a Responses client in a marked carrier that says
which part it came on (:mod:`cliproxy.translate.carriers`). Older CPA releases and other
proxies put the bare signature in ``encrypted_content`` (or ``gemini#<signature>``), and
clients send those back; CPA then infers the part from the items around the reasoning
item (``pairOpenAIResponsesReasoningWithFunctionCalls`` and
``reorderOpenAIResponsesDetachedReasoning``). :func:`unmarked_anchors` makes the same
inference as a ``Thinking.anchor``, which only the Gemini builder reads:

* after a function call whose output follows the run of calls it belongs to:
  ``previous:function`` (a run that starts with a reasoning item binds forward instead);
* before a function call: ``next:function`` (a summary stays an unsigned thought);
* a ``*_detached_after_*`` item (CPA's id for a carrier that follows its part) right
  after a call: ``previous:function``;
* with no summary, after an assistant message that ends the assistant's answer (or with a
  ``*_detached_after_*`` id): ``previous:text``;
* before an assistant message: ``next:text`` (a summary stays an unsigned thought);
* otherwise the signature is the reasoning item's own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["unmarked_anchors"]

_CALLS = frozenset(("function_call", "custom_tool_call"))
_OUTPUTS = frozenset(("function_call_output", "custom_tool_call_output"))
_DETACHED_ID = "_detached_after_"


def _type(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    t = item.get("type")
    if t is None and item.get("role"):
        return "message"
    return t if isinstance(t, str) else ""


def _is_call(item: Any) -> bool:
    return _type(item) in _CALLS


def _is_output(item: Any) -> bool:
    return _type(item) in _OUTPUTS


def _summary(item: dict[str, Any]) -> str:
    summary = item.get("summary")
    if isinstance(summary, list) and summary and isinstance(summary[0], dict):
        text = summary[0].get("text")
        return text.strip() if isinstance(text, str) else ""
    return ""


def _is_detached(item: Any) -> bool:
    """A reasoning item with a signature and no summary (CPA's detached carrier)."""
    if _type(item) != "reasoning":
        return False
    value = item.get("encrypted_content")
    return isinstance(value, str) and bool(value.strip()) and not _summary(item)


def _detached_id(item: dict[str, Any]) -> bool:
    rid = item.get("id")
    return isinstance(rid, str) and _DETACHED_ID in rid


def _is_visible(item: Any) -> bool:
    """An assistant answer: an assistant message with string content, or any message
    with ``output_text`` content (CPA counts a user-role one too)."""
    if _type(item) != "message":
        return False
    content = item.get("content")
    if isinstance(content, str):
        return item.get("role") in ("assistant", "model")
    if not isinstance(content, list):
        return False
    return any(isinstance(c, dict) and c.get("type") == "output_text" for c in content)


def _post_call(items: list[Any], unmarked: set[int]) -> tuple[dict[int, str], set[int]]:
    """``previous:function`` for each unmarked item right after a call whose output follows
    the run; the set of all items of such carrier runs (never bound forward)."""
    anchors: dict[int, str] = {}
    after_call: set[int] = set()
    n, start = len(items), 0
    while start < n:
        if not (_is_call(items[start]) or _is_detached(items[start])):
            start += 1
            continue
        end, has_call = start, False
        while end < n and (_is_call(items[end]) or _is_detached(items[end])):
            has_call = has_call or _is_call(items[end])
            end += 1
        if not has_call or end >= n or not _is_output(items[end]):
            start = end
            continue
        out_end = end
        while out_end < n and _is_output(items[out_end]):
            out_end += 1
        if _is_call(items[start]):
            answered = {items[k].get("call_id") for k in range(end, out_end)}
            for k in range(start, end - 1):
                if not _is_call(items[k]) or not _is_detached(items[k + 1]) or k + 1 not in unmarked:
                    continue
                j = k + 1
                while j < end and _is_detached(items[j]):
                    after_call.add(j)
                    j += 1
                if items[k].get("call_id") in answered:
                    anchors[k + 1] = "previous:function"
        start = out_end
    return anchors, after_call


def unmarked_anchors(items: list[Any], unmarked: set[int]) -> dict[int, str]:
    """The anchor of each reasoning item at an index in ``unmarked`` (items of ``input``
    carrying a bare Gemini signature) that signs a neighbour rather than itself."""
    anchors, after_call = _post_call(items, unmarked)
    last = len(items) - 1
    for i in sorted(unmarked - anchors.keys()):
        item = items[i]
        prev = items[i - 1] if i > 0 else None
        nxt = items[i + 1] if i < last else None
        detached = _is_detached(item)
        paired = i > 1 and _is_detached(items[i - 2]) and _detached_id(items[i - 2])
        if i not in after_call and _is_call(nxt):
            anchors[i] = "next:function"
        elif detached and _detached_id(item) and _is_call(prev) and not paired:
            anchors[i] = "previous:function"
        elif detached and _is_visible(prev) and (_detached_id(item) or not _is_visible(nxt)) and not paired:
            anchors[i] = "previous:text"
        elif _is_visible(nxt):
            anchors[i] = "next:text"
    return anchors
