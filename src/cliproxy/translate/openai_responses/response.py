"""Whole Responses ``response`` objects <-> IR."""

from __future__ import annotations

import time
from typing import Any

import orjson

from cliproxy.formats import openai_responses as wire
from cliproxy.formats.ids import uuid_hex
from cliproxy.translate import ir
from cliproxy.translate.carriers import call_carrier, carrier_of, part_carrier, signed_image
from cliproxy.translate.citations import url_citations
from cliproxy.translate.naming import restore_name
from cliproxy.translate.openai_responses.build import OWN_SOURCES, build_request
from cliproxy.translate.openai_responses.names import long_name
from cliproxy.translate.openai_responses.parse import parse_item
from cliproxy.translate.openai_responses.web_search import claude_web_search_blocks
from cliproxy.translate.tool_output import generated_image

__all__ = [
    "base_response",
    "build_response",
    "image_call_item",
    "instructions_of",
    "output_item",
    "parse_response",
    "plain_echo",
    "response_id",
    "shown_image",
    "stop_of",
]


def parse_response(body: dict[str, Any], source: str, request: ir.Request | None = None) -> ir.Response:
    if isinstance(body.get("response"), dict):  # a terminal stream event given whole
        body = body["response"]
    content: list[ir.Block] = []
    searches: set[str] = set()
    for i, item in enumerate(body.get("output") or []):
        if isinstance(item, dict):
            if isinstance(item.get("arguments"), dict):  # an upstream's object arguments (CPA takes them)
                item = {**item, "arguments": orjson.dumps(item["arguments"]).decode()}
            content.extend(parse_item(item, f"output[{i}]"))
            content.extend(ir.ServerTool("claude", b) for b in claude_web_search_blocks(item, searches))
    for block in content:
        if isinstance(block, ir.ToolCall):
            block.name = long_name(block.name, request)  # names cut to 64 characters go back
    resp = ir.Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=content,
        usage=wire.usage_from_wire(body.get("usage")),
        created=int(body.get("created_at") or 0),
        source=source,
    )
    resp.stop_reason = stop_of(
        body.get("status"), body.get("incomplete_details"), any(isinstance(b, ir.ToolCall) for b in content)
    )
    seq = body.get("stop_sequence")
    if isinstance(seq, str) and seq and resp.stop_reason == "end_turn":
        resp.stop_reason, resp.stop_sequence = "stop_sequence", seq  # CPA maps it through
    if body.get("error"):
        resp.extras["error"] = body["error"]
    return resp


def stop_of(status: Any, details: Any, has_calls: bool) -> ir.StopReason:
    if status == "incomplete":
        reason = details.get("reason") if isinstance(details, dict) else None
        return wire.INCOMPLETE_TO_STOP.get(str(reason), "max_tokens")
    if status == "failed":
        return "error"
    return "tool_use" if has_calls else "end_turn"


def response_id(rid: str | None) -> str:
    if rid and rid.startswith("resp_"):
        return rid
    return "resp_" + (rid or uuid_hex())


def _echo(request: ir.Request | None) -> dict[str, Any]:
    """The request fields a Response object repeats (so SDK models parse)."""
    if request is None:
        return _echoed({})
    if (
        request.source in OWN_SOURCES
        and request.tools is None
        and request.tool_choice is None
        and request.reasoning is None
        and request.response_format is None
        and "_tool_choice" not in request.extras
        and "_reasoning" not in request.extras
        and "_text" not in request.extras
    ):  # a Responses request with no tools, reasoning or text settings (the common one):
        # what _echoed reads of the fields build_request would write, written here at once,
        # then the client's own keys over them (private markers never are echoed keys)
        pc = request.parallel_tool_calls
        out = plain_echo(
            None,
            request.max_tokens,
            request.metadata or {},
            True if pc is None else pc,
            request.temperature,
            request.top_p,
            request.user,
        )
        extras = request.extras
        if extras and not extras.keys().isdisjoint(out):
            client = {key: extras[key] for key in out if key in extras}
            for key, value in _echoed(client).items():
                if key in client:
                    out[key] = value
        return out
    return _echoed(build_request(request, messages=False))


def plain_echo(
    instructions: Any,
    max_output_tokens: Any,
    metadata: dict[str, Any],
    parallel_tool_calls: Any,
    temperature: Any,
    top_p: Any,
    user: Any,
) -> dict[str, Any]:
    """The echo of a request with no tools, reasoning or text settings, in the members'
    order (``translate.plain_answers`` writes it from a plain client body too)."""
    return {
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "metadata": metadata,
        "parallel_tool_calls": parallel_tool_calls,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0 if temperature is None else temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0 if top_p is None else top_p,
        "truncation": "disabled",
        "user": user,
    }


def _echoed(body: dict[str, Any]) -> dict[str, Any]:
    """The echo of a Responses request ``body``: its fields, or the API's defaults."""
    reasoning = body.get("reasoning") or {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store", False),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
    }


def instructions_of(request: ir.Request | None) -> str | None:
    """The client's ``instructions``, which a finished Response object repeats (the API
    and CPA do; the events before it leave them out, as CPA's, to keep a long prompt off
    every event)."""
    if request is not None and request.source in OWN_SOURCES:
        for msg in request.messages:
            if msg.role != "system" and msg.role != "developer":
                break
            if msg.extras and msg.extras.get("_instructions"):
                return "\n\n".join(b.text for b in msg.content if isinstance(b, ir.Text))
    return None


def base_response(rid: str, model: str, created: int, request: ir.Request | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": created or int(time.time()),
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
    }
    out.update(_echo(request))
    out["usage"] = None
    return out


def build_response(resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
    rid = resp.id
    if not (rid and rid.startswith("resp_")):
        rid = "resp_" + (rid or uuid_hex())  # response_id, inline
    stop = resp.stop_reason
    reason = wire.STOP_TO_INCOMPLETE.get(stop or "")  # terminal_status, inline
    details = None if reason is None else {"reason": reason}
    status = "incomplete" if reason is not None else "failed" if stop == "error" else "completed"
    out: dict[str, Any] = {  # base_response's fields, final values written at once
        "id": rid,
        "object": "response",
        "created_at": resp.created or int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": details,
        "model": resp.model,
        "output": None,
    }
    out.update(_echo(request))
    out["instructions"] = instructions_of(request)
    out["output"] = items = _output_items(resp, request)
    if status == "incomplete":  # cut short: the last item is (CPA marks it so)
        for item in reversed(items):
            if "status" in item:
                item["status"] = "incomplete"
                break
    if status == "failed":
        out["error"] = resp.extras.get("error") or {"code": "server_error", "message": "upstream failed"}
    out["usage"] = wire.usage_to_wire(resp.usage)
    return out


def terminal_status(stop: ir.StopReason | None) -> tuple[str, dict[str, Any] | None]:
    reason = wire.STOP_TO_INCOMPLETE.get(stop or "")
    if reason is not None:
        return "incomplete", {"reason": reason}
    if stop == "error":
        return "failed", None
    return "completed", None


def _output_items(resp: ir.Response, request: ir.Request | None) -> list[dict[str, Any]]:
    own = resp.source in OWN_SOURCES
    items: list[dict[str, Any]] = []
    message: dict[str, Any] | None = None
    for n, b in enumerate(resp.content):
        if isinstance(b, ir.Text):  # output_item / text_part / _gen_id, inline
            if message is None:
                message = {
                    "id": f"msg_{resp.id.removeprefix('resp_')}{n:03d}",
                    "type": "message",
                    "status": "completed",
                    "content": [],
                    "role": "assistant",
                }
                items.append(message)
            if b.extras and b.extras.get("_refusal"):  # the model refused (Chat ``message.refusal``)
                message["content"].append({"type": "refusal", "refusal": b.text})
                continue
            message["content"].append(
                {
                    "type": "output_text",
                    "annotations": (b.citations if own else url_citations(b.citations, 0, len(b.text))) or [],
                    "logprobs": [],
                    "text": b.text,
                }
            )
            continue
        message = None
        carrier = call_carrier(b.signature, b.family) if isinstance(b, ir.ToolCall) else None
        if carrier is not None:  # a Gemini call signature rides in a reasoning item before the call
            items.append({"id": _gen_id("rs", resp.id, n), **carrier})
        image = shown_image(b)
        if image is not None:  # a Gemini image model's picture, to be seen (its carrier follows)
            items.append(image_call_item(image, _gen_id("ig", resp.id, n)))
        item = _block_item(b, resp.id, n, own, request)
        if item is not None:
            items.append(item)
    return items


_GEMINI_RAW = (ir.ServerTool, ir.BlockStart)  # (what may hold a Gemini part whole)


def shown_image(b: ir.Block | ir.BlockStart) -> ir.Image | None:
    """The image of a Gemini image part (a stream's part, a whole answer's ``ir.Image``),
    which a Responses client is shown as an ``image_generation_call`` item."""
    if type(b) is ir.Image:
        return b if b.data else None
    if isinstance(b, _GEMINI_RAW) and b.family == "gemini" and b.raw:
        return generated_image(b.raw)
    return None


def image_call_item(image: ir.Image, item_id: str) -> dict[str, Any]:
    """The ``image_generation_call`` output item OpenAI's image tool makes, holding ``image``
    (the base64 ``result``). Only its maker reads such an item in a later turn's input: a
    request to Gemini leaves it out, the reasoning carrier of a signed image sending the
    image back (``carriers.part_carrier``), once."""
    fmt = (image.media_type or "image/png").removeprefix("image/")
    return {
        "id": item_id,
        "type": "image_generation_call",
        "status": "completed",
        "result": image.data,
        "output_format": "jpeg" if fmt == "jpg" else fmt,
    }


def _block_item(
    b: ir.Block, rid: str, n: int, own: bool, request: ir.Request | None
) -> dict[str, Any] | None:
    if isinstance(b, ir.Thinking):
        carrier = carrier_of(b.signature, b.family, b.redacted, b.anchor)
        if b.redacted and carrier is None:
            return None
        item = output_item("reasoning", b.id or _gen_id("rs", rid, n))
        texts = b.summary if b.summary else ([b.text] if b.text else [])
        item["summary"] = [{"type": "summary_text", "text": s} for s in texts]
        if carrier is not None:  # Claude / Gemini artifacts ride along as CPA carries them
            item["encrypted_content"] = carrier
        return item
    if isinstance(b, ir.ToolCall):
        item_id = (b.extras or {}).get("id") if own else None
        return call_item(
            b.kind, item_id or _gen_id("fc", rid, n), b.id, b.name, b.namespace, b.arguments, request
        )
    if isinstance(b, ir.ServerTool):
        if b.family == "openai":
            return b.raw
        value = part_carrier(b.raw) if b.family == "gemini" else None
    else:
        part = signed_image(b)  # (a whole Gemini answer's image)
        value = part_carrier(part) if part is not None else None
    if value is not None:  # a signed Gemini image part, carried whole
        return {
            "type": "reasoning",
            "id": _gen_id("rs", rid, n),
            "summary": [],
            "encrypted_content": value,
        }
    return None


def _gen_id(prefix: str, rid: str, n: int) -> str:
    return f"{prefix}_{rid.removeprefix('resp_')}{n:03d}"


def text_part(text: str, citations: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "annotations": citations or [], "logprobs": [], "text": text}


def output_item(kind: str, item_id: str) -> dict[str, Any]:
    if kind == "message":
        return {"id": item_id, "type": "message", "status": "completed", "content": [], "role": "assistant"}
    return {"id": item_id, "type": "reasoning", "summary": []}


def call_item(
    kind: str,
    item_id: str,
    call_id: str,
    name: str,
    namespace: str | None,
    args: str,
    request: ir.Request | None,
) -> dict[str, Any]:
    if namespace is None:
        name, namespace = restore_name(name, request)
    custom = kind == "custom"
    item: dict[str, Any] = {
        "id": item_id,
        "type": "custom_tool_call" if custom else "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
    }
    item["input" if custom else "arguments"] = args
    if namespace:
        item["namespace"] = namespace
    return item
