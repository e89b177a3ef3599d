"""Tool-call ids Claude accepts: ``^[a-zA-Z0-9_-]+$``, at most 64 characters here.

Ids from other formats (``call_...``, Gemini ``name_123_0``, Responses ``fc_...``) are
mapped through one function, so a call and its result always get the same id.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_ID_LEN", "sanitize_tool_id"]

MAX_ID_LEN = 64
_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_GOOD = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def sanitize_tool_id(raw: str | None) -> str:
    """A deterministic Claude-valid id for ``raw`` (valid ids are returned unchanged)."""
    if raw and _GOOD.fullmatch(raw):
        return raw
    if not raw:
        return "toolu_empty"
    clean = _BAD.sub("_", raw)
    if len(clean) > MAX_ID_LEN:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
        clean = f"toolu_{digest}"
    return clean
