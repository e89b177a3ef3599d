"""host-model-callback: run a model through the whole proxy from inside a plugin.

A management resource, public at ``GET /v0/resource/plugins/host-model-callback/status``,
that sends one prompt through ``host.model.execute`` (or ``host.model.stream``) and
answers with the text. Query parameters: ``entry_protocol`` (openai, openai-response,
claude, gemini; default openai), ``exit_protocol`` (default: the entry one), ``model``,
``stream`` (true/false), ``prompt``, ``body`` (a whole request body, JSON, instead of the
prompt), ``alt``, ``implicit_close`` (true: read one piece of the stream and leave it
open; the host closes it when this call returns).

The nested request goes through routing, credentials, translation and interceptors like
a client's, except that this plugin's own router and interceptors are skipped for it.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from cliproxy.plugins.api import (
    ConfigField,
    Host,
    ManagementAPI,
    ManagementRequest,
    ManagementResponse,
    Plugin,
    PluginError,
    ResourceRoute,
)

DEFAULT_MODEL = "gpt-5.5"
DEFAULT_PROMPT = "Say hello."
TRUE = ("1", "true", "yes", "on")


class HostModelCallback(Plugin, ManagementAPI):
    name = "host-model-callback"
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("model", "string", description=f"The model when the query names none ({DEFAULT_MODEL})."),
    ]
    resources: ClassVar[list[ResourceRoute]] = [
        ResourceRoute(path="/status", menu="Host model callback", description="Run a prompt via host.model"),
    ]

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.model = str(config.get("model") or DEFAULT_MODEL)

    async def handle_management(self, request: ManagementRequest) -> ManagementResponse:
        q = {k: v[0] for k, v in request.query.items() if v}
        entry = q.get("entry_protocol", "openai")
        exit_ = q.get("exit_protocol", entry)
        model = q.get("model", self.model)
        stream = q.get("stream", "").lower() in TRUE
        prompt = q.get("prompt", DEFAULT_PROMPT)
        try:
            body = json.loads(q["body"]) if q.get("body") else request_body(entry, prompt)
        except ValueError as exc:  # an answer, not an exception: an exception would fuse the plugin
            return ManagementResponse.json({"error": f"body is not JSON: {exc}"}, status_code=400)
        out: dict[str, Any] = {
            "entry_protocol": entry,
            "exit_protocol": exit_,
            "model": model,
            "stream": stream,
        }
        try:
            if not stream:
                resp = await self.host.model.execute(entry, exit_, model, body, alt=q.get("alt", ""))
                out |= {"status_code": resp.status_code, "text": response_text(exit_, json.loads(resp.body))}
            elif q.get("implicit_close", "").lower() in TRUE:
                out |= await self._read_one(entry, exit_, model, body)
            else:
                out |= await self._read_all(entry, exit_, model, body)
        except PluginError as exc:  # the nested request failed: say why
            return ManagementResponse.json({**out, "error": exc.message}, status_code=exc.http_status or 502)
        return ManagementResponse.json(out)

    async def _read_all(self, entry: str, exit_: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """Read the whole stream; ``async with`` closes it explicitly (host.model.stream_close)."""
        text, pieces = [], 0
        async with self.host.model.stream(entry, exit_, model, body) as stream:
            async for chunk in stream:
                pieces += 1
                text.append(stream_text(exit_, chunk))
            stream_id = stream.stream_id
        return {"text": "".join(text), "chunks": pieces, "stream_id": stream_id, "close": "explicit"}

    async def _read_one(self, entry: str, exit_: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """Read one piece and return without closing: the host closes the stream when this
        call's scope ends (the implicit close)."""
        stream = await self.host.model.stream(entry, exit_, model, body).open()
        piece = await self.host.call("host.model.stream_read", {"stream_id": stream.stream_id}, scoped=False)
        return {
            "text": stream_text(exit_, _b64(piece.get("payload", ""))),
            "chunks": 1,
            "stream_id": stream.stream_id,
            "close": "implicit",
        }


def request_body(protocol: str, prompt: str) -> dict[str, Any]:
    """A minimal request in ``protocol`` asking ``prompt`` (the host sets model and stream)."""
    if protocol == "openai-response":
        return {"input": prompt}
    if protocol == "claude":
        return {"max_tokens": 256, "messages": [{"role": "user", "content": prompt}]}
    if protocol == "gemini":
        return {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    return {"messages": [{"role": "user", "content": prompt}]}


def response_text(protocol: str, data: dict[str, Any]) -> str:
    """The answer text of a whole response in ``protocol``."""
    if protocol == "claude":
        return "".join(b.get("text", "") for b in data.get("content") or [] if b.get("type") == "text")
    if protocol == "gemini":
        return "".join(_gemini_text(data))
    if protocol == "openai-response":
        return "".join(
            c.get("text", "")
            for item in data.get("output") or []
            if item.get("type") == "message"
            for c in item.get("content") or []
            if c.get("type") == "output_text"
        )
    return "".join((c.get("message") or {}).get("content") or "" for c in data.get("choices") or [])


def stream_text(protocol: str, chunk: bytes) -> str:
    """The text deltas in a piece of an SSE stream in ``protocol``."""
    out = []
    for line in chunk.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:") or line[5:].strip() in ("", "[DONE]"):
            continue
        event = json.loads(line[5:])
        if protocol == "claude" and event.get("type") == "content_block_delta":
            out.append(event["delta"].get("text", ""))
        elif protocol == "gemini":
            out += _gemini_text(event)
        elif protocol == "openai-response" and event.get("type") == "response.output_text.delta":
            out.append(event.get("delta", ""))
        elif protocol == "openai":
            out += [(c.get("delta") or {}).get("content") or "" for c in event.get("choices") or []]
    return "".join(out)


def _gemini_text(data: dict[str, Any]) -> list[str]:
    return [
        p.get("text", "")
        for c in data.get("candidates") or []
        for p in (c.get("content") or {}).get("parts") or []
        if not p.get("thought")
    ]


def _b64(value: str) -> bytes:
    return base64.b64decode(value) if value else b""


plugin = HostModelCallback()
