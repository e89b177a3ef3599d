"""The Codex client template catalog: CPA's ``codex_client_models.json``, checked.

The document is ``{"models": [entry, ...]}`` with entries in the Codex CLI's own
``ModelInfo`` shape. Its value is each entry's ``base_instructions`` (the system prompt the
Codex CLI sends for that model) and the other Codex-only facts (``minimal_client_version``,
``truncation_policy``, ``shell_type``...). cliproxy ships no copy: the catalog updater
fetches it (:mod:`cliproxy.models.remote`) and :func:`parse_codex_templates` checks it the
way CPA's ``ValidateCodexClientModelsJSON`` does, so a partial document never replaces a
good one:

- ``models`` is a non-empty array of objects, each with a non-empty, unique ``slug``;
- ``display_name``, ``description``, ``base_instructions``, ``minimal_client_version``,
  ``visibility`` and ``default_reasoning_level`` are non-empty strings;
- ``context_window`` and ``max_context_window`` are positive integers, the first no larger
  than the second; ``priority`` is an integer, not negative;
- ``supported_reasoning_levels`` is a non-empty array of objects with distinct, non-empty
  ``effort`` values, and ``default_reasoning_level`` is one of them;
- the default template (``gpt-5.5``), which models without a template of their own are
  built from, is there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["DEFAULT_TEMPLATE", "CodexTemplates", "parse_codex_templates"]

DEFAULT_TEMPLATE = "gpt-5.5"
_REQUIRED_STRINGS = (
    "display_name",
    "description",
    "base_instructions",
    "minimal_client_version",
    "visibility",
    "default_reasoning_level",
)


@dataclass(frozen=True, slots=True)
class CodexTemplates:
    """A checked template catalog: ``entries`` by slug, and the default entry."""

    entries: Mapping[str, Mapping[str, Any]]

    @property
    def default(self) -> Mapping[str, Any]:
        return self.entries[DEFAULT_TEMPLATE]


def parse_codex_templates(raw: bytes) -> CodexTemplates:
    """The catalog in ``raw``; ``ValueError`` names the first thing wrong."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list) or not models:
        raise ValueError("the catalog has no models")
    entries: dict[str, Mapping[str, Any]] = {}
    for i, entry in enumerate(models):
        if not isinstance(entry, dict):
            raise ValueError(f"models[{i}] is not an object")
        slug = _string(entry, "slug", f"models[{i}]")
        if slug in entries:
            raise ValueError(f"the catalog lists the slug {slug!r} twice")
        _check(entry, f"model {slug!r}")
        entries[slug] = entry
    if DEFAULT_TEMPLATE not in entries:
        raise ValueError(f"the catalog has no default template {DEFAULT_TEMPLATE!r}")
    return CodexTemplates(entries)


def _check(entry: Mapping[str, Any], where: str) -> None:
    for field in _REQUIRED_STRINGS:
        _string(entry, field, where)
    window = _integer(entry, "context_window", where, positive=True)
    largest = _integer(entry, "max_context_window", where, positive=True)
    if window > largest:
        raise ValueError(f"{where}: context_window {window} exceeds max_context_window {largest}")
    _integer(entry, "priority", where, positive=False)
    levels = entry.get("supported_reasoning_levels")
    if not isinstance(levels, list) or not levels:
        raise ValueError(f"{where}: supported_reasoning_levels must be a non-empty array")
    efforts: set[str] = set()
    for i, level in enumerate(levels):
        if not isinstance(level, dict):
            raise ValueError(f"{where}: supported_reasoning_levels[{i}] is not an object")
        effort = _string(level, "effort", f"{where}: supported_reasoning_levels[{i}]")
        if effort in efforts:
            raise ValueError(f"{where}: supported_reasoning_levels lists {effort!r} twice")
        efforts.add(effort)
    default = str(entry["default_reasoning_level"]).strip()
    if default not in efforts:
        raise ValueError(f"{where}: default_reasoning_level {default!r} is not a supported level")


def _string(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {field} must be a non-empty string")
    return value.strip()


def _integer(entry: Mapping[str, Any], field: str, where: str, *, positive: bool) -> int:
    value = entry.get(field)
    whole = isinstance(value, int) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer()
    )
    if isinstance(value, bool) or not whole:
        raise ValueError(f"{where}: {field} must be an integer")
    number = int(value)  # type: ignore[arg-type]
    if number < (1 if positive else 0):
        raise ValueError(f"{where}: {field} must be {'positive' if positive else 'zero or more'}")
    return number
