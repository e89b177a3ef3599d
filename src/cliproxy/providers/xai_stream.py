"""xAI's answer made what the client asked for, as CPA's xAI executor does.

Two repairs, both for a request :func:`~cliproxy.providers.xai_request.shape` changed:

- a call of a namespaced tool comes back under its flat name (``mcp__exa__search``): it
  gets its ``name`` and ``namespace`` back;
- with the native ``x_search`` tool, xAI runs its X Search subtools (``x_user_search``,
  ``x_semantic_search``, ``x_keyword_search``, ``x_thread_fetch``) itself but streams
  their trace as client tool calls: a client would run them again. Those items and every
  event about them are dropped, ``output_index`` of the later events closes the gap, and
  ``response.completed``'s output leaves them out. A call of a tool the client declared
  under the same name stays, unless its ``call_id`` is X Search's (``xs_call...``).

:class:`XAIStream` is a chunk rewriter (``UpstreamRequest.rewrite_chunk``): it gets whole
SSE lines, holds an ``event:`` line until its ``data:`` line tells whether the event stays,
and drops the blank line after a dropped event.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.providers.xai_request import ClientTool, ResponsePlan

__all__ = ["X_SEARCH_TOOLS", "XAIStream", "is_x_search_trace", "summarized"]

X_SEARCH_TOOLS = frozenset({"x_user_search", "x_semantic_search", "x_keyword_search", "x_thread_fetch"})
_CALL_KINDS = {"function_call": "function", "custom_tool_call": "custom"}


def is_x_search_trace(item: Any, client_tools: frozenset[ClientTool] = frozenset()) -> bool:
    """Whether an output item is X Search's own subtool call, not one for the client."""
    if not isinstance(item, dict):
        return False
    kind = _CALL_KINDS.get(str(item.get("type", "")).strip())
    name = str(item.get("name", "")).strip()
    if kind is None or name not in X_SEARCH_TOOLS or str(item.get("namespace") or "").strip():
        return False  # a namespaced call is always the client's
    if str(item.get("call_id", "")).strip().startswith("xs_call"):
        return True
    return ("", name, kind) not in client_tools


class XAIStream:
    """The rewrite of one xAI stream for its :class:`ResponsePlan`."""

    __slots__ = ("dropped_ids", "dropped_indexes", "event", "plan", "skip_blank")

    def __init__(self, plan: ResponsePlan) -> None:
        self.plan = plan
        self.event: bytes | None = None  # an ``event:`` line waiting for its data
        self.skip_blank = False
        self.dropped_indexes: set[int] = set()
        self.dropped_ids: set[str] = set()

    def __call__(self, lines: bytes) -> bytes:
        body, sep, rest = lines.rpartition(b"\n")
        if not sep:
            return lines
        out: list[bytes] = []
        for line in body.split(b"\n"):
            self._line(line.rstrip(b"\r"), out)
        return b"".join(out) + rest

    def _line(self, line: bytes, out: list[bytes]) -> None:
        if line.startswith(b"event:"):
            self._flush(out)
            self.event = line
            return
        if line.startswith(b"data:"):
            data = self.data(line[5:].strip())
            if data is None:
                self.event, self.skip_blank = None, True
                return
            self._flush(out)
            out.append(b"data: " + data + b"\n")
            return
        if not line and self.skip_blank:
            self.skip_blank = False
            return
        self._flush(out)
        out.append(line + b"\n")

    def _flush(self, out: list[bytes]) -> None:
        if self.event is not None:
            out.append(self.event + b"\n")
            self.event = None

    def data(self, data: bytes) -> bytes | None:
        """One event's payload as the client gets it; ``None``: the event is dropped."""
        if not data.startswith(b"{"):
            return data
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        if not isinstance(event, dict):
            return data
        changed = self._restore(event)
        if self.plan.x_search:
            if is_x_search_trace(event.get("item"), self.plan.client_tools):
                self._drop(event)
                return None
            if self._references_dropped(event):
                return None
            changed = self._filter_output(event) or changed
            changed = self._close_gap(event) or changed
        return orjson.dumps(event) if changed else data

    def _restore(self, event: dict[str, Any]) -> bool:
        if not self.plan.names:
            return False
        changed = _restore_item(event.get("item"), self.plan.names)
        response = event.get("response")
        output = response.get("output") if isinstance(response, dict) else None
        for item in output if isinstance(output, list) else ():
            changed = _restore_item(item, self.plan.names) or changed
        return changed

    def _drop(self, event: dict[str, Any]) -> None:
        index = event.get("output_index")
        if type(index) is int:
            self.dropped_indexes.add(index)
        item = event["item"]
        for key in ("id", "call_id"):
            value = str(item.get(key) or "").strip()
            if value:
                self.dropped_ids.add(value)

    def _references_dropped(self, event: dict[str, Any]) -> bool:
        if event.get("output_index") in self.dropped_indexes:
            return True
        return any(str(event.get(key) or "").strip() in self.dropped_ids for key in ("item_id", "call_id"))

    def _filter_output(self, event: dict[str, Any]) -> bool:
        response = event.get("response")
        output = response.get("output") if isinstance(response, dict) else None
        if not isinstance(output, list):
            return False
        kept = [item for item in output if not is_x_search_trace(item, self.plan.client_tools)]
        if len(kept) == len(output):
            return False
        response["output"] = kept  # type: ignore[index]
        return True

    def _close_gap(self, event: dict[str, Any]) -> bool:
        index = event.get("output_index")
        if type(index) is not int or not self.dropped_indexes:
            return False
        before = sum(1 for dropped in self.dropped_indexes if dropped < index)
        if before:
            event["output_index"] = index - before
        return bool(before)


def summarized(output: list[Any]) -> bool:
    """Each reasoning item of a ``response.completed`` output with Grok's raw reasoning
    text (``content`` parts of type ``reasoning_text``) as its ``summary`` of
    ``summary_text`` parts, the ``content`` gone, and any ``reasoning_text`` summary part
    retyped (CPA ``xaiNormalizeReasoningOutputItem``): the shape a Responses client reads
    (the Codex CLI shows summaries only). True when an item changed."""
    changed = False
    for item in output:
        if type(item) is dict and item.get("type") == "reasoning":
            changed = _summarized(item) or changed
    return changed


def _summarized(item: dict[str, Any]) -> bool:
    changed = False
    summary = item.get("summary")
    if type(summary) is list:
        for i, part in enumerate(summary):
            if type(part) is dict and part.get("type") == "reasoning_text":
                summary[i] = {**part, "type": "summary_text"}
                changed = True
    content = item.get("content")
    if type(content) is not list:
        return changed
    texts = [p for p in content if type(p) is dict and p.get("type") == "reasoning_text"]
    if not texts:
        return changed
    item["summary"] = [{**p, "type": "summary_text"} for p in texts]
    del item["content"]
    return True


def _restore_item(item: Any, names: dict[str, tuple[str, str]]) -> bool:
    if not isinstance(item, dict) or item.get("type") != "function_call":
        return False
    ref = names.get(str(item.get("name", "")).strip())
    if ref is None:
        return False
    item["namespace"], item["name"] = ref
    return True
