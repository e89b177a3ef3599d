"""The aiohttp application: routes, middleware and the service it serves; and the listener."""

from __future__ import annotations

import ssl
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from cliproxy.errors import ConfigError
from cliproxy.server.context import SERVICE
from cliproxy.server.fast.server import FastServer
from cliproxy.server.guard import ConnectionGuard, GuardedSite
from cliproxy.server.handlers import generation_handlers
from cliproxy.server.middleware import middleware
from cliproxy.server.realtime import install as install_realtime
from cliproxy.server.realtime import realtime_handlers
from cliproxy.server.routes import add_routes
from cliproxy.server.videos import video_handlers
from cliproxy.server.ws import install as install_websockets
from cliproxy.server.ws import responses_websocket
from cliproxy.server.wsrelay import relay_websocket
from cliproxy.usage.resp import session_factory

if TYPE_CHECKING:
    from cliproxy.config.sections import TLSConfig
    from cliproxy.service import Service

__all__ = ["Listener", "create_app", "listen", "tls_context"]


def create_app(service: Service) -> web.Application:
    """An application serving ``service``; starting the app starts the service.

    Request bodies are capped at ``limits.max-body-mb`` (read at creation: a change
    takes effect after a restart)."""
    max_body = service.config.limits.max_body_bytes
    app = web.Application(middlewares=[middleware], client_max_size=max_body)
    app[SERVICE] = service
    handlers = generation_handlers()
    handlers.update(video_handlers())
    handlers.update(realtime_handlers())  # OpenAI Realtime through Codex sign-ins
    handlers[("GET", "/v1/ws")] = relay_websocket  # the AI Studio relay
    for path in ("/v1/responses", "/backend-api/codex/responses"):  # the Responses WebSocket
        handlers[("GET", path)] = responses_websocket
    add_routes(app, handlers)
    install_websockets(app)
    install_realtime(app, service)

    async def on_startup(_: web.Application) -> None:
        await service.start()

    async def on_cleanup(_: web.Application) -> None:
        await service.stop()

    async def on_shutdown(_: web.Application) -> None:
        await service.relay.close_all("server shutting down")  # relay sockets would hold shutdown

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
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

    @property
    def scheme(self) -> str:
        """``https`` when ``tls.enable`` is on, else ``http``."""
        return self.site.scheme

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (up to the runner's timeout), stop the service."""
        await self.runner.cleanup()


async def listen(
    service: Service, host: str | None, port: int, *, reuse_port: bool = False, engine: str | None = None
) -> Listener:
    """Serve ``service`` on ``host:port`` (``None`` or ``""``: every interface), with the
    client-side timeouts and connection caps of its config (``cliproxy.server.guard``);
    HTTPS when ``tls.enable`` is on. ``engine`` (default: ``server-engine``): ``fast``
    serves the hot routes at the protocol level (``cliproxy.server.fast``), ``aiohttp``
    everything with aiohttp. Raises ``ConfigError`` naming the key when the certificate or
    key cannot be loaded."""
    context = tls_context(service.config.tls) if service.config.tls.enable else None
    runner = web.AppRunner(create_app(service), access_log=None, handle_signals=False)
    await runner.setup()
    guard = ConnectionGuard.from_config(service.config)
    guard.resp = session_factory(service)  # the usage queue over RESP on this port (CPA)
    site = GuardedSite(
        runner,
        host,
        port,
        guard,
        ssl_context=context,
        reuse_port=reuse_port,
        front=partial(FastServer, service) if (engine or service.config.server_engine) == "fast" else None,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Listener(runner, site)


def tls_context(tls: TLSConfig) -> ssl.SSLContext:
    """A server ``SSLContext`` from ``tls.cert`` (PEM, the chain) and ``tls.key`` (PEM)."""
    for key, value in (("tls.cert", tls.cert), ("tls.key", tls.key)):
        if not value.strip():
            raise ConfigError("tls.enable is true but this is empty: set it to a PEM file", path=key)
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"no such file: {path}", path=key)
    cert, key = str(Path(tls.cert).expanduser()), str(Path(tls.key).expanduser())
    try:  # a separate check, so that a bad certificate is named as such
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cafile=cert)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read a PEM certificate from {cert}: {_reason(exc)}", path="tls.cert"
        ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        # an encrypted key fails here instead of waiting for a passphrase on the terminal
        context.load_cert_chain(cert, key, password=lambda: b"")
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the private key {key} for the certificate in tls.cert "
            f"(it must be an unencrypted PEM key that matches it): {_reason(exc)}",
            path="tls.key",
        ) from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
