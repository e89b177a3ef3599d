"""``excluded-models`` / ``oauth-excluded-models``: case-insensitive ``*`` wildcards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .catalog import ModelInfo

__all__ = ["apply_exclusions", "match_wildcard", "normalize_patterns"]


def normalize_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, lower-cased, de-duplicated patterns in first-seen order."""
    seen: dict[str, None] = {}
    for raw in patterns:
        text = raw.strip().lower()
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def match_wildcard(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern``; ``*`` matches any run of characters.

    Both arguments are expected lower-cased. Without ``*`` the match is exact.
    """
    if not pattern:
        return False
    if "*" not in pattern:
        return pattern == value
    parts = pattern.split("*")
    head, tail = parts[0], parts[-1]
    if not value.startswith(head):
        return False
    value = value[len(head) :]
    if tail:
        if not value.endswith(tail):
            return False
        value = value[: len(value) - len(tail)]
    for segment in parts[1:-1]:
        if not segment:
            continue
        at = value.find(segment)
        if at < 0:
            return False
        value = value[at + len(segment) :]
    return True


def apply_exclusions(models: Sequence[ModelInfo], patterns: Sequence[str]) -> list[ModelInfo]:
    """``models`` minus those whose id matches any pattern."""
    if not patterns:
        return list(models)
    return [m for m in models if not any(match_wildcard(p, m.id.strip().lower()) for p in patterns)]
