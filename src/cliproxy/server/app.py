"""The aiohttp application: routes, middleware and the service it serves; and the listener."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cliproxy.server.context import SERVICE
from cliproxy.server.guard import ConnectionGuard, GuardedSite
from cliproxy.server.middleware import middleware
from cliproxy.server.routes import add_routes

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["Listener", "create_app", "listen"]


def create_app(service: Service) -> web.Application:
    """An application serving ``service``; starting the app starts the service.

    Request bodies are capped at ``limits.max-body-mb`` (read at creation: a change
    takes effect after a restart)."""
    max_body = service.config.limits.max_body_bytes
    app = web.Application(middlewares=[middleware], client_max_size=max_body)
    app[SERVICE] = service
    add_routes(app, service.handlers())

    async def on_startup(_: web.Application) -> None:
        await service.start()

    async def on_cleanup(_: web.Application) -> None:
        await service.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


class Listener:
    """A running server: the app runner and its listening site."""

    def __init__(self, runner: web.AppRunner, site: GuardedSite) -> None:
        self.runner = runner
        self.site = site

    @property
    def port(self) -> int:
        return self.site.port

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (up to the runner's timeout), stop the service."""
        await self.runner.cleanup()


async def listen(service: Service, host: str | None, port: int) -> Listener:
    """Serve ``service`` on ``host:port`` (``None`` or ``""``: every interface), with the
    client-side timeouts and connection caps of its config (``cliproxy.server.guard``)."""
    runner = web.AppRunner(create_app(service), access_log=None, handle_signals=False)
    await runner.setup()
    site = GuardedSite(runner, host, port, ConnectionGuard.from_config(service.config))
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Listener(runner, site)
