"""Collects a stream's IR events into one whole response.

Used when the client asked for no stream but the upstream only streams (Codex), and
to read usage from streams. Blocks may arrive interleaved; they are kept in order of
first appearance.
"""

from __future__ import annotations

from cliproxy.translate import ir

__all__ = ["Collector", "merge_usage"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_SIGNED = (ir.Thinking, ir.ToolCall)
_TEXTUAL = (ir.Text, ir.Thinking)


def merge_usage(old: ir.Usage | None, new: ir.Usage | None) -> ir.Usage | None:
    """Later usage wins field by field where it is non-zero (Claude sends input usage
    first and output usage last)."""
    if old is None:
        return new
    if new is None:
        return old
    return ir.Usage(
        input_tokens=new.input_tokens or old.input_tokens,
        output_tokens=new.output_tokens or old.output_tokens,
        cache_read_tokens=new.cache_read_tokens or old.cache_read_tokens,
        cache_write_tokens=new.cache_write_tokens or old.cache_write_tokens,
        reasoning_tokens=new.reasoning_tokens or old.reasoning_tokens,
        total_tokens=new.total_tokens if new.total_tokens is not None else old.total_tokens,
        web_search_requests=new.web_search_requests or old.web_search_requests,
    )


class Collector:
    __slots__ = (
        "_args",
        "_blocks",
        "_order",
        "_texts",
        "error",
        "id",
        "model",
        "stop",
        "stop_sequence",
        "usage",
    )

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.stop: ir.StopReason | None = None
        self.stop_sequence: str | None = None
        self.usage: ir.Usage | None = None
        self.error: ir.Error | None = None
        self._blocks: dict[int, ir.Block] = {}
        self._args: dict[int, list[str]] = {}
        # the text of text and thinking blocks, as its deltas came: joined once at the end
        # (``block.text += delta`` copies all the text so far each time: quadratic, 0.7 s
        # of event loop for a 320 KB answer in 32,000 deltas)
        self._texts: dict[int, list[str]] = {}
        self._order: list[int] = []

    def feed(self, events: list[ir.Event]) -> None:
        for ev in events:
            self._one(ev)

    def _one(self, ev: ir.Event) -> None:
        if isinstance(ev, ir.TextDelta):
            block = self._block(ev.index, "text")
            if isinstance(block, ir.Text):
                self._text(ev.index).append(ev.text)
        elif isinstance(ev, ir.ToolArgsDelta):
            self._block(ev.index, "tool_call")
            self._args.setdefault(ev.index, []).append(ev.delta)
        elif isinstance(ev, ir.ThinkingDelta):
            block = self._block(ev.index, "thinking")
            if isinstance(block, ir.Thinking):
                self._text(ev.index).append(ev.text)
        elif isinstance(ev, ir.SignatureDelta):
            block = self._block(ev.index, "thinking")
            if isinstance(block, _SIGNED):
                block.signature = (block.signature or "") + ev.signature
                block.family = ev.family
                if ev.anchor is not None and isinstance(block, ir.Thinking):
                    block.anchor = ev.anchor
        elif isinstance(ev, ir.BlockStart):
            self._start(ev)
        elif isinstance(ev, ir.CitationDelta):
            block = self._block(ev.index, "text")
            if isinstance(block, ir.Text):
                block.citations = [*(block.citations or ()), ev.citation]
        elif isinstance(ev, ir.StreamStart):
            self.id, self.model = ev.id or self.id, ev.model or self.model
            self.usage = merge_usage(self.usage, ev.usage)
        elif isinstance(ev, ir.UsageEvent):
            self.usage = merge_usage(self.usage, ev.usage)
        elif isinstance(ev, ir.StreamEnd):
            self.stop = ev.stop_reason
            self.stop_sequence = ev.stop_sequence
            self.usage = merge_usage(self.usage, ev.usage)
        elif isinstance(ev, ir.Error):
            self.error = ev

    def _text(self, index: int) -> list[str]:
        parts = self._texts.get(index)
        if parts is None:
            parts = self._texts[index] = []
        return parts

    def _start(self, ev: ir.BlockStart) -> None:
        block = self._blocks.get(ev.index)
        if block is None:
            block = self._block(ev.index, ev.kind, ev)
        elif isinstance(block, ir.ToolCall):
            block.id = block.id or ev.id or ""
            block.name = block.name or ev.name or ""
        if isinstance(block, _SIGNED) and ev.signature:
            block.signature = ev.signature
            block.family = ev.family

    def _block(self, index: int, kind: str, start: ir.BlockStart | None = None) -> ir.Block:
        block = self._blocks.get(index)
        if block is not None:
            return block
        if kind == "tool_call":
            block = ir.ToolCall(
                id=(start.id if start else None) or "",
                name=(start.name if start else None) or "",
                kind=start.tool_kind if start else "function",
                namespace=start.namespace if start else None,
            )
        elif kind in ("thinking", "redacted_thinking"):
            block = ir.Thinking(redacted=kind == "redacted_thinking")
        elif kind == "server_tool" and start is not None and start.raw is not None:
            block = ir.ServerTool(start.family or "", start.raw)
        elif (
            start is not None
            and start.raw is not None
            and isinstance(cites := start.raw.get("citations"), list)
        ):
            block = ir.Text("", cites)  # a cited text (an Antigravity web search's)
        elif start is not None and ir.is_refusal(start.raw):
            block = ir.Text("", extras={"_refusal": True})
        else:
            block = ir.Text("")
        self._blocks[index] = block
        self._order.append(index)
        return block

    def response(self, model: str | None = None) -> ir.Response:
        content: list[ir.Block] = []
        for index in self._order:
            block = self._blocks[index]
            if isinstance(block, ir.ToolCall):
                block.arguments = "".join(self._args.get(index, ())) or block.arguments
            elif (parts := self._texts.pop(index, None)) is not None and isinstance(block, _TEXTUAL):
                block.text += "".join(parts)
            content.append(block)
        stop = self.stop
        if stop is None:
            stop = "tool_use" if any(isinstance(b, ir.ToolCall) for b in content) else "end_turn"
        return ir.Response(
            id=self.id,
            model=model or self.model,
            content=content,
            stop_reason=stop,
            stop_sequence=self.stop_sequence,
            usage=self.usage or ir.Usage(),
        )
