"""``GET /auth-files/models`` and ``GET /model-definitions/{channel}`` bodies."""

from __future__ import annotations

from typing import Any

from cliproxy.models.catalog import Catalog, ModelInfo

__all__ = ["CHANNELS", "credential_model", "model_definition", "static_definitions"]

# CPA's channel names -> our catalog families
CHANNELS = {
    "claude": "claude",
    "gemini": "gemini",
    "gemini-interactions": "gemini",
    "vertex": "vertex",
    "aistudio": "aistudio",
    "codex": "codex-pro",
    "kimi": "kimi",
    "antigravity": "antigravity",
    "xai": "xai",
    "x-ai": "xai",
    "grok": "xai",
}
_GEMINI_STYLE = ("gemini", "vertex", "aistudio", "antigravity")


def credential_model(info: ModelInfo) -> dict[str, Any]:
    """One ``/auth-files/models`` entry: id plus the names CPA shows when present."""
    entry: dict[str, Any] = {"id": info.id}
    for key, value in (("display_name", info.display_name), ("type", info.type), ("owned_by", info.owned_by)):
        if value:
            entry[key] = value
    return entry


def static_definitions(catalog: Catalog, channel: str) -> list[dict[str, Any]] | None:
    """The static models of a channel in CPA's model JSON, or None for an unknown channel."""
    family = CHANNELS.get(channel.strip().lower())
    if family is None:
        return None
    return [model_definition(m) for m in catalog.family(family)]


def model_definition(m: ModelInfo) -> dict[str, Any]:
    """CPA's ``ModelInfo`` JSON (empty fields left out, as its ``omitempty`` tags do)."""
    out: dict[str, Any] = {
        "id": m.id,
        "object": "model",
        "created": m.created,
        "owned_by": m.owned_by,
        "type": m.type,
    }
    gemini_style = m.type in _GEMINI_STYLE
    optional: list[tuple[str, Any]] = [
        ("display_name", m.display_name),
        ("name", f"models/{m.id}" if gemini_style else ""),
        ("version", m.version),
        ("description", m.description),
    ]
    if gemini_style:
        optional += [
            ("inputTokenLimit", m.context_window),
            ("outputTokenLimit", m.max_output),
            ("supportedGenerationMethods", list(m.methods)),
        ]
    else:
        optional += [("context_length", m.context_window), ("max_completion_tokens", m.max_output)]
    optional += [
        ("supported_parameters", list(m.parameters)),
        ("supportedInputModalities", list(m.input_modalities)),
        ("supportedOutputModalities", list(m.output_modalities)),
    ]
    out.update((k, v) for k, v in optional if v)
    if m.thinking is not None and (thinking := m.thinking.to_dict()):
        out["thinking"] = thinking
    return out
