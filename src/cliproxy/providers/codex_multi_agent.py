"""``codex.optimize-multi-agent-v2``: an official Codex client's multi-agent requests, as
CPA rewrites them for the Codex upstream (``internal/client/codex/optimize-multi-agent-v2``).

Only for a Codex client (``Codex Desktop/``, ``codex-tui/``, ``codex_cli_rs``) and only
with the switch on:

- ``agent_message`` input items keep their shape, but each ``encrypted_content`` part
  becomes ``{"type": "input_text", "text": ...}`` (readable by the proxy and the model);
- the collaboration tools ``spawn_agent``, ``send_message`` and ``followup_task``
  (function tools in ``tools`` or an ``additional_tools`` input item, also inside
  namespaces) lose ``parameters.properties.message.encrypted``;
- ``spawn_agent``'s description gets the proxy's own "Available model overrides" list (the
  models of the Codex client catalog, with their reasoning efforts and service tiers) in
  place of any list it had, before its "Spawns an agent" line;
- the ``collaboration`` namespace holding ``spawn_agent`` is sent as
  ``collaboration-optimize``, and the answer (whole or streamed) gets ``collaboration`` back
  in tool calls (``namespace``, ``collaboration-optimize__<name>``) and namespace items,
  never inside ``arguments``, ``input`` or tool outputs.

A request that already names ``collaboration-optimize`` keeps its namespace and its
description (only the encryption markers go). For a non-Codex upstream the pipeline applies
:func:`prepare_tools` (CPA's Responses-entry step: description and encryption markers, no
rename) and turns ``agent_message`` items into user messages before translating. The Codex client catalog
(``/v1/models?client_version=``) marks every model ``multi_agent_version: v2``.

Every change is copy-on-write: the request's arrays may be the client's own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cliproxy.providers.cow import CopyOnWrite, Path

__all__ = [
    "MODELS_HEADING",
    "Restore",
    "SocketTurns",
    "format_models",
    "has_conflict",
    "is_codex_client",
    "optimize",
    "prepare_tools",
    "replace_models_section",
    "restore_value",
    "tool_paths",
]

MODELS_HEADING = "Available model overrides (optional; inherited parent model is preferred):"
_MARKER = "Spawns an agent"
_NAMESPACE = "collaboration"
_OPTIMIZED = "collaboration-optimize"
_OPTIMIZED_PREFIX = _OPTIMIZED + "__"
_OPTIMIZED_BYTES = _OPTIMIZED.encode()
_MESSAGE_TOOLS = frozenset({"spawn_agent", "send_message", "followup_task"})
_SPAWN = frozenset({"spawn_agent"})
_EFFORTS = frozenset({"none", "low", "medium", "high", "xhigh", "max", "ultra"})


def is_codex_client(headers: Mapping[str, str]) -> bool:
    """An official Codex client's ``User-Agent`` (CPA ``IsCodexClientUserAgent``)."""
    agent = (headers.get("user-agent") or headers.get("User-Agent") or "").strip()
    return agent.startswith(("Codex Desktop/", "codex-tui/", "codex_cli_rs/")) or agent == "codex_cli_rs"


def _get(body: Any, path: Path) -> Any:
    node = body
    for step in path:
        node = node[step]
    return node


def _kind(value: Any) -> str:
    raw = value.get("type") if isinstance(value, dict) else None
    return raw.strip() if isinstance(raw, str) else ""


def _name(value: Any) -> str:
    raw = value.get("name") if isinstance(value, dict) else None
    return raw.strip() if isinstance(raw, str) else ""


def _containers(body: Mapping[str, Any]) -> list[Path]:
    """The tool arrays: top-level ``tools`` and each ``additional_tools`` item's."""
    out: list[Path] = [("tools",)] if isinstance(body.get("tools"), list) else []
    items = body.get("input")
    if isinstance(items, list):
        for i, item in enumerate(items):
            if _kind(item) == "additional_tools" and isinstance(item.get("tools"), list):
                out.append(("input", i, "tools"))
    return out


def tool_paths(body: Mapping[str, Any], names: frozenset[str]) -> list[Path]:
    """Paths of the function tools named in ``names``, namespaces searched too."""
    found: list[Path] = []

    def walk(tools: Any, path: Path) -> None:
        for i, tool in enumerate(tools if isinstance(tools, list) else ()):
            kind = _kind(tool)
            if kind == "function" and _name(tool) in names:
                found.append((*path, i))
            elif kind == "namespace":
                walk(tool.get("tools"), (*path, i, "tools"))

    for container in _containers(body):
        walk(_get(body, container), container)
    return found


def _conflict(tools: Any) -> bool:
    for tool in tools if isinstance(tools, list) else ():
        name = _name(tool)
        if name == _OPTIMIZED or name.startswith(_OPTIMIZED_PREFIX):
            return True
        if _kind(tool) == "namespace" and _conflict(tool.get("tools")):
            return True
    return False


def has_conflict(body: Mapping[str, Any]) -> bool:
    """The request names ``collaboration-optimize`` itself: its namespace stays."""
    return any(_conflict(_get(body, c)) for c in _containers(body))


# ------------------------------------------------------------------ request


def _agent_content(body: dict[str, Any], cow: CopyOnWrite) -> None:
    items = body.get("input")
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if _kind(item) != "agent_message" or not isinstance(item.get("content"), list):
            continue
        for j, part in enumerate(item["content"]):
            if _kind(part) == "encrypted_content" and isinstance(part.get("encrypted_content"), str):
                own = cow.at(("input", i, "content", j))
                own["type"] = "input_text"
                own["text"] = own.pop("encrypted_content")


def _drop_encryption(body: dict[str, Any], cow: CopyOnWrite, paths: list[Path]) -> None:
    for path in paths:
        node: Any = _get(body, path)
        for key in ("parameters", "properties", "message"):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and "encrypted" in node:
            del cow.at((*path, "parameters", "properties", "message"))["encrypted"]


def _describe(body: dict[str, Any], cow: CopyOnWrite, paths: list[Path], models: str) -> None:
    for path in paths:
        description = _get(body, path).get("description")
        if isinstance(description, str):
            rewritten = replace_models_section(description, models)
            if rewritten != description:
                cow.at(path)["description"] = rewritten


def prepare_tools(body: dict[str, Any], models: Callable[[], str]) -> bool:
    """CPA's ``PrepareCodexMultiAgentV2Tools`` (the Responses entry, whatever the
    upstream): ``spawn_agent``'s description gets the model list (unless the request names
    ``collaboration-optimize``) and the message tools lose ``message.encrypted``; the
    namespace and the input items stay. Whether a collaboration tool was there."""
    return _prepare(body, CopyOnWrite(body), models) is not None


def _prepare(body: dict[str, Any], cow: CopyOnWrite, models: Callable[[], str]) -> list[Path] | None:
    spawn = tool_paths(body, _SPAWN)
    messages = tool_paths(body, _MESSAGE_TOOLS)
    if not spawn and not messages:
        return None
    if spawn and not has_conflict(body):
        listed = models()
        if listed:
            _describe(body, cow, spawn, listed)
    _drop_encryption(body, cow, messages)
    return spawn


def optimize(body: dict[str, Any], models: Callable[[], str]) -> bool:
    """CPA's ``OptimizeCodexMultiAgentV2Request`` on a Codex client's request (the caller
    checks the switch and the client): whether the namespace was renamed (the answer then
    needs :class:`Restore`). ``models`` gives the model list, asked only when needed."""
    cow = CopyOnWrite(body)
    _agent_content(body, cow)
    spawn = _prepare(body, cow, models)
    if not spawn or has_conflict(body):
        return False
    renamed = False
    for path in spawn:
        if len(path) < 3 or path[-2] != "tools":
            continue
        parent = path[:-2]
        namespace = _get(body, parent)
        if _kind(namespace) == "namespace" and _name(namespace) == _NAMESPACE:
            cow.at(parent)["name"] = _OPTIMIZED
            renamed = True
    return renamed


class SocketTurns:
    """Whether the upstream socket of a client's Responses WebSocket carries an optimized
    conversation (CPA ``setMultiAgentV2Optimized``): a follow-up sent there as
    ``previous_response_id`` and a tool output has no tools to optimize, yet its answer
    names ``collaboration-optimize`` again and needs :class:`Restore`. Per downstream
    session id; the oldest sessions are forgotten past ``limit`` (a session id is never
    reused, and one that is forgotten only loses the restore of its follow-ups)."""

    __slots__ = ("_optimized", "limit")

    def __init__(self, limit: int = 16384) -> None:
        self._optimized: OrderedDict[str, bool] = OrderedDict()
        self.limit = limit

    def restores(self, session: str, optimized: bool, conflict: bool) -> bool:
        """Whether this turn's answer needs :class:`Restore`: it was optimized, or it names
        no ``collaboration-optimize`` of its own and the socket's conversation was. An
        optimized turn marks the session, a turn with its own namespace clears it."""
        known = self._optimized
        if optimized or conflict:
            known[session] = optimized
            known.move_to_end(session)
            if len(known) > self.limit:
                known.popitem(last=False)
        return not conflict and (optimized or known.get(session, False))


# ------------------------------------------------------------------ model list


def _sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."


def _efforts(entry: Mapping[str, Any]) -> tuple[list[str], str]:
    levels = entry.get("supported_reasoning_levels")
    efforts: list[str] = []
    for level in levels if isinstance(levels, list) else ():
        effort = level.get("effort") if isinstance(level, dict) else None
        if isinstance(effort, str) and effort.strip().lower() in _EFFORTS:
            efforts.append(effort.strip().lower())
    default = entry.get("default_reasoning_level")
    default = default.strip().lower() if isinstance(default, str) else ""
    return efforts, (default if default in efforts else (efforts[0] if efforts else ""))


def _tiers(entry: Mapping[str, Any]) -> list[str]:
    tiers = entry.get("service_tiers")
    out: list[str] = []
    for tier in tiers if isinstance(tiers, list) else ():
        tier_id = tier.get("id") if isinstance(tier, dict) else None
        if isinstance(tier_id, str) and tier_id.strip() and tier_id.strip() not in out:
            out.append(tier_id.strip())
    return out


def format_models(entries: list[Mapping[str, Any]]) -> str:
    """CPA's markdown list, one line per Codex client catalog entry:
    ``- `id`: Description. Reasoning efforts: low, medium (default). Service tiers: x.``"""
    lines: list[str] = []
    for entry in entries:
        slug = " ".join(str(entry.get("slug") or entry.get("id") or "").split())
        if not slug:
            continue
        code = f"`` {slug} ``" if "`" in slug else f"`{slug}`"
        parts: list[str] = []
        description = " ".join(str(entry.get("description") or "").split())
        if description:
            parts.append(_sentence(description))
        efforts, default = _efforts(entry)
        if efforts:
            listed = ", ".join(e + (" (default)" if e == default else "") for e in efforts)
            parts.append(f"Reasoning efforts: {listed}.")
        if tiers := _tiers(entry):
            parts.append(f"Service tiers: {', '.join(tiers)}.")
        lines.append(f"- {code}: {' '.join(parts)}")
    return "\n".join(lines)


def _remove_sections(description: str) -> tuple[str, str]:
    if MODELS_HEADING not in description:
        return description, ""
    lines = description.splitlines(keepends=True)
    kept: list[str] = []
    indent = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != MODELS_HEADING:
            kept.append(line)
            i += 1
            continue
        at = line.find(MODELS_HEADING)
        if not indent and at > 0:
            indent = line[:at]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("- "):
            i += 1
    return "".join(kept), indent


def replace_models_section(description: str, models: str) -> str:
    """``description`` with one model list, before its "Spawns an agent" line (or at its
    end); earlier lists (heading and ``- `` lines) are removed, their indent kept."""
    if not models:
        return description
    cleaned, indent = _remove_sections(description)
    section = f"{indent}{MODELS_HEADING}\n{models}\n"
    marker = cleaned.find(_MARKER)
    if marker >= 0:
        start = cleaned.rfind("\n", 0, marker) + 1
        return cleaned[:start] + section + cleaned[start:]
    separator = "\n\n" if cleaned and not cleaned.endswith("\n") else ""
    return cleaned + separator + section.removesuffix("\n")


# ------------------------------------------------------------------ answer


_SKIP = ("arguments", "input")
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def restore_value(value: Any) -> bool:
    """CPA's ``restoreCodexCollaborationValue``, in place: whether anything changed."""
    changed = False
    if isinstance(value, list):
        for item in value:
            changed = restore_value(item) or changed
    elif isinstance(value, dict):
        kind = _kind(value)
        call = kind in ("function_call", "custom_tool_call")
        if call and value.get("namespace") == _OPTIMIZED:
            value["namespace"] = _NAMESPACE
            changed = True
        name = value.get("name")
        if isinstance(name, str):
            if name == _OPTIMIZED and kind == "namespace":
                value["name"] = _NAMESPACE
                changed = True
            elif call and name.startswith(_OPTIMIZED_PREFIX):
                value["name"] = _NAMESPACE + "__" + name[len(_OPTIMIZED_PREFIX) :]
                changed = True
        for key, child in value.items():
            if key in _SKIP or (key == "output" and kind in _OUTPUT_TYPES):
                continue
            changed = restore_value(child) or changed
    return changed


class Restore:
    """The answer to an optimized request with ``collaboration`` back: a whole JSON body,
    or a run of SSE lines (each ``data:`` line's JSON)."""

    __slots__ = ("then",)

    def __init__(self, then: Callable[[bytes], bytes] | None = None) -> None:
        self.then = then  # another rewrite of the same answer, applied first

    def __call__(self, data: bytes) -> bytes:
        if self.then is not None:
            data = self.then(data)
        if data.find(_OPTIMIZED_BYTES) < 0:
            return data
        if data.lstrip()[:1] in (b"{", b"["):
            return _restore_json(data)
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(b"data:") and line.find(_OPTIMIZED_BYTES) >= 0:
                payload = line[5:].strip()
                lines[i] = b"data: " + _restore_json(payload)
        return b"\n".join(lines)


def _restore_json(raw: bytes) -> bytes:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    return orjson.dumps(value) if restore_value(value) else raw
