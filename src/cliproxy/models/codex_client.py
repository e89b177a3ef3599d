"""The Codex client's model catalog (``GET /v1/models?client_version=...``).

The Codex CLI reads ``{"models": [ModelInfo...]}`` in its own shape (``slug``,
``supported_reasoning_levels``, ``shell_type``, ``visibility``, ``priority``,
``base_instructions``, ``truncation_policy``...). Entries are built from the registry's
models; a ``templates`` mapping (slug -> entry in the Codex shape, e.g. loaded with
:func:`load_templates` from a Codex ``models.json``) supplies the full entry for known
slugs, as CPA's ``codex_client_models.json`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .catalog import ModelInfo

__all__ = ["REASONING_LEVELS", "codex_client_models", "load_templates"]

REASONING_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra")
_DESCRIPTIONS = {
    "none": "No reasoning",
    "minimal": "Fastest, least reasoning",
    "low": "Quick, light reasoning",
    "medium": "Balanced speed and depth",
    "high": "Deeper reasoning for hard problems",
    "xhigh": "Extra-deep reasoning",
    "max": "Deepest reasoning available",
    "ultra": "Ultra reasoning",
}
_HIDDEN_TYPES = frozenset({"openai-image"})
_HIDDEN_IDS = frozenset(
    {
        "gpt-image-1.5",
        "gpt-image-2",
        "grok-imagine-image",
        "grok-imagine-image-quality",
        "grok-imagine-image-2.0",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-preview",
    }
)
_FIRST_FREE_PRIORITY = 100
DEFAULT_CONTEXT_WINDOW = 272000  # CPA's default entry (its gpt-5.5 template)


def load_templates(path: str | Path) -> dict[str, dict[str, Any]]:
    """Slug -> entry from a file shaped ``{"models": [{"slug": ...}, ...]}``."""
    doc = orjson.loads(Path(path).read_bytes())
    return {str(m["slug"]): m for m in doc.get("models") or () if isinstance(m, dict) and m.get("slug")}


def codex_client_models(
    models: Iterable[ModelInfo],
    providers_for: Callable[[str], list[str]],
    templates: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    multi_agent_v2: bool = False,
) -> dict[str, Any]:
    """``{"models": [...]}``: template slugs keep their priority, others follow by name;
    ``multi_agent_v2`` (``codex.optimize-multi-agent-v2``) marks each ``multi_agent_version: v2``."""
    templates = templates or {}
    known, extra = [], []
    for info in models:
        if info.id in templates:
            known.append(_from_template(templates[info.id], info, providers_for(info.id)))
        else:
            extra.append(_generated(info))
    base = max((int(t.get("priority") or 0) for t in templates.values()), default=0)
    base = max(base, _FIRST_FREE_PRIORITY)
    extra.sort(key=lambda e: (e["display_name"].lower(), e["slug"]))
    for rank, entry in enumerate(extra, start=1):
        entry["priority"] = base + rank
    entries = sorted(known, key=lambda e: int(e.get("priority") or 0)) + extra
    if multi_agent_v2:
        for entry in entries:
            entry["multi_agent_version"] = "v2"
    return {"models": entries}


def _from_template(template: Mapping[str, Any], info: ModelInfo, providers: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = orjson.loads(orjson.dumps(template))
    entry["display_name"] = info.display_name or entry.get("display_name") or info.id
    if info.max_output:
        entry["max_tokens"] = info.max_output
    if entry.get("supports_search_tool") and any(p != "codex" for p in providers):
        entry["supports_search_tool"] = False
    _hide_media(entry, info)
    return entry


def _generated(info: ModelInfo) -> dict[str, Any]:
    levels = [lv for lv in (info.thinking.levels if info.thinking else ()) if lv in REASONING_LEVELS]
    image_in = "image" in info.input_modalities
    entry: dict[str, Any] = {
        "slug": info.id,
        "display_name": info.display_name or info.id,
        "description": info.description or info.display_name or info.id,
        "supported_reasoning_levels": [{"effort": lv, "description": _DESCRIPTIONS[lv]} for lv in levels],
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 0,
        "additional_speed_tiers": [],
        "service_tiers": [],
        "availability_nux": None,
        "upgrade": None,
        "base_instructions": "",
        "supports_reasoning_summaries": bool(levels),
        "default_reasoning_summary": "none",
        "support_verbosity": False,
        "default_verbosity": None,
        "apply_patch_tool_type": "freeform" if info.owned_by == "openai" else None,
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": True,
        "supports_image_detail_original": image_in,
        "experimental_supported_tools": [],
        "input_modalities": ["text", "image"] if image_in else ["text"],
        "supports_search_tool": False,
        "prefer_websockets": False,
        "multi_agent_version": None,  # as CPA's template gives it: "v2" only when optimized
    }
    if levels:
        entry["default_reasoning_level"] = (
            "medium" if "medium" in levels else next((lv for lv in levels if lv != "none"), levels[0])
        )
    # a window the registry does not know is CPA's default template's: without one the
    # Codex CLI cannot tell how full the context is, nor when to compact
    window = info.context_window or DEFAULT_CONTEXT_WINDOW
    entry["context_window"] = entry["max_context_window"] = window
    if info.max_output:
        entry["max_tokens"] = info.max_output
    _hide_media(entry, info)
    return entry


def _hide_media(entry: dict[str, Any], info: ModelInfo) -> None:
    if info.type in _HIDDEN_TYPES or info.id in _HIDDEN_IDS:
        entry["visibility"] = "hide"
