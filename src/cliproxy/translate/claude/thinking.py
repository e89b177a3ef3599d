"""IR reasoning settings -> Claude ``thinking``.

This is the seam where a later, model-aware step chooses between ``enabled`` with a
budget and ``adaptive`` with an ``output_config.effort`` for models that support it.
Today an effort level becomes a fixed budget (CPA's level table).
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.summary import summary_intent

__all__ = ["EFFORT_BUDGETS", "MIN_BUDGET", "thinking_config"]

EFFORT_BUDGETS: dict[str, int] = {
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 128000,
}
MIN_BUDGET = 1024  # the API refuses smaller budgets
DYNAMIC_BUDGET = EFFORT_BUDGETS["medium"]  # budget -1 ("let the model decide")


def thinking_config(req: ir.Request, native: bool) -> dict[str, Any] | None:
    """The ``thinking`` object for ``req`` (``None``: leave it out).

    Claude sources keep exactly what they sent (``mode`` and its fields). Others:
    ``mode`` adaptive -> adaptive; ``budget`` > 0 -> enabled with that budget, -1 ->
    enabled with a medium budget, 0 -> none; an effort level alone -> enabled with the
    level's budget (``none`` -> none).
    """
    r = req.reasoning
    if not r:
        return None
    mode = r.get("mode")
    out: dict[str, Any] | None
    if native:
        if mode is None:
            return None
        out = {"type": mode}
        if "budget" in r:
            out["budget_tokens"] = r["budget"]
        out.update(req.extras.get("_thinking") or {})
    else:
        out = _foreign(r, mode)
    if out is not None and "display" in r:
        out["display"] = r["display"]
    elif out is not None and not native:
        display = _display(r, req.source)
        if display is not None and _active(out):
            out["display"] = display
    return out


def _display(r: dict[str, Any], source: str) -> str | None:
    """``thinking.display`` for the client's reasoning-summary intent (CPA's rule, read
    by ``translate.summary``); ``None``: no intent, the model's default."""
    show = summary_intent(r, source)
    if show is None:
        return None
    return "summarized" if show else "omitted"


def _active(thinking: dict[str, Any]) -> bool:
    """Claude accepts ``display`` only with thinking on (adaptive, or a real budget)."""
    if thinking.get("type") == "adaptive":
        return True
    budget = thinking.get("budget_tokens")
    return thinking.get("type") == "enabled" and (not isinstance(budget, int) or budget > 0 or budget == -1)


def _foreign(r: dict[str, Any], mode: str | None) -> dict[str, Any] | None:
    if mode == "disabled":
        return None
    if mode == "adaptive":
        return {"type": "adaptive"}
    budget = r.get("budget")
    if isinstance(budget, int) and not isinstance(budget, bool):
        if budget == 0:
            return None
        return {"type": "enabled", "budget_tokens": DYNAMIC_BUDGET if budget < 0 else max(budget, MIN_BUDGET)}
    effort = r.get("effort")
    if effort in EFFORT_BUDGETS:
        return {"type": "enabled", "budget_tokens": max(EFFORT_BUDGETS[effort], MIN_BUDGET)}
    if mode == "enabled":
        return {"type": "enabled", "budget_tokens": DYNAMIC_BUDGET}
    return None
