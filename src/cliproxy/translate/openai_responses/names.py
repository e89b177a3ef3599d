"""Tool names Codex accepts: at most 64 characters (CPA's ``buildShortNameMap``).

A longer name is cut to 64 characters, or for an MCP tool (``mcp__server__tool``)
shortened to ``mcp__<tool>``; a cut that collides with another name of the request gets
``_1``, ``_2``... The map is a pure function of the request's tools, so the answer's names
are turned back with the same request. Names a Responses client chose itself are sent as
they are (CPA forwards a Responses body unchanged).
"""

from __future__ import annotations

import hashlib

from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name

__all__ = ["LIMIT", "long_name", "short_id", "short_name", "short_names"]

LIMIT = 64
_KEY = "_short_names"  # memo on Request.extras: (original -> short, short -> original)


def _base(name: str) -> str:
    if len(name) <= LIMIT:
        return name
    if name.startswith("mcp__"):
        idx = name.rfind("__")
        if idx > 0:
            return ("mcp__" + name[idx + 2 :])[:LIMIT]
    return name[:LIMIT]


def short_names(req: ir.Request | None) -> tuple[dict[str, str], dict[str, str]]:
    """(original -> short, short -> original) for the long names of ``req``'s tools."""
    if req is None or not req.tools:
        return {}, {}
    memo = req.extras.get(_KEY)
    if memo is not None:
        return memo
    names = [flat_name(t.name, t.namespace) for t in req.tools if t.kind != "builtin"]
    used = {n for n in names if len(n) <= LIMIT}
    fwd: dict[str, str] = {}
    for name in names:
        if len(name) <= LIMIT or name in fwd:
            continue
        cand = base = _base(name)
        i = 1
        while cand in used:
            suffix = f"_{i}"
            cand = base[: LIMIT - len(suffix)] + suffix
            i += 1
        used.add(cand)
        fwd[name] = cand
    memo = (fwd, {v: k for k, v in fwd.items()})
    req.extras[_KEY] = memo
    return memo


def short_name(name: str, req: ir.Request | None) -> str:
    """The name to send for ``name`` (a flat tool name)."""
    if len(name) <= LIMIT:
        return name
    return short_names(req)[0].get(name) or _base(name)


def long_name(name: str, req: ir.Request | None) -> str:
    """The client's name for a name the upstream used."""
    if req is None or not req.tools:
        return name
    return short_names(req)[1].get(name, name)


def short_id(call_id: str) -> str:
    """A call id of at most 64 characters: longer ones keep their head and end with a
    hash of the whole id, so a call and its output still pair."""
    if len(call_id) <= LIMIT:
        return call_id
    digest = hashlib.sha256(call_id.encode()).hexdigest()[:16]
    return f"{call_id[: LIMIT - 17]}_{digest}"
