"""Whole Interactions answers <-> IR.

An answer is ``{"id", "object": "interaction", "status": "completed", "model", "steps",
"usage", "created", "updated"}`` (CPA ``convertGeminiResponseToInteractionsNonStreamDirect``).
Steps follow the API's schema: ``model_output`` with ``content`` parts, ``thought``
with ``summary`` parts and ``signature`` (Gemini's, only), ``function_call`` with
``id``, ``name`` and object ``arguments`` (``call_id`` too, as CPA writes it).
``output_text`` holds the answer's text, as the API offers it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

from cliproxy.formats import interactions as wire
from cliproxy.translate import ir
from cliproxy.translate.interactions.parse import FAMILY, content_block, signature_family

__all__ = ["build_response", "call_step", "media_content", "new_id", "now_text", "parse_response"]

_STATUS = {"max_tokens": "incomplete", "error": "failed", "content_filter": "failed", "refusal": "failed"}


def new_id() -> str:
    return f"interaction_{time.time_ns()}"


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def args_object(text: str) -> Any:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def call_step(call: ir.ToolCall) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "function_call", "id": call.id, "call_id": call.id, "name": call.name}
    step["arguments"] = args_object(call.arguments)
    if call.signature and call.family == FAMILY:
        step["signature"] = call.signature
    return step


def media_content(mime: str, data: str | None, url: str | None) -> dict[str, Any]:
    kind = mime.partition("/")[0] if mime.partition("/")[0] in ("image", "audio", "video") else "document"
    item: dict[str, Any] = {"type": kind, "mime_type": mime}
    if data:
        item["data"] = data
    if url:
        item["uri"] = url
    return item


def _steps(blocks: list[ir.Block]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, ir.Text):
            last = steps[-1] if steps else None
            if last is not None and last["type"] == "model_output":
                last["content"].append({"type": "text", "text": block.text})
            else:
                steps.append({"type": "model_output", "content": [{"type": "text", "text": block.text}]})
        elif isinstance(block, ir.Thinking):
            if block.redacted:
                continue
            step: dict[str, Any] = {
                "type": "thought",
                "summary": [{"type": "text", "text": block.text}] if block.text else [],
            }
            if block.signature and block.family == FAMILY:
                step["signature"] = block.signature
            steps.append(step)
        elif isinstance(block, ir.ToolCall):
            steps.append(call_step(block))
        elif isinstance(block, ir.MEDIA) and block.media_type:
            steps.append(
                {"type": "model_output", "content": [media_content(block.media_type, block.data, block.url)]}
            )
    return steps


def build_response(resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
    now = now_text()
    out: dict[str, Any] = {
        "id": resp.id or new_id(),
        "object": "interaction",
        "status": _STATUS.get(resp.stop_reason or "", "completed"),
        "model": resp.model or (request.model if request else ""),
        "steps": _steps(resp.content),
    }
    texts = [b.text for b in resp.content if isinstance(b, ir.Text)]
    if texts:
        out["output_text"] = "".join(texts)
    out["usage"] = wire.usage_to_wire(resp.usage)
    out["created"] = out["updated"] = now
    if request is not None and isinstance(prev := request.extras.get("_previous_interaction_id"), str):
        out["previous_interaction_id"] = prev
    return out


def step_blocks(step: dict[str, Any]) -> list[ir.Block]:
    """One answer step -> IR blocks (unknown step types are kept as server tools)."""
    kind = step.get("type")
    if kind == "function_call":
        cid = step.get("id") or step.get("call_id") or ""
        args = step.get("arguments", {})
        sig = step.get("signature")
        return [
            ir.ToolCall(
                id=str(cid),
                name=str(step.get("name") or ""),
                arguments=args if isinstance(args, str) else orjson.dumps(args).decode(),
                signature=sig if isinstance(sig, str) else None,
                family=signature_family(sig) if isinstance(sig, str) else None,
            )
        ]
    if kind == "thought":
        parts = step.get("summary") or step.get("content") or []
        text = (
            "".join(p.get("text", "") for p in parts if isinstance(p, dict))
            if isinstance(parts, list)
            else ""
        )
        sig = step.get("signature") or step.get("thought_signature")
        if not isinstance(sig, str):
            return [ir.Thinking(text=text, family=FAMILY)]
        return [ir.Thinking(text=text, signature=sig, family=signature_family(sig))]
    if kind == "model_output":
        content = step.get("content") or []
        blocks: list[ir.Block] = []
        for i, part in enumerate(content if isinstance(content, list) else [content]):
            try:
                block = content_block(part, f"steps.content[{i}]")
            except Exception:  # an output part we cannot read stays whole
                block = ir.ServerTool(family=FAMILY, raw=part if isinstance(part, dict) else {"value": part})
            if block is not None:
                blocks.append(block)
        return blocks
    return [ir.ServerTool(family="interactions", raw=step)]


def parse_response(body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
    nested = body.get("interaction")
    root: dict[str, Any] = nested if isinstance(nested, dict) else body
    content: list[ir.Block] = []
    for step in root.get("steps") or root.get("outputs") or []:
        if isinstance(step, dict):
            content.extend(step_blocks(step))
    usage = wire.find_usage(body)
    status = root.get("status")
    stop: ir.StopReason = "tool_use" if any(isinstance(b, ir.ToolCall) for b in content) else "end_turn"
    if status == "incomplete":
        stop = "max_tokens"
    elif status == "failed":
        stop = "error"
    return ir.Response(
        id=str(root.get("id") or new_id()),
        model=str(root.get("model") or (request.model if request else "")),
        content=content,
        stop_reason=stop,
        usage=wire.usage_from_wire(usage) if usage else ir.Usage(),
        source="interactions",
    )
