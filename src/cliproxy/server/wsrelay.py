"""``GET /v1/ws``: the AI Studio relay's WebSocket (framing only; ``cliproxy.relay`` keeps
the channels and what the messages mean).

Access: with ``ws-auth: true`` the client key is required as on every proxy route (the
middleware checks it; a browser passes it as ``?key=``), and the relay is that key's: it
serves only the requests made with it (``ws-relay-serves: own-key``, the default); with
``ws-auth: false`` the socket is open to anyone who can reach the proxy and its relay
serves every request, as in CPA. Limits as CPA's relay: a
ping every 30 s (a peer that does not answer is dropped), no message for
:data:`READ_TIMEOUT` seconds closes the socket, messages up to 64 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from cliproxy.access import extract_key
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import error_response

__all__ = ["relay_websocket"]

log = logging.getLogger(__name__)

HEARTBEAT = 30.0
READ_TIMEOUT = 60.0
MAX_MESSAGE = 64 << 20
WRITE_TIMEOUT = 10.0


async def relay_websocket(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    hub = service.relay
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, compress=False, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request).ok:
        resp = error_response(
            client_format(request), 426, "this endpoint is a WebSocket: send an Upgrade: websocket request"
        )
        resp.headers["Upgrade"] = "websocket"
        return resp
    await ws.prepare(request)
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:
            await asyncio.wait_for(ws.send_bytes(orjson.dumps(message)), WRITE_TIMEOUT)

    async def kick() -> None:  # the server stops, or ws-auth was switched on
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"relay closed by the proxy")

    channel = hub.connect(send, kick, _owner(request, service.config.ws_auth))
    cause = "websocket session closed"
    try:
        while True:
            try:
                msg = await ws.receive(timeout=READ_TIMEOUT)
            except TimeoutError:
                cause = "read timeout"
                break
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    message = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    log.info("wsrelay %s: a message that is not JSON, ignored", channel.name)
                    continue
                if isinstance(message, dict):
                    await channel.dispatch(message)
            elif msg.type == WSMsgType.ERROR:
                cause = f"websocket error: {ws.exception()!r}"
                break
            else:  # CLOSE, CLOSING, CLOSED
                break
    finally:
        hub.disconnect(channel, cause)
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


def _owner(request: web.Request, ws_auth: bool) -> str | None:
    """The client key a relay serves alone: the one it was let in with (``ws-auth: true``
    and keys required), as the request presented it, since requests are matched the same
    way (``credentials.owners``); None: it serves every key."""
    if not ws_auth or request.get(PRINCIPAL_KEY) is None:
        return None
    found = extract_key(request.headers, request.query)
    return found[0] if found else ""
