"""Turn parser and validation failures into ``ConfigError`` with a YAML key path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import ConfigError
from ._paths import format_path

__all__ = ["config_error", "from_validation", "from_yaml"]

_PREFIXES = ("Value error, ", "Assertion failed, ")


def config_error(reason: str, *, path: str | None, file: str | None, line: int | None = None) -> ConfigError:
    """A ``ConfigError`` whose message reads ``path: reason (file, line n)``."""
    where = ", ".join(p for p in (file, f"line {line}" if line else None) if p)
    error = ConfigError(f"{reason} ({where})" if where else reason, path=path, file=file)
    error.reason = reason
    return error


def from_yaml(exc: YAMLError, file: str | None) -> ConfigError:
    """Invalid YAML: the reason with the line and column where the parser stopped."""
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        reason = f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        if exc.context:
            reason += f" ({exc.context})"
        return config_error(reason, path=None, file=file)
    return config_error(f"invalid YAML: {exc}", path=None, file=file)


def from_validation(exc: ValidationError, file: str | None, tree: Any = None) -> ConfigError:
    """The first validation problem, located by key path (and line, when the tree knows it)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    segments = [s for s in first["loc"] if isinstance(s, int) or not _is_type_tag(s)]
    reason = first["msg"]
    for prefix in _PREFIXES:
        reason = reason.removeprefix(prefix)
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    path = format_path(segments) or None
    return config_error(reason, path=path, file=file, line=_line_of(tree, segments))


def _is_type_tag(segment: Any) -> bool:
    # pydantic puts union member names ("bool", "function-after[...]") into locations.
    return not isinstance(segment, str) or "[" in segment or segment in ("bool", "int", "str", "float")


def _line_of(tree: Any, segments: Sequence[Any]) -> int | None:
    line = None
    node = tree
    for segment in segments:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and segment in node:
                line = lc.key(segment)[0] + 1 if lc is not None else line
            elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
                line = lc.item(segment)[0] + 1 if lc is not None else line
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
        node = node[segment]
    return line
