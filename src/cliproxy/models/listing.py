"""Model-list response bodies in each client's shape (CPA's ``/v1/models`` family).

Every function takes the models to list, normally ``registry.listable(suspended)``
where ``suspended`` comes from :func:`suspensions` over the pool's cooldown records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cliproxy.times import format_utc

from .catalog import ModelInfo
from .suffix import split_suffix

__all__ = [
    "CLAUDE_CLOAK_PREFIX",
    "DEFAULT_CLAUDE_MAX_INPUT",
    "DEFAULT_CLAUDE_MAX_OUTPUT",
    "NON_QUOTA_REASONS",
    "anthropic_models",
    "cloak_claude_id",
    "gemini_model",
    "gemini_models",
    "grok_shell_models",
    "openai_models",
    "suspensions",
    "uncloak_claude_id",
]

DEFAULT_CLAUDE_MAX_INPUT = 200_000
DEFAULT_CLAUDE_MAX_OUTPUT = 64_000
CLAUDE_CLOAK_PREFIX = "claude-fable-5-dd-"
# Reasons CPA suspends a (credential, model) in its registry; "quota" is not one of them.
NON_QUOTA_REASONS = frozenset(
    {"model_not_supported", "not_found", "unauthorized", "invalid_grant", "payment_required"}
)


def suspensions(records: Mapping[str, Iterable[Any]], now: float) -> dict[str, set[str]]:
    """Credential id -> models suspended for a non-quota reason, from cooldown records.

    ``records`` maps credential id -> its ``CooldownRecord`` objects (``model``,
    ``reason``, ``blocks(now)``); credential-wide records (empty model) are ignored.
    """
    out: dict[str, set[str]] = {}
    for cred_id, recs in records.items():
        names = {r.model for r in recs if r.model and r.reason in NON_QUOTA_REASONS and r.blocks(now)}
        if names:
            out[cred_id] = names
    return out


def openai_models(models: Iterable[ModelInfo]) -> dict[str, Any]:
    """``{"object": "list", "data": [{id, object, created, owned_by}]}``."""
    return {
        "object": "list",
        "data": [
            {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by} for m in models
        ],
    }


def _grok_shell_entry(m: ModelInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": m.id, "model": m.id, "name": m.display_name or m.id}
    if m.context_window > 0:
        entry["context_window"] = m.context_window
    entry["api_backend"] = "responses"  # the shell talks to every model through /v1/responses
    entry["supported_in_api"] = True
    levels = [lv.strip() for lv in m.thinking.levels if lv.strip()] if m.thinking is not None else []
    if levels:
        entry["reasoning_efforts"] = [{"value": lv} for lv in levels]
    return entry


def grok_shell_models(models: Iterable[ModelInfo]) -> dict[str, Any]:
    """The list Grok Build's terminal client reads (CPA ``grokbuild.BuildResponse``): each
    model's id twice, a name, its context window and reasoning levels when known; sorted
    by id, whatever the provider."""
    ordered = sorted(models, key=lambda m: m.id.strip())
    return {"object": "list", "data": [_grok_shell_entry(m) for m in ordered]}


def cloak_claude_id(model_id: str) -> str:
    """Claude Code accepts only ``claude-`` ids: others become prefix + the id reversed."""
    if not model_id or model_id.startswith("claude-"):
        return model_id
    return CLAUDE_CLOAK_PREFIX + model_id[::-1]


def uncloak_claude_id(model_id: str) -> str:
    """The inverse of :func:`cloak_claude_id`; a thinking suffix is kept."""
    base, suffix = split_suffix(model_id)
    if not base.startswith(CLAUDE_CLOAK_PREFIX) or len(base) == len(CLAUDE_CLOAK_PREFIX):
        return model_id
    plain = base[len(CLAUDE_CLOAK_PREFIX) :][::-1]
    return f"{plain}({suffix})" if suffix is not None else plain


def _rfc3339(created: int) -> str:
    return format_utc(max(created, 0), "seconds")


def _anthropic_entry(m: ModelInfo, cloak: bool) -> dict[str, Any]:
    return {
        "type": "model",
        "id": cloak_claude_id(m.id) if cloak else m.id,
        "display_name": m.display_name or m.id,
        "created_at": _rfc3339(m.created),
        "lifecycle": "active",
        "object": "model",
        "owned_by": m.owned_by,
        "max_input_tokens": m.context_window or DEFAULT_CLAUDE_MAX_INPUT,
        "max_tokens": m.max_output or DEFAULT_CLAUDE_MAX_OUTPUT,
    }


def anthropic_models(models: Iterable[ModelInfo], *, cloak: bool = True) -> dict[str, Any]:
    """Anthropic's list: sorted by display name then id, with ``first_id``/``last_id``."""
    data = sorted((_anthropic_entry(m, cloak) for m in models), key=lambda e: (e["display_name"], e["id"]))
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
    }


def _gemini_entry(m: ModelInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"models/{m.id}",
        "displayName": m.display_name or m.id,
        "description": m.description or m.display_name or m.id,
        "version": m.version or m.id,
    }
    if m.context_window:
        out["inputTokenLimit"] = m.context_window
    if m.max_output:
        out["outputTokenLimit"] = m.max_output
    out["supportedGenerationMethods"] = list(m.methods or ("generateContent",))
    if m.thinking is not None:
        out["thinking"] = True
    return out


def gemini_models(models: Iterable[ModelInfo]) -> dict[str, Any]:
    """``{"models": [{name: "models/<id>", displayName, ...}]}`` (``/v1beta/models``)."""
    return {"models": [_gemini_entry(m) for m in models]}


def gemini_model(models: Sequence[ModelInfo] | Iterable[ModelInfo], name: str) -> dict[str, Any] | None:
    """One model for ``/v1beta/models/<name>`` (with or without ``models/``), or None."""
    wanted = name.removeprefix("/").removeprefix("models/")
    for m in models:
        if m.id == wanted:
            return _gemini_entry(m)
    return None
