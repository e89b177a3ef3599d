"""The thinking suffix of a model name: ``model(<value>)``, the last parenthesis.

Values, case-insensitive: ``none`` or ``0`` turn thinking off; ``auto`` or ``-1`` let the
model decide; ``minimal|low|medium|high|xhigh|max`` name a level; a positive integer
(leading zeros allowed) is a budget. Anything else is ignored (no setting).
"""

from __future__ import annotations

from .canonical import LEVEL_ORDER, Mode, ThinkingConfig

__all__ = ["parse_suffix_value", "split_model_suffix"]

_INT64_MAX = 2**63 - 1


def split_model_suffix(model: str) -> tuple[str, str | None]:
    """``("gpt-5", "high")`` for ``"gpt-5(high)"``; ``(model, None)`` without a suffix."""
    if not model.endswith(")"):
        return model, None
    cut = model.rfind("(")
    if cut < 0:
        return model, None
    return model[:cut], model[cut + 1 : -1]


def parse_suffix_value(raw: str | None) -> ThinkingConfig | None:
    """The setting a suffix value asks for, or ``None`` when it means nothing."""
    if not raw:
        return None
    value = raw.lower()
    if value == "none":
        return ThinkingConfig(Mode.NONE, source="suffix")
    if value in ("auto", "-1"):
        return ThinkingConfig(Mode.AUTO, budget=-1, source="suffix")
    if value in LEVEL_ORDER:
        return ThinkingConfig(Mode.LEVEL, level=value, source="suffix")
    budget = _non_negative_int(raw)
    if budget is None:
        return None
    if budget == 0:
        return ThinkingConfig(Mode.NONE, source="suffix")
    return ThinkingConfig(Mode.BUDGET, budget=budget, source="suffix")


def _non_negative_int(raw: str) -> int | None:
    # Go's strconv.Atoi: optional sign, ASCII digits only, within int64.
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(raw)
    if value < 0 or value > _INT64_MAX:
        return None
    return value
