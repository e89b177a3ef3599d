"""Reasoning-summary visibility: whether the client asked to see the model's thinking.

Each format says it its own way (CPA's ``thinking.ExtractSummaryConfig``): Responses
``reasoning.summary`` (``auto`` / ``concise`` / ``detailed``, or ``none``), Google
``thinkingConfig.includeThoughts``, Claude ``thinking.display`` (``summarized`` /
``omitted``), and for Chat, which has no such field, a ``reasoning_effort`` other
than ``none``. The IR keeps them in ``Request.reasoning`` (``summary``,
``include_thoughts``, ``display``, ``effort``); builders write the intent in their
format with ``summary_intent``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["summary_detail", "summary_intent"]

_DETAILS = frozenset({"auto", "concise", "detailed"})


def summary_intent(reasoning: dict[str, Any] | None, source: str) -> bool | None:
    """True: show thinking; False: hide it; None: the client did not say."""
    r = reasoning or {}
    include = r.get("include_thoughts")
    if isinstance(include, bool):
        return include
    display = r.get("display")
    if display == "summarized":
        return True
    if display == "omitted":
        return False
    summary = r.get("summary")
    if summary in _DETAILS:
        return True
    if isinstance(summary, str) and summary in ("none", "off", "disabled"):
        return False
    if source == "openai":
        effort = r.get("effort")
        if isinstance(effort, str) and effort:
            return effort != "none"
    return None


def summary_detail(reasoning: dict[str, Any] | None) -> str:
    """The Responses summary level to ask for when thinking should be shown."""
    summary = (reasoning or {}).get("summary")
    return summary if summary in _DETAILS else "auto"
