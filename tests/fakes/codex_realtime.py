"""Fake OpenAI Realtime WebSocket (``wss://api.openai.com/v1/realtime``), as a Codex
sign-in reaches it: the upgrade is recorded like any request (so ``fail_next`` and
``fail_key`` refuse it with their status), then the socket behaves like the real one:

- ``session.created`` first, its session naming the model of ``?model=``;
- ``session.update`` is answered by ``session.updated`` with the fields merged in;
- ``response.create`` by ``response.created`` and ``response.done``, each response with an
  id of its own (``resp_fake_1``, ...) and, done, the ``usage`` of :data:`USAGE`; the
  request's ``response.metadata.fake`` shapes it: ``"failed"`` ends it failed (with a
  ``status_details.error``), ``"open"`` sends ``response.created`` only;
- ``input_audio_buffer.commit`` by ``input_audio_buffer.committed`` and, when the session
  asks for input transcription (``audio.input.transcription.model``), by
  ``conversation.item.input_audio_transcription.completed`` with a ``usage`` as OpenAI
  bills that model: ``whisper-1`` by duration (:data:`DURATION_USAGE`), any other by tokens
  (:data:`TRANSCRIPTION_USAGE`), ``fake-no-usage`` with none;
- ``{"type": "test.close", "code": C, "reason": R}`` closes the socket with that code;
- any other text is echoed as ``echo:<text>`` (CPA's test upstream), binary as it came.

``sockets`` holds, per upgrade, the subprotocols offered and every message received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes.server import FakeServer

__all__ = ["DURATION_USAGE", "TRANSCRIPTION_USAGE", "USAGE", "RealtimeFake", "Socket"]

# a response.done's usage as OpenAI reports it (cached tokens a part of the input)
USAGE = {
    "total_tokens": 253,
    "input_tokens": 132,
    "output_tokens": 121,
    "input_token_details": {
        "text_tokens": 119,
        "audio_tokens": 13,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
}

# a transcription's usage billed by tokens, and by duration (whisper-1), as OpenAI reports them
TRANSCRIPTION_USAGE = {
    "type": "tokens",
    "total_tokens": 26,
    "input_tokens": 17,
    "input_token_details": {"text_tokens": 0, "audio_tokens": 17},
    "output_tokens": 9,
}
DURATION_USAGE = {"type": "duration", "seconds": 2.4}


@dataclass(slots=True)
class Socket:
    query: dict[str, str]
    protocols: list[str]
    received: list[tuple[WSMsgType, bytes]] = field(default_factory=list)
    close_code: int | None = None


class RealtimeFake(FakeServer):
    kind = "realtime"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.sockets: list[Socket] = []
        self.protocol = "realtime"  # chosen when the client offers it
        self.responses = 0
        self.items = 0

    @property
    def ws_base(self) -> str:
        """What ``CLIPROXY_OAUTH_CODEX_REALTIME`` points at."""
        return "ws" + self.base_url.removeprefix("http") + "/v1"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/realtime", self._realtime)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        offered = [
            p.strip() for v in request.headers.getall("Sec-WebSocket-Protocol", ()) for p in v.split(",")
        ]
        ws = web.WebSocketResponse(protocols=(self.protocol,), decode_text=False)
        await ws.prepare(request)
        sock = Socket(dict(request.query), offered)
        self.sockets.append(sock)
        session: dict[str, Any] = {
            "id": "sess_fake",
            "object": "realtime.session",
            "type": "realtime",
            "model": request.query.get("model", ""),
        }
        await ws.send_str(orjson.dumps({"type": "session.created", "session": session}).decode())
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            sock.received.append((msg.type, data))
            if msg.type is WSMsgType.BINARY:
                await ws.send_bytes(data)
                continue
            event = _event(data)
            kind = event.get("type")
            if kind == "session.update" and isinstance(event.get("session"), dict):
                session.update(event["session"])
                await ws.send_str(orjson.dumps({"type": "session.updated", "session": session}).decode())
            elif kind == "response.create":
                await self._respond(ws, event)
            elif kind == "input_audio_buffer.commit":
                await self._commit(ws, session)
            elif kind == "test.close":
                await ws.close(
                    code=int(event.get("code", 1000)), message=str(event.get("reason", "")).encode()
                )
                break
            else:
                await ws.send_str("echo:" + data.decode())
        sock.close_code = ws.close_code
        return ws

    async def _respond(self, ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
        self.responses += 1
        asked = event.get("response")
        metadata = asked.get("metadata") if isinstance(asked, dict) else None
        shape = metadata.get("fake") if isinstance(metadata, dict) else None
        response: dict[str, Any] = {
            "id": f"resp_fake_{self.responses}",
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "usage": None,
        }
        await ws.send_str(orjson.dumps({"type": "response.created", "response": response}).decode())
        if shape == "open":
            return
        response["usage"] = USAGE
        response["status"] = "failed" if shape == "failed" else "completed"
        if shape == "failed":
            error = {"type": "server_error", "code": "server_error", "message": "The model failed."}
            response["status_details"] = {"type": "failed", "error": error}
        await ws.send_str(orjson.dumps({"type": "response.done", "response": response}).decode())

    async def _commit(self, ws: web.WebSocketResponse, session: dict[str, Any]) -> None:
        self.items += 1
        item = f"item_fake_{self.items}"
        committed = {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item}
        await ws.send_str(orjson.dumps(committed).decode())
        audio = session.get("audio")
        asked = audio.get("input", {}).get("transcription") if isinstance(audio, dict) else None
        model = asked.get("model") if isinstance(asked, dict) else None
        if not model:
            return
        event: dict[str, Any] = {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": f"event_fake_{self.items}",
            "item_id": item,
            "content_index": 0,
            "transcript": "Hello there.",
        }
        if model != "fake-no-usage":
            event["usage"] = DURATION_USAGE if model == "whisper-1" else TRANSCRIPTION_USAGE
        await ws.send_str(orjson.dumps(event).decode())


def _event(data: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}
