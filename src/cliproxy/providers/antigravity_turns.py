"""Tool-result turns as Antigravity's Gemini models take them (CPA
``normalizeAntigravityGeminiFunctionResponseRoles`` and
``repairAntigravityGeminiFunctionResponseNames``).

For a Gemini model behind Antigravity (not a Claude one), before the request goes:

* a ``functionResponse`` with an id and no name (or ``"unknown"``) takes the name of the
  ``functionCall`` with that id;
* a turn that holds only ``functionResponse`` parts goes with the role ``model``, as the
  backend pairs them, and when it answers the calls of the turn right before it (as many
  responses as calls, each call matched by id, or by name when the call has none) its
  responses are put in the calls' order: a client that sent parallel results in another
  order would otherwise see them paired with the wrong calls.

Contents and parts that change are new objects: the client's request is never edited.
"""

from __future__ import annotations

from typing import Any

__all__ = ["applies_to", "normalize_response_turns"]


def applies_to(model: str) -> bool:
    """The Gemini-family models CPA normalizes for (its reasoning-replay model test)."""
    name = model.lower()
    return "claude" not in name and ("gemini" in name or "flash" in name or "agent" in name)


def normalize_response_turns(body: dict[str, Any]) -> None:
    contents = body.get("contents")
    if not isinstance(contents, list):
        return
    names = _call_names(contents)
    out: list[Any] = []
    changed = False
    pending: list[tuple[str, str]] | None = None  # the calls of the turn just before
    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            pending = None
            out.append(content)
            continue
        calls, responses, other = _kinds(parts)
        if calls and not responses:  # a call turn: what the next turn may answer
            pending = calls
            out.append(content)
            continue
        if not responses or other or calls:  # text, media, or a mixed turn: left as it is
            pending = None
            out.append(content)
            continue
        new_parts = _named(parts, names)
        ordered = _in_call_order(new_parts, pending) if pending is not None else None
        if ordered is not None:
            new_parts = ordered
        pending = None
        if new_parts is not parts or content.get("role") != "model":
            content = {**content, "parts": new_parts, "role": "model"}
            changed = True
        out.append(content)
    if changed:
        body["contents"] = out


def _call_names(contents: list[Any]) -> dict[str, str]:
    """Call id -> name, over every call of the history."""
    names: dict[str, str] = {}
    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            fc = part.get("functionCall") if isinstance(part, dict) else None
            if isinstance(fc, dict):
                call_id, name = _text(fc.get("id")), _text(fc.get("name"))
                if call_id and name and name != "unknown":
                    names[call_id] = name
    return names


def _kinds(parts: list[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    """The (id, name) of a turn's calls and responses, and whether it holds anything else."""
    calls: list[tuple[str, str]] = []
    responses: list[tuple[str, str]] = []
    other = False
    for part in parts:
        if isinstance(part, dict) and isinstance(fc := part.get("functionCall"), dict):
            calls.append((_text(fc.get("id")), _text(fc.get("name"))))
        elif isinstance(part, dict) and isinstance(fr := part.get("functionResponse"), dict):
            responses.append((_text(fr.get("id")), _text(fr.get("name"))))
        else:
            other = True
    return calls, responses, other


def _named(parts: list[Any], names: dict[str, str]) -> list[Any]:
    """``parts`` with each nameless response named after its call (the same list when none is)."""
    if not names:
        return parts
    out: list[Any] | None = None
    for i, part in enumerate(parts):
        fr = part["functionResponse"]
        call_id, name = _text(fr.get("id")), _text(fr.get("name"))
        if call_id and name in ("", "unknown") and call_id in names:
            if out is None:
                out = list(parts)
            out[i] = {**part, "functionResponse": {**fr, "name": names[call_id]}}
    return parts if out is None else out


def _in_call_order(parts: list[Any], calls: list[tuple[str, str]]) -> list[Any] | None:
    """``parts`` (responses only) in the order of ``calls``, or None when they do not
    answer exactly those calls (or already are in that order)."""
    if len(calls) != len(parts):
        return None
    keys = [(_text(p["functionResponse"].get("id")), _text(p["functionResponse"].get("name"))) for p in parts]
    used = [False] * len(parts)
    ordered: list[Any] = []
    for call_id, call_name in calls:
        for i, (resp_id, resp_name) in enumerate(keys):
            if used[i]:
                continue
            if (call_id and resp_id == call_id) or (not call_id and call_name and resp_name == call_name):
                used[i] = True
                ordered.append(parts[i])
                break
        else:
            return None
    if all(a is b for a, b in zip(ordered, parts, strict=True)):
        return None
    return ordered


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
