"""The one middleware every request passes: CORS, safe mode, client access, errors.

It is a single function on purpose: each aiohttp middleware layer costs a coroutine
frame per request, and these checks are a few dictionary look-ups.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from cliproxy.errors import CliproxyError
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import error_response, exception_response

__all__ = ["PROTECTED_PREFIXES", "middleware"]

log = logging.getLogger("cliproxy.server")

CORS_EXPOSE = ", ".join([
    "X-CPA-TRACE-ID", "X-CPA-VERSION", "X-CPA-COMMIT", "X-CPA-BUILD-DATE", "X-CPA-SUPPORT-PLUGIN",
    "X-CPA-SAFE-MODE", "Location", "Retry-After", "X-Request-Id", "OpenAI-Request-Id",
])
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Expose-Headers": CORS_EXPOSE,
}

# route groups that need a client API key (CPA's AuthMiddleware groups)
PROTECTED_PREFIXES = ("/v1/", "/v1beta/", "/openai/v1/", "/backend-api/codex/")
PROXY_PATHS = ("/v1", "/v1beta", "/openai/v1", "/backend-api/codex")

SAFE_MODE_MESSAGE = (
    "Proxy API endpoints are disabled because api-keys contains template values. "
    "Open /management.html?safe-mode=configure, update api-keys in Management, then retry."
)


def _is_proxy_path(path: str) -> bool:
    return path in PROXY_PATHS or path.startswith(PROTECTED_PREFIXES)


def _add_cors(request: web.Request, resp: web.StreamResponse) -> None:
    # only browsers need CORS headers, and they always send Origin: SDKs and CLIs are
    # spared ~300 bytes per response (streams get them in the handler, before prepare)
    if "Origin" in request.headers and not resp.prepared:
        resp.headers.update(CORS_HEADERS)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=CORS_HEADERS)
    service = request.app[SERVICE]
    path = request.path
    if _is_proxy_path(path):
        access = service.access
        if access.safe_mode:
            return web.Response(
                status=403, content_type="application/json",
                body=orjson.dumps({"error": "unsafe_example_api_key", "message": SAFE_MODE_MESSAGE}),
                headers={**CORS_HEADERS, "X-CPA-SAFE-MODE": "example-api-key"})
        if service.frontend or access.keys:
            try:
                if service.frontend:  # frontend-auth plugins take part (or, exclusive, decide alone)
                    request[PRINCIPAL_KEY] = await service.authenticate(
                        request.method, path, request.headers, request.query, await request.read())
                else:
                    request[PRINCIPAL_KEY] = access.check(request.headers, request.query)
            except CliproxyError as exc:
                resp = exception_response(client_format(request), exc)
                _add_cors(request, resp)
                return resp
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and _is_proxy_path(path):
            resp = error_response(client_format(request), exc.status, exc.reason or "error")
        else:
            exc.headers.update(CORS_HEADERS)
            raise
    except CliproxyError as exc:
        resp = exception_response(client_format(request), exc)
    except Exception:
        # our bug, not the client's: log it whole, tell the client little
        log.exception("unhandled error on %s %s", request.method, path)
        resp = error_response(client_format(request), 500, "internal error in cliproxy; see the server log")
    _add_cors(request, resp)
    return resp
