"""``/v0/management`` and plugin resources: HTTP only; the rules live in
``cliproxy.management`` and ``cliproxy.plugins.surface``.

The management API is an aiohttp sub-application mounted at ``/v0/management``
(:func:`management_app`): one route per entry of ``cliproxy.management.api.ROUTES``,
so aiohttp's router matches paths and methods, and one middleware for what every
answer shares: the access gate (disabled -> 404, then the management key), a JSON 405
for a known path with another method, and, for paths no route serves, a plugin's login
or management route, else 501. Every answer carries the build headers. State the
sub-application owns (open plugin logins) is torn down by its ``cleanup_ctx``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler as WebHandler

from cliproxy.errors import ConfigFileMissingError, ConfigSaveError
from cliproxy.management.api import PREFIX, ROUTES, unrouted_login
from cliproxy.management.ops_build import build_headers
from cliproxy.management.sessions import LoginSessions
from cliproxy.management.types import ApiError, Handler, Req, Resp
from cliproxy.plugins.surface import handle_management
from cliproxy.server.context import SERVICE

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["LOGINS", "PREFIX", "management_app", "resource_handler"]

LOGINS: web.AppKey[LoginSessions] = web.AppKey("logins", LoginSessions)
CALLBACK_PATH = PREFIX + "/oauth-callback"


def management_app() -> web.Application:
    """The ``/v0/management`` sub-application (mount it with ``add_subapp(PREFIX, ...)``)."""
    app = web.Application(middlewares=[_management])
    for route in ROUTES:
        app.router.add_route(route.method, route.pattern, _endpoint(route.handler))
    app[LOGINS] = LoginSessions()
    app.cleanup_ctx.append(_close_logins)
    return app


async def _close_logins(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[LOGINS].close()  # a login state never outlives the proxy that issued it


def _json(status: int, data: object) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(data), content_type="application/json", headers=build_headers()
    )


@web.middleware
async def _management(request: web.Request, handler: WebHandler) -> web.StreamResponse:
    service = request.config_dict[SERVICE]
    gate = service.management
    if request.path == PREFIX or not gate.enabled(service.config):
        raise web.HTTPNotFound()
    # the browser comes back from a sign-in page without the key (CPA: no key check here)
    keyless = request.path == CALLBACK_PATH and request.method in ("GET", "POST")
    denied = None if keyless else await gate.check(service.config, request.remote, request.headers)
    if denied is not None:
        return _json(denied.status, {"error": denied.message})
    unmatched = request.match_info.http_exception
    if unmatched is None:
        return await handler(request)
    if isinstance(unmatched, web.HTTPMethodNotAllowed):
        return _json(405, {"error": f"method {request.method} not allowed on {request.path}"})
    return await _unrouted(request, service)


def _endpoint(handler: Handler) -> WebHandler:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await _answer(request, handler, dict(request.match_info))

    return endpoint


async def _answer(request: web.Request, handler: Handler, params: dict[str, str]) -> web.Response:
    req = Req(
        request.config_dict[SERVICE],
        request.method,
        request.path,
        params,
        request.query,
        request.headers,
        await request.read(),
        request.config_dict[LOGINS],
        request.remote or "",
    )
    try:
        resp = await handler(req)
    except (ApiError, ConfigFileMissingError, ConfigSaveError) as exc:  # a config write, any endpoint
        resp = Resp(exc.status, {"error": exc.message})
    headers = {"Content-Type": "application/json", **resp.headers, **build_headers()}
    return web.Response(status=resp.status, body=resp.body(), headers=headers)


async def _unrouted(request: web.Request, service: Service) -> web.StreamResponse:
    """A path no native route serves: a plugin login, a plugin route, else 501."""
    login = unrouted_login(request.method, request.path.removeprefix(PREFIX))
    if login is not None:
        return await _answer(request, *login)
    rec = service.plugin_routes.routes.get((request.method, request.path))
    if rec is not None:
        reply = await handle_management(
            service.plugins,
            rec,
            method=request.method,
            path=request.path,
            headers=request.headers,
            query=request.query,
            body=await request.read(),
        )
        return web.Response(
            status=reply.status, body=reply.body, headers={**reply.headers, **build_headers()}
        )
    return _json(
        501,
        {"error": f"management endpoint {request.method} {request.path} is not implemented in cliproxy yet"},
    )


async def resource_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    plugin_id = request.match_info["plugin_id"]
    path = "/" + request.match_info["tail"]
    rec = service.plugin_routes.resources.get((plugin_id, path))
    if rec is None or service.plugins.get(plugin_id) is None:
        raise web.HTTPNotFound()
    reply = await handle_management(
        service.plugins,
        rec,
        method="GET",
        path=request.path,
        headers=request.headers,
        query=request.query,
        body=b"",
    )
    return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
