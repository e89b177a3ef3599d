"""Shared material for the cross-format pair tests: a rich conversation as IR and
helpers that read the meaning back out of any IR, whatever format it went through."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from cliproxy.formats import Format, family_of
from cliproxy.translate import ir

CLIENT_FORMATS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
TARGET_FORMATS = [Format.OPENAI, Format.RESPONSES, Format.CODEX, Format.CLAUDE, Format.GEMINI]

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
SCHEMA = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "shell command"},
        "timeout": {"type": "integer", "minimum": 1},
    },
    "required": ["command"],
}


def sig(family: str) -> str:
    """A reasoning signature made by ``family`` (base64, as real ones are)."""
    return base64.b64encode(f"sig-{family}".encode()).decode()


def rich_request(family: str) -> ir.Request:
    """A multi-turn agent conversation with every kind of content.

    ``family`` decides which reasoning artifacts the history carries (as a real client of
    that family would replay them)."""
    thinking = ir.Thinking(text="I should run a command.", signature=sig(family), family=family)
    call_sig = "gem-sig" if family == "gemini" else None
    return ir.Request(
        model="model-x",
        messages=[
            ir.Message("system", [ir.Text("SYSTEM-MARKER be brief")]),
            ir.Message(
                "user", [ir.Text("USER-MARKER look at this"), ir.Image(data=PNG, media_type="image/png")]
            ),
            ir.Message(
                "assistant",
                [
                    thinking,
                    ir.Text("ASSISTANT-MARKER running two tools"),
                    ir.ToolCall(
                        id="call_1",
                        name="run_shell",
                        arguments='{"command": "echo A"}',
                        signature=call_sig,
                        family="gemini" if call_sig else None,
                    ),
                    ir.ToolCall(id="call_2", name="run_shell", arguments='{"command": "echo B"}'),
                ],
            ),
            ir.Message("tool", [ir.ToolResult("call_1", [ir.Text("RESULT-A")], name="run_shell")]),
            ir.Message(
                "tool", [ir.ToolResult("call_2", [ir.Text("RESULT-B")], name="run_shell", is_error=True)]
            ),
            ir.Message("user", [ir.Text("USER2-MARKER now summarise")]),
        ],
        tools=[ir.Tool(name="run_shell", description="Run a shell command", parameters=SCHEMA)],
        tool_choice="auto",
        max_tokens=1000,
        temperature=0.5,
        stream=True,
    )


def texts(req: ir.Request | ir.Response) -> list[str]:
    """Every text of a request or response, in order (tool results included)."""
    out: list[str] = []
    blocks: list[Any] = []
    if isinstance(req, ir.Request):
        for m in req.messages:
            blocks.extend(m.content)
    else:
        blocks = list(req.content)
    for b in blocks:
        if isinstance(b, ir.Text):
            out.append(b.text)
        elif isinstance(b, ir.ToolResult):
            out.extend(c.text for c in b.content if isinstance(c, ir.Text))
    return out


def joined(req: ir.Request | ir.Response) -> str:
    return "\n".join(texts(req))


def tool_calls(req: ir.Request | ir.Response) -> list[tuple[str, dict]]:
    blocks: list[Any] = []
    if isinstance(req, ir.Request):
        for m in req.messages:
            blocks.extend(m.content)
    else:
        blocks = list(req.content)
    return [(b.name, orjson.loads(b.arguments or "{}")) for b in blocks if isinstance(b, ir.ToolCall)]


def tool_results(req: ir.Request) -> list[tuple[str, bool]]:
    out = []
    for m in req.messages:
        for b in m.content:
            if isinstance(b, ir.ToolResult):
                out.append((" ".join(c.text for c in b.content if isinstance(c, ir.Text)), b.is_error))
    return out


def images(req: ir.Request) -> int:
    n = 0
    for m in req.messages:
        for b in m.content:
            if isinstance(b, ir.Image):
                n += 1
    return n


def thinking_signatures(req: ir.Request | ir.Response) -> list[tuple[str | None, str | None]]:
    blocks: list[Any] = []
    if isinstance(req, ir.Request):
        for m in req.messages:
            blocks.extend(m.content)
    else:
        blocks = list(req.content)
    return [(b.signature, b.family) for b in blocks if isinstance(b, ir.Thinking) and b.signature]


def same_family(a: Format, b: Format) -> bool:
    return family_of(a) == family_of(b)


def rich_response(family: str) -> ir.Response:
    return ir.Response(
        id="resp_1",
        model="model-x",
        content=[
            ir.Thinking(text="Thinking hard.", signature=sig(family), family=family),
            ir.Text("ANSWER-MARKER here you go"),
            ir.ToolCall(id="call_9", name="run_shell", arguments='{"command": "ls"}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(
            input_tokens=120,
            output_tokens=40,
            cache_read_tokens=100,
            cache_write_tokens=0,
            reasoning_tokens=10,
        ),
    )


def rich_events(family: str) -> list[ir.Event]:
    """An upstream stream as IR events: thinking, text, two parallel tool calls, usage."""
    return [
        ir.StreamStart(id="s1", model="model-x"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "Let me "),
        ir.ThinkingDelta(0, "think."),
        ir.SignatureDelta(0, sig(family), family),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Hello "),
        ir.TextDelta(1, "STREAM-MARKER"),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="call_a", name="run_shell"),
        ir.ToolArgsDelta(2, '{"command": '),
        ir.ToolArgsDelta(2, '"echo A"}'),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="call_b", name="run_shell"),
        ir.ToolArgsDelta(3, '{"command": "echo B"}'),
        ir.BlockStop(3),
        ir.StreamEnd(
            "tool_use", ir.Usage(input_tokens=50, output_tokens=20, cache_read_tokens=10, reasoning_tokens=5)
        ),
    ]


def request_with_tools() -> ir.Request:
    """The client request the rich events answer (tools declared)."""
    return ir.Request(
        model="model-x",
        messages=[ir.Message("user", [ir.Text("hi")])],
        tools=[ir.Tool(name="run_shell", parameters=SCHEMA)],
        stream=True,
    )


class Collected:
    """What a stream said, read back through a decoder."""

    def __init__(self) -> None:
        self.text = ""
        self.thinking = ""
        self.signatures: list[tuple[str, str]] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.stop: str | None = None
        self.usage: ir.Usage | None = None
        self.errors: list[ir.Error] = []
        self._kinds: dict[int, str] = {}

    def feed(self, events: list[ir.Event]) -> None:
        for ev in events:
            if isinstance(ev, ir.BlockStart):
                self._kinds[ev.index] = ev.kind
                if ev.kind == "tool_call":
                    call = self.calls.setdefault(ev.index, {"id": None, "name": None, "args": ""})
                    call["id"] = call["id"] or ev.id
                    call["name"] = call["name"] or ev.name
            elif isinstance(ev, ir.TextDelta):
                self.text += ev.text
            elif isinstance(ev, ir.ThinkingDelta):
                self.thinking += ev.text
            elif isinstance(ev, ir.SignatureDelta):
                self.signatures.append((ev.signature, ev.family))
            elif isinstance(ev, ir.ToolArgsDelta):
                self.calls.setdefault(ev.index, {"id": None, "name": None, "args": ""})["args"] += ev.delta
            elif isinstance(ev, ir.StreamEnd):
                self.stop = ev.stop_reason
                if ev.usage is not None:
                    self.usage = ev.usage
            elif isinstance(ev, ir.UsageEvent):
                self.usage = ev.usage
            elif isinstance(ev, ir.Error):
                self.errors.append(ev)

    def call_list(self) -> list[tuple[str, dict]]:
        return [(c["name"], orjson.loads(c["args"] or "{}")) for _, c in sorted(self.calls.items())]


async def serve_sse(body: bytes, step: int = 31) -> TestServer:
    """A server on 127.0.0.1 that answers any request with ``body`` as an event stream,
    ``step`` bytes a write (an SDK's parser sees events split anywhere); the caller closes it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(body), step):
            await resp.write(body[i : i + step])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server
