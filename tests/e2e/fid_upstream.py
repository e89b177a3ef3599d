"""A scripted upstream for the fidelity tests: one answer (a :class:`Scene`), written by hand
in each upstream's own wire format, whole and streamed, so what a client gets can be checked
against what the upstream said, field by field, without our own encoders on the upstream side.

Routes: ``POST /v1/chat/completions`` (OpenAI-compatible), ``POST /v1/messages`` (Anthropic),
``POST /v1beta/models/{model}:generateContent`` / ``:streamGenerateContent`` (Gemini) and
``POST /backend-api/codex/responses`` (Codex, stream only). ``requests`` holds every body.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["SIGS", "Call", "Scene", "ScriptedUpstream", "Use", "config"]


def _field(num: int, data: bytes) -> bytes:
    return bytes([num << 3 | 2, len(data)]) + data


# signatures shaped as each family issues them (the proxy recognises a family by its envelope)
_CLAUDE_CHANNEL = bytes([0x08, 12, 0x10, 2]) + _field(6, b"claude-sonnet-4-6") + _field(5, bytes(range(48)))
SIGS = {
    "claude": base64.b64encode(_field(2, _field(1, _CLAUDE_CHANNEL)) + bytes([0x18, 1])).decode(),
    "gemini": base64.b64encode(_field(2, _field(1, bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34])))).decode(),
    "codex": base64.urlsafe_b64encode(
        b"\x80" + bytes(8) + bytes(range(16)) + bytes(range(64)) + bytes(32)
    ).decode(),
}


@dataclass
class Call:
    id: str
    name: str
    pieces: list[str]  # the arguments' JSON, as the deltas that stream it

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


@dataclass
class Use:
    """Usage in OpenAI's sense: ``input`` includes cache reads and writes, ``output``
    includes reasoning."""

    input: int = 100
    cached: int = 60
    cache_write: int = 0
    output: int = 30
    reasoning: int = 12


@dataclass
class Scene:
    text: str = ""  # said before the calls
    thinking: str = ""
    signed: bool = False  # the thinking carries the family's signature (SIGS)
    calls: list[Call] = field(default_factory=list)
    stop: str = "end"  # end | length | tool | filter | refusal
    use: Use = field(default_factory=Use)
    ids_kept: bool = True
    lean_usage: bool = False  # usage as older APIs stream it: Claude's message_delta with output only,
    # Chat's usage on the finish_reason chunk  # False: the upstream's calls carry no id (Gemini before v3)


class ScriptedUpstream(LocalServer):
    def __init__(self) -> None:
        self.scene = Scene(text="hi")
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_post("/v1/messages", self._claude)
        router.add_post("/v1beta/models/{target}", self._gemini)
        router.add_post("/backend-api/codex/responses", self._codex)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.paths.append(request.path)
        return body

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if body.get("stream"):
            return await _sse(request, chat_stream(self.scene))
        return web.json_response(chat_whole(self.scene))

    async def _claude(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if body.get("stream"):
            return await _sse(request, claude_stream(self.scene))
        return web.json_response(claude_whole(self.scene))

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        await self._body(request)
        if "streamGenerateContent" in request.match_info["target"]:
            return await _sse(
                request, [b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in gemini_chunks(self.scene)]
            )
        return web.json_response(gemini_whole(self.scene))

    async def _codex(self, request: web.Request) -> web.StreamResponse:
        await self._body(request)
        return await _sse(request, responses_stream(self.scene))


async def _sse(request: web.Request, frames: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for f in frames:
        await resp.write(f)
        await asyncio.sleep(0)
    await resp.write_eof()
    return resp


def _ev(data: dict[str, Any], event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


# ---------------------------------------------------------------- OpenAI Chat Completions

_CHAT_STOP = {
    "end": "stop",
    "length": "length",
    "tool": "tool_calls",
    "filter": "content_filter",
    "refusal": "stop",
}


def _chat_usage(u: Use) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    }


def chat_whole(s: Scene) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": s.text or None}
    if s.stop == "refusal":
        msg["refusal"], msg["content"] = s.text, None
    if s.thinking:
        msg["reasoning_content"] = s.thinking
    if s.calls:
        msg["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in s.calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "message": msg, "finish_reason": _CHAT_STOP[s.stop]}],
        "usage": _chat_usage(s.use),
    }


def chat_stream(s: Scene) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up-model"}
        return _ev({**c, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    out = [chunk({"role": "assistant", "content": ""})]
    if s.thinking:
        out += [chunk({"reasoning_content": s.thinking[:5]}), chunk({"reasoning_content": s.thinking[5:]})]
    for i in range(0, len(s.text), 4):
        key = "refusal" if s.stop == "refusal" else "content"
        out.append(chunk({key: s.text[i : i + 4]}))
    for n, c in enumerate(s.calls):
        head = {"index": n, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
        out += [chunk({"tool_calls": [{"index": n, "function": {"arguments": p}}]}) for p in c.pieces]
    if s.lean_usage:  # the usage on the finish_reason chunk (DeepSeek, many gateways)
        last = orjson.loads(chunk({}, _CHAT_STOP[s.stop])[6:])
        return [*out, _ev({**last, "usage": _chat_usage(s.use)}), b"data: [DONE]\n\n"]
    out.append(chunk({}, _CHAT_STOP[s.stop]))
    tail = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up-model"}
    out.append(_ev({**tail, "choices": [], "usage": _chat_usage(s.use)}))
    return [*out, b"data: [DONE]\n\n"]


# ---------------------------------------------------------------- Anthropic Messages

_CLAUDE_STOP = {
    "end": "end_turn",
    "length": "max_tokens",
    "tool": "tool_use",
    "filter": "refusal",
    "refusal": "refusal",
}


def _claude_usage(u: Use) -> dict[str, Any]:
    return {
        "input_tokens": u.input - u.cached - u.cache_write,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cached,
        "output_tokens": u.output,
    }


def _claude_blocks(s: Scene) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if s.thinking == "<redacted>":
        blocks.append({"type": "redacted_thinking", "data": "EmwKAhgBEgy" + "A" * 80})
    elif s.thinking:
        blocks.append(
            {"type": "thinking", "thinking": s.thinking, "signature": SIGS["claude"] if s.signed else ""}
        )
    if s.text:
        blocks.append({"type": "text", "text": s.text})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": orjson.loads(c.arguments)} for c in s.calls
    ]
    return blocks


def claude_whole(s: Scene) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": _claude_blocks(s),
        "stop_reason": _CLAUDE_STOP[s.stop],
        "stop_sequence": None,
        "usage": _claude_usage(s.use),
    }


def claude_stream(s: Scene) -> list[bytes]:
    u = _claude_usage(s.use)
    start = {**claude_whole(s), "content": [], "stop_reason": None, "usage": {**u, "output_tokens": 1}}
    out = [_ev({"type": "message_start", "message": start}, "message_start")]
    for i, b in enumerate(_claude_blocks(s)):
        if b["type"] == "thinking":
            first: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": b["thinking"]}]
            deltas.append({"type": "signature_delta", "signature": b["signature"]})
        elif b["type"] == "redacted_thinking":
            first, deltas = b, []
        elif b["type"] == "text":
            first = {"type": "text", "text": ""}
            deltas = [
                {"type": "text_delta", "text": b["text"][j : j + 4]} for j in range(0, len(b["text"]), 4)
            ]
        else:
            first = {**b, "input": {}}
            call = next(c for c in s.calls if c.id == b["id"])
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in call.pieces]
        out.append(
            _ev({"type": "content_block_start", "index": i, "content_block": first}, "content_block_start")
        )
        out += [
            _ev({"type": "content_block_delta", "index": i, "delta": d}, "content_block_delta")
            for d in deltas
        ]
        out.append(_ev({"type": "content_block_stop", "index": i}, "content_block_stop"))
    delta = {"stop_reason": _CLAUDE_STOP[s.stop], "stop_sequence": None}
    tail_usage = {"output_tokens": u["output_tokens"]} if s.lean_usage else u
    out.append(_ev({"type": "message_delta", "delta": delta, "usage": tail_usage}, "message_delta"))
    return [*out, _ev({"type": "message_stop"}, "message_stop")]


# ---------------------------------------------------------------- Gemini generateContent

_GEMINI_STOP = {
    "end": "STOP",
    "length": "MAX_TOKENS",
    "tool": "STOP",
    "filter": "SAFETY",
    "refusal": "SAFETY",
}


def _gemini_usage(u: Use) -> dict[str, Any]:
    return {
        "promptTokenCount": u.input,
        "cachedContentTokenCount": u.cached,
        "candidatesTokenCount": u.output - u.reasoning,
        "thoughtsTokenCount": u.reasoning,
        "totalTokenCount": u.input + u.output,
    }


def _gemini_parts(s: Scene) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if s.thinking:
        parts.append({"text": s.thinking, "thought": True})
    if s.text:
        parts.append({"text": s.text})
    for n, c in enumerate(s.calls):
        fc: dict[str, Any] = {"name": c.name, "args": orjson.loads(c.arguments)}
        if s.ids_kept:
            fc["id"] = c.id
        part: dict[str, Any] = {"functionCall": fc}
        if n == 0 and s.signed:
            part["thoughtSignature"] = SIGS["gemini"]
        parts.append(part)
    if not s.calls and s.signed and parts:
        parts[-1]["thoughtSignature"] = SIGS["gemini"]
    return parts


def gemini_whole(s: Scene) -> dict[str, Any]:
    cand = {
        "content": {"role": "model", "parts": _gemini_parts(s)},
        "finishReason": _GEMINI_STOP[s.stop],
        "index": 0,
    }
    return {
        "candidates": [cand],
        "usageMetadata": _gemini_usage(s.use),
        "modelVersion": "up-model",
        "responseId": "r1",
    }


def gemini_chunks(s: Scene) -> list[dict[str, Any]]:
    parts = _gemini_parts(s)
    out = []
    for p in parts:
        if "text" in p and "functionCall" not in p and len(p["text"]) > 4 and "thoughtSignature" not in p:
            pieces = [{**p, "text": p["text"][j : j + 4]} for j in range(0, len(p["text"]), 4)]
        else:
            pieces = [p]
        out += [
            {
                "candidates": [{"content": {"role": "model", "parts": [q]}, "index": 0}],
                "modelVersion": "up-model",
            }
            for q in pieces
        ]
    last = out[-1] if out else {"candidates": [{"content": {"role": "model", "parts": []}, "index": 0}]}
    last["candidates"][0]["finishReason"] = _GEMINI_STOP[s.stop]
    last["usageMetadata"] = _gemini_usage(s.use)
    if not out:
        out.append(last)
    return out


# ---------------------------------------------------------------- OpenAI Responses (Codex)


def _responses_usage(u: Use) -> dict[str, Any]:
    return {
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.input + u.output,
    }


def responses_stream(s: Scene) -> list[bytes]:
    items: list[dict[str, Any]] = []
    if s.thinking:
        items.append(
            {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": s.thinking}],
                "encrypted_content": SIGS["codex"] if s.signed else None,
            }
        )
    if s.text:
        part_type = "refusal" if s.stop == "refusal" else "output_text"
        part: dict[str, Any] = {"type": part_type, part_type if part_type == "refusal" else "text": s.text}
        if part_type == "output_text":
            part["annotations"] = []
        items.append(
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [part]}
        )
    items += [
        {
            "id": f"fc_{n}",
            "type": "function_call",
            "call_id": c.id,
            "name": c.name,
            "arguments": c.arguments,
            "status": "completed",
        }
        for n, c in enumerate(s.calls)
    ]
    status = "incomplete" if s.stop in ("length", "filter") else "completed"
    reason = {"length": "max_output_tokens", "filter": "content_filter"}.get(s.stop)
    base = {"id": "resp_1", "object": "response", "created_at": 1, "model": "up-model"}
    final = {
        **base,
        "status": status,
        "incomplete_details": {"reason": reason} if reason else None,
        "output": items,
        "usage": _responses_usage(s.use),
    }
    seq = iter(range(1, 1000))

    def ev(kind: str, **f: Any) -> bytes:
        return _ev({"type": kind, "sequence_number": next(seq), **f}, kind)

    out = [ev("response.created", response={**final, "status": "in_progress", "output": [], "usage": None})]
    for i, it in enumerate(items):
        if it["type"] == "reasoning":
            out.append(ev("response.output_item.added", output_index=i, item={**it, "summary": []}))
            out.append(
                ev(
                    "response.reasoning_summary_text.delta",
                    output_index=i,
                    item_id=it["id"],
                    summary_index=0,
                    delta=s.thinking,
                )
            )
        elif it["type"] == "message":
            out.append(
                ev(
                    "response.output_item.added",
                    output_index=i,
                    item={**it, "content": [], "status": "in_progress"},
                )
            )
            p = it["content"][0]
            if p["type"] == "output_text":
                out.append(
                    ev(
                        "response.content_part.added",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        part={**p, "text": ""},
                    )
                )
                for j in range(0, len(s.text), 4):
                    out.append(
                        ev(
                            "response.output_text.delta",
                            output_index=i,
                            item_id=it["id"],
                            content_index=0,
                            delta=s.text[j : j + 4],
                        )
                    )
                out.append(
                    ev(
                        "response.output_text.done",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        text=s.text,
                    )
                )
                out.append(
                    ev(
                        "response.content_part.done",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        part=p,
                    )
                )
            else:
                out.append(
                    ev(
                        "response.content_part.added",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        part={**p, "refusal": ""},
                    )
                )
                out.append(
                    ev(
                        "response.refusal.delta",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        delta=s.text,
                    )
                )
                out.append(
                    ev(
                        "response.refusal.done",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        refusal=s.text,
                    )
                )
                out.append(
                    ev(
                        "response.content_part.done",
                        output_index=i,
                        item_id=it["id"],
                        content_index=0,
                        part=p,
                    )
                )
        else:
            out.append(
                ev(
                    "response.output_item.added",
                    output_index=i,
                    item={**it, "arguments": "", "status": "in_progress"},
                )
            )
            call = next(c for c in s.calls if c.id == it["call_id"])
            for p in call.pieces:
                out.append(
                    ev("response.function_call_arguments.delta", output_index=i, item_id=it["id"], delta=p)
                )
            out.append(
                ev(
                    "response.function_call_arguments.done",
                    output_index=i,
                    item_id=it["id"],
                    arguments=call.arguments,
                )
            )
        out.append(ev("response.output_item.done", output_index=i, item=it))
    kind = "response.incomplete" if status == "incomplete" else "response.completed"
    out.append(ev(kind, response=final))
    return out


# ---------------------------------------------------------------- proxy config

MODELS = {"chat": "up-chat", "claude": "up-claude", "gemini": "up-gemini", "codex": "up-codex"}


def config(base: str, key: str) -> str:
    """A proxy config with one model per upstream format, all served by ``base``."""
    return f"""
api-keys: ["{key}"]
openai-compatibility:
  - name: scripted
    base-url: "{base}/v1"
    api-key-entries:
      - api-key: "sk-up"
    models:
      - name: "up-model"
        alias: "up-chat"
claude-api-key:
  - api-key: "sk-up"
    base-url: "{base}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "up-claude"
gemini-api-key:
  - api-key: "sk-up"
    base-url: "{base}"
    models:
      - name: "gemini-2.5-flash"
        alias: "up-gemini"
codex-api-key:
  - api-key: "sk-up"
    base-url: "{base}/backend-api/codex"
    models:
      - name: "gpt-5.4"
        alias: "up-codex"
"""
