"""The lifecycle the small fakes share: an aiohttp app on 127.0.0.1 at a random port,
started and stopped on the running event loop (``async with Fake() as fake``)."""

from __future__ import annotations

from typing import Self

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    """Subclasses register their handlers in :meth:`add_routes`; ``port`` is known after
    :meth:`start`."""

    port = 0
    _runner: web.AppRunner | None = None

    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        self.add_routes(app.router)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
