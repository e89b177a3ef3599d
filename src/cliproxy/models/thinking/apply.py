"""Write a resolved thinking setting into an upstream body (the last thinking step).

Dispatches to the provider applier for the target protocol. A model that does not think
gets every thinking field stripped; user-defined and unknown models get the setting as
asked (levels turned into budgets for budget-only protocols); with no resolved setting,
a setting the translator wrote is re-checked against the model, as CPA does.
"""

from __future__ import annotations

from typing import Any

from .appliers import APPLIERS, STRIP_PATHS
from .canonical import Mode, ThinkingCaps, ThinkingConfig, level_to_budget
from .extract import extract_thinking
from .validate import ThinkingError, validate_thinking

__all__ = ["apply_thinking", "strip_thinking"]


def apply_thinking(
    upstream_body: dict[str, Any],
    cfg: ThinkingConfig | None,
    target: str,
    model: str,
    caps: ThinkingCaps | None,
) -> None:
    """Apply ``cfg`` (from ``resolve_thinking``) to ``upstream_body`` in place.

    ``target`` is a CPA protocol id (claude, gemini, antigravity, codex, openai, kimi,
    xai); any other target is left alone. ``model`` is the upstream model name.
    """
    applier = APPLIERS.get(target)
    if applier is None:
        return
    user_defined = caps is None or caps.user_defined
    if not user_defined and not caps.supported:  # type: ignore[union-attr]
        strip_thinking(upstream_body, target)
        return
    if cfg is None and not user_defined:
        cfg = _recheck_translated(upstream_body, target, caps)  # type: ignore[arg-type]
    if cfg is None:
        return
    if user_defined:
        applier(upstream_body, _user_defined(cfg, target), None, model)
    else:
        applier(upstream_body, cfg, caps, model)


def strip_thinking(body: dict[str, Any], target: str) -> None:
    """Remove every thinking field of ``target``'s format from ``body``."""
    for path in STRIP_PATHS.get(target, ()):
        parent: Any = body
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    config = body.get("output_config") if target == "claude" else None
    if isinstance(config, dict) and not config:
        del body["output_config"]


def _recheck_translated(body: dict[str, Any], target: str, caps: ThinkingCaps) -> ThinkingConfig | None:
    cfg = extract_thinking(body, target)
    if cfg is None:
        return None
    try:
        return validate_thinking(cfg.with_(source=target), caps, same_provider=False, target=target)
    except ThinkingError:
        return None  # the translator's own choice: leave it for the upstream to judge


def _user_defined(cfg: ThinkingConfig, target: str) -> ThinkingConfig:
    """Levels become budgets for budget-first protocols (Claude: only from other formats)."""
    if cfg.mode is not Mode.LEVEL:
        return cfg
    if target == "claude" and cfg.source in ("suffix", "claude"):
        return cfg
    if target not in ("gemini", "antigravity", "claude"):
        return cfg
    budget = level_to_budget(cfg.level)
    if budget is None:
        return cfg
    return cfg.with_(mode=Mode.BUDGET, budget=budget, level="")
