"""Responses API for the fake OpenAI server: ``POST /v1/responses`` and ``/responses/compact``.

Streams the full event sequence (``response.created`` ... ``response.completed``), every
event with ``type`` and ``sequence_number``. Reasoning items carry a summary when
``reasoning.summary`` is set and ``encrypted_content`` when
``include`` asks for ``reasoning.encrypted_content``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.dialog import Reply, Tool, Turn, decide, estimate_tokens, new_id, text_of
from tests.fakes.server import iter_chunks, sse

if TYPE_CHECKING:
    from tests.fakes.openai import OpenAIFake

__all__ = ["compact", "failed_frame", "handle", "turn_of"]

ENCRYPTED = base64.b64encode(b"fake-encrypted-reasoning").decode()


async def handle(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if not body.get("model") or body.get("input") is None:
        return fake.error_response(400, "'model' and 'input' are required", None)
    turn = turn_of(body)
    beh = fake.behavior(request)
    reply = decide("responses", turn, beh.text if beh else None)
    items = _items(body, reply)
    response = _response(body, new_id("resp_"), "completed", items, _usage(body, reply))
    if body.get("stream") is True:
        return await fake.stream(request, _events(response))
    return fake.json_response(response)


def turn_of(body: dict[str, Any]) -> Turn:
    turn = Turn(model=str(body["model"]))
    items = body["input"]
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    items = [i for i in items if isinstance(i, dict)]
    if items and items[-1].get("type") == "function_call_output":
        output = items[-1].get("output")
        turn.tool_output = text_of(output) if not isinstance(output, str) else output
    for item in reversed(items):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            turn.last_user_text = text_of(item.get("content"))
            break
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function" and tool.get("name"):
            turn.tools.append(Tool(tool["name"], tool.get("parameters") or {}))
    reasoning = body.get("reasoning") or {}
    turn.thinking = bool(reasoning) and reasoning.get("effort") != "none"
    return turn


def _items(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.thinking:
        summary_wanted = bool((body.get("reasoning") or {}).get("summary"))
        encrypted = "reasoning.encrypted_content" in (body.get("include") or ())
        items.append(
            {
                "id": new_id("rs_"),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": reply.thinking}] if summary_wanted else [],
                "encrypted_content": ENCRYPTED if encrypted else None,
            }
        )
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
        items.append(
            {
                "id": new_id("msg_"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    for call in reply.tool_calls:
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments_json,
                "call_id": call.call_id,
                "name": call.name,
            }
        )
    return items


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt = estimate_tokens(body.get("instructions"), body.get("input"), body.get("tools"))
    reasoning = estimate_tokens(reply.thinking) if reply.thinking else 0
    output = estimate_tokens(reply.text, [c.arguments for c in reply.tool_calls]) + reasoning
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


def _response(
    body: dict[str, Any], rid: str, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model"),
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "metadata": body.get("metadata") or {},
    }


def _events(final: dict[str, Any]) -> Iterator[bytes]:
    seq = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        return sse(data, kind)

    start = {**final, "status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=start)
    yield event("response.in_progress", response=start)
    for index, item in enumerate(final["output"]):
        for kind, fields in _item_events(item, index):
            yield event(kind, **fields)
    yield event("response.completed", response=final)


def _item_events(item: dict[str, Any], index: int) -> Iterator[tuple[str, dict[str, Any]]]:
    base = {"item_id": item["id"], "output_index": index}
    if item["type"] == "reasoning":
        yield "response.output_item.added", {"output_index": index, "item": {**item, "summary": []}}
        for si, part in enumerate(item["summary"]):
            yield from _summary_events(base, si, part["text"])
    elif item["type"] == "message":
        yield (
            "response.output_item.added",
            {
                "output_index": index,
                "item": {**item, "status": "in_progress", "content": []},
            },
        )
        yield from _text_events(base, item["content"][0])
    else:
        pending = {**item, "status": "in_progress", "arguments": ""}
        yield "response.output_item.added", {"output_index": index, "item": pending}
        args = item["arguments"]
        for start in range(0, len(args), 8):
            yield "response.function_call_arguments.delta", {**base, "delta": args[start : start + 8]}
        yield "response.function_call_arguments.done", {**base, "name": item["name"], "arguments": args}
    yield "response.output_item.done", {"output_index": index, "item": item}


def _summary_events(base: dict[str, Any], si: int, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    where = {**base, "summary_index": si}
    yield "response.reasoning_summary_part.added", {**where, "part": {"type": "summary_text", "text": ""}}
    for piece in iter_chunks(text):
        yield "response.reasoning_summary_text.delta", {**where, "delta": piece}
    yield "response.reasoning_summary_text.done", {**where, "text": text}
    yield "response.reasoning_summary_part.done", {**where, "part": {"type": "summary_text", "text": text}}


def _text_events(base: dict[str, Any], part: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    where = {**base, "content_index": 0}
    yield "response.content_part.added", {**where, "part": {**part, "text": ""}}
    for piece in iter_chunks(part["text"]):
        yield "response.output_text.delta", {**where, "delta": piece, "logprobs": []}
    yield "response.output_text.done", {**where, "text": part["text"], "logprobs": []}
    yield "response.content_part.done", {**where, "part": part}


def failed_frame(body: dict[str, Any], code: str, message: str, sent: int) -> bytes:
    """The in-band ``response.failed`` event (e.g. ``server_is_overloaded`` inside a 200)."""
    response = _response(body, new_id("resp_"), "failed", [], None)
    response["error"] = {"code": code, "message": message}
    return sse({"type": "response.failed", "sequence_number": sent, "response": response}, "response.failed")


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """``/responses/compact``: keep the user messages, fold the rest into one compaction item."""
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": items}]}]
    kept = [i for i in items or () if isinstance(i, dict) and i.get("role") == "user"]
    compaction = {"id": new_id("cmp_"), "type": "compaction", "encrypted_content": ENCRYPTED}
    tokens = estimate_tokens(items)
    return {
        "id": new_id("resp_"),
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": [*kept, compaction],
        "usage": {
            "input_tokens": tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": tokens + 1,
        },
    }
