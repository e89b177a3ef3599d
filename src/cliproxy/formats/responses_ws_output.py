"""A Responses WebSocket turn's output, reconciled with the events that streamed it (CPA
``forwardResponsesWebsocket``: ``collectResponsesWebsocketOutputItem``,
``restoreResponsesWebsocketCompletionOutput``, ``recordPendingToolCallIDsFromPayload``).

A turn ends with ``response.completed`` (or ``response.done``), whose ``response.output``
the client keeps and the socket's next turn builds on. An upstream may write it out of
step with the ``response.output_item.done`` events it streamed before, so
:meth:`TurnOutput.complete` mends it first:

- an empty or missing ``output`` is filled with the done items, in ``output_index`` order,
  then those without an index as they came; a tool call among them that is not complete
  (:func:`~cliproxy.formats.responses_ws_tools.is_complete_call`) is left out;
- in a non-empty ``output``, a tool call whose ``call_id`` a complete done call also has is
  replaced by that call when the two differ (the stream's item is the one the client ran);
- anything else stays as the upstream wrote it, and so do the event's bytes: only an event
  that changed is serialised again.

What the next turn builds on comes from the same events: the reconciled output (the
transcript of a follow-up), the complete tool calls seen in ``response.output_item.added``
/ ``done`` events and then in that output (the socket's tool ledger, for repair), and the
calls still pending: those calls, less the ones a tool output seen after them answers.
``response.incomplete`` and ``response.failed`` pass untouched (CPA mends only the
completion; such a turn is not built on).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats.openai_responses import TOOL_CALLS, TOOL_OUTPUTS
from cliproxy.formats.responses_ws_tools import is_complete_call

__all__ = ["TurnOutput"]


class TurnOutput:
    """The output items one turn streamed, and the tool calls it left open."""

    __slots__ = ("calls", "done", "loose", "pending")

    def __init__(self) -> None:
        self.done: dict[int, dict[str, Any]] = {}  # output_index -> the item as done
        self.loose: list[dict[str, Any]] = []  # done items without an output_index
        self.calls: list[dict[str, Any]] = []  # complete tool calls seen, oldest first
        self.pending: dict[str, None] = {}  # call ids of those no tool output answered yet

    def see_item(self, event: dict[str, Any], done: bool) -> None:
        """A ``response.output_item.added`` (``done`` False) or ``.done`` event."""
        item = event.get("item")
        if not isinstance(item, dict):
            return
        self._track(item)
        if not done:
            return
        index = event.get("output_index")
        if type(index) is int:
            self.done[index] = item
        else:
            self.loose.append(item)

    def complete(self, data: bytes, event: dict[str, Any]) -> tuple[bytes, list[Any]]:
        """The completion event as the client gets it (``data`` itself unless it was
        mended), and the output the turn is kept with. ``event`` is ``data`` parsed, and is
        changed in place."""
        response = event.get("response")
        if not isinstance(response, dict):
            return data, []
        output = response.get("output")
        if isinstance(output, list) and output:
            mended = self._reconciled(output)
        elif self.done or self.loose:
            mended = [i for i in self._collected() if _type(i) not in TOOL_CALLS or is_complete_call(i)]
        else:
            mended = None
        if mended is not None:
            response["output"] = output = mended
            data = orjson.dumps(event)
        if not isinstance(output, list):
            return data, []
        for item in output:
            self._track(item)
        return data, output

    def _reconciled(self, output: list[Any]) -> list[Any] | None:
        """``output`` with its tool calls replaced by the complete done calls of the same
        ``call_id`` that differ; ``None`` when none does."""
        streamed = {_call_id(i): i for i in self._collected() if is_complete_call(i)}
        if not streamed:
            return None
        mended: list[Any] | None = None
        for at, item in enumerate(output):
            if _type(item) not in TOOL_CALLS:
                continue
            done = streamed.get(_call_id(item))
            if done is not None and done != item:
                if mended is None:
                    mended = list(output)
                mended[at] = done
        return mended

    def _collected(self) -> list[dict[str, Any]]:
        return [*(self.done[i] for i in sorted(self.done)), *self.loose]

    def _track(self, item: Any) -> None:
        kind = _type(item)
        if kind in TOOL_CALLS:
            if is_complete_call(item):
                self.calls.append(item)
                self.pending[_call_id(item)] = None
        elif kind in TOOL_OUTPUTS:
            self.pending.pop(_call_id(item), None)


def _type(item: Any) -> str:
    return str(item.get("type") or "").strip() if isinstance(item, dict) else ""


def _call_id(item: Any) -> str:
    call_id = item.get("call_id") if isinstance(item, dict) else None
    return call_id.strip() if isinstance(call_id, str) else ""
