"""Codex's ``response.completed`` (and ``response.incomplete``) made whole again.

The Codex backend may end a stream with a ``response.completed`` whose ``response.output``
is empty (or whose items lack their ids) although every item was sent whole in its own
``response.output_item.done`` event (CPA ``patchCodexCompletedOutput``). A client that
reads the final response from that event (the official SDKs' ``get_final_response()``)
then sees an answer with nothing in it. :class:`CompletedOutput` keeps the done items of a
stream and writes them into its ``response.completed``: all of them, in ``output_index``
order, when the output is empty; the missing ids only, when it is not. Its ``usage`` gets
the ``input_tokens_details.cached_tokens`` and ``output_tokens_details.reasoning_tokens``
it left out, as zeros (CPA ``EnsureResponsesUsageDetails``): the SDKs type them as always
there. A ``response.incomplete`` (an answer cut at ``max_output_tokens``) is the other
successful end and is mended the same way, so the client gets the partial answer (CPA
patches both); only a ``response.completed`` is a turn the reasoning replay keeps.

For xAI (``summaries``) the terminal output's reasoning items get Grok's raw reasoning text
as summaries, as CPA's xAI executor gives them to every client; a non-streaming Responses
client's answer is that output (``cliproxy.translate.openai_responses.terminal``).

It is a chunk rewriter (``UpstreamRequest.rewrite_chunk``): it gets whole SSE lines and
leaves every chunk that carries neither event as it is, after one substring test each.

A turn over Codex's own WebSocket for a Responses WebSocket client is made with
``mend=False``: only the usage details are filled, the output goes on as the upstream wrote
it (CPA's socket executor passes it through to such a client), and the client socket's own
reconciliation (``cliproxy.formats.responses_ws_output``) fills an empty one, leaving out a
tool call the stream sent incomplete.

:func:`keepalive_comments` is another: Codex's ``keepalive`` events as SSE comments, for
the Grok Build client (:func:`is_grok_build`), which does not read them as events.

A request in the Codex reasoning replay (``providers.codex_replay``) hands it a
:class:`Watch`: the output of ``response.completed``, made whole, is the turn the replay
keeps, and a failure event that refuses the request's reasoning makes it forget. A
:class:`ToolReader` gets each terminal event's ``tool_usage`` (Codex's image tool usage,
``providers.codex_image_usage``): the parsed object when the event is mended, else the line,
from which it cuts out only what it reads (the event is never parsed for it alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from cliproxy.formats.openai_responses import fill_usage_details

__all__ = ["CompletedOutput", "ToolReader", "Watch", "is_grok_build", "keepalive_comments"]

_DONE = b'"response.output_item.done"'
_COMPLETED = b'"response.completed"'
_INCOMPLETE = b'"response.incomplete"'
_ENDS = frozenset(("response.completed", "response.incomplete"))
_FAILED = b'"response.failed"'
_ERROR = b'"type":"error"'
_CACHED = b'"cached_tokens"'
_REASONING = b'"reasoning_tokens"'
_NULL_DETAILS = b'_details":null'
_REASONING_TEXT = b'"reasoning_text"'


class ToolReader(Protocol):
    """What reads a terminal event's tool usage (``codex_image_usage.ImageToolUsage``):
    from the event's line, or from its ``tool_usage`` when the event was parsed anyway."""

    def read(self, line: bytes) -> None: ...

    def take(self, tool_usage: Any) -> None: ...


class Watch(Protocol):
    """What follows a stream's end (``providers.codex_replay.Scope``)."""

    def completed(self, output: list[Any]) -> None: ...

    def refused(self, data: bytes) -> bool: ...


class CompletedOutput:
    """A stream's ``response.output_item.done`` items, written into its ``response.completed``
    or ``response.incomplete``."""

    __slots__ = ("items", "loose", "mend", "pending", "summaries", "tool", "watch")

    def __init__(
        self,
        watch: Watch | None = None,
        *,
        mend: bool = True,
        summaries: Callable[[list[Any]], bool] | None = None,
        tool: ToolReader | None = None,
    ) -> None:
        self.items: dict[int, dict[str, Any]] = {}  # output_index -> the item as done
        self.loose: list[dict[str, Any]] = []  # done items without an output_index
        self.watch = watch
        self.mend = mend  # False: the output is left as it came (the usage details are not)
        # xAI: the output's raw reasoning text made summaries (``xai_stream.summarized``);
        # True when it changed one
        self.summaries = summaries
        self.pending = b""  # the first lines of a terminal event's payload, while ``_Held``
        self.tool = tool  # reads a terminal event's tool usage (``codex_image_usage``)

    def __call__(self, lines: bytes) -> bytes:
        watch = self.watch
        if lines.find(_DONE) < 0 and lines.find(_COMPLETED) < 0 and lines.find(_INCOMPLETE) < 0:
            if watch is not None and (lines.find(_FAILED) >= 0 or lines.find(_ERROR) >= 0):
                watch.refused(lines)  # an in-band failure (a 200 whose stream says no)
            return lines
        out = lines.split(b"\n")
        for i, line in enumerate(out):
            if not line.startswith(b"data:"):
                continue
            if line.find(_DONE) >= 0:
                self._keep(line)
            elif line.find(_COMPLETED) >= 0 or line.find(_INCOMPLETE) >= 0:
                if not (
                    (self.mend and (self.items or self.loose))
                    or watch is not None
                    or _lacks_details(line)
                    or (self.summaries is not None and line.find(_REASONING_TEXT) >= 0)
                ):
                    if self.tool is not None:  # not parsed here: the reader cuts out what it reads
                        self.tool.read(line)
                    continue
                patched = self._patched(line)
                if patched is None:  # its JSON may go on in the next data: lines
                    return self._multiline(out, i)
                out[i] = patched
        return b"\n".join(out)

    def _multiline(self, out: list[bytes], i: int) -> bytes:
        """``out`` (lines) whose line ``i``, a terminal event's ``data:`` line, does not
        parse alone: with the ``data:`` lines after it, once their payload joined parses, it
        is mended as one (and written as one ``data:`` line, as CPA writes it again); when
        the lines end first, they are held until the next lines come (``_Held``); a cut
        payload (a blank line or another field first) goes on as it came."""
        head = b"\n".join(out[:i]) + b"\n" if i else b""
        j = i + 1
        while j < len(out) and out[j].startswith(b"data:"):
            joined = b"data:" + b"\n".join([line[5:] for line in out[i : j + 1]])
            patched = self._patched(joined)
            if patched is not None:
                frame = b"\n".join(out[i : j + 1]) if patched is joined else patched
                rest = out[j + 1 :]
                return head + frame + (b"\n" + self(b"\n".join(rest)) if rest else b"")
            j += 1
        if j == len(out) - 1 and not out[j]:  # the lines ended inside the payload: held
            self.pending = b"\n".join(out[i:])
            self.__class__ = _Held
            return head
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

    def _patched(self, line: bytes) -> bytes | None:
        """``line`` mended (itself when nothing changed); ``None`` when it does not parse."""
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            return None
        response = event.get("response") if isinstance(event, dict) else None
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(response, dict) or kind not in _ENDS:
            return line
        if self.tool is not None:
            self.tool.take(response.get("tool_usage"))
        output = response.get("output")
        changed = False
        if not isinstance(output, list) or not output:
            output = [self.items[i] for i in sorted(self.items)] + self.loose
            if self.mend:
                response["output"] = output
                changed = bool(output)
        elif self.mend:
            changed = self._hydrate(output)
        if self.summaries is not None and self.mend and self.summaries(output):
            changed = True
        if fill_usage_details(response.get("usage")):
            changed = True
        if self.watch is not None and kind == "response.completed":  # a cut turn is not kept (CPA)
            self.watch.completed(output)
        return b"data: " + orjson.dumps(event) if changed else line

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


class _Held(CompletedOutput):
    """A :class:`CompletedOutput` holding the first lines of a terminal event's payload
    over several ``data:`` lines (``pending``): the next lines are read after them. (The
    instance's class while it holds: the common call pays no test for it.)"""

    __slots__ = ()

    def __call__(self, lines: bytes) -> bytes:
        self.__class__ = CompletedOutput  # type: ignore[assignment]  # (back to the common class)
        pending, self.pending = self.pending, b""
        return CompletedOutput.__call__(self, pending + lines)


def _lacks_details(line: bytes) -> bool:
    """Whether a ``response.completed`` line may lack a usage detail (a cheap look first)."""
    return line.find(_CACHED) < 0 or line.find(_REASONING) < 0 or line.find(_NULL_DETAILS) >= 0


_KEEPALIVE = b"keepalive"
_COMMENT = b": keepalive"


def is_grok_build(headers: Mapping[str, str]) -> bool:
    """Grok Build's terminal client (``grok-pager`` / ``grok-shell`` in its ``User-Agent``,
    CPA ``IsGrokClientUserAgent``)."""
    agent = (headers.get("user-agent") or headers.get("User-Agent") or "").lower()
    return agent.find("grok-pager") >= 0 or agent.find("grok-shell") >= 0


def keepalive_comments(lines: bytes) -> bytes:
    """Each line of a ``keepalive`` event (``event: keepalive``, a ``data:`` line whose type is
    ``keepalive``) as the comment ``: keepalive`` (CPA ``TransformKeepaliveSSELine``); every
    other line as it is."""
    if lines.find(_KEEPALIVE) < 0:
        return lines
    out = lines.split(b"\n")
    for i, line in enumerate(out):
        if line.find(_KEEPALIVE) >= 0 and _is_keepalive(line.strip()):
            out[i] = _COMMENT
    return b"\n".join(out)


def _is_keepalive(line: bytes) -> bool:
    if line.startswith(b"event:"):
        return line[6:].strip() == _KEEPALIVE
    if not line.startswith(b"data:"):
        return False
    try:
        event = orjson.loads(line[5:])
    except orjson.JSONDecodeError:
        return False
    return isinstance(event, dict) and event.get("type") == "keepalive"
