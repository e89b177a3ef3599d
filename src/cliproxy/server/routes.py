"""Every client route CPA serves, in one table.

A route whose feature is not built yet answers 501 in its client's error shape with a
message that says so; it never pretends to work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from cliproxy.management.oauth_api import CALLBACK_PROVIDERS, browser_callback
from cliproxy.management.usage_api import metrics_answer
from cliproxy.server.context import SERVICE, client_format
from cliproxy.server.errors import error_response
from cliproxy.server.management import LOGINS, PREFIX, management_app, resource_handler
from cliproxy.server.panel import add_panel_route
from cliproxy.server.safe_mode import warning

__all__ = ["MANAGEMENT_APP", "NOT_BUILT", "add_routes", "not_built", "oauth_callback"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# the ``/v0/management`` sub-application, whose login sessions the callback routes reach
MANAGEMENT_APP: web.AppKey[web.Application] = web.AppKey("management_app", web.Application)

_HEALTH = orjson.dumps({"status": "ok"})
_ROOT = orjson.dumps(
    {
        "message": "CLI Proxy API Server",
        "endpoints": ["POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models"],
    }
)


async def healthz(request: web.Request) -> web.Response:
    if request.method == "HEAD":
        return web.Response(status=200)
    return web.Response(body=_HEALTH, content_type="application/json")


async def root(request: web.Request) -> web.Response:
    return warning(request) or web.Response(body=_ROOT, content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus exposition (``metrics.enabled``; see usage_api)."""
    resp = await metrics_answer(request.app[SERVICE], request.remote or "", request.headers)
    return web.Response(
        status=resp.status, body=resp.body(), headers={"Content-Type": "application/json", **resp.headers}
    )


def not_built(feature: str) -> Handler:
    """A handler that answers 501 in the caller's format, naming the missing feature."""
    message = f"{feature} is not implemented in cliproxy yet"

    async def handler(request: web.Request) -> web.Response:
        return error_response(client_format(request), 501, message)

    return handler


def oauth_callback(name: str) -> Handler:
    """``GET /<name>/callback``: the browser back from the provider's sign-in page; the
    waiting panel sign-in takes the code (``cliproxy.management.oauth_api``)."""

    async def handler(request: web.Request) -> web.Response:
        store = request.app[MANAGEMENT_APP][LOGINS].oauth
        status, page = await browser_callback(store, name, request.query, request.app[SERVICE])
        return web.Response(
            status=status, text=page, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    return handler


# (method, path, feature name) for routes with no handler yet; a handler provided by
# the service (``handlers`` argument of ``add_routes``) replaces the 501.
NOT_BUILT: list[tuple[str, str, str]] = [
    ("GET", "/v1/models", "model listing"),
    ("POST", "/v1/chat/completions", "chat completions"),
    ("POST", "/v1/completions", "legacy completions"),
    ("POST", "/v1/responses", "responses"),
    ("GET", "/v1/responses", "responses over WebSocket"),
    ("POST", "/v1/responses/compact", "responses compact"),
    ("POST", "/v1/responses/input_tokens", "responses input_tokens"),
    ("POST", "/v1/messages", "messages"),
    ("POST", "/v1/messages/count_tokens", "messages count_tokens"),
    ("POST", "/v1/images/generations", "image generation"),
    ("POST", "/v1/images/edits", "image edits"),
    ("POST", "/v1/videos", "video generation"),
    ("POST", "/v1/videos/generations", "video generation"),
    ("POST", "/v1/videos/edits", "video edits"),
    ("POST", "/v1/videos/extensions", "video extensions"),
    ("GET", "/v1/videos/{request_id}", "video retrieval"),
    ("POST", "/openai/v1/videos", "video generation"),
    ("GET", "/openai/v1/videos/{video_id}", "video retrieval"),
    ("GET", "/openai/v1/videos/{video_id}/content", "video content"),
    ("POST", "/v1/alpha/search", "Codex alpha search"),
    ("POST", "/v1/live", "Codex Live"),
    ("GET", "/v1/live/{call_id}", "Codex Live"),
    ("GET", "/v1/realtime", "Realtime"),
    ("POST", "/v1/realtime", "Realtime"),
    ("POST", "/v1/realtime/calls", "Realtime calls"),
    ("GET", "/v1/realtime/calls/{call_id}", "Realtime calls"),
    ("POST", "/v1/realtime/client_secrets", "Realtime client secrets"),
    ("POST", "/v1/realtime/sessions", "Realtime sessions"),
    ("POST", "/v1/realtime/transcription_sessions", "Realtime transcription sessions"),
    ("GET", "/v1/realtime/translations", "Realtime translations"),
    ("POST", "/v1/realtime/translations", "Realtime translations"),
    ("POST", "/v1/realtime/translations/client_secrets", "Realtime translations"),
    ("POST", "/v1/realtime/calls/{call_id}/hangup", "Realtime call control"),
    ("POST", "/v1/realtime/calls/{call_id}/{action:accept|reject|refer}", "Realtime call control"),
    ("GET", "/backend-api/codex/responses", "responses over WebSocket"),
    ("POST", "/backend-api/codex/responses", "responses"),
    ("POST", "/backend-api/codex/responses/compact", "responses compact"),
    ("POST", "/backend-api/codex/alpha/search", "Codex alpha search"),
    ("GET", "/v1beta/models", "model listing"),
    ("GET", "/v1beta/models/{name:.+}", "model lookup"),
    ("POST", "/v1beta/models/{name:.+}", "Gemini generateContent"),
    ("POST", "/v1beta/interactions", "Gemini Interactions API"),
    # not CPA's: google-genai >= 3 calls /v1/interactions unless told api_version="v1beta"
    ("POST", "/v1/interactions", "Gemini Interactions API"),
    ("GET", "/v1/models/{name:.+}", "model lookup"),
    ("POST", "/v1/models/{name:.+}", "Gemini generateContent"),
    ("GET", "/v1/ws", "AI Studio WebSocket relay"),
]


def add_routes(app: web.Application, handlers: dict[tuple[str, str], Handler] | None = None) -> None:
    """Register every route; ``handlers`` maps (method, path) to a real handler."""
    handlers = handlers or {}
    router = app.router
    router.add_get("/healthz", healthz)
    router.add_get("/", root)
    router.add_get("/metrics", metrics, allow_head=False)
    for method, path, feature in NOT_BUILT:
        handler = handlers.get((method, path)) or not_built(feature)
        if method == "GET":
            router.add_get(path, handler, allow_head=False)
        else:
            router.add_route(method, path, handler)
    management = management_app()
    app.add_subapp(PREFIX, management)
    app[MANAGEMENT_APP] = management
    router.add_get("/v0/resource/plugins/{plugin_id}/{tail:.*}", resource_handler, allow_head=False)
    add_panel_route(app, handlers.get(("GET", "/management.html")))
    for name in CALLBACK_PROVIDERS:
        path = f"/{name}/callback"
        router.add_get(path, handlers.get(("GET", path)) or oauth_callback(name), allow_head=False)
