"""Tool names across formats: flattening Responses namespaces and restoring them.

Responses tools may sit inside a ``namespace``; other formats have flat names. A
namespaced tool is sent as ``<namespace>__<name>`` and a call to that flat name is
turned back into (name, namespace) using the tools of the request it answers.
"""

from __future__ import annotations

from cliproxy.translate import ir

__all__ = ["flat_name", "restore_name"]

SEP = "__"


def flat_name(name: str, namespace: str | None) -> str:
    """CPA's qualified name: ``<namespace>__<name>``, except that a name already
    qualified (``mcp__...``, the namespace itself or ``<namespace>__...``) stays as it
    is and a namespace ending in ``__`` is not given a second separator."""
    if not namespace or not name or name.startswith("mcp__"):
        return name
    if name == namespace or name.startswith(namespace + SEP):
        return name
    return namespace + name if namespace.endswith(SEP) else f"{namespace}{SEP}{name}"


def restore_name(flat: str, request: ir.Request | None) -> tuple[str, str | None]:
    """(name, namespace) for a flat tool name, looked up in ``request.tools``."""
    if request is None or not request.tools:
        return flat, None
    if any(t.name == flat and not t.namespace for t in request.tools):
        return flat, None  # a tool declared under the flat name itself wins (CPA)
    for tool in request.tools:
        if tool.namespace and flat == flat_name(tool.name, tool.namespace):
            return tool.name, tool.namespace
    return flat, None
