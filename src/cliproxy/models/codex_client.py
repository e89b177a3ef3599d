"""The Codex client's model catalog (``GET /v1/models?client_version=...``).

The Codex CLI reads ``{"models": [ModelInfo...]}`` in its own shape (``slug``,
``supported_reasoning_levels``, ``shell_type``, ``visibility``, ``priority``,
``base_instructions``, ``truncation_policy``...) and sends an entry's
``base_instructions`` (or its ``model_messages.instructions_template``) as the model's
system prompt: the Codex prompt (apply_patch, AGENTS.md, sandbox rules...). So an entry is
only as good as its instructions, and those come from the template catalog
(:mod:`cliproxy.models.codex_templates`, fetched by the catalog updater as CPA fetches its
``codex_client_models.json``):

- a model with a template of its own gets that entry, with our display name, output limit,
  search-tool and media facts on top, and the window its config sets
  (``max-context-length``), if any; a window from the model catalog does not replace the
  template's;
- any other model is built from the default template (``gpt-5.5``), so it carries the
  template's instructions, with our own facts: id, display name, description, reasoning
  levels (none when the registry knows none), context window (the template's when the
  registry knows none), input modalities (text only unless the registry says image), output
  limit, and image and video models hidden;
- with no template catalog (``--local-model`` without a ``file://`` copy, every fetch
  failed so far, no network) the Codex CLI is served ``{"models": []}`` and one WARNING
  says why. The Codex CLI lays a fetched catalog over the one it bundles, slug by slug,
  and builds fallback metadata with its bundled prompt for a slug it finds nowhere;
  entries with empty instructions would instead replace that prompt with nothing, and
  entries without ``base_instructions`` would make it refuse the whole response (the field
  is required). Its own models keep their bundled entries; the others stay usable by name
  (``-m`` or ``model =``), only not listed in its picker.

:func:`codex_client_models` also builds entries without templates, for uses that do not
need instructions (the models ``spawn_agent`` may name).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .catalog import ModelInfo
from .codex_templates import CodexTemplates

__all__ = ["REASONING_LEVELS", "codex_client_catalog", "codex_client_models"]

log = logging.getLogger(__name__)

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
_PRIORITY_STEP = 100  # CPA's: models without a template follow the templates 100 apart
DEFAULT_CONTEXT_WINDOW = 272000  # CPA's default entry's (its gpt-5.5 template)
# OpenAI-only facts of a template that a model built from the default does not inherit
_NOT_INHERITED = ("upgrade", "availability_nux", "apply_patch_tool_type")


def codex_client_catalog(
    models: Iterable[ModelInfo],
    providers_for: Callable[[str], list[str]],
    templates: CodexTemplates | None,
    *,
    multi_agent_v2: bool = False,
) -> dict[str, Any]:
    """What the Codex CLI is served: :func:`codex_client_models` with ``templates``, or
    an empty catalog without (one WARNING per process; see the module docstring)."""
    if templates is None:
        _warn_without_templates()
        return {"models": []}
    return codex_client_models(models, providers_for, templates, multi_agent_v2=multi_agent_v2)


@functools.cache
def _warn_without_templates() -> None:
    log.warning(
        "Codex CLI model catalog: no template catalog (local model mode without a file:// "
        "copy in CLIPROXY_MODELS_URLS, or no fetch has succeeded yet), so it is served empty "
        "and the Codex CLI keeps its bundled models and prompts; a model it does not bundle "
        "is still usable by name"
    )


def codex_client_models(
    models: Iterable[ModelInfo],
    providers_for: Callable[[str], list[str]],
    templates: CodexTemplates | None = None,
    *,
    multi_agent_v2: bool = False,
) -> dict[str, Any]:
    """``{"models": [...]}``: template slugs keep their priority, others follow by name;
    ``multi_agent_v2`` (``codex.optimize-multi-agent-v2``) marks each ``multi_agent_version: v2``."""
    own = templates.entries if templates is not None else {}
    known, extra = [], []
    for info in models:
        if info.id in own:
            known.append(_from_template(own[info.id], info, providers_for(info.id)))
        elif templates is not None:
            extra.append(_from_default(templates.default, info))
        else:
            extra.append(_generated(info))
    base = max((_priority(t) for t in own.values()), default=0)
    extra.sort(key=lambda e: (e["display_name"].lower(), e["slug"]))
    for rank, entry in enumerate(extra, start=1):
        entry["priority"] = base + _PRIORITY_STEP * rank
    entries = sorted(known, key=_priority) + extra
    for entry in entries:
        _sanitize_levels(entry)
        if multi_agent_v2:
            entry["multi_agent_version"] = "v2"
    return {"models": entries}


def _priority(entry: Mapping[str, Any]) -> int:
    value = entry.get("priority")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _PRIORITY_STEP


def _copy(template: Mapping[str, Any]) -> dict[str, Any]:
    # a handful of entries per catalog request, off the proxy path: a JSON round trip is the copy
    copied: dict[str, Any] = orjson.loads(orjson.dumps(template))
    return copied


def _from_template(template: Mapping[str, Any], info: ModelInfo, providers: list[str]) -> dict[str, Any]:
    entry = _copy(template)
    entry["display_name"] = info.display_name or entry.get("display_name") or info.id
    if info.max_context_length > 0:  # the config's window, not a catalog's, beats the template's
        entry["context_window"] = entry["max_context_window"] = info.max_context_length
    if info.max_output:
        entry["max_tokens"] = info.max_output
    if entry.get("supports_search_tool") and (not providers or any(p != "codex" for p in providers)):
        entry["supports_search_tool"] = False
    _hide_media(entry, info)
    return entry


def _from_default(template: Mapping[str, Any], info: ModelInfo) -> dict[str, Any]:
    """The default template's entry with this model's own facts (CPA's
    ``applyCodexClientModelMetadata``, with our registry's levels and modalities)."""
    entry = _copy(template)
    for key in _NOT_INHERITED:
        entry.pop(key, None)
    entry.update(_facts(info))  # a window the registry does not know stays the template's
    levels = entry["supported_reasoning_levels"]
    if not levels:
        entry.pop("default_reasoning_level", None)
        entry["supports_reasoning_summaries"] = False
    if info.owned_by == "openai":
        entry["apply_patch_tool_type"] = "freeform"
    if not entry["supports_image_detail_original"]:
        entry.pop("supports_image_detail_original")
    if info.type in _HIDDEN_TYPES:
        entry.pop("input_modalities")
        entry.pop("supports_image_detail_original", None)
    _hide_media(entry, info)
    return entry


def _facts(info: ModelInfo) -> dict[str, Any]:
    """What the registry knows of ``info``, in the Codex shape."""
    levels = [lv for lv in (info.thinking.levels if info.thinking else ()) if lv in REASONING_LEVELS]
    image_in = "image" in info.input_modalities
    facts: dict[str, Any] = {
        "slug": info.id,
        "display_name": info.display_name or info.id,
        "description": info.description or info.id,  # CPA's: the id, not the display name
        "supported_reasoning_levels": [{"effort": lv, "description": _DESCRIPTIONS[lv]} for lv in levels],
        "prefer_websockets": False,
        "service_tiers": [],
        "additional_speed_tiers": [],
        "supports_search_tool": False,
        "supports_image_detail_original": image_in,
        "input_modalities": ["text", "image"] if image_in else ["text"],
    }
    if levels:
        facts["default_reasoning_level"] = (
            "medium" if "medium" in levels else next((lv for lv in levels if lv != "none"), levels[0])
        )
    if info.context_window:
        facts["context_window"] = facts["max_context_window"] = info.context_window
    if info.max_output:
        facts["max_tokens"] = info.max_output
    return facts


def _generated(info: ModelInfo) -> dict[str, Any]:
    """An entry from the registry alone (no template: no instructions)."""
    entry: dict[str, Any] = {
        "shell_type": "shell_command",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 0,
        "availability_nux": None,
        "upgrade": None,
        "base_instructions": "",
        "supports_reasoning_summaries": False,
        "default_reasoning_summary": "none",
        "support_verbosity": False,
        "default_verbosity": None,
        "apply_patch_tool_type": "freeform" if info.owned_by == "openai" else None,
        "web_search_tool_type": "text",
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": True,
        "experimental_supported_tools": [],
        "multi_agent_version": None,  # as CPA's template gives it: "v2" only when optimized
    }
    entry.update(_facts(info))
    entry["supports_reasoning_summaries"] = bool(entry["supported_reasoning_levels"])
    # a window the registry does not know is CPA's default template's: without one the
    # Codex CLI cannot tell how full the context is, nor when to compact
    window = info.context_window or DEFAULT_CONTEXT_WINDOW
    entry["context_window"] = entry["max_context_window"] = window
    _hide_media(entry, info)
    return entry


def _sanitize_levels(entry: dict[str, Any]) -> None:
    """Only the efforts the Codex CLI knows, lower-cased; a default it lists (CPA's
    ``sanitizeCodexClientReasoningMetadata``)."""
    raw = entry.get("supported_reasoning_levels")
    if not isinstance(raw, list):
        return
    levels = []
    for level in raw:
        effort = str(level.get("effort") or "").strip().lower() if isinstance(level, dict) else ""
        if effort in REASONING_LEVELS:
            levels.append({**level, "effort": effort})
    if not levels:
        entry["supported_reasoning_levels"] = []
        entry.pop("default_reasoning_level", None)
        return
    entry["supported_reasoning_levels"] = levels
    default = str(entry.get("default_reasoning_level") or "").strip().lower()
    efforts = [lv["effort"] for lv in levels]
    entry["default_reasoning_level"] = default if default in efforts else efforts[0]


def _hide_media(entry: dict[str, Any], info: ModelInfo) -> None:
    if info.type in _HIDDEN_TYPES or info.id in _HIDDEN_IDS:
        entry["visibility"] = "hide"
