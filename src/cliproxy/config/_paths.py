"""Key paths as YAML spells them: ``routing.strategy``, ``claude-api-key[2].weight``."""

from __future__ import annotations

import re
from collections.abc import MutableMapping, MutableSequence, Sequence
from typing import Any

__all__ = ["KeyPath", "format_path", "parse_path", "resolve_step"]

KeyPath = str | Sequence[str | int]
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: KeyPath) -> list[str | int]:
    """Segments of a dotted path; ``[n]`` is a list index. A sequence is taken as is."""
    if not isinstance(path, str):
        return list(path)
    segments: list[str | int] = []
    pos = 0
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        match = _SEGMENT.match(path, pos)
        if match is None:
            raise ValueError(f"bad key path {path!r}")
        segments.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if not segments:
        raise ValueError("empty key path")
    return segments


def format_path(segments: Sequence[Any]) -> str:
    """``("claude-api-key", 2, "weight")`` -> ``claude-api-key[2].weight``."""
    out = ""
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else str(segment)
    return out


def resolve_step(container: Any, segment: str | int) -> str | int:
    """The real key for ``segment`` in ``container`` ("2" indexes a list); KeyError if absent."""
    if isinstance(container, MutableSequence):
        index = int(segment)
        if not 0 <= index < len(container):
            raise KeyError(segment)
        return index
    if isinstance(container, MutableMapping):
        if segment in container:
            return segment
        raise KeyError(segment)
    raise KeyError(segment)
