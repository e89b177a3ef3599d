"""The AI Studio relay (CPA ``internal/wsrelay``): a browser page (or any client) keeps a
WebSocket open on ``/v1/ws`` and performs, with its own Google session, the HTTP requests
the proxy hands it; the ``aistudio`` provider sends its requests through it.

Messages are JSON objects ``{"id", "type", "payload"}``, as CPA's page speaks them:

- proxy -> client: ``http_request`` with ``payload = {method, url, headers: {name:
  [values]}, body, sent_at}``; ``pong`` answering a client ``ping`` (same id);
- client -> proxy, per request id: ``http_response`` (``{status, headers, body}``, whole),
  or ``stream_start`` (``{status, headers}``), ``stream_chunk`` (``{data}``) ...
  ``stream_end``; ``error`` (``{error, status}``) ends a request with a failure.

Each connection is one channel, named ``aistudio-<16 random chars>``; while it is open a
runtime credential of provider ``aistudio`` with that id is in the pool (so its models are
served and it rotates and cools like any credential), and it leaves when the socket
closes. A channel attached with a client key (``ws-auth: true``) is that key's: it is sent
only the requests made with the same key (``credentials.owners``), unless
``ws-relay-serves: all-keys`` (cliproxy's setting; CPA's relays serve every key). One
attached with no key (``ws-auth: false``) serves every request, as in CPA. Under a
frontend-auth plugin the owner is the plugin's principal; a reload that removes a relay's
key from ``api-keys`` closes it (:meth:`RelayHub.revoke`). Its listing names the owner
masked, never whole. The WebSocket framing lives in ``cliproxy.server.wsrelay``; this module keeps the
channels and implements the upstream-client protocol (``providers.transport``) that the
``aistudio`` provider is given as its transport.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

from cliproxy.access import AccessPolicy
from cliproxy.credentials.owners import NO_IDENTITY, PLUGIN_CALLER, Owners
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.aistudio import RELAY_CHANNEL_HEADER
from cliproxy.providers.transport import UpstreamNetworkError
from cliproxy.usage.mask import hide_key

__all__ = ["Channel", "RelayHub", "RelayResponse"]

log = logging.getLogger(__name__)

# how long the proxy waits for the next message of a request (CPA's session read timeout)
MESSAGE_TIMEOUT = 60.0
_TERMINAL = frozenset({"http_response", "error", "stream_end"})
_ALPHABET = string.ascii_lowercase + string.digits

Send = Callable[[dict[str, Any]], Awaitable[None]]
Kick = Callable[[int, str], Awaitable[None]]  # closes the socket with this code and reason
POLICY_VIOLATION = 1008  # WebSocket close code: the key the relay was attached with is gone
REVOKED = "relay closed: the client key it was attached with was removed from api-keys"


class Channel:
    """One connected relay client."""

    def __init__(
        self,
        name: str,
        send: Send,
        kick: Kick | None = None,
        owner: str | None = None,
    ) -> None:
        self.name = name
        self.owner = owner  # the client key it was attached with (None: it serves every key)
        self._send = send
        self.kick = kick  # closes the socket (ws-auth switched on, its key removed)
        self._pending: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.closed = False

    async def request(self, message: dict[str, Any]) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending[message["id"]] = queue
        try:
            await self._send(message)
        except Exception:
            self._pending.pop(message["id"], None)
            raise
        return queue

    def forget(self, request_id: str) -> None:
        self._pending.pop(request_id, None)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """A message from the client (CPA ``session.dispatch``)."""
        kind, request_id = message.get("type"), message.get("id")
        if kind == "ping":
            await self._send({"id": request_id, "type": "pong"})
            return
        queue = self._pending.get(request_id) if isinstance(request_id, str) else None
        if queue is None:
            if kind in _TERMINAL:
                log.debug("wsrelay: %s for unknown request id %s on %s", kind, request_id, self.name)
            return
        queue.put_nowait(message)
        if kind in _TERMINAL:
            self._pending.pop(request_id, None)  # type: ignore[arg-type]

    def close(self, cause: str) -> None:
        """Fail every request still waiting (CPA ``session.cleanup``)."""
        self.closed = True
        for request_id, queue in self._pending.items():
            queue.put_nowait({"id": request_id, "type": "error", "payload": {"error": cause}})
        self._pending.clear()


class RelayResponse:
    """An upstream answer arriving over a relay channel (``providers.transport``)."""

    def __init__(
        self,
        channel: Channel,
        request_id: str,
        queue: asyncio.Queue[dict[str, Any]],
        first: dict[str, Any],
    ) -> None:
        self._channel = channel
        self._id = request_id
        self._queue = queue
        payload = first.get("payload") if isinstance(first.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        status = payload.get("status")
        self._status = int(status) if isinstance(status, int | float) and status else 200
        self._headers = _headers(payload.get("headers"))
        self._whole: bytes | None = None
        if first.get("type") == "http_response":
            body = payload.get("body")
            self._whole = body.encode() if isinstance(body, str) else b""
        elif first.get("type") == "stream_end":
            self._whole = b""
        self._done = self._whole is not None

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._whole is not None:
            whole, self._whole = self._whole, b""
            if whole:
                yield whole
            return
        while not self._done:
            message = await _next(self._queue)
            kind = message.get("type")
            payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
            assert isinstance(payload, dict)
            if kind == "stream_chunk":
                data = payload.get("data")
                if isinstance(data, str) and data:
                    yield data.encode()
            elif kind == "http_response":
                self._done = True
                body = payload.get("body")
                if isinstance(body, str) and body:
                    yield body.encode()
            elif kind == "stream_end":
                self._done = True
            elif kind == "error":
                self._done = True
                raise ConnectionError(f"relay client reported: {_error_text(payload)}")

    def release(self) -> None:
        self._done = True
        self._channel.forget(self._id)


class RelayHub:
    """The connected relay channels, and the upstream client that sends through them."""

    def __init__(self, on_change: Callable[[], None] | None = None, owners: Owners | None = None) -> None:
        self._channels: dict[str, Channel] = {}
        self.on_change = on_change
        self.owners = owners if owners is not None else Owners()  # the pool's: who each channel serves
        self.shared = False  # ws-relay-serves: all-keys (every channel serves every key)

    def share(self, shared: bool) -> None:
        """``ws-relay-serves``: ``all-keys`` (True) or ``own-key`` (False), from now on."""
        self.shared = shared
        self._publish()

    def _publish(self) -> None:
        owned = {} if self.shared else {n: c.owner for n, c in self._channels.items() if c.owner is not None}
        self.owners.set(owned)

    # -- channels (the WebSocket endpoint calls these)

    def connect(self, send: Send, kick: Kick | None = None, owner: str | None = None) -> Channel:
        """A new channel; ``owner``: the client key it was attached with, if any."""
        name = "aistudio-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))
        channel = Channel(name, send, kick, owner)
        self._channels[name] = channel
        self._publish()
        log.info(
            "websocket provider connected: %s%s",
            name,
            "" if owner is None else f" ({_whose(owner)})",
        )
        if self.on_change is not None:
            self.on_change()
        return channel

    def disconnect(self, channel: Channel, cause: str = "websocket session closed") -> None:
        channel.close(cause)
        if self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
            self._publish()
            log.info("websocket provider disconnected: %s (%s)", channel.name, cause)
            if self.on_change is not None:
                self.on_change()

    async def close_all(self, cause: str) -> None:
        """Close every socket (``ws-auth`` switched on: CPA drops the open sessions)."""
        for channel in list(self._channels.values()):
            self.disconnect(channel, cause)
            await _kick(channel, 1001, f"relay closed by the proxy: {cause}")

    def revoke(self, access: AccessPolicy) -> Coroutine[Any, Any, None] | None:
        """After a reload: the channels attached with a client key ``access`` no longer
        takes leave the pool now (no request is sent to them from here on); the returned
        awaitable closes their sockets (1008, :data:`REVOKED`) and settles the keys only a
        bcrypt check can tell (None: nothing to do). A relay owned by a frontend-auth
        plugin's principal is the plugin's to vouch for: it stays."""
        gone: list[Channel] = []
        unsure: list[Channel] = []
        for channel in list(self._channels.values()):
            key = channel.owner
            if key is None or key == NO_IDENTITY or key.startswith(PLUGIN_CALLER):  # no key owns it
                continue
            held = access.holds(key)
            if held is None:
                unsure.append(channel)
            elif not held:
                self.disconnect(channel, "client key removed")
                gone.append(channel)
        if not gone and not unsure:
            return None
        return self._expel(gone, unsure, access)

    async def _expel(self, gone: list[Channel], unsure: list[Channel], access: AccessPolicy) -> None:
        for channel in unsure:
            if channel.owner is not None and not await access.confirm(channel.owner):
                self.disconnect(channel, "client key removed")
                gone.append(channel)
        for channel in gone:
            await _kick(channel, POLICY_VIOLATION, REVOKED)

    def credentials(self) -> list[Credential]:
        """One runtime credential per open channel (CPA ``wsOnConnected``); the note of
        one attached with a client key names the key, masked."""
        return [
            Credential(
                id=name,
                provider="aistudio",
                kind=KIND_OAUTH,
                label=name,
                metadata={"email": name},
                source="wsrelay",
                attributes=_attributes(channel.owner),
            )
            for name, channel in self._channels.items()
        ]

    def __len__(self) -> int:
        return len(self._channels)

    # -- the upstream client (providers.transport.UpstreamClient)

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> RelayResponse:
        out = {k: v for k, v in headers.items() if k != RELAY_CHANNEL_HEADER}
        name = headers.get(RELAY_CHANNEL_HEADER, "")
        channel = self._channels.get(name)
        if channel is None or channel.closed:
            raise UpstreamNetworkError(
                f"wsrelay: provider {name or '(none)'} not connected",
                status=503,
                detail=f"relay channel {name}",
            )
        request_id = str(uuid.uuid4())
        message = {
            "id": request_id,
            "type": "http_request",
            "payload": {
                "method": method,
                "url": url,
                "headers": {k: [v] for k, v in out.items()},
                "body": (body or b"").decode("utf-8", "replace"),
                "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
        try:
            queue = await channel.request(message)
        except Exception as exc:
            raise UpstreamNetworkError(
                "wsrelay: could not send to the relay client", detail=repr(exc)
            ) from exc
        try:
            first = await _next(queue)
            while first.get("type") not in ("http_response", "stream_start", "stream_end", "error"):
                first = await _next(queue)  # a stray chunk before the start: CPA skips it too
        except (TimeoutError, ConnectionError) as exc:
            channel.forget(request_id)
            raise UpstreamNetworkError(
                "wsrelay: the relay client did not answer", status=504, detail=str(exc)
            ) from exc
        if first.get("type") == "error":
            payload = first.get("payload") if isinstance(first.get("payload"), dict) else {}
            assert isinstance(payload, dict)
            status = payload.get("status")
            code = int(status) if isinstance(status, int | float) and int(status) >= 400 else 502
            raise UpstreamNetworkError(
                f"wsrelay: {_error_text(payload)}", status=code, detail=_error_text(payload)
            )
        return RelayResponse(channel, request_id, queue, first)


async def _next(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    try:
        async with asyncio.timeout(MESSAGE_TIMEOUT):  # not wait_for: it can swallow a cancel (3.11)
            return await queue.get()
    except TimeoutError:
        raise TimeoutError(f"no relay message within {MESSAGE_TIMEOUT:.0f}s") from None


async def _kick(channel: Channel, code: int, reason: str) -> None:
    if channel.kick is not None:
        try:
            await channel.kick(code, reason)
        except Exception as exc:  # a socket already gone
            log.debug("wsrelay: closing %s: %r", channel.name, exc)


def _attributes(owner: str | None) -> dict[str, str]:
    if owner is None:
        return {"runtime_only": "true"}
    return {"runtime_only": "true", "note": f"attached {_whose(owner)}"}


def _whose(owner: str) -> str:
    """Who attached a relay, for its note and log line: never the key or principal whole."""
    if owner == NO_IDENTITY:
        return "through a frontend-auth plugin that named no principal"
    if owner.startswith(PLUGIN_CALLER):
        return f"by frontend-auth principal {hide_key(owner[len(PLUGIN_CALLER) :])}"
    return f"with client key {hide_key(owner)}"


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, str):
                out[str(key)] = value
            elif isinstance(value, list):
                values = [v for v in value if isinstance(v, str)]
                if values:
                    out[str(key)] = ", ".join(values)
    return out


def _error_text(payload: Mapping[str, Any]) -> str:
    message = payload.get("error")
    return message if isinstance(message, str) and message else "relay upstream error"
