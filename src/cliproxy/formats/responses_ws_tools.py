"""Tool-call repair on the Responses WebSocket (CPA ``repairResponsesWebsocketToolCalls``).

The Responses API refuses a transcript where a tool call (``function_call``,
``custom_tool_call``) has no output, or an output has no call. A client socket's earlier
turns saw both halves: the calls the upstream made, the outputs the client sent. A
:class:`ToolLedger` keeps them (by ``call_id``, the newest :data:`LEDGER_SIZE` of each),
and :func:`repair` mends the next request with them before it goes upstream:

- an output whose call is missing gets the call it answers put back just before it;
  with no such call known, the output is dropped;
- a call whose output is missing gets the known output put right after it; with none
  known, the call is dropped;
- a call or output without a ``call_id`` is dropped;
- items repeated under one ``id`` are kept once (:func:`dedupe_items`).

A request that names a ``previous_response_id`` keeps its lone calls and outputs: the
upstream holds the other halves. What a turn adds to the ledger (its input's calls and
outputs, the complete tool calls of its response) is collected on a ledger of its own
and merged into the socket's with :meth:`ToolLedger.merge` only when the turn completed,
so a failed turn teaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cliproxy.formats.openai_responses import TOOL_CALLS, TOOL_OUTPUTS

__all__ = [
    "LEDGER_SIZE",
    "ToolLedger",
    "dedupe_items",
    "is_complete_call",
    "record_response",
    "repair",
]

LEDGER_SIZE = 256  # per kind and socket, as CPA's per-session cache


@dataclass(slots=True)
class ToolLedger:
    """The tool calls and outputs seen on one socket, by ``call_id``, oldest first."""

    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, item: Any) -> None:
        """Keep a call or an output (anything else, or one without ``call_id``, is ignored);
        a newer one replaces the older under its ``call_id``."""
        kind = _type(item)
        book = self.calls if kind in TOOL_CALLS else self.outputs if kind in TOOL_OUTPUTS else None
        call_id = _call_id(item)
        if book is None or not call_id:
            return
        book.pop(call_id, None)  # (re-inserted: newest last)
        book[call_id] = item
        while len(book) > LEDGER_SIZE:
            del book[next(iter(book))]

    def merge(self, turn: ToolLedger) -> None:
        """Take what a completed turn recorded."""
        for item in turn.outputs.values():
            self.record(item)
        for item in turn.calls.values():
            self.record(item)

    def __bool__(self) -> bool:
        return bool(self.calls or self.outputs)


def repair(request: dict[str, Any], ledger: ToolLedger, turn: ToolLedger | None = None) -> dict[str, Any]:
    """``request`` with its tool calls and outputs paired up from ``ledger`` (see the
    module); ``request`` itself when nothing changes, else a shallow copy with a new
    ``input``. Every call and output of the input is recorded on ``turn`` first."""
    items = request.get("input")
    if not isinstance(items, list):
        return request
    calls: set[str] = set()
    outputs: set[str] = set()
    tooled = False
    for item in items:
        kind = _type(item)
        if kind in TOOL_CALLS or kind in TOOL_OUTPUTS:
            tooled = True
            if turn is not None:
                turn.record(item)
            call_id = _call_id(item)
            if call_id:
                (calls if kind in TOOL_CALLS else outputs).add(call_id)
    keep_lone = bool(str(request.get("previous_response_id") or "").strip())
    if tooled:
        mended = _paired(items, calls, outputs, ledger, keep_lone)
    else:
        mended = items
    mended = dedupe_items(mended)
    if mended is items:
        return request
    return {**request, "input": mended}


def _paired(
    items: list[Any], calls: set[str], outputs: set[str], ledger: ToolLedger, keep_lone: bool
) -> list[Any]:
    out: list[Any] = []
    changed = False
    for item in items:
        kind = _type(item)
        if kind not in TOOL_CALLS and kind not in TOOL_OUTPUTS:
            out.append(item)
            continue
        call_id = _call_id(item)
        if not call_id:  # the upstream refuses it
            changed = True
            continue
        if kind in TOOL_OUTPUTS:
            if call_id in calls or keep_lone:
                out.append(item)
                continue
            known = ledger.calls.get(call_id)
            changed = True
            if known is not None:
                out.extend((known, item))
                calls.add(call_id)
            continue
        if call_id in outputs or keep_lone:
            out.append(item)
            continue
        known = ledger.outputs.get(call_id)
        changed = True
        if known is not None:
            out.extend((item, known))
            outputs.add(call_id)
    return out if changed else items


def record_response(ledger: ToolLedger, output: list[Any]) -> None:
    """Record the complete tool calls among a response's output items."""
    for item in output:
        if is_complete_call(item):
            ledger.record(item)


def is_complete_call(item: Any) -> bool:
    """A tool call the client can run: string ``call_id`` and ``name``, and string
    ``arguments`` (``function_call``) or ``input`` (``custom_tool_call``) (CPA
    ``isCompleteResponsesWebsocketToolCall``)."""
    if not isinstance(item, dict):
        return False
    call_id, name = item.get("call_id"), item.get("name")
    if not (isinstance(call_id, str) and call_id.strip() and isinstance(name, str) and name.strip()):
        return False
    kind = _type(item)
    if kind == "function_call":
        return isinstance(item.get("arguments"), str)
    if kind == "custom_tool_call":
        return isinstance(item.get("input"), str)
    return False


def dedupe_items(items: list[Any]) -> list[Any]:
    """Items repeated under one ``id`` are kept once: the last copy, unless an earlier one
    is a call some tool output answers and the later one is not (CPA); ``items`` itself
    when no ``id`` repeats."""
    ids: set[str] = set()
    repeated = False
    for item in items:
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str) and item_id:
            if item_id in ids:
                repeated = True
                break
            ids.add(item_id)
    if not repeated:
        return items
    answered = {_call_id(i) for i in items if _type(i) in TOOL_OUTPUTS}
    keep: dict[str, tuple[int, bool]] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or not item_id:
            continue
        call_id = _call_id(item)
        referenced = bool(call_id) and call_id in answered
        seen = keep.get(item_id)
        if seen is None or referenced or not seen[1]:
            keep[item_id] = (index, referenced)
    out = []
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str) and item_id and keep[item_id][0] != index:
            continue
        out.append(item)
    return out


def _type(item: Any) -> str:
    return str(item.get("type") or "").strip() if isinstance(item, dict) else ""


def _call_id(item: Any) -> str:
    call_id = item.get("call_id") if isinstance(item, dict) else None
    return call_id.strip() if isinstance(call_id, str) else ""
