"""``GET /v1/ws``: the AI Studio relay's WebSocket (framing only; ``cliproxy.relay`` keeps
the channels and what the messages mean).

Access: with ``ws-auth: true`` the client key is required as on every proxy route (the
middleware checks it; a browser passes it as ``?key=``), and the relay is that key's: it
serves only the requests made with it (``ws-relay-serves: own-key``, the default); with
``ws-auth: false`` the socket is open to anyone who can reach the proxy and its relay
serves every request, as in CPA. Under a frontend-auth plugin the owner is the principal the
plugin names (``credentials.owners``); a caller it admits without one has no identity to
own a relay and is refused (403) unless ``ws-relay-serves: all-keys``. A relay whose key
a reload removes from ``api-keys`` is closed with 1008 (``RelayHub.revoke``). Limits as
CPA's relay: a
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

from cliproxy.credentials.owners import NO_IDENTITY, caller
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import error_response

__all__ = ["relay_websocket"]

log = logging.getLogger(__name__)

HEARTBEAT = 30.0
READ_TIMEOUT = 60.0
MAX_MESSAGE = 64 << 20
WRITE_TIMEOUT = 10.0
ANONYMOUS = (
    "the frontend-auth plugin admitted this relay without naming a principal, so it has no owner "
    "to serve (ws-relay-serves: own-key): have the plugin return a principal"
)


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
    owner = _owner(request, service.config.ws_auth)
    if owner == NO_IDENTITY and not hub.shared:
        return error_response(client_format(request), 403, ANONYMOUS)
    await ws.prepare(request)
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:
            await asyncio.wait_for(ws.send_bytes(orjson.dumps(message)), WRITE_TIMEOUT)

    async def kick(code: int = WSCloseCode.GOING_AWAY, reason: str = "relay closed by the proxy") -> None:
        await ws.close(code=code, message=reason.encode())  # the server stops, ws-auth on, key revoked

    channel = hub.connect(send, kick, owner)
    if (expel := hub.revoke(service.access)) is not None:  # a reload while it was let in
        await expel
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
    """The caller a relay serves alone: the one it was let in as (``ws-auth: true`` and
    keys or a frontend-auth plugin required), known as requests are (``credentials.owners``:
    the key it presented, or the plugin's principal); None: it serves every key."""
    if not ws_auth or request.get(PRINCIPAL_KEY) is None:
        return None
    return caller(request.headers, request.query)
