"""The thinking suffix of a model name: ``model(<value>)`` (the last parenthesis)."""

from __future__ import annotations

__all__ = ["split_suffix", "with_suffix"]


def split_suffix(model: str) -> tuple[str, str | None]:
    """``("gpt-5", "high")`` for ``"gpt-5(high)"``; ``(model, None)`` without a suffix."""
    if not model.endswith(")"):
        return model, None
    cut = model.rfind("(")
    if cut <= 0:
        return model, None
    return model[:cut], model[cut + 1 : -1]


def with_suffix(name: str, suffix: str | None) -> str:
    """``name`` with ``(suffix)`` appended, unless ``name`` already carries its own."""
    if not suffix or split_suffix(name)[1] is not None:
        return name
    return f"{name}({suffix})"
