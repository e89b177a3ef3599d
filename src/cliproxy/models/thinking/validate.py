"""Check a thinking setting against a model's capabilities, clamping or refusing.

Same-provider requests are strict: a level the model lacks, or a body budget outside
``[min, max]``, is a 400. Across providers the setting is clamped instead (nearest level,
ties to the lower one; budget into range). Budget-only models get levels as budgets,
level-only models get budgets as levels. ``none`` on a model that cannot turn thinking
off becomes its lowest level or minimum budget; ``auto`` on a model without dynamic
thinking becomes the middle of its range (``medium`` for level-only models).
"""

from __future__ import annotations

from cliproxy.errors import RequestError

from .canonical import LEVEL_ORDER, Mode, ThinkingCaps, ThinkingConfig, budget_to_level, level_to_budget

__all__ = ["ThinkingError", "clamp_level", "validate_thinking"]


class ThinkingError(RequestError):
    """A thinking setting the model cannot take (400)."""

    code = "invalid_thinking"


def validate_thinking(
    cfg: ThinkingConfig, caps: ThinkingCaps, *, same_provider: bool, target: str | None = None
) -> ThinkingConfig:
    """``cfg`` normalised for a model that thinks (``caps.supported``)."""
    from_suffix = cfg.source == "suffix"
    cfg, from_level = _convert_kind(cfg, caps)
    cfg = _normalise_special(cfg)
    if cfg.mode is Mode.LEVEL and caps.levels and not caps.allows(cfg.level):
        cfg = _unsupported_level(cfg, caps, clamp=not same_provider)
    if same_provider and not from_suffix and not from_level and cfg.mode is Mode.BUDGET:
        _check_budget_range(cfg.budget, caps)
    if cfg.mode is Mode.AUTO and not caps.dynamic_allowed:
        cfg = _auto_to_mid_range(cfg, caps)
    if cfg.mode is Mode.NONE and target == "claude":
        return cfg.with_(budget=0, level="")  # Claude says "disabled" outright
    return _fit_budget(cfg, caps)


def _convert_kind(cfg: ThinkingConfig, caps: ThinkingCaps) -> tuple[ThinkingConfig, bool]:
    """Levels to budgets for budget-only models, budgets to levels for level-only ones."""
    if caps.has_budget and not caps.levels and cfg.mode is Mode.LEVEL and cfg.level != "auto":
        budget = level_to_budget(cfg.level)
        if budget is None:
            raise ThinkingError(f"unknown level: {cfg.level}")
        return cfg.with_(mode=Mode.BUDGET, budget=budget, level=""), True
    if caps.levels and not caps.has_budget and cfg.mode is Mode.BUDGET:
        level = budget_to_level(cfg.budget)
        if level is None:
            raise ThinkingError(f"budget {cfg.budget} cannot be converted to a valid level")
        return cfg.with_(mode=Mode.LEVEL, level=clamp_level(level, caps.levels), budget=0), False
    return cfg, False


def _normalise_special(cfg: ThinkingConfig) -> ThinkingConfig:
    if cfg.mode is Mode.LEVEL and cfg.level == "none":
        return cfg.with_(mode=Mode.NONE, budget=0, level="")
    if cfg.mode is Mode.LEVEL and cfg.level == "auto":
        return cfg.with_(mode=Mode.AUTO, budget=-1, level="")
    if cfg.mode is Mode.BUDGET and cfg.budget == 0:
        return cfg.with_(mode=Mode.NONE, level="")
    return cfg


def _unsupported_level(cfg: ThinkingConfig, caps: ThinkingCaps, *, clamp: bool) -> ThinkingConfig:
    if clamp:
        cfg = cfg.with_(level=clamp_level(cfg.level, caps.levels))
        if caps.allows(cfg.level):
            return cfg
    valid = ", ".join(level.strip().lower() for level in caps.levels)
    raise ThinkingError(f'level "{cfg.level.lower()}" not supported, valid levels: {valid}')


def _check_budget_range(budget: int, caps: ThinkingCaps) -> None:
    if not caps.has_budget:
        return
    if budget < caps.min or budget > caps.max:
        raise ThinkingError(f"budget {budget} out of range [{caps.min},{caps.max}]")


def _auto_to_mid_range(cfg: ThinkingConfig, caps: ThinkingCaps) -> ThinkingConfig:
    if caps.levels and not caps.has_budget:
        level = "medium" if caps.allows("medium") else clamp_level("medium", caps.levels)
        return cfg.with_(mode=Mode.LEVEL, level=level, budget=0)
    mid = (caps.min + caps.max) // 2
    if mid <= 0 and caps.zero_allowed:
        return cfg.with_(mode=Mode.NONE, budget=0)
    return cfg.with_(mode=Mode.BUDGET, budget=mid if mid > 0 else caps.min)


def _fit_budget(cfg: ThinkingConfig, caps: ThinkingCaps) -> ThinkingConfig:
    """Clamp the budget; give ``none`` a fallback level when thinking cannot be off."""
    if cfg.mode is Mode.LEVEL:
        return cfg
    cfg = cfg.with_(budget=_clamp_budget(cfg.budget, caps))
    cannot_disable = not caps.zero_allowed and not caps.allows("none")
    if cfg.mode is Mode.NONE and caps.levels and (cfg.budget > 0 or cannot_disable):
        cfg = cfg.with_(level=caps.levels[0].strip().lower())
    return cfg


def _clamp_budget(value: int, caps: ThinkingCaps) -> int:
    if value == -1:
        return value
    if value == 0 and not caps.zero_allowed:
        return caps.min
    if not caps.has_budget:
        return value
    if value < caps.min:
        return 0 if value == 0 else caps.min
    return min(value, caps.max)


def clamp_level(level: str, supported: tuple[str, ...] | list[str]) -> str:
    """The supported level nearest to ``level`` in the standard order (ties go lower).

    A level outside the standard order (or an empty ``supported``) comes back unchanged.
    """
    level = level.strip().lower()
    wanted = _index(level)
    if wanted < 0 or not supported:
        return level
    best, best_dist = -1, len(LEVEL_ORDER) + 1
    for item in supported:
        idx = _index(item.strip().lower())
        if idx < 0:
            continue
        dist = abs(wanted - idx)
        if dist < best_dist or (dist == best_dist and idx < best):
            best, best_dist = idx, dist
    return LEVEL_ORDER[best] if best >= 0 else level


def _index(level: str) -> int:
    try:
        return LEVEL_ORDER.index(level)
    except ValueError:
        return -1
