"""The aiohttp application: routes, middleware and the service it serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cliproxy.server.context import SERVICE
from cliproxy.server.middleware import middleware
from cliproxy.server.routes import add_routes

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["create_app"]

# Claude Code requests reach ~50 KB; long agent sessions with images go far beyond.
MAX_BODY = 512 * 1024 * 1024


def create_app(service: Service) -> web.Application:
    """An application serving ``service``; starting the app starts the service."""
    app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY)
    app[SERVICE] = service
    add_routes(app, service.handlers())

    async def on_startup(_: web.Application) -> None:
        await service.start()

    async def on_cleanup(_: web.Application) -> None:
        await service.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
