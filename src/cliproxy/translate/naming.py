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
    return f"{namespace}{SEP}{name}" if namespace else name


def restore_name(flat: str, request: ir.Request | None) -> tuple[str, str | None]:
    """(name, namespace) for a flat tool name, looked up in ``request.tools``."""
    if request is None or not request.tools or SEP not in flat:
        return flat, None
    for tool in request.tools:
        if tool.namespace and flat == f"{tool.namespace}{SEP}{tool.name}":
            return tool.name, tool.namespace
    return flat, None
