"""OpenAI Realtime through a Codex sign-in: the upstream side (CPA
``internal/client/codex/live/websocket.go``).

A standard Realtime WebSocket (``GET /v1/realtime?model=...``) is relayed to OpenAI's own
Realtime endpoint, ``wss://api.openai.com/v1/realtime?model=<the client's model>``, with
the Codex account's OAuth token as ``Authorization`` and its ``account_id`` as
``Chatgpt-Account-Id``. Of the client's headers only the Realtime protocol headers go on
(:data:`PROTOCOL_HEADERS`, without ``OpenAI-Alpha``); ``Originator`` defaults to
``Codex Desktop``. The client's subprotocols are offered upstream, except
``openai-insecure-api-key.*``: that one carries the client's key to us, not OpenAI's.

The model a client names is mapped for the credential pick and for a client secret's
scope (:func:`realtime_model`: ``gpt-realtime``, ``gpt-realtime-*`` and any
``*realtime-preview*`` are Codex's ``gpt-live-1-codex``), but the URL keeps the name the
client asked for, as CPA sends it.

Each response the upstream generates is announced by ``response.created`` and ended by
``response.done``, whose response carries the Realtime ``usage`` (:func:`response_event`,
:func:`realtime_usage`); ``cliproxy.realtime`` records it as one request, and so each
input audio transcription that reports a ``usage`` (:func:`transcription_usage`).

The upstream base is :data:`cliproxy.credentials.login.endpoints.URLS` ``codex.realtime``
(``CLIPROXY_OAUTH_CODEX_REALTIME`` overrides it; an ``http(s)`` override is dialled as
``ws(s)``). Limits: the shared client's connect timeout for the handshake, a ping every
:data:`HEARTBEAT` seconds afterwards (a peer that does not answer is dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import aiohttp
import orjson

from cliproxy.credentials.login import endpoints
from cliproxy.formats import ir
from cliproxy.providers.base import copy_client_headers
from cliproxy.providers.http import refused_upgrade_body

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.providers.http import HttpClient

__all__ = [
    "DEFAULT_MODEL",
    "HEARTBEAT",
    "LIVE_MODEL",
    "PROTOCOL_HEADERS",
    "RealtimeUpstream",
    "Refused",
    "UpstreamSocket",
    "realtime_model",
    "realtime_usage",
    "response_event",
    "session_update",
    "transcription_usage",
    "upstream_headers",
    "upstream_protocols",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-realtime"  # a socket that names no model (CPA defaultStandardRealtimeModel)
LIVE_MODEL = "gpt-live-1-codex"  # what Codex serves the standard Realtime models as
HEARTBEAT = 30.0
# the client headers a Realtime request carries upstream (CPA liveProtocolHeaders)
PROTOCOL_HEADERS = (
    "OpenAI-Alpha",
    "X-Session-Id",
    "Session-Id",
    "Thread-Id",
    "Originator",
    "OpenAI-Safety-Identifier",
    "OpenAI-Organization",
    "OpenAI-Project",
    "X-Oai-Attestation",
)
_DIRECT_HEADERS = tuple(name for name in PROTOCOL_HEADERS if name != "OpenAI-Alpha")
_KEY_PROTOCOL = "openai-insecure-api-key."
# a client secret's session fields that are not session.update's (CPA realtimeSessionUpdate)
_NOT_UPDATABLE = ("model", "id", "object", "expires_at", "client_secret")
_RESPONSE = b'"response.'  # a response event's quoted type starts so
_RESPONSE_END = len(_RESPONSE)
_TRANSCRIBED = b'"conversation.item.input_audio_transcription.completed"'

UpstreamSocket = aiohttp.ClientWebSocketResponse[Literal[False]]  # text frames as bytes


def realtime_model(model: str) -> str:
    """The Codex model a standard Realtime model is served as (CPA ``codexRealtimeModel``)."""
    trimmed = model.strip()
    lower = trimmed.lower()
    if (
        not lower
        or lower == "gpt-realtime"
        or lower.startswith("gpt-realtime-")
        or "realtime-preview" in lower
    ):
        return LIVE_MODEL
    return trimmed


def upstream_headers(client: Mapping[str, str], cred: Credential) -> dict[str, str]:
    """The upgrade request's headers for ``cred`` (CPA ``directRealtimeHeaders`` +
    ``setAccountHeader`` + the Codex executor's ``PrepareRequest``)."""
    out = {name: value for name in _DIRECT_HEADERS if (value := client.get(name))}
    out.setdefault("Originator", "Codex Desktop")
    account = cred.metadata.get("account_id")
    if isinstance(account, str) and account.strip():
        out["Chatgpt-Account-Id"] = account.strip()
    if token := cred.access_token:
        out["Authorization"] = f"Bearer {token}"
    out.update(copy_client_headers(cred, client))
    return out


def upstream_protocols(offered: Iterable[str]) -> tuple[str, ...]:
    """The client's subprotocols that go upstream: not the one that carries its key."""
    return tuple(p for p in offered if p and not p.startswith(_KEY_PROTOCOL))


def session_update(session: bytes) -> bytes:
    """The ``session.update`` event that applies a client secret's session upstream."""
    fields = orjson.loads(session)
    for name in _NOT_UPDATABLE:
        fields.pop(name, None)
    return orjson.dumps({"type": "session.update", "session": fields})


def response_event(data: bytes) -> tuple[bool, dict[str, Any]] | None:
    """``(done, response)`` when the upstream text frame ``data`` is ``response.created``
    (``done`` false) or ``response.done``, else ``None``. Any other frame (audio deltas
    included) costs one byte search through it: a JSON string that holds a quoted name
    escapes its quotes, so only an event's own ``type`` matches."""
    at = data.find(_RESPONSE)
    while at >= 0:
        at += _RESPONSE_END
        if data.startswith(b'done"', at) or data.startswith(b'created"', at):
            break
        at = data.find(_RESPONSE, at)
    else:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    kind = event.get("type") if isinstance(event, dict) else None
    response = event.get("response") if kind in ("response.done", "response.created") else None
    return (kind == "response.done", response) if isinstance(response, dict) else None


def transcription_usage(data: bytes) -> ir.Usage | None:
    """The ``usage`` of the upstream text frame ``data`` when it is
    ``conversation.item.input_audio_transcription.completed`` and reports one, else
    ``None`` (one byte search through any other frame). Usage billed by tokens gives its
    counts; billed by duration (``{"type": "duration", "seconds": ...}``), no tokens."""
    if data.find(_TRANSCRIBED) < 0:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if (
        not isinstance(event, dict)
        or event.get("type") != "conversation.item.input_audio_transcription.completed"
    ):
        return None
    return realtime_usage(event)


def realtime_usage(response: dict[str, Any]) -> ir.Usage | None:
    """A Realtime response's ``usage`` (``input_token_details.cached_tokens`` is the cached
    part of the input), or ``None`` when it carries none."""
    u = response.get("usage")
    if not isinstance(u, dict):
        return None
    details = u.get("input_token_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    total = u.get("total_tokens")
    return ir.Usage(
        input_tokens=_count(u.get("input_tokens")),
        output_tokens=_count(u.get("output_tokens")),
        cache_read_tokens=_count(cached),
        total_tokens=total if isinstance(total, int) and total >= 0 else None,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True, slots=True)
class Refused:
    """The upstream refused the upgrade (``status`` 0: it could not be reached)."""

    status: int
    headers: Mapping[str, str]
    reason: str


class RealtimeUpstream:
    """Dials OpenAI's Realtime WebSocket through the shared client's proxies and limits."""

    def __init__(self, http: HttpClient, base_url: str | None = None) -> None:
        self.http = http
        base = (base_url or endpoints.url("codex", "realtime")).rstrip("/")
        if base.startswith(("http://", "https://")):
            base = "ws" + base[4:]
        self.base_url = base

    def url(self, model: str) -> str:
        """The direct Realtime URL for the model the client named (CPA ``directRealtimeURL``)."""
        return f"{self.base_url}/realtime?{urlencode({'model': model.strip()})}"

    async def dial(
        self, url: str, headers: Mapping[str, str], protocols: tuple[str, ...], proxy: str
    ) -> UpstreamSocket | Refused:
        """An open upstream socket, or why there is none."""
        session, http_proxy = self.http._session(proxy)  # the shared pool and its proxy
        timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0)
        try:
            with refused_upgrade_body():  # (the refusal's body is read, bounded, and dropped)
                async with asyncio.timeout(self.http.connect_timeout):
                    ws: Any = await session.ws_connect(
                        url,
                        headers=headers,
                        protocols=protocols,
                        proxy=http_proxy,
                        timeout=timeout,
                        heartbeat=HEARTBEAT,
                        autoclose=False,  # the relay answers a close with the peer's code
                        max_msg_size=0,
                        compress=0,
                        decode_text=False,
                    )
        except aiohttp.WSServerHandshakeError as exc:
            kept = {k: v for k in ("Retry-After", "X-Request-Id", "OpenAI-Request-Id") if (v := _get(exc, k))}
            return Refused(exc.status, kept, f"upgrade refused with {exc.status}")
        except TimeoutError:
            return Refused(504, {}, "upstream connect timed out")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("codex realtime: cannot reach %s: %s", _origin(url), type(exc).__name__)
            return Refused(0, {}, type(exc).__name__)
        socket: UpstreamSocket = ws
        return socket


def _get(exc: aiohttp.WSServerHandshakeError, name: str) -> str:
    headers = exc.headers
    value = headers.get(name) if headers is not None else None
    return value if isinstance(value, str) else ""


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1]}"
