"""Write a resolved thinking setting into an upstream body (the last thinking step).

Dispatches to the provider applier for the target protocol. A model that does not think
gets every thinking field stripped; user-defined and unknown models get the setting as
asked (levels turned into budgets for budget-only protocols, a level the translator wrote
too); with no resolved setting, a setting the translator wrote is re-checked against a
known model, as CPA does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .appliers import APPLIERS, STRIP_PATHS, Applier
from .canonical import Mode, ThinkingCaps, ThinkingConfig, level_to_budget
from .extract import extract_thinking
from .validate import ThinkingError, validate_thinking

__all__ = ["REREAD_TARGETS", "apply_checked", "apply_thinking", "strip_thinking", "user_defined_setting"]

# Targets on which an unknown or user-defined model gets a level as a budget: with no
# setting resolved, the one the translator wrote (a Claude client's adaptive thinking is
# Gemini level high) is read back and written so, as CPA's applyUserDefinedModel reads
# the translated body (elsewhere that rewrite would leave the translator's value as is).
REREAD_TARGETS = frozenset(("gemini", "antigravity"))


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
    if caps is None or caps.user_defined:
        if cfg is None and target in REREAD_TARGETS:
            cfg = extract_thinking(upstream_body, target)
        if cfg is not None:
            applier(upstream_body, user_defined_setting(cfg, target), None, model)
    elif not caps.supported:
        strip_thinking(upstream_body, target)
    else:
        apply_checked(upstream_body, cfg, target, model, caps, applier, extract_thinking)


def apply_checked(
    upstream_body: dict[str, Any],
    cfg: ThinkingConfig | None,
    target: str,
    model: str,
    caps: ThinkingCaps,
    applier: Applier,
    read: Callable[[Any, str], ThinkingConfig | None] | None,
) -> None:
    """:func:`apply_thinking` for a model that thinks, with known, not user-defined
    ``caps``; ``read(body, target)`` reads the upstream body in the ``target`` format."""
    if cfg is None:  # a setting the translator wrote is re-checked against the model, as CPA does
        found = read(upstream_body, target) if read is not None else None
        if found is None:
            return
        try:
            cfg = validate_thinking(found, caps, same_provider=False, target=target)
        except ThinkingError:
            return  # the translator's own choice: leave it for the upstream to judge
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


def user_defined_setting(cfg: ThinkingConfig, target: str) -> ThinkingConfig:
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
