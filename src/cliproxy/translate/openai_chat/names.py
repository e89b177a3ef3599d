"""Tool names and call ids OpenAI Chat accepts: at most 64 characters.

Longer names (deep MCP namespaces) are shortened the way CPA shortens them: an
``mcp__<server>__<tool>`` name keeps ``mcp__<tool>``, any other keeps its first 64
characters, and a clash gets ``_1``, ``_2``... The map is built from the request's
tools, so the request and the response side agree on it without any state.
"""

from __future__ import annotations

import hashlib

from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name, restore_name

__all__ = ["LIMIT", "restore", "short_id", "short_names"]

LIMIT = 64


def _base(name: str) -> str:
    if name.startswith("mcp__"):
        cut = name.rfind("__")
        if cut > 3:
            return ("mcp__" + name[cut + 2 :])[:LIMIT]
    return name[:LIMIT]


def short_names(tools: list[ir.Tool] | None) -> dict[str, str]:
    """{flat name: short name} for the tools whose flat name is too long (empty when
    none is: the common case costs one pass over the names)."""
    if not tools:
        return {}
    names = [flat_name(t.name, t.namespace) for t in tools if t.kind != "builtin"]
    if all(len(n) <= LIMIT for n in names):
        return {}
    used = {n for n in names if len(n) <= LIMIT}
    out: dict[str, str] = {}
    for name in names:
        if len(name) <= LIMIT or name in out:
            continue
        cand = _base(name)
        i = 0
        while cand in used:
            i += 1
            suffix = f"_{i}"
            cand = _base(name)[: LIMIT - len(suffix)] + suffix
        used.add(cand)
        out[name] = cand
    return out


def restore(name: str, request: ir.Request | None) -> tuple[str, str | None]:
    """(name, namespace) of the client's tool for a name the upstream called."""
    if request is not None and len(name) <= LIMIT:
        for long, short in short_names(request.tools).items():
            if short == name:
                name = long
                break
    return restore_name(name, request)


def short_id(call_id: str) -> str:
    """A call id of at most 64 characters (CPA's rule: the head of the id and a hash of
    all of it), the same for a call and its result."""
    if len(call_id) <= LIMIT:
        return call_id
    suffix = "_" + hashlib.sha256(call_id.encode()).hexdigest()[:16]
    return call_id[: LIMIT - len(suffix)] + suffix
