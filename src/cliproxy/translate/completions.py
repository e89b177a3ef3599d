"""``/v1/completions`` (OpenAI's legacy text completions) on top of Chat Completions, as
CPA's ``openai_handlers.go`` does it: the prompt becomes one user message, the sampling
fields that exist in both APIs are copied, and the chat answer (whole, or each stream
chunk) comes back as a ``text_completion`` object.

Where cliproxy differs on purpose: a ``prompt`` that is a list of one string is taken as
that string (CPA would send the list's JSON text as the message), and a prompt that is
not text (token arrays, several prompts) is the client's 400 instead of a garbled message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from cliproxy.calls import Reply, StreamReply
from cliproxy.errors import RequestError

__all__ = [
    "ChunkReframer",
    "chat_request",
    "completion_chunk",
    "completion_reply",
    "completion_response",
]

DEFAULT_PROMPT = "Complete this:"  # CPA's text for an empty prompt
_NUMBERS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")


def _prompt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if isinstance(value, list) and not value:
        return ""
    raise RequestError(
        "prompt: cliproxy serves /v1/completions with one text prompt (a string); "
        "token arrays and several prompts are not supported",
        param="prompt",
    )


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """CPA's ``convertCompletionsRequestToChatCompletions``."""
    prompt = _prompt(body.get("prompt")) or DEFAULT_PROMPT
    out: dict[str, Any] = {"model": body.get("model", ""), "messages": [{"role": "user", "content": prompt}]}
    if "max_tokens" in body:
        out["max_tokens"] = body["max_tokens"]
    for name in _NUMBERS:
        if name in body:
            out[name] = body[name]
    if "stop" in body:
        out["stop"] = body["stop"]
    if "stream" in body:
        out["stream"] = body["stream"] is True
    if "logprobs" in body:  # legacy ``logprobs`` is a count; chat wants a flag
        out["logprobs"] = bool(body["logprobs"])
    if "top_logprobs" in body:
        out["top_logprobs"] = body["top_logprobs"]
    if "echo" in body:
        out["echo"] = bool(body["echo"])
    if isinstance(body.get("stream_options"), dict):
        out["stream_options"] = body["stream_options"]
    return out


def _head(root: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": root.get("id") or "",
        "object": "text_completion",
        "created": root.get("created") or 0,
        "model": root.get("model") or "",
        "choices": [],
    }


def completion_response(raw: bytes) -> bytes:
    """CPA's ``convertChatCompletionsResponseToCompletions``: a whole chat answer."""
    root = orjson.loads(raw)
    if not isinstance(root, dict):
        return raw
    out = _head(root)
    if "usage" in root:
        out["usage"] = root["usage"]
    for choice in root.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        item: dict[str, Any] = {"index": choice.get("index") or 0}
        message = choice.get("message")
        if not isinstance(message, dict):
            message = choice.get("delta")
        if isinstance(message, dict) and "content" in message:
            item["text"] = message["content"] if isinstance(message["content"], str) else ""
        if "finish_reason" in choice:
            item["finish_reason"] = choice["finish_reason"]
        if "logprobs" in choice:
            item["logprobs"] = choice["logprobs"]
        out["choices"].append(item)
    return orjson.dumps(out)


def completion_chunk(raw: bytes) -> bytes | None:
    """CPA's ``convertChatCompletionsStreamChunkToCompletions``: one chat stream chunk as a
    completion chunk, or ``None`` for a chunk with no text, no finish reason and no usage."""
    try:
        root = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(root, dict):
        return None
    choices = [c for c in root.get("choices") or () if isinstance(c, dict)]
    meaningful = root.get("usage") is not None or any(
        (isinstance(c.get("delta"), dict) and c["delta"].get("content")) or c.get("finish_reason")
        for c in choices
    )
    if not meaningful:
        return None
    out = _head(root)
    for choice in choices:
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else None
        item: dict[str, Any] = {
            "index": choice.get("index") or 0,
            "text": text if isinstance(text, str) else "",
        }
        if choice.get("finish_reason") is not None:
            item["finish_reason"] = choice["finish_reason"]
        if "logprobs" in choice:
            item["logprobs"] = choice["logprobs"]
        out["choices"].append(item)
    if root.get("usage") is not None:
        out["usage"] = root["usage"]
    return orjson.dumps(out)


class ChunkReframer:
    """Chat SSE bytes in (any chunking), completion SSE frames out, frame by frame."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        start = 0
        find = buf.find
        # each line cut out where it lies (cutting it off the front of the rest would copy
        # the rest once per line: quadratic in a read of many events)
        while (cut := find(b"\n", start)) >= 0:
            out.append(self._line(buf[start:cut].rstrip(b"\r")))
            start = cut + 1
        self._buf = buf[start:]
        return b"".join(out)

    def flush(self) -> bytes:
        line, self._buf = self._buf.strip(), b""
        return self._line(line) if line else b""

    @staticmethod
    def _line(line: bytes) -> bytes:
        if not line.startswith(b"data:"):
            # keep-alive comments pass; event names and blank separators are re-made below
            return line + b"\n\n" if line.startswith(b":") else b""
        data = line[5:].strip()
        if data == b"[DONE]":
            return b"data: [DONE]\n\n"
        if data.startswith(b'{"error"'):
            return b"data: " + data + b"\n\n"
        converted = completion_chunk(data)
        return b"data: " + converted + b"\n\n" if converted is not None else b""


def completion_reply(result: Reply | StreamReply) -> Reply | StreamReply:
    """A chat ``Reply`` / ``StreamReply`` as the completions client gets it."""
    if isinstance(result, Reply):
        if 200 <= result.status < 300:
            result.body = completion_response(result.body)
        return result
    framer = ChunkReframer()
    first = framer.feed(result.first)
    return StreamReply(
        result.headers, first, _rest(framer, result.rest), result.credential, result.read_usage
    )


async def _rest(framer: ChunkReframer, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in rest:
            if out := framer.feed(chunk):
                yield out
        if out := framer.flush():
            yield out
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
