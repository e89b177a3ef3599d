"""Prompt-cache breakpoints of an upstream Claude request, as CPA places and settles them.

- :func:`ensure`: CPA's ``ensureCacheControl``, the breakpoints Claude Code's own request
  builder places, for requests whose placement the proxy owns (every caller but a real
  Claude Code, see :func:`owns_placement`): the last system block when no system block has
  a mark (a string system becomes one marked text block); the last tool that is not
  ``defer_loading``, only when there is no usable system prompt (none, ``[]`` or blank) and
  no tool has a mark; the rolling message mark on the last user/assistant turn that can
  host one (an assistant turn ending in thinking cannot), unless that turn already has a
  mark, or on a final ``role: system`` turn with string content. New marks are
  ``{"type": "ephemeral"}`` (no ``ttl``: Claude Code's default shape).
- :func:`enforce_limit`: Anthropic takes at most 4 ``cache_control`` marks a request
  (cloaking adds its own to the caller's). Excess marks go in order of least value:
  system marks earliest-first but the last, tool marks earliest-first but the last, message
  marks earliest-first, then the last system mark, then the last tool mark.
- :func:`upgrade_ttl`: a request of a Claude Code credential (OAuth, or
  ``fingerprint-profile: claude-code-cli``) whose placement the proxy owns uses the 1h
  cache pool, paired with the ``extended-cache-ttl`` beta: every mark without a ``ttl``
  gets ``"1h"``; a ttl the caller wrote survives. No mark is created.
- :func:`normalize_ttl`: in evaluation order (tools, system, messages) a 1h mark may not
  follow a 5m one: such marks lose their ``ttl``.

All work on the request dict the provider owns; nested lists and blocks may be shared
with the client's request (the pipeline copies objects, not arrays), so every nested
change is copy-on-write along its path.
"""

from __future__ import annotations

from typing import Any

from cliproxy.providers.cow import CopyOnWrite, Path

__all__ = [
    "MAX_BREAKPOINTS",
    "count_marks",
    "enforce_limit",
    "ensure",
    "normalize_ttl",
    "owns_placement",
    "settle",
    "settle_unmarked",
    "upgrade_ttl",
]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

MAX_BREAKPOINTS = 4


_TOOLS, _SYSTEM, _MESSAGES = 0, 1, 2
_Mark = tuple[int, Path]  # (section, path of the marked block)


def _marks(body: dict[str, Any]) -> list[_Mark]:
    """The marked blocks in Anthropic's evaluation order: tools, system, messages (one
    plain pass: most blocks carry no mark)."""
    out: list[_Mark] = []
    blocks = body.get("tools")  # (the two sections written out: no loop over them)
    if type(blocks) is list:
        _section_marks(out, _TOOLS, "tools", blocks)
    blocks = body.get("system")
    if type(blocks) is list:
        _section_marks(out, _SYSTEM, "system", blocks)
    messages = body.get("messages")
    if type(messages) is list:
        for m, msg in enumerate(messages):
            content = msg.get("content") if type(msg) is dict else None
            if type(content) is list:
                for b in content:  # no enumerate: a mark is rare, its index found when met
                    if type(b) is dict and "cache_control" in b:
                        out += _marked(m, content)
                        break
    return out


def _section_marks(out: list[_Mark], section: int, key: str, blocks: list[Any]) -> None:
    """The marked blocks of the tools or the system blocks, appended to ``out``."""
    for i, b in enumerate(blocks):
        if type(b) is dict and "cache_control" in b:
            out.append((section, (key, i)))


def _marked(m: int, content: list[Any]) -> list[_Mark]:
    """The marked blocks of message ``m``'s content."""
    return [
        (_MESSAGES, ("messages", m, "content", c))
        for c, b in enumerate(content)
        if type(b) is dict and "cache_control" in b
    ]


def count_marks(body: dict[str, Any]) -> int:
    """``cache_control`` marks on tools, system blocks and message content blocks."""
    return len(_marks(body))


def owns_placement(body: dict[str, Any], *, cloaked: bool, confirmed: bool) -> bool:
    """CPA's ``shouldEnsureCacheControl``: never for a real Claude Code (its placement is
    its own); always for a cloaked request; else only when the caller placed no mark."""
    return not confirmed and (cloaked or count_marks(body) == 0)


# ------------------------------------------------------------------ placement


def _text_block(text: str, ttl: str = "") -> dict[str, Any]:
    mark = {"type": "ephemeral", "ttl": ttl} if ttl else {"type": "ephemeral"}
    return {"type": "text", "text": text, "cache_control": mark}


def _go_bool(value: Any) -> bool:
    """gjson's ``Bool()``: true, a non-zero number, or a string strconv.ParseBool accepts."""
    if isinstance(value, bool):
        return value
    if isinstance(value, _NUMBERS):
        return value != 0
    return isinstance(value, str) and value in ("1", "t", "T", "TRUE", "true", "True")


# Each placement step writes at most one mark, on its own top-level key: it copies the
# list and the dicts on the way to that mark (they may be the client's), once.


def _marked_copy(block: dict[str, Any], ttl: str) -> dict[str, Any]:
    out = block.copy()
    out["cache_control"] = {"type": "ephemeral", "ttl": ttl} if ttl else {"type": "ephemeral"}
    return out


def _mark_tools(body: dict[str, Any], ttl: str) -> None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return
    last = -1
    for i, tool in enumerate(tools):
        if isinstance(tool, dict) and "cache_control" in tool:
            return
        if not (isinstance(tool, dict) and _go_bool(tool.get("defer_loading"))):
            last = i
    if last >= 0 and isinstance(tools[last], dict):
        tools = body["tools"] = tools.copy()
        tools[last] = _marked_copy(tools[last], ttl)


def _mark_system(body: dict[str, Any], system: list[Any], ttl: str) -> None:
    """The last block of a non-empty system list, unless a block has a mark."""
    for b in system:
        if isinstance(b, dict) and "cache_control" in b:
            return
    if isinstance(system[-1], dict):
        system = body["system"] = system.copy()
        system[-1] = _marked_copy(system[-1], ttl)


def _rolling_host(msg: dict[str, Any]) -> bool:
    """Whether Claude Code's rolling selector could put its mark on this turn."""
    content = msg.get("content")
    if isinstance(content, str):
        return True
    if not isinstance(content, list) or not content:
        return False
    if msg.get("role") != "assistant":
        return True
    last = content[-1]
    kind = last.get("type") if isinstance(last, dict) else None
    return kind not in ("thinking", "redacted_thinking")


_ROLLING_ROLES = ("user", "assistant")


def _mark_messages(body: dict[str, Any], ttl: str) -> None:
    """The rolling mark: on the last turn that can host one (see :func:`_rolling_host`),
    unless it has a mark, or on a final system turn with text after that turn."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return
    last = len(messages) - 1
    target = last
    while target >= 0:  # the last turn that can hold the mark (_rolling_host, inline)
        msg = messages[target]
        if type(msg) is dict and msg.get("role") in _ROLLING_ROLES:
            content = msg.get("content")
            if type(content) is str or isinstance(content, str):
                break
            if (
                isinstance(content, list)
                and content
                and (msg.get("role") != "assistant" or _rolling_host(msg))
            ):
                break
        target -= 1
    else:  # no turn can
        return
    if target < last:  # Claude Code's final-system special case
        final = messages[-1]
        if isinstance(final, dict) and final.get("role") == "system":
            text = final.get("content")
            if isinstance(text, str) and text.strip():
                messages = body["messages"] = messages.copy()
                messages[-1] = {**final, "content": [_text_block(text, ttl)]}
                return
    if isinstance(content, str):
        messages = body["messages"] = messages.copy()
        messages[target] = {**msg, "content": [_text_block(content, ttl)]}
        return
    for b in content:
        if isinstance(b, dict) and "cache_control" in b:
            return
    if isinstance(content[-1], dict):
        content = content.copy()
        content[-1] = _marked_copy(content[-1], ttl)
        messages = body["messages"] = messages.copy()
        messages[target] = {**msg, "content": content}


def _place(body: dict[str, Any], ttl: str = "") -> None:
    """CPA's ``ensureCacheControl`` (section by section, so a mark cloaking put on the
    first user turn does not stop the system or the rolling message mark); new marks
    carry ``ttl`` when given. Only a usable system prompt (a non-blank string, a non-empty
    list) spares the tools their mark; a string one becomes one marked text block."""
    system = body.get("system")
    if type(system) is str or isinstance(system, str):
        if system.strip():
            body["system"] = [_text_block(system, ttl)]
        else:
            _mark_tools(body, ttl)
    elif isinstance(system, list) and system:
        _mark_system(body, system, ttl)
    else:
        _mark_tools(body, ttl)
    _mark_messages(body, ttl)


def ensure(body: dict[str, Any]) -> None:
    """CPA's ``ensureCacheControl``: see :func:`_place`."""
    _place(body)


# ------------------------------------------------------------------ limit and ttl


def _enforce(body: dict[str, Any], marks: list[_Mark], cow: CopyOnWrite, limit: int) -> list[_Mark]:
    excess = len(marks) - limit
    if excess <= 0:
        return marks
    tools = [m for m in marks if m[0] == _TOOLS]
    system = [m for m in marks if m[0] == _SYSTEM]
    messages = [m for m in marks if m[0] == _MESSAGES]
    dropped: set[Path] = set()
    for group in (system[:-1], tools[:-1], messages, system[-1:], tools[-1:]):
        for _, path in group:
            if excess <= 0:
                break
            del cow.at(path)["cache_control"]
            dropped.add(path)
            excess -= 1
    return [m for m in marks if m[1] not in dropped]


def _upgrade(body: dict[str, Any], marks: list[_Mark], cow: CopyOnWrite, ttl: str) -> None:
    for _, path in marks:
        mark = _get(body, path)["cache_control"]
        if isinstance(mark, dict) and "ttl" not in mark and isinstance(mark.get("type"), str):
            # Claude Code's key order: type, ttl, then any scope
            cow.at(path)["cache_control"] = {"type": mark["type"], "ttl": ttl, **mark}


def _normalize(body: dict[str, Any], marks: list[_Mark], cow: CopyOnWrite) -> None:
    seen_short = False
    for _, path in marks:
        mark = _get(body, path)["cache_control"]
        if not isinstance(mark, dict) or mark.get("ttl") != "1h":
            seen_short = True
        elif seen_short:
            cow.at(path)["cache_control"] = {k: v for k, v in mark.items() if k != "ttl"}


def _get(body: dict[str, Any], path: Path) -> Any:
    node: Any = body
    for step in path:
        node = node[step]
    return node


def enforce_limit(body: dict[str, Any], limit: int = MAX_BREAKPOINTS) -> None:
    _enforce(body, _marks(body), CopyOnWrite(body), limit)


def upgrade_ttl(body: dict[str, Any], ttl: str = "1h") -> None:
    if ttl:
        _upgrade(body, _marks(body), CopyOnWrite(body), ttl)


def normalize_ttl(body: dict[str, Any]) -> None:
    _normalize(body, _marks(body), CopyOnWrite(body))


def settle(body: dict[str, Any], *, place: bool = False, one_hour: bool = False) -> None:
    """CPA's steps in its order, on a body about to be sent: placement (``place``: the
    proxy owns it), the limit, the 1h pool (``one_hour``, only with placement), ttl order."""
    if place:
        _place(body)
    marks = _marks(body)
    if not marks:
        return
    cow = CopyOnWrite(body)
    marks = _enforce(body, marks, cow, MAX_BREAKPOINTS)
    if place and one_hour:
        _upgrade(body, marks, cow, "1h")
    _normalize(body, marks, cow)


def settle_unmarked(body: dict[str, Any], *, one_hour: bool = False) -> None:
    """``settle(body, place=count_marks(body) == 0, one_hour=one_hour)`` in one walk: CPA's
    placement for a caller that placed no mark (its at most three new marks are within the
    limit and share one ttl, so nothing else applies), else the caller's own marks settled."""
    marks = _marks(body)
    if not marks:
        _place(body, "1h" if one_hour else "")
        return
    cow = CopyOnWrite(body)
    _normalize(body, _enforce(body, marks, cow, MAX_BREAKPOINTS), cow)
