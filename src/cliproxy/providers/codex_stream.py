"""Codex's ``response.completed`` made whole again.

The Codex backend may end a stream with a ``response.completed`` whose ``response.output``
is empty (or whose items lack their ids) although every item was sent whole in its own
``response.output_item.done`` event (CPA ``patchCodexCompletedOutput``). A client that
reads the final response from that event (the official SDKs' ``get_final_response()``)
then sees an answer with nothing in it. :class:`CompletedOutput` keeps the done items of a
stream and writes them into its ``response.completed``: all of them, in ``output_index``
order, when the output is empty; the missing ids only, when it is not.

It is a chunk rewriter (``UpstreamRequest.rewrite_chunk``): it gets whole SSE lines and
leaves every chunk that carries neither event as it is, after one substring test each.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["CompletedOutput"]

_DONE = b'"response.output_item.done"'
_COMPLETED = b'"response.completed"'


class CompletedOutput:
    """A stream's ``response.output_item.done`` items, written into its ``response.completed``."""

    __slots__ = ("items", "loose")

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}  # output_index -> the item as done
        self.loose: list[dict[str, Any]] = []  # done items without an output_index

    def __call__(self, lines: bytes) -> bytes:
        if _DONE not in lines and _COMPLETED not in lines:
            return lines
        out = lines.split(b"\n")
        for i, line in enumerate(out):
            if not line.startswith(b"data:"):
                continue
            if _DONE in line:
                self._keep(line)
            elif _COMPLETED in line and (self.items or self.loose):
                out[i] = self._patched(line)
        return b"\n".join(out)

    def _keep(self, line: bytes) -> None:
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            return
        item = event.get("item") if isinstance(event, dict) else None
        if not isinstance(item, dict):
            return
        index = event.get("output_index")
        if type(index) is int:
            self.items[index] = item
        else:
            self.loose.append(item)

    def _patched(self, line: bytes) -> bytes:
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            return line
        response = event.get("response") if isinstance(event, dict) else None
        if not isinstance(response, dict) or event.get("type") != "response.completed":
            return line
        output = response.get("output")
        if not isinstance(output, list) or not output:
            response["output"] = [self.items[i] for i in sorted(self.items)] + self.loose
        elif not self._hydrate(output):
            return line
        return b"data: " + orjson.dumps(event)

    def _hydrate(self, output: list[Any]) -> bool:
        """Give each item of ``output`` without an id the id its done event had; True when
        one changed."""
        changed = False
        for index, item in enumerate(output):
            if not isinstance(item, dict):
                continue
            item_id = item.get("id")
            if isinstance(item_id, str) and item_id.strip():
                continue
            done_id = self.items.get(index, {}).get("id")
            if isinstance(done_id, str) and done_id.strip():
                item["id"] = done_id
                changed = True
        return changed
