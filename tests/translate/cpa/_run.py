"""Run a CPA translator case through our hub: client body -> upstream body, upstream
answer (whole or streamed) -> client answer, with the same registry the proxy uses."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.claude import user_id
from cliproxy.translate.registry import default_registry

__all__ = [
    "CLAUDE",
    "CODEX",
    "GEMINI",
    "OPENAI",
    "RESPONSES",
    "claude_attempt",
    "claude_blocks",
    "events",
    "feeds",
    "get",
    "ir_of",
    "req",
    "resp",
    "sse",
    "stream",
]

OPENAI, RESPONSES, CLAUDE, GEMINI, CODEX = (
    Format.OPENAI,
    Format.RESPONSES,
    Format.CLAUDE,
    Format.GEMINI,
    Format.CODEX,
)


def _loads(body: dict[str, Any] | str | bytes) -> dict[str, Any]:
    return orjson.loads(body) if isinstance(body, str | bytes) else body


def req(
    source: Format, target: Format, body: dict[str, Any] | str, model: str | None = None
) -> dict[str, Any]:
    """The upstream body (in ``target``) for a client body (in ``source``)."""
    out, _ = default_registry().translate_request(source, target, _loads(body), model)
    return out


def claude_attempt(source: Format, body: dict[str, Any] | str, model: str | None = None) -> dict[str, Any]:
    """The Claude body an attempt sends for a client body in ``source`` (no identity): the
    translation, then what the Claude provider's carrier adds from the client's own body
    (``metadata.user_id``, which CPA's translators write themselves)."""
    client = _loads(body)
    out = req(source, Format.CLAUDE, client, model)
    user_id.carry(out, source, client, {}, model or "", False)
    return out


def ir_of(source: Format, body: dict[str, Any] | str) -> ir.Request:
    return default_registry().adapter(source).parse_request(_loads(body))


def resp(
    upstream: Format,
    client: Format,
    body: dict[str, Any] | str,
    request: dict[str, Any] | str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The client's whole answer for an upstream whole answer; ``request`` is the client's
    original request body (in ``client``), when the case has one."""
    reg = default_registry()
    ir_req = reg.adapter(client).parse_request(_loads(request)) if request is not None else None
    return reg.translate_response(upstream, client, _loads(body), ir_req, model)


def sse(*payloads: dict[str, Any] | str, events: bool = True) -> bytes:
    """SSE bytes for upstream payloads; an ``event:`` line from the payload's ``type``
    (Responses / Claude framing) when ``events``."""
    out = bytearray()
    for p in payloads:
        data = p if isinstance(p, str) else orjson.dumps(p).decode()
        if events and not isinstance(p, str) and isinstance(p.get("type"), str):
            out += f"event: {p['type']}\n".encode()
        out += f"data: {data}\n\n".encode()
    return bytes(out)


def stream(
    upstream: Format,
    client: Format,
    data: bytes,
    request: dict[str, Any] | str | None = None,
    model: str | None = None,
) -> bytes:
    """The client stream bytes for upstream stream bytes."""
    reg = default_registry()
    ir_req = reg.adapter(client).parse_request(_loads(request)) if request is not None else None
    tr = reg.stream_translator(upstream, client, ir_req, model)
    return tr.feed(data) + tr.finish()


def feeds(
    upstream: Format, client: Format, request: dict[str, Any], *chunks: dict[str, Any] | str
) -> list[list[dict[str, Any]]]:
    """The client events (as ``events`` reads them) of each upstream chunk fed alone, one SSE
    frame a feed, then those of the stream's end: what a case that looks chunk by chunk reads."""
    reg = default_registry()
    tr = reg.stream_translator(upstream, client, reg.adapter(client).parse_request(request), None)
    out = [events(tr.feed(sse(c, events=False))) for c in chunks]
    return [*out, events(tr.finish())]


def events(data: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE byte stream (``[DONE]`` left out), each with its
    ``event:`` name under ``"_event"`` when the framing has one."""
    out: list[dict[str, Any]] = []
    for frame in data.decode().split("\n\n"):
        name = None
        for line in frame.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                payload = line[5:].strip()
                if payload and payload != "[DONE]":
                    obj = orjson.loads(payload)
                    if name is not None and isinstance(obj, dict):
                        obj = {**obj, "_event": name}
                    out.append(obj)
    return out


def get(obj: Any, path: str) -> Any:
    """A gjson-like path lookup (``a.0.b``); ``None`` when a step is missing."""
    cur = obj
    for step in path.split("."):
        if isinstance(cur, list):
            try:
                cur = cur[int(step)]
            except (ValueError, IndexError):
                return None
        elif isinstance(cur, dict):
            if step not in cur:
                return None
            cur = cur[step]
        else:
            return None
    return cur


def claude_blocks(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each content block of a Claude stream (its ``events``), whole: the start block with
    its text, thinking and signature deltas applied and a tool's input parsed."""
    blocks: dict[int, dict[str, Any]] = {}
    keys = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}
    for e in evs:
        if e["type"] == "content_block_start":
            blocks[e["index"]] = dict(e["content_block"])
        elif e["type"] == "content_block_delta":
            b, d = blocks[e["index"]], e["delta"]
            key = keys.get(d["type"])
            if key is not None:
                b[key] = b.get(key, "") + d[key]
            elif d["type"] == "input_json_delta":
                b["_json"] = b.get("_json", "") + d["partial_json"]
    out = [blocks[i] for i in sorted(blocks)]
    for b in out:
        if "_json" in b:
            b["input"] = orjson.loads(b.pop("_json"))
    return out
