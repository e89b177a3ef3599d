"""Disabling a config API key through ``PATCH /auth-files/status``, as CPA does it:
the pattern ``*`` is added to (or removed from) the entry's ``excluded-models``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cliproxy.config import ConfigDocument
from cliproxy.credentials import sources
from cliproxy.credentials.record import KIND_APIKEY, Credential

if TYPE_CHECKING:
    from cliproxy.management.ports import ManagementService

__all__ = ["DISABLE_PATTERN", "is_config_key", "toggle_config_key"]

DISABLE_PATTERN = "*"
_LISTS = {
    "gemini": "gemini-api-key",
    "gemini-interactions": "interactions-api-key",
    "claude": "claude-api-key",
    "codex": "codex-api-key",
    "xai": "xai-api-key",
    "vertex": "vertex-api-key",
}


def is_config_key(cred: Credential) -> bool:
    return cred.kind == KIND_APIKEY and cred.source.startswith("config:")


async def toggle_config_key(service: ManagementService, cred: Credential, disabled: bool) -> bool:
    """Add or remove ``*`` in the entry's ``excluded-models``; False when no entry matches."""
    key = _LISTS.get(cred.provider)
    if key is None:
        return False
    found: list[bool] = []

    def edit(doc: ConfigDocument) -> None:
        # find the entry again in the document being edited: the list may have moved
        match = next((c for c in sources.from_config(doc.config) if c.id == cred.id), None)
        if match is None:
            return
        path = f"{key}[{match.attributes['config_index']}].excluded-models"
        models = _toggled(doc.get(path) or [], disabled)
        if models:
            doc.set(path, models)
        else:
            doc.delete(path)
        found.append(True)

    await service.edit_config(edit)
    return bool(found)


def _toggled(current: list[object], disabled: bool) -> list[str]:
    """The patterns in their written order, trimmed, lower-cased and unique, with ``*``
    appended (disable) or taken out (enable); the user's own order is kept, as CPA does."""
    models = list(dict.fromkeys(m for m in (str(item).strip().lower() for item in current) if m))
    if DISABLE_PATTERN in models:
        if disabled:
            return models
        models.remove(DISABLE_PATTERN)
    elif disabled:
        models.append(DISABLE_PATTERN)
    return models
