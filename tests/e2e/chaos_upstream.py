"""A raw TCP upstream for chaos tests: every request is answered by a script that writes
whatever bytes it likes on the socket (a wrong Content-Length, a close on a kept-alive
connection, a stream split at every byte), which an HTTP framework would not let a fake do.

``script(req, writer)`` answers one request and returns whether the connection stays open
for the next one. ``requests`` lists what arrived, in order, with the connection each came on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "RawRequest",
    "RawUpstream",
    "answer",
    "api_of",
    "head",
    "proxy_config",
    "sse_frames",
    "stream_answer",
    "whole_answer",
]


@dataclass(slots=True)
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    conn: int  # which connection it came on (0, 1, ...)
    conn_req_index: int = 0  # its place on that connection

    @property
    def key(self) -> str:
        h = self.headers
        return (
            h.get("x-api-key")
            or h.get("x-goog-api-key")
            or h.get("authorization", "").removeprefix("Bearer ")
        )

    @property
    def stream(self) -> bool:
        if "streamGenerateContent" in self.path:
            return True
        try:
            return orjson.loads(self.body).get("stream") is True
        except (orjson.JSONDecodeError, AttributeError):
            return False


Script = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


def head(status: int, headers: dict[str, str], reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sse_frames(*datas: object, event: str | None = None) -> list[bytes]:
    out = []
    for d in datas:
        payload = d if isinstance(d, bytes) else orjson.dumps(d)
        out.append((f"event: {event}\n".encode() if event else b"") + b"data: " + payload + b"\n\n")
    return out


class RawUpstream:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[RawRequest] = []
        self.read_body = True
        self._server: asyncio.Server | None = None
        self._conns = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        conn = self._conns
        self._conns += 1
        served = 0
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                first, *rest = raw.decode("latin-1").split("\r\n")
                method, path, _ = first.split(" ", 2)
                headers = {}
                for line in rest:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                if not self.read_body:  # (an upstream that answers before it reads the body)
                    req = RawRequest(method, path, headers, b"", conn, served)
                    self.requests.append(req)
                    await self.script(req, writer)
                    return
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                        chunk = await reader.readexactly(size + 2)
                        if not size:
                            break
                        body += chunk[:-2]
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                req = RawRequest(method, path, headers, body, conn, served)
                served += 1
                self.requests.append(req)
                if not await self.script(req, writer):
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
            self._tasks.discard(task)


# ---- the answers of a healthy upstream, per API, and a proxy config over them


def api_of(req: RawRequest) -> str:
    """Which API a request speaks: ``openai`` (Chat), ``claude``, ``codex`` or ``gemini``."""
    path = req.path.split("?", 1)[0]
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "claude"
    if path.endswith("/responses"):
        return "codex"
    return "gemini"


def whole_answer(api: str, text: str) -> dict[str, Any]:
    if api == "openai":
        return {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "up-model",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
    if api == "claude":
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
        "modelVersion": "up-model",
    }


def _event(kind: str, **fields: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **fields}) + b"\n\n"


def stream_answer(api: str, text: str) -> bytes:
    """A whole SSE stream of ``text`` with its end and usage, as the API frames it."""
    if api == "openai":
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model"}
        frames = sse_frames(
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {
                **chunk,
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            },
        )
        return b"".join(frames) + b"data: [DONE]\n\n"
    if api == "claude":
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
        return b"".join(
            (
                _event("message_start", message=message),
                _event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
                _event("content_block_delta", index=0, delta={"type": "text_delta", "text": text}),
                _event("content_block_stop", index=0),
                _event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 4}),
                _event("message_stop"),
            )
        )
    if api == "codex":
        resp = {"id": "resp_1", "object": "response", "created_at": 1, "model": "up-model", "output": []}
        item = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        usage = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
        return b"".join(
            (
                _event("response.created", response={**resp, "status": "in_progress"}),
                _event(
                    "response.output_item.added",
                    output_index=0,
                    item={**item, "status": "in_progress", "content": []},
                ),
                _event(
                    "response.content_part.added",
                    output_index=0,
                    item_id="msg_1",
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                ),
                _event(
                    "response.output_text.delta", output_index=0, item_id="msg_1", content_index=0, delta=text
                ),
                _event("response.output_item.done", output_index=0, item=item),
                _event(
                    "response.completed",
                    response={**resp, "status": "completed", "output": [item], "usage": usage},
                ),
            )
        )
    whole = whole_answer("gemini", text)
    return b"".join(sse_frames(whole))


async def answer(req: RawRequest, writer: asyncio.StreamWriter, text: str | None = None) -> bool:
    """A healthy answer to ``req`` (``hello from <key>`` by default), the connection kept."""
    api = api_of(req)
    text = f"hello from {req.key}" if text is None else text
    if req.stream or api == "codex":
        body, ctype = stream_answer(api, text), "text/event-stream"
    else:
        body, ctype = orjson.dumps(whole_answer(api, text)), "application/json"
    writer.write(head(200, {"Content-Type": ctype, "Content-Length": str(len(body))}) + body)
    await writer.drain()
    return True


def proxy_config(base: str, client_key: str, extra: str = "") -> str:
    """Each model served by two keys of one provider on ``base``: ``k-a`` tried first, then
    ``k-b``; ``*-solo`` by ``k-solo`` alone. Timeouts are short so a stall ends fast."""

    def keys(name: str, alias: str, url: str) -> str:
        rows = [(k, p, alias) for k, p in (("k-a", 1), ("k-b", 0))] + [
            ("k-solo", 0, alias.replace("-model", "-solo"))
        ]
        return "".join(
            f'\n  - api-key: "{k}"\n    base-url: "{url}"\n    priority: {p}\n'
            f'    models: [{{name: "{name}", alias: "{a}"}}]'
            for k, p, a in rows
        )

    return f"""
api-keys: ["{client_key}"]
request-retry: 0
timeouts:
  upstream-connect: 1s
  upstream-first-byte: 1s
  upstream-idle: 1s
claude-api-key:{keys("up-model", "claude-model", base)}
gemini-api-key:{keys("up-model", "gemini-model", base)}
codex-api-key:{keys("up-model", "codex-model", base + "/backend-api/codex")}
openai-compatibility:
  - name: ca
    base-url: "{base}/v1"
    priority: 1
    api-key-entries: [{{api-key: "k-a"}}]
    models: [{{name: "up-model", alias: "gpt-model"}}]
  - name: cb
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-b"}}]
    models: [{{name: "up-model", alias: "gpt-model"}}]
  - name: csolo
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-solo"}}]
    models: [{{name: "up-model", alias: "gpt-solo"}}]
{extra}
"""
