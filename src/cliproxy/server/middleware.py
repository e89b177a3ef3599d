"""The one middleware every request passes: CORS, open-proxy limits, safe mode, the body
read, client access, errors.

It is a single function on purpose: each aiohttp middleware layer costs a coroutine
frame per request, and these checks are a few dictionary look-ups.

CORS: when a key is required the page must hold one, so CPA's ``*`` stays. When no key is
required (an open proxy), only loopback origins are answered, each with its own origin,
never ``*``; on proxy routes a request from another origin, a remote peer or a foreign
Host header is refused outright (``cliproxy.access.open_proxy_refusal``), because a
browser sends a cross-origin "simple" POST without a preflight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

from cliproxy.access import HashCheckNeeded, forwarded_remote, hostname, is_loopback, open_proxy_refusal
from cliproxy.errors import CliproxyError
from cliproxy.presence import CLIENT
from cliproxy.requestid import begin_request
from cliproxy.server.context import CORS_KEY, PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import error_response, exception_response
from cliproxy.server.realtime import client_secret_principal

if TYPE_CHECKING:
    from cliproxy.access import Principal
    from cliproxy.config.sections import TimeoutsConfig
    from cliproxy.formats import Format
    from cliproxy.service import Service

__all__ = [
    "CORS_HEADERS",
    "PROTECTED_PREFIXES",
    "authorize",
    "body_timeout_message",
    "check_access",
    "cors_headers",
    "is_proxy_path",
    "middleware",
    "screen",
    "too_large_message",
]

log = logging.getLogger(__name__)

CORS_EXPOSE = ", ".join(
    [
        "X-CPA-TRACE-ID",
        "X-CPA-VERSION",
        "X-CPA-COMMIT",
        "X-CPA-BUILD-DATE",
        "X-CPA-SUPPORT-PLUGIN",
        "X-CPA-SAFE-MODE",
        "Location",
        "Retry-After",
        "X-Request-Id",
        "OpenAI-Request-Id",
        # routing explain (cliproxy.credentials.explain.HEADERS)
        "X-Cliproxy-Route-Provider",
        "X-Cliproxy-Route-Credential",
        "X-Cliproxy-Route-Attempts",
        "X-Cliproxy-Route-Model",
        "X-Cliproxy-Route-Skipped",
    ]
)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Expose-Headers": CORS_EXPOSE,
}
_NO_CORS: dict[str, str] = {}

# route groups that need a client API key (CPA's AuthMiddleware groups)
PROTECTED_PREFIXES = ("/v1/", "/v1beta/", "/openai/v1/", "/backend-api/codex/")
PROXY_PATHS = ("/v1", "/v1beta", "/openai/v1", "/backend-api/codex")
RELAY_PATH = "/v1/ws"  # the AI Studio relay: keyed only with ``ws-auth: true`` (CPA)

SAFE_MODE_MESSAGE = (
    "Proxy API endpoints are disabled because api-keys contains template values. "
    "Open /management.html?safe-mode=configure, update api-keys in Management, then retry."
)


def is_proxy_path(path: str) -> bool:
    """A route of the proxy API (client keys, body read, frontend auth), not management."""
    return path in PROXY_PATHS or path.startswith(PROTECTED_PREFIXES)


def cors_headers(origin: str | None, open_proxy: bool) -> dict[str, str]:
    """The CORS headers for a request with this ``Origin`` (none without one: SDKs and CLIs
    are spared ~300 bytes per response)."""
    if origin is None:
        return _NO_CORS
    if not open_proxy:
        return CORS_HEADERS
    if not is_loopback(hostname(origin)):
        return _NO_CORS
    return {**CORS_HEADERS, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _peer(request: web.Request) -> str | None:
    # the socket peer, never X-Forwarded-For (anyone can send that)
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return None


def _body_error(request: web.Request, status: int, message: str) -> web.Response:
    resp = error_response(client_format(request), status, message)
    resp.force_close()  # the rest of the body is not worth reading
    return resp


def _too_large(request: web.Request) -> web.Response:
    return _body_error(request, 413, too_large_message(request.client_max_size))


async def _read_body(request: web.Request, timeouts: TimeoutsConfig) -> web.Response | None:
    """Read the whole body now (handlers then get it from aiohttp's cache), within
    ``timeouts.client-body`` and ``limits.max-body-mb``; an error response when it fails."""
    length = request.content_length
    if length is not None and length > request.client_max_size:
        return _too_large(request)
    timeout = None
    try:
        if request.content.is_eof() or (timeout := timeouts.seconds("client_body")) is None:
            await request.read()  # already here (most bodies come with the head): no timer
        else:
            async with asyncio.timeout(timeout):
                await request.read()
    except TimeoutError:
        log.info(
            "%s %s: request body not received within %gs (timeouts.client-body)",
            request.method,
            request.path,
            timeout,
        )
        return _body_error(request, 408, body_timeout_message(timeout))
    except web.HTTPRequestEntityTooLarge:
        return _too_large(request)
    except (HttpProcessingError, RequestPayloadError) as exc:  # undecodable encoding, broken chunks
        log.info("%s %s: unreadable request body: %s", request.method, request.path, exc)
        return _body_error(request, 400, f"request body could not be read: {_payload_problem(exc)}")
    except ConnectionError:  # the client went away mid-body
        log.info("%s %s: the client went away while sending the body", request.method, request.path)
        return _body_error(request, 400, "the connection closed before the whole body arrived")
    return None


def _payload_problem(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, RequestPayloadError) and exc.__cause__ else exc
    text = cause.message if isinstance(cause, HttpProcessingError) else str(cause)
    return (text or type(cause).__name__)[:200]


def _reads_body_early(request: web.Request) -> bool:
    # multipart bodies are streamed by their handlers; GETs (WebSocket upgrades) carry none
    return request.body_exists and not request.content_type.startswith("multipart/")


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def screen(
    service: Service,
    method: str,
    path: str,
    headers: Mapping[str, str],
    peer: Callable[[], str | None],
    fmt: Callable[[], Format],
) -> tuple[web.Response | None, dict[str, str], bool]:
    """What the request head alone decides, for both server engines: an answer (an open
    proxy's refusal, the CORS preflight, safe mode) or ``None`` to go on; the CORS headers
    of the answer; whether ``path`` is a proxy route (client keys, body read, frontend auth)."""
    access = service.access
    proxy = is_proxy_path(path)
    open_proxy = not (service.frontend or access.required)
    origin = headers.get("Origin")
    if open_proxy and proxy:
        address = peer()
        refusal = open_proxy_refusal(
            address,
            origin,
            headers.get("Host"),
            allow_remote=service.config.allow_unauthenticated_remote,
            forwarded=forwarded_remote(headers),
        )
        if refusal is not None:
            log.info("%s %s from %s refused: %s", method, path, address, refusal.code)
            return error_response(fmt(), refusal.status, refusal.message, code=refusal.code), _NO_CORS, proxy
    cors = cors_headers(origin, open_proxy)
    if method == "OPTIONS":
        return web.Response(status=204, headers=cors), cors, proxy
    if proxy and access.safe_mode:
        return (
            web.Response(
                status=403,
                content_type="application/json",
                body=orjson.dumps({"error": "unsafe_example_api_key", "message": SAFE_MODE_MESSAGE}),
                headers={**CORS_HEADERS, "X-CPA-SAFE-MODE": "example-api-key"},
            ),
            cors,
            proxy,
        )
    return None, cors, proxy


def check_access(
    service: Service, path: str, headers: Mapping[str, str], query: Mapping[str, str]
) -> Principal | None:
    """The client key check of a proxy route, without waiting: ``None`` when no key is
    required here. Raises ``CliproxyError`` for a bad key, ``HashCheckNeeded`` when a
    bcrypt hash must decide (``service.access.verify``, in a thread)."""
    access = service.access
    if access.required and not service.frontend and (path != RELAY_PATH or service.config.ws_auth):
        return access.check(headers, query)
    return None


async def authorize(
    service: Service, path: str, headers: Mapping[str, str], query: Mapping[str, str]
) -> Principal | None:
    """:func:`check_access`, a bcrypt-hashed key checked in a thread."""
    access = service.access
    try:
        return check_access(service, path, headers, query)
    except HashCheckNeeded as needed:
        return await access.verify(needed)


def too_large_message(max_bytes: int) -> str:
    return f"request body is larger than {max_bytes / (1024 * 1024):g} MB (limits.max-body-mb)"


def body_timeout_message(timeout: float | None) -> str:
    return f"request body not received within {timeout:g}s (timeouts.client-body)"


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    begin_request()  # the id on this request's log lines; aiohttp gives each request its own task
    CLIENT.set(request.transport)  # for waits that end when the client goes (cliproxy.presence)
    service = request.app[SERVICE]
    path = request.path
    headers = request.headers
    answer, cors, proxy = screen(
        service, request.method, path, headers, lambda: _peer(request), lambda: client_format(request)
    )
    if answer is not None:
        return answer
    if cors:
        request[CORS_KEY] = cors
    if proxy:
        try:
            # a Realtime client secret (``ek_``) stands in for the client key where CPA takes one
            secret = await client_secret_principal(request) if path.startswith("/v1/realtime") else None
            principal = secret or await authorize(service, path, headers, request.query)
            if principal is not None:
                request[PRINCIPAL_KEY] = principal
            if _reads_body_early(request):
                failed = await _read_body(request, service.config.timeouts)
                if failed is not None:
                    failed.headers.update(cors)
                    return failed
            if service.frontend and secret is None:  # frontend-auth plugins take part (or decide alone)
                request[PRINCIPAL_KEY] = await service.authenticate(
                    request.method, path, headers, request.query, await request.read()
                )
        except CliproxyError as exc:
            resp: web.StreamResponse = exception_response(client_format(request), exc)
            resp.headers.update(cors)
            return resp
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and proxy:
            if isinstance(exc, web.HTTPRequestEntityTooLarge):
                resp = _too_large(request)
            else:
                resp = error_response(client_format(request), exc.status, exc.reason or "error")
        else:
            exc.headers.update(cors)
            raise
    except CliproxyError as exc:
        resp = exception_response(client_format(request), exc)
    except (HttpProcessingError, RequestPayloadError) as exc:
        # a body read by the handler itself (multipart routes skip the early read) that
        # cannot be decoded: the client's 400, one log line
        log.info("%s %s: unreadable request body: %s", request.method, path, exc)
        resp = _body_error(request, 400, f"request body could not be read: {_payload_problem(exc)}")
    except Exception as exc:
        if isinstance(exc, ConnectionError) and _client_gone(request):
            # the client went away: nothing to answer, nothing to log loudly
            log.info("%s %s: the client went away", request.method, path)
            return web.Response(status=499)
        # our bug, not the client's: log it whole, tell the client little
        log.exception("unhandled error on %s %s", request.method, path)
        resp = error_response(client_format(request), 500, "internal error in cliproxy; see the server log")
    if cors and not resp.prepared:
        resp.headers.update(cors)
    return resp
