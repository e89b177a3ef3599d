"""Chat Completions for the fake OpenAI server: ``POST /v1/chat/completions``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.dialog import Reply, Tool, Turn, decide, estimate_tokens, new_id, text_of
from tests.fakes.server import Behavior, iter_chunks, sse

if TYPE_CHECKING:
    from tests.fakes.openai import OpenAIFake

__all__ = ["handle", "turn_of"]


async def handle(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if not isinstance(body.get("messages"), list) or not body.get("model"):
        return fake.error_response(400, "'messages' and 'model' are required", None)
    missing = next((f for f in _file_ids(body) if f not in fake.files), None)
    if missing is not None:
        error = {"message": f"No such File object: {missing}", "type": "invalid_request_error"}
        return fake.error_response(
            404, None, Behavior(body={"error": {**error, "param": "id", "code": None}})
        )
    turn = turn_of(body)
    beh = fake.behavior(request)
    reply = decide("openai", turn, beh.text if beh else None)
    usage = _usage(body, reply)
    completion_id = new_id("chatcmpl-")
    tier = _tier(body)
    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        frames = _chunks(completion_id, turn.model, reply, usage if include_usage else None, tier)
        return await fake.stream(request, frames)
    return fake.json_response(_completion(completion_id, turn.model, reply, usage, tier))


def _tier(body: dict[str, Any]) -> str:
    """The tier that served the request, as OpenAI names it in every answer when the request
    asked for one ("auto" is served as "default"); ``""`` when it asked for none."""
    asked = body.get("service_tier")
    if not isinstance(asked, str) or not asked:
        return ""
    return "default" if asked == "auto" else asked


def turn_of(body: dict[str, Any]) -> Turn:
    messages = [m for m in body["messages"] if isinstance(m, dict)]
    turn = Turn(model=str(body["model"]))
    if messages and messages[-1].get("role") == "tool":
        turn.tool_output = text_of(messages[-1].get("content"))
    for message in reversed(messages):
        if message.get("role") == "user":
            turn.last_user_text = text_of(message.get("content"))
            break
    for tool in body.get("tools") or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            turn.tools.append(Tool(fn["name"], fn.get("parameters") or {}))
    turn.thinking = body.get("reasoning_effort") not in (None, "none")
    return turn


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt = estimate_tokens(body.get("messages"), body.get("tools"))
    reasoning = estimate_tokens(reply.thinking) if reply.thinking else 0
    completion = estimate_tokens(reply.text, [c.arguments for c in reply.tool_calls]) + reasoning
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def _completion(cid: str, model: str, reply: Reply, usage: dict[str, Any], tier: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.thinking:
        message["reasoning_content"] = reply.thinking
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in reply.tool_calls
        ]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}
    out = {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
        "system_fingerprint": "fp_fake",
    }
    if tier:
        out["service_tier"] = tier
    return out


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def _chunks(
    cid: str, model: str, reply: Reply, usage: dict[str, Any] | None, tier: str = ""
) -> Iterator[bytes]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if tier:
            data["service_tier"] = tier
        if usage is not None:
            data["usage"] = None
        return sse(data)

    yield chunk({"role": "assistant", "content": "" if reply.text else None, "refusal": None})
    for piece in iter_chunks(reply.thinking or ""):
        if piece:
            yield chunk({"reasoning_content": piece})
    for piece in iter_chunks(reply.text):
        if piece:
            yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.call_id, "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        args = call.arguments_json
        for start in range(0, len(args), 8):
            yield chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": args[start : start + 8]}}]}
            )
    yield chunk({}, _finish(reply))
    if usage is not None:
        yield sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": usage,
            }
        )
    yield b"data: [DONE]\n\n"


def _file_ids(body: dict[str, Any]) -> Iterator[str]:
    """The uploaded files the messages' ``file`` parts name by ``file_id``."""
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            file = part.get("file") if isinstance(part, dict) and part.get("type") == "file" else None
            if isinstance(file, dict) and file.get("file_id"):
                yield str(file["file_id"])
