"""Function names of a Gemini body on its way to Antigravity, and back in its answer (CPA's
``ConvertGeminiRequestToAntigravity`` and ``restoreGeminiFunctionNames``).

Cloud Code refuses a function declared twice and a name Gemini does not accept. A Gemini
client's body reaches :meth:`AntigravityProvider.build` as the client sent it, so
:func:`rename_tools` gives it the names of :func:`cliproxy.translate.gemini.names.disambiguated`
(CPA's rules: sanitized, and told apart with a hash when two sanitize alike) in:

* the declarations of every ``tools`` entry, ``functionDeclarations`` and
  ``function_declarations``; a name declared before, in this entry or an earlier one, is
  dropped (the first declaration wins), a declaration list left empty goes, then an entry
  left empty, then an empty ``tools`` list;
* the ``functionCall`` / ``functionResponse`` parts of the history (and their snake_case
  spellings): a declared tool's name as declared, any other name sanitized;
* ``toolConfig.functionCallingConfig.allowedFunctionNames`` (and its snake_case spelling).

Another format's body was written through the IR with the same names already
(:class:`~cliproxy.translate.gemini.names.NameMap`), so it comes out unchanged.

The answer gets its names back through :class:`ToolNames` (a renamed declaration's
``functionCall`` name in ``candidates[].content.parts[]``, whole and streamed), made from
this request's declarations only. Nothing here edits what the client sent: a changed
list or object is a new one.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.translate.gemini.names import disambiguated, sanitize

__all__ = ["ToolNames", "rename_tools"]

DECLARATIONS = ("functionDeclarations", "function_declarations")
PART_FIELDS = ("functionCall", "functionResponse", "function_call", "function_response")
ALLOWED = (
    ("toolConfig", "functionCallingConfig", "allowedFunctionNames"),
    ("tool_config", "function_calling_config", "allowed_function_names"),
)
_PART_FIELDS = frozenset(PART_FIELDS)
_FUNCTION = b'"function'  # the start of every key in PART_FIELDS


class ToolNames:
    """Sent name -> the client's name, for the declarations :func:`rename_tools` renamed;
    its two methods are an ``UpstreamRequest``'s ``rewrite_body`` and ``rewrite_chunk``."""

    __slots__ = ("back",)

    def __init__(self, back: dict[str, str]) -> None:
        self.back = back

    def restore_body(self, data: bytes) -> bytes:
        """A whole (unwrapped) answer with the client's names."""
        if data.find(_FUNCTION) < 0:
            return data
        try:
            answer = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        return orjson.dumps(answer) if self._restore(answer) else data

    def restore_lines(self, data: bytes) -> bytes:
        """Whole SSE lines of a streamed (unwrapped) answer with the client's names."""
        if data.find(_FUNCTION) < 0:
            return data
        lines = data.split(b"\n")
        changed = False
        for i, line in enumerate(lines):
            if not line.startswith(b"data:") or line.find(_FUNCTION) < 0:
                continue
            try:
                chunk = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if self._restore(chunk):
                lines[i] = b"data: " + orjson.dumps(chunk)
                changed = True
        return b"\n".join(lines) if changed else data

    def _restore(self, answer: Any) -> bool:
        """Restore names in ``answer`` (a freshly parsed object, changed in place)."""
        candidates = answer.get("candidates") if type(answer) is dict else None
        if type(candidates) is not list:
            return False
        back = self.back
        changed = False
        for candidate in candidates:
            content = candidate.get("content") if type(candidate) is dict else None
            parts = content.get("parts") if type(content) is dict else None
            if type(parts) is not list:
                continue
            for part in parts:
                if type(part) is not dict:
                    continue
                for field in PART_FIELDS:
                    inner = part.get(field)
                    name = inner.get("name") if type(inner) is dict else None
                    if type(name) is str and name in back:
                        inner["name"] = back[name]  # type: ignore[index]
                        changed = True
        return changed


def rename_tools(body: dict[str, Any]) -> ToolNames | None:
    """Rename the functions of ``body`` (a Gemini request, the attempt's own: its lists
    are replaced where they change, never edited) as the module docstring says; the way
    back, or ``None`` when no declaration was renamed."""
    tools = body.get("tools")
    forward: dict[str, str] = {}
    if type(tools) is list:
        forward = disambiguated(_declared(tools))
        _dedupe(body, tools, forward)
    contents = body.get("contents")
    if type(contents) is list:
        renamed = _renamed_contents(contents, forward)
        if renamed is not None:
            body["contents"] = renamed
    for outer, inner, key in ALLOWED:
        _rename_allowed(body, outer, inner, key, forward)
    back = {sent: name for name, sent in forward.items() if sent != name}
    return ToolNames(back) if back else None


def _declared(tools: list[Any]) -> list[str]:
    names: list[str] = []
    for tool in tools:
        if type(tool) is not dict:
            continue
        for key in DECLARATIONS:
            decls = tool.get(key)
            if type(decls) is list:
                names.extend(
                    d["name"] for d in decls if type(d) is dict and type(d.get("name")) is str and d["name"]
                )
    return names


def _sent(name: str, forward: dict[str, str]) -> str:
    return forward.get(name) or sanitize(name)


def _dedupe(body: dict[str, Any], tools: list[Any], forward: dict[str, str]) -> None:
    """Declarations renamed, repeats dropped across all entries, empty lists and entries
    dropped (CPA's ``removeEmptyGeminiFunctionTools``)."""
    seen: set[str] = set()
    out: list[Any] = []
    changed = False
    for tool in tools:
        if type(tool) is not dict:
            out.append(tool)
            continue
        new: dict[str, Any] | None = None
        for key in DECLARATIONS:
            decls = tool.get(key)
            if type(decls) is not list:
                continue
            kept = _kept(decls, forward, seen)
            if kept is not decls or not kept:
                if new is None:
                    new = dict(tool)
                if kept:
                    new[key] = kept
                else:
                    del new[key]
        if new is None:
            if not tool:  # an empty entry goes too (CPA)
                changed = True
                continue
            out.append(tool)
            continue
        changed = True
        if new:
            out.append(new)
    if not out:
        del body["tools"]
    elif changed:
        body["tools"] = out


def _kept(decls: list[Any], forward: dict[str, str], seen: set[str]) -> list[Any]:
    """``decls`` renamed, without names in ``seen`` (which gets theirs); the same list
    when nothing changed."""
    kept: list[Any] = []
    changed = False
    for decl in decls:
        name = decl.get("name") if type(decl) is dict else None
        if type(name) is str and name:
            sent = _sent(name, forward)
            if sent in seen:
                changed = True
                continue
            seen.add(sent)
            if sent != name:
                decl = {**decl, "name": sent}
                changed = True
        kept.append(decl)
    return kept if changed else decls


def _renamed_contents(contents: list[Any], forward: dict[str, str]) -> list[Any] | None:
    """``contents`` with the history's function names sent as declared (sanitized when
    undeclared): a new list, or ``None`` when no name changes."""
    out: list[Any] | None = None
    fields = _PART_FIELDS
    for i, content in enumerate(contents):
        parts = content.get("parts") if type(content) is dict else None
        if type(parts) is not list:
            continue
        new_parts: list[Any] | None = None
        for j, part in enumerate(parts):
            if type(part) is not dict:
                continue
            for field, inner in part.items():  # (a part has a key or two: fewer lookups than 4 gets)
                if field not in fields or type(inner) is not dict:
                    continue
                name = inner.get("name")
                if type(name) is not str or not name:
                    continue
                sent = forward.get(name) or sanitize(name)
                if sent == name:
                    continue
                if new_parts is None:
                    new_parts = list(parts)
                new_parts[j] = {**(new_parts[j]), field: {**inner, "name": sent}}
        if new_parts is not None:
            if out is None:
                out = list(contents)
            out[i] = {**content, "parts": new_parts}
    return out


def _rename_allowed(body: dict[str, Any], outer: str, inner: str, key: str, forward: dict[str, str]) -> None:
    config = body.get(outer)
    calling = config.get(inner) if type(config) is dict else None
    allowed = calling.get(key) if type(calling) is dict else None
    if type(allowed) is not list:
        return
    sent = [_sent(n, forward) if type(n) is str and n else n for n in allowed]
    if sent != allowed:
        body[outer] = {**config, inner: {**calling, key: sent}}  # type: ignore[dict-item]
