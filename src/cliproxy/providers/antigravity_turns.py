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

Before all of it, for every Antigravity model, :func:`camel_parts` writes the parts a
Gemini REST client spelled in snake_case (``function_response``, ``thought_signature``...)
in camelCase, so that what reads the history here and in the reasoning replay sees them.

Contents and parts that change are new objects: the client's request is never edited.
"""

from __future__ import annotations

from typing import Any

__all__ = ["applies_to", "camel_parts", "normalize_response_turns"]

# a part's own snake_case members, in camelCase (the REST API takes either spelling)
_PART_KEYS = {
    "function_call": "functionCall",
    "function_response": "functionResponse",
    "thought_signature": "thoughtSignature",
    "inline_data": "inlineData",
    "file_data": "fileData",
    "executable_code": "executableCode",
    "code_execution_result": "codeExecutionResult",
    "video_metadata": "videoMetadata",
}
# the members of inline and file data (and of a response's own media parts)
_MEDIA_KEYS = {"mime_type": "mimeType", "file_uri": "fileUri", "display_name": "displayName"}


def applies_to(model: str) -> bool:
    """The Gemini-family models CPA normalizes for (its reasoning-replay model test)."""
    name = model.lower()
    return "claude" not in name and ("gemini" in name or "flash" in name or "agent" in name)


def camel_parts(body: dict[str, Any]) -> None:
    """The parts of ``body["contents"]`` with their snake_case members in camelCase: a
    part's kind and signature, the members of its inline or file data, and the media
    parts inside a ``functionResponse`` (a call's ``args`` and a response's ``response``
    are the client's data and stay as they are; ``extra_content`` too). A part holding
    both spellings keeps the camelCase one. Deliberate difference: CPA reads these parts
    in camelCase only (the signature in both), so its replay restores nothing for a
    snake_case ``function_response`` and its pairing check refuses one that answers a
    camelCase call."""
    contents = body.get("contents")
    if not isinstance(contents, list):
        return
    out: list[Any] | None = None
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            continue
        new_parts: list[Any] | None = None
        for j, part in enumerate(parts):
            camel = _camel_part(part)
            if camel is not part:
                new_parts = new_parts if new_parts is not None else list(parts)
                new_parts[j] = camel
        if new_parts is not None:
            out = out if out is not None else list(contents)
            out[i] = {**content, "parts": new_parts}
    if out is not None:
        body["contents"] = out


def _camel_part(part: Any) -> Any:
    """``part`` in camelCase (a new dict), or ``part`` itself when nothing is snake_case."""
    if not isinstance(part, dict):
        return part
    out: dict[str, Any] | None = None
    for key, value in part.items():
        name: str = _PART_KEYS.get(key) or key
        if name in ("inlineData", "fileData") and isinstance(value, dict):
            new = _camel_keys(value, _MEDIA_KEYS)
        elif name == "functionResponse" and isinstance(value, dict):
            new = _camel_response(value)
        else:
            new = value
        if name == key and new is value:
            continue
        if out is None:
            out = dict(part)
        if name != key:
            del out[key]
            if name in part:
                continue  # both spellings: the camelCase one stays
        out[name] = new
    return part if out is None else out


def _camel_response(response: dict[str, Any]) -> dict[str, Any]:
    """A ``functionResponse`` with ``will_continue`` and its media parts in camelCase."""
    out = _camel_keys(response, {"will_continue": "willContinue"})
    media = out.get("parts")
    if isinstance(media, list):
        camel = [_camel_part(p) for p in media]
        if any(a is not b for a, b in zip(camel, media, strict=True)):
            out = {**out, "parts": camel}
    return out


def _camel_keys(value: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    """``value`` with the members named in ``keys`` renamed (itself when none is there)."""
    if not any(key in keys for key in value):
        return value
    return {keys.get(k, k): v for k, v in value.items() if not (k in keys and keys[k] in value)}


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
