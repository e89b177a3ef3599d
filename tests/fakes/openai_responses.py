"""Responses API for the fake OpenAI server: ``POST /v1/responses`` and ``/responses/compact``.

Streams the full event sequence (``response.created`` ... ``response.completed``), every
event with ``type`` and ``sequence_number``. Reasoning items carry a summary when
``reasoning.summary`` is set and ``encrypted_content`` when
``include`` asks for ``reasoning.encrypted_content``: OpenAI's Fernet shape, or for a
``grok-*`` model xAI's (unpadded standard base64 of random-looking bytes, a new one each
answer, the last kept as ``fake.grok_reasoning``).

Test modes, set on the fake: ``fake.pauses = {frame: seconds}`` sleeps before those frames
of every Responses stream (an upstream that goes quiet mid-stream);
``fake.overloaded = n`` answers the next ``n`` streams with a 200 whose handshake
(``response.created``, ``response.in_progress``) is followed by CPA's in-band
``server_is_overloaded`` error event; ``fake.inband_errors = [event, ...]`` does the same
with the given error events, one stream each; ``fake.completed_without_output = n`` ends
the next ``n`` streams with a ``response.completed`` whose ``output`` is empty, as the
Codex backend sometimes does (CPA patches it from the ``output_item.done`` events);
``fake.incomplete = n`` ends the next ``n`` streams with ``response.incomplete`` (the
answer cut at ``max_output_tokens``: its last item ``incomplete``; with
``completed_without_output`` its output empty too); ``fake.raw_streams = [bytes, ...]``
answers the next streams with those SSE bytes as they are, one each (an xAI stream with
its own shapes: ``reasoning_text`` events, X Search traces, ``response.incomplete``).

Image generation: a request offering the ``image_generation`` tool whose last user message
asks to "draw" gets an ``image_generation_call`` item (a 1x1 PNG in ``result``) with its
``response.image_generation_call.*`` events, as the Codex backend sends them. Every answer to
a request offering the tool carries ``response.tool_usage`` (``image_gen``: the image
model's tokens, :data:`IMAGE_GEN_USAGE` when it drew, else zeros; ``web_search``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import time
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

from tests.fakes.dialog import Reply, Tool, Turn, decide, estimate_tokens, new_id, text_of
from tests.fakes.server import Recorded, _parse_json, iter_chunks, sse

if TYPE_CHECKING:
    from tests.fakes.openai import OpenAIFake

__all__ = [
    "CODEX_REFUSED",
    "IMAGE_GEN_USAGE",
    "compact",
    "failed_frame",
    "grok_encrypted",
    "handle",
    "handle_ws",
    "tool_usage",
    "turn_of",
]

# request fields the ChatGPT Codex backend refuses with 400 "Unsupported parameter: <name>"
CODEX_REFUSED = ("metadata", "top_logprobs", "presence_penalty", "frequency_penalty", "seed")

# Fernet-shaped like OpenAI's own (version 0x80, timestamp, IV, AES blocks, HMAC), which
# the proxy keeps on its way back to Codex while it drops other backends' values
ENCRYPTED = base64.urlsafe_b64encode(
    b"\x80" + bytes(8) + bytes(range(16)) + b"fake-encrypted-reasoning".ljust(32, b".") + bytes(32)
).decode()


def grok_encrypted(seed: str) -> str:
    """An xAI-shaped ``encrypted_content``: 256 high-entropy bytes drawn from ``seed``, as
    unpadded standard base64 (CPA's validGrokEncryptedContentForReplayCacheTest)."""
    buf = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(8))
    return base64.b64encode(buf).decode().rstrip("=")


async def handle(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if not body.get("model") or body.get("input") is None:
        return fake.error_response(400, "'model' and 'input' are required", None)
    unpaired = unpaired_tool_item(body) if getattr(fake, "pairs_tools", False) else None
    if unpaired:
        return fake.error_response(400, unpaired, None)
    turn = turn_of(body)
    beh = fake.behavior(request)
    reply = decide("responses", turn, beh.text if beh else None)
    items = _items(body, reply)
    if str(body["model"]).startswith("grok-"):  # xAI's reasoning is its own shape
        for item in items:
            if item["type"] == "reasoning" and item["encrypted_content"]:
                item["encrypted_content"] = fake.grok_reasoning = grok_encrypted(item["id"])  # type: ignore[attr-defined]
    response = _drawn(body, turn, items, reply)
    if body.get("stream") is True:
        raw: list[bytes] | None = getattr(fake, "raw_streams", None)
        if raw:
            return await _written(request, iter([raw.pop(0)]), {})
        if getattr(fake, "overloaded", 0) > 0:
            fake.overloaded -= 1  # type: ignore[attr-defined]
            return await _written(request, _overloaded(response), {})
        inband: list[dict[str, Any]] | None = getattr(fake, "inband_errors", None)
        if inband:
            return await _written(request, _overloaded(response, inband.pop(0)), {})
        pauses: dict[int, float] | None = getattr(fake, "pauses", None)
        if pauses:
            return await _written(request, _events(response), pauses)
        bare = getattr(fake, "completed_without_output", 0) > 0
        if bare:
            fake.completed_without_output -= 1  # type: ignore[attr-defined]
        if getattr(fake, "incomplete", 0) > 0:
            fake.incomplete -= 1  # type: ignore[attr-defined]
            _cut(response)
        return await fake.stream(request, _events(response, bare))
    return fake.json_response(response)


OVERLOADED = {
    "type": "error",
    "error": {
        "type": "service_unavailable_error",
        "code": "server_is_overloaded",
        "message": "Our servers are currently overloaded. Please try again later.",
        "param": None,
    },
    "sequence_number": 2,
}


def _overloaded(final: dict[str, Any], error: dict[str, Any] = OVERLOADED) -> Iterator[bytes]:
    start = {**final, "status": "in_progress", "output": [], "usage": None}
    yield sse({"type": "response.created", "sequence_number": 0, "response": start}, "response.created")
    yield sse(
        {"type": "response.in_progress", "sequence_number": 1, "response": start}, "response.in_progress"
    )
    yield sse(error, "error")


async def _written(
    request: web.Request, frames: Iterator[bytes], pauses: dict[int, float]
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    for index, frame in enumerate(frames):
        if index in pauses:
            await asyncio.sleep(pauses[index])
        await resp.write(frame)
    await resp.write_eof()
    return resp


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


def unpaired_tool_item(body: dict[str, Any]) -> str | None:
    """The Responses API's refusal of a transcript with a tool output whose call is not in
    it, or a call with no output (``fake.pairs_tools = True`` turns the check on)."""
    items = (
        [i for i in body.get("input") or () if isinstance(i, dict)]
        if isinstance(body.get("input"), list)
        else []
    )
    calls = {i.get("call_id") for i in items if i.get("type") in ("function_call", "custom_tool_call")}
    outputs = {
        i.get("call_id")
        for i in items
        if i.get("type") in ("function_call_output", "custom_tool_call_output")
    }
    for call_id in sorted(str(c) for c in outputs - calls):
        return f"No tool call found for function call output with call_id {call_id}."
    for call_id in sorted(str(c) for c in calls - outputs):
        return f"No tool output found for function call {call_id}."
    return None


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


def _cut(response: dict[str, Any]) -> None:
    """``response`` as the API ends an answer cut at ``max_output_tokens``."""
    response["status"] = "incomplete"
    response["incomplete_details"] = {"reason": "max_output_tokens"}
    if response["output"]:
        response["output"][-1] = {**response["output"][-1], "status": "incomplete"}


def _events(final: dict[str, Any], bare: bool = False) -> Iterator[bytes]:
    """The stream of ``final``; ``bare``: its ``response.completed`` (or ``response.incomplete``)
    without the output."""
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
    end = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield event(end, response={**final, "output": []} if bare else final)


def _item_events(item: dict[str, Any], index: int) -> Iterator[tuple[str, dict[str, Any]]]:
    base = {"item_id": item["id"], "output_index": index}
    if item["type"] == "image_generation_call":
        pending = {k: v for k, v in item.items() if k not in ("result", "revised_prompt")}
        yield (
            "response.output_item.added",
            {"output_index": index, "item": {**pending, "status": "in_progress"}},
        )
        yield "response.image_generation_call.in_progress", base
        yield "response.image_generation_call.generating", base
        partial = {
            **base,
            "partial_image_index": 0,
            "partial_image_b64": item["result"],
            "output_format": "png",
        }
        yield "response.image_generation_call.partial_image", partial
        yield "response.image_generation_call.completed", base
    elif item["type"] == "reasoning":
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


def failed_frame(
    body: dict[str, Any], code: str, message: str, sent: int, error: dict[str, Any] | None = None
) -> bytes:
    """The in-band ``response.failed`` event (e.g. ``server_is_overloaded`` inside a 200);
    ``error``: the whole error object instead (a usage limit with its reset)."""
    response = _response(body, new_id("resp_"), "failed", [], None)
    response["error"] = error if error is not None else {"code": code, "message": message}
    return sse({"type": "response.failed", "sequence_number": sent, "response": response}, "response.failed")


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """``/responses/compact``: keep the user messages, fold the rest into one compaction item;
    for a ``grok-*`` model xAI's answer: the compaction item alone (without an ``id``), the
    model, usage without token details (as CPA's xAI executor tests have it)."""
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": items}]}]
    grok = str(body.get("model") or "").startswith("grok-")
    kept = [] if grok else [i for i in items or () if isinstance(i, dict) and i.get("role") == "user"]
    cid = new_id("cmp_")
    sealed = grok_encrypted(cid) if grok else ENCRYPTED
    compaction: dict[str, Any] = {"type": "compaction", "encrypted_content": sealed}
    if not grok:
        compaction = {"id": cid, **compaction}
    tokens = estimate_tokens(items)
    if grok:  # xAI: its model named, usage without the token details
        usage = {"input_tokens": tokens, "output_tokens": 1, "total_tokens": tokens + 1}
        return {
            "id": new_id("resp_"),
            "object": "response.compaction",
            "model": body.get("model"),
            "output": [compaction],
            "usage": usage,
        }
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


# ---- the Responses WebSocket (Codex's ``GET /backend-api/codex/responses``, xAI's)


async def handle_ws(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    """The upstream Responses WebSocket: every ``response.create`` message is answered with
    the events of ``POST /responses`` as text messages, on the same socket, as many turns
    as the client sends. Each message is recorded (method ``WS``, path ``<path>#ws``) and
    takes the fake's scripted behaviours: ``status`` is answered with an ``error`` event
    carrying that status (as Codex does); ``cut_after`` closes the socket (1011, or
    ``fake.ws_cut_code``; 1006 drops the connection without a close frame) after that
    many events; ``stream_error`` sends ``response.failed`` instead of the rest.
    ``fake.ws_opened`` counts upgrades, ``fake.ws_open`` the sockets open now;
    ``fake.ws_close_after_turn = True`` closes each socket after one turn (1001);
    ``fake.ws_frames`` (a list of texts) answers the next turn with those messages as they
    are, then nothing (e.g. an error without a ``type``, as xAI sends). A
    ``previous_response_id`` continues a response this socket gave (its input and output,
    then the new input items); another id is a 400 ``previous_response_not_found`` event."""
    # ``fake.ws_max_message``: larger messages are refused with close code 1009 (aiohttp's own check);
    # ``fake.ws_heartbeat``: a ping after that many idle seconds, the socket dropped without a pong
    # within half of it (the Codex backend's "keepalive ping timeout")
    ws = web.WebSocketResponse(
        max_msg_size=getattr(fake, "ws_max_message", 0), heartbeat=getattr(fake, "ws_heartbeat", None)
    )
    await ws.prepare(request)
    fake.ws_opened = getattr(fake, "ws_opened", 0) + 1
    fake.ws_open = getattr(fake, "ws_open", 0) + 1
    held: dict[str, list[Any]] = {}  # this socket's responses: id -> whole input + output
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            if not await _ws_turn(fake, request, ws, msg.data, held):
                break
            if getattr(fake, "ws_close_after_turn", False):  # an upstream that drops idle sockets
                await ws.close(code=WSCloseCode.GOING_AWAY)
                break
    finally:
        fake.ws_open -= 1
    return ws


async def _ws_turn(
    fake: OpenAIFake, request: web.Request, ws: web.WebSocketResponse, text: str, held: dict[str, list[Any]]
) -> bool:
    body = _parse_json(text.encode())
    rec = Recorded("WS", request.path + "#ws", {}, CIMultiDict(request.headers), text.encode(), body)
    rec.key = fake.extract_key(request)
    fake.requests.append(rec)
    if not isinstance(body, dict) or body.get("type") != "response.create":
        await ws.send_json({"type": "error", "status": 400, "error": {"message": "expected response.create"}})
        return True
    if not body.get("model") or body.get("input") is None:
        await ws.send_json(
            {"type": "error", "status": 400, "error": {"message": "'model' and 'input' are required"}}
        )
        return True
    refused = next((k for k in CODEX_REFUSED if k in body), None)
    if refused and request.path.startswith("/backend-api/codex"):  # as the POST route
        error = {"type": "invalid_request_error", "message": f"Unsupported parameter: {refused}"}
        await ws.send_json({"type": "error", "status": 400, "error": error})
        return True
    frames = getattr(fake, "ws_frames", None)
    if frames:  # scripted raw messages for this turn
        fake.ws_frames = []
        for text in frames:
            await ws.send_str(text)
        return True
    beh = fake._take_behavior(rec)
    if beh is not None and beh.delay:
        await asyncio.sleep(beh.delay)
    if beh is not None and beh.status is not None:
        error = fake.error_body(beh.status, beh.message or f"fake error {beh.status}", beh)
        await ws.send_json({"type": "error", "status": beh.status, **error})
        return True
    previous = body.get("previous_response_id")
    if previous:  # a continuation: only on the socket that answered it (Codex's rule)
        if previous not in held:
            error = {"type": "invalid_request_error", "code": "previous_response_not_found"}
            await ws.send_json({"type": "error", "status": 400, "error": {**error, "message": "not found"}})
            return True
        new_input = body["input"] if isinstance(body["input"], list) else []
        body = {**body, "input": [*held[previous], *new_input]}
    unpaired = unpaired_tool_item(body) if getattr(fake, "pairs_tools", False) else None
    if unpaired:
        error = {"type": "invalid_request_error", "code": None, "param": "input", "message": unpaired}
        await ws.send_json({"type": "error", "status": 400, "error": error})
        return True
    turn = turn_of(body)
    reply = decide("responses", turn, beh.text if beh else None)
    response = _drawn(body, turn, _items(body, reply), reply)
    inputs = body["input"]
    if not isinstance(inputs, list):
        inputs = [{"role": "user", "content": inputs}]
    held[response["id"]] = [*inputs, *response["output"]]
    delay = beh.stream_delay if beh is not None and beh.stream_delay is not None else fake.stream_delay
    for sent, frame in enumerate(_events(response)):
        if beh is not None and beh.cut_after == sent:
            code = getattr(fake, "ws_cut_code", WSCloseCode.INTERNAL_ERROR)
            if code == WSCloseCode.ABNORMAL_CLOSURE and request.transport is not None:
                request.transport.abort()  # no close frame: the client reads 1006
            else:
                await ws.close(code=code, message=b"fake upstream died")
            return False
        if beh is not None and beh.stream_error and beh.error_after == sent:
            failed = failed_frame(body, beh.stream_error, beh.message or "fake in-band error", sent)
            await ws.send_str(failed.split(b"data: ", 1)[1].strip().decode())
            return True
        if delay and sent:
            await asyncio.sleep(delay)
        await ws.send_str(frame.split(b"data: ", 1)[1].strip().decode())
    return True


def _png_1x1() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    raw = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + raw).decode()


PNG_1X1 = _png_1x1()


def _drawn(body: dict[str, Any], turn: Turn, items: list[dict[str, Any]], reply: Reply) -> dict[str, Any]:
    """The completed response of ``items``, an image first when the turn asks to draw one,
    with the ``tool_usage`` the backend adds when the image tool was offered."""
    draws = _draws(body, turn)
    if draws:
        items.insert(0, image_item())
    response = _response(body, new_id("resp_"), "completed", items, _usage(body, reply))
    if _offers_image_tool(body):  # zeros when no image was made
        response["tool_usage"] = tool_usage(drew=draws)
    return response


def _offers_image_tool(body: dict[str, Any]) -> bool:
    tools = body.get("tools") or ()
    return any(isinstance(t, dict) and t.get("type") == "image_generation" for t in tools)


def _draws(body: dict[str, Any], turn: Turn) -> bool:
    return _offers_image_tool(body) and "draw" in (turn.last_user_text or "").lower()


# what the image model spent on one image (``response.tool_usage.image_gen``, as the Codex
# backend reports it)
IMAGE_GEN_USAGE = {
    "input_tokens": 27,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 27},
    "output_tokens": 1056,
    "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
    "total_tokens": 1083,
}


def tool_usage(drew: bool) -> dict[str, Any]:
    """The ``tool_usage`` of an answer offered the image tool: the image model's tokens
    when it drew, else zeros (the backend sends the object either way)."""
    zero = {
        "input_tokens": 0,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
        "total_tokens": 0,
    }
    return {"image_gen": dict(IMAGE_GEN_USAGE) if drew else zero, "web_search": {"num_requests": 0}}


def image_item() -> dict[str, Any]:
    return {
        "id": new_id("ig_"),
        "type": "image_generation_call",
        "status": "completed",
        "background": "opaque",
        "output_format": "png",
        "quality": "high",
        "size": "1024x1024",
        "revised_prompt": "a small green square",
        "result": PNG_1X1,
    }
