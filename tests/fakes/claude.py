"""Fake Anthropic Messages API.

Routes: ``POST /v1/messages`` (``?beta=true`` accepted), ``POST /v1/messages/count_tokens``,
``GET /v1/models``, ``GET /v1/models/{id}``; Kimi Code's Anthropic endpoint serves the same
messages routes under ``/coding``. Auth: ``x-api-key`` or ``Authorization: Bearer``.
Errors: ``{"type":"error","error":{"type","message"},"request_id"}`` with a ``request-id``
header; 429s may carry ``anthropic-ratelimit-unified-*`` headers (``Behavior.unified``).

A gateway in front of it may compress its answers (``compression``, per API key, ``None``
for any): gzip or zstd, named in ``Content-Encoding`` or not (a gateway that compresses
without saying so), or broken (bytes that do not decode under the coding named); a stream
is compressed frame by frame, each flushed, so the proxy decodes it as it comes.

Thinking is checked as strictly as Anthropic does: every ``thinking`` block sent back must
carry a signature this fake issued (an ``E...`` protobuf envelope shaped like Anthropic's,
with an HMAC over its nonce), and with manual thinking on (``enabled``), the first assistant
message of the tool loop the last user turn answers must start with a thinking block; else a 400
``invalid_request_error`` with Anthropic's message. So is a JSON output schema
(``output_config.format``, :mod:`tests.fakes.claude_schema`); an accepted one makes the
answer a JSON value that follows it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from aiohttp import web
from backports.zstd import ZstdCompressor

from tests.fakes.claude_schema import format_problem, output_schema, sample
from tests.fakes.dialog import Reply, Tool, Turn, decide, estimate_tokens, new_id, text_of
from tests.fakes.server import RECORD, Behavior, FakeServer, iter_chunks, sse

__all__ = ["ClaudeFake", "Compression"]

_SECRET = b"fake-claude-signing-key"
_THINKING_FIRST = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
    "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
    "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
    "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
    "our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STREAM_TYPES = {"overloaded": "overloaded_error"}


@dataclass
class Compression:
    """How a gateway compresses an answer: ``coding`` (``gzip``, ``zstd`` or ``deflate``, or
    several applied in turn: ``deflate, zstd``), whether a ``Content-Encoding`` header names it (one
    header listing the codings, or one header per coding when ``repeated``), and whether
    the bytes are ``broken`` (not that coding at all: a body that fails to decode)."""

    coding: str = "gzip"
    labelled: bool = False
    broken: bool = False
    repeated: bool = False

    @property
    def codings(self) -> list[str]:
        return [c.strip() for c in self.coding.split(",")]

    def compressor(self) -> list[Any]:
        return [
            ZstdCompressor()
            if c == "zstd"
            else zlib.compressobj(wbits=zlib.MAX_WBITS if c == "deflate" else 31)
            for c in self.codings
        ]

    def label(self, headers: Any) -> None:
        """Name the coding in ``headers`` (a multidict), when ``labelled``."""
        if not self.labelled:
            return
        if self.repeated:
            for coding in self.codings:
                headers.add("Content-Encoding", coding)
        else:
            headers["Content-Encoding"] = self.coding

    def piece(self, compressor: list[Any], data: bytes) -> bytes:
        """``data`` compressed and flushed, so the reader can decode it at once."""
        if self.broken:
            return b"not-a-valid-" + self.coding.encode() + b"-stream"
        for one in compressor:
            flush = ZstdCompressor.FLUSH_BLOCK if isinstance(one, ZstdCompressor) else zlib.Z_SYNC_FLUSH
            data = bytes(one.compress(data) + one.flush(flush))
        return data

    def end(self, compressor: list[Any]) -> bytes:
        """What is left of a stream once its last piece went."""
        data = b""
        for one in compressor:
            data = bytes(one.compress(data) + one.flush())
        return data

    def whole(self, data: bytes) -> bytes:
        if self.broken:
            return b"not-a-valid-" + self.coding.encode() + b"-stream"
        for one in self.compressor():
            data = bytes(one.compress(data) + one.flush())
        return data


class ClaudeFake(FakeServer):
    """Fake of api.anthropic.com."""

    kind = "claude"
    default_models: ClassVar[tuple[str, ...]] = ("claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        # API key (None: any) -> how a gateway compresses the answers to it
        self.compression: dict[str | None, Compression] = {}
        # the ids of the Files API uploads this account holds; a message block whose
        # source names another file answers 404 as the Messages API does
        self.files: set[str] = set()
        # the keys of subscription accounts without extra usage: a request that asks for
        # the 1M context window (its beta) answers Anthropic's 429 for long context
        self.no_extra_usage: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self.compression.clear()
        self.files.clear()
        self.no_extra_usage.clear()

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.middlewares.insert(0, self._compress)
        return app

    def _compression(self, request: web.Request) -> Compression | None:
        rec = request.get(RECORD)
        key = rec.key if rec is not None else None
        return self.compression.get(key) or self.compression.get(None)

    @web.middleware
    async def _compress(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A whole answer (JSON or an error) compressed as ``compression`` says."""
        resp = await handler(request)
        how = self._compression(request)
        if how is None or not isinstance(resp, web.Response) or resp.body is None:
            return resp
        resp.body = how.whole(bytes(resp.body))  # type: ignore[arg-type]
        how.label(resp.headers)
        return resp

    async def _compressed_stream(
        self, request: web.Request, frames: Iterable[bytes], how: Compression
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        how.label(resp.headers)
        await resp.prepare(request)
        compressor = how.compressor()
        for frame in frames:
            await resp.write(how.piece(compressor, frame))
            if how.broken:
                break
        if not how.broken:
            await resp.write(how.end(compressor))
        await resp.write_eof()
        return resp

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)
        router.add_post("/v1/messages/count_tokens", self._count_tokens)
        router.add_get("/v1/models", self._models)
        router.add_get("/v1/models/{model}", self._model)
        router.add_post("/coding/v1/messages", self._messages)  # Kimi Code
        router.add_post("/coding/v1/messages/count_tokens", self._count_tokens)

    def extract_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-api-key") or super().extract_key(request)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = self.body(request)
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return self.error_response(400, "model: Field required", None)
        if not isinstance(body.get("max_tokens"), int):
            return self.error_response(400, "max_tokens: Field required", None)
        problem = thinking_problem(body) or sampling_problem(body) or format_problem(body)
        if problem is not None:
            return self.error_response(400, problem, None)
        missing = next((f for f in _file_ids(body) if f not in self.files), None)
        if missing is not None:
            return self.error_response(404, f"File not found: {missing}", None)
        if self.extract_key(request) in self.no_extra_usage and _asks_1m(request):
            return self.error_response(429, "Extra usage is required for long context requests.", None)
        beh = self.behavior(request)
        reply = decide("claude", turn_of(body), beh.text if beh else None, "toolu_01")
        structured = output_schema(body)
        if structured is not None and not reply.tool_calls:
            reply.text = sample(structured[1])  # the grammar admits only the schema's JSON
        message = _message(body, reply, _usage(request, body, reply))
        if body.get("stream") is True:
            how = self._compression(request)
            if how is not None:
                return await self._compressed_stream(request, _events(message), how)
            return await self.stream(request, _events(message))
        return self.json_response(message)

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        body = self.body(request)
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return self.error_response(400, "model: Field required", None)
        return self.json_response({"input_tokens": _prompt_tokens(body)})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [_model(m) for m in self.models]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return self.json_response({"data": data, "has_more": False, "first_id": first, "last_id": last})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return self.error_response(404, f"model: {model}", None)
        return self.json_response(_model(model))

    # ---- errors -----------------------------------------------------------------------

    def auth_error(self, key: str | None) -> web.Response:
        message = "x-api-key header is required" if key is None else "invalid x-api-key"
        return self.error_response(401, message, None)

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        kind = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": new_id("req_")}

    def error_headers(self, beh: Behavior | None) -> dict[str, str]:
        headers = {"request-id": new_id("req_")}
        if beh is not None and beh.unified:
            for name, value in beh.unified.items():
                headers[f"anthropic-ratelimit-unified-{name}"] = str(value)
        return headers

    def stream_error_frame(self, request: web.Request, beh: Behavior, sent: int) -> bytes:
        kind = _STREAM_TYPES.get(beh.stream_error or "", beh.stream_error or "api_error")
        message = beh.message or ("Overloaded" if kind == "overloaded_error" else f"fake in-band {kind}")
        return sse({"type": "error", "error": {"type": kind, "message": message}}, "error")


def turn_of(body: dict[str, Any]) -> Turn:
    messages = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") != "system"]
    turn = Turn(model=str(body["model"]))
    last = messages[-1] if messages else {}
    results = [b for b in last.get("content") or () if isinstance(b, dict) and b.get("type") == "tool_result"]
    if last.get("role") == "user" and results:
        turn.tool_output = "".join(text_of(b.get("content")) for b in results)
    for message in reversed(messages):
        if message.get("role") == "user" and text_of(message.get("content"), ("text",)):
            turn.last_user_text = text_of(message.get("content"), ("text",))
            break
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("name") and isinstance(tool.get("input_schema"), dict):
            turn.tools.append(Tool(tool["name"], tool["input_schema"]))
    turn.thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    return turn


# ---- signatures ------------------------------------------------------------------------


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _pb(num: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _pb_varint(num << 3) + _pb_varint(value)
    return _pb_varint(num << 3 | 2) + _pb_varint(len(value)) + value


def _mac(nonce: bytes, model: bytes) -> bytes:
    digest = hmac.new(_SECRET, nonce + model, hashlib.sha256).digest()
    return digest + hashlib.sha256(digest).digest()  # 64 bytes, the size of Anthropic's ECDSA field


def issue_signature(model: str) -> str:
    """A signature shaped like Anthropic's single-layer one (protobuf, first byte 0x12)."""
    nonce, name = os.urandom(12), model.encode()
    channel = _pb(1, 12) + _pb(3, 2) + _pb(5, _mac(nonce, name)) + _pb(6, name)
    payload = _pb(2, _pb(1, channel) + _pb(2, nonce)) + _pb(3, 1)
    return base64.b64encode(payload).decode()


def _pb_fields(data: bytes) -> dict[int, bytes | int]:
    out: dict[int, bytes | int] = {}
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        if tag & 7 == 0:
            out[tag >> 3], pos = _read_varint(data, pos)
        elif tag & 7 == 2:
            size, pos = _read_varint(data, pos)
            out[tag >> 3], pos = data[pos : pos + size], pos + size
        else:
            raise ValueError("wire type")
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def signature_ok(signature: object) -> bool:
    """True for a signature this fake issued (for any model, as Anthropic accepts)."""
    if not isinstance(signature, str) or not signature.startswith("E"):
        return False
    try:
        container = _pb_fields(base64.b64decode(signature, validate=True))[2]
        inner = _pb_fields(container)  # type: ignore[arg-type]
        channel = _pb_fields(inner[1])  # type: ignore[arg-type]
        nonce, name, mac = inner[2], channel[6], channel[5]
        return isinstance(mac, bytes) and hmac.compare_digest(mac, _mac(nonce, name))  # type: ignore[arg-type]
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        return False


def thinking_problem(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 message for thinking blocks it would refuse, or None."""
    messages = body["messages"]
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if (
                isinstance(block, dict)
                and block.get("type") == "thinking"
                and not signature_ok(block.get("signature"))
            ):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    # manual thinking only: under adaptive thinking Claude itself may skip thinking (a low
    # effort, a forced tool call), so a turn that starts with a tool call is taken back
    if (body.get("thinking") or {}).get("type") != "enabled" or len(messages) < 2:
        return None
    if not _has(messages[-1], "tool_result"):
        return None
    # the turn's first assistant message: the loop runs back over assistant messages and user
    # messages of tool results; its later steps need no thinking (interleaved thinking may
    # skip one). Anthropic names that first message, "messages.1" in a one-question history.
    lead = None
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if message.get("role") == "assistant":
            lead = i
        elif not _has(message, "tool_result"):
            break
    if lead is None or not _has(messages[lead], "tool_use"):
        return None
    content = messages[lead]["content"]
    first = content[0].get("type") if isinstance(content[0], dict) else "text"
    if first in ("thinking", "redacted_thinking"):
        return None
    return _THINKING_FIRST.format(i=lead, found=first)


def sampling_problem(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 message for sampling settings it refuses (current models), or None:
    with thinking on, a temperature other than 1, a top_p below 0.95, any top_k; without it,
    temperature and top_p together; a temperature outside 0-1."""
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and not 0 <= temperature <= 1:
        return "temperature: Input should be less than or equal to 1"
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        if temperature is not None and temperature != 1:
            return "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."
        if top_p is not None and top_p < 0.95:
            return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
        if body.get("top_k") is not None:
            return "`top_k` must be unset when thinking is enabled."
        return None
    if temperature is not None and top_p is not None:
        return "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    return None


def _has(message: Any, kind: str) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == kind for b in content)


def _prompt_tokens(body: dict[str, Any]) -> int:
    return estimate_tokens(body.get("system"), body.get("messages"), body.get("tools"))


def _usage(request: web.Request, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Input usage; a request that uses cache_control reports part of its prompt as cached."""
    prompt = _prompt_tokens(body)
    cached = b'"cache_control"' in request[RECORD].body
    read, created = (prompt // 2, prompt // 4) if cached else (0, 0)
    output = estimate_tokens(reply.text, reply.thinking, [c.arguments for c in reply.tool_calls])
    return {
        "input_tokens": prompt - read - created,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "output_tokens": output,
    }


def _message(body: dict[str, Any], reply: Reply, usage: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append(
            {"type": "thinking", "thinking": reply.thinking, "signature": issue_signature(body["model"])}
        )
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append({"type": "tool_use", "id": call.call_id, "name": call.name, "input": call.arguments})
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def _events(message: dict[str, Any]) -> Iterator[bytes]:
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield sse({"type": "message_start", "message": start}, "message_start")
    yield sse({"type": "ping"}, "ping")
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta")
    yield sse({"type": "message_stop"}, "message_stop")


def _block_events(index: int, block: dict[str, Any]) -> Iterator[bytes]:
    kind = block["type"]
    empty = {"thinking": {"thinking": "", "signature": ""}, "text": {"text": ""}, "tool_use": {"input": {}}}[
        kind
    ]
    yield sse(
        {"type": "content_block_start", "index": index, "content_block": {**block, **empty}},
        "content_block_start",
    )
    for delta in _deltas(block):
        yield sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
    yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")


def _deltas(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if block["type"] == "thinking":
        for piece in iter_chunks(block["thinking"]):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    elif block["type"] == "text":
        for piece in iter_chunks(block["text"]):
            yield {"type": "text_delta", "text": piece}
    else:
        args = orjson.dumps(block["input"]).decode()
        for start in range(0, len(args), 8):
            yield {"type": "input_json_delta", "partial_json": args[start : start + 8]}


def _model(model: str) -> dict[str, Any]:
    name = model.replace("-", " ").title()
    return {"type": "model", "id": model, "display_name": name, "created_at": "2025-05-22T00:00:00Z"}


def _asks_1m(request: web.Request) -> bool:
    """The request asks for the 1M context window (the ``context-1m`` beta)."""
    betas = ",".join(request.headers.getall("anthropic-beta", ()))
    return any(b.strip().startswith("context-1m-") for b in betas.split(","))


def _file_ids(body: dict[str, Any]) -> Iterator[str]:
    """The Files API ids the messages' blocks name as their ``source``."""
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            source = block.get("source") if isinstance(block, dict) else None
            if isinstance(source, dict) and source.get("type") == "file":
                yield str(source.get("file_id"))
