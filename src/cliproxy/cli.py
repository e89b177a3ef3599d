"""The ``cliproxy`` command.

cliproxy [serve] [--config PATH] [--host HOST] [--port PORT]
cliproxy --version
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cliproxy import __version__

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["main"]

log = logging.getLogger("cliproxy")

DEFAULT_CONFIG = "config.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cliproxy",
        description="An LLM API proxy: any client, any upstream, pools of credentials (CLIProxyAPI-compatible).",
    )
    p.add_argument("--version", action="version", version=f"cliproxy {__version__}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the proxy (the default command)")
    for target in (p, serve):
        target.add_argument(
            "--config",
            default=argparse.SUPPRESS,
            help=f"config file (default ./{DEFAULT_CONFIG}; built-in defaults when missing)",
        )
        target.add_argument("--host", default=argparse.SUPPRESS, help="listen address (overrides the config)")
        target.add_argument("--port", type=int, default=argparse.SUPPRESS, help="listen port (default 8317)")
    return p


def setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("cliproxy").setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    known = {opt for action in parser._actions for opt in action.option_strings} | {
        "--config",
        "--host",
        "--port",
    }
    unknown = [a for a in argv if a.startswith("--") and a.split("=", 1)[0] not in known]
    if unknown:  # perhaps flags of command-line plugins
        return _plugin_command(parser, argv, unknown, _config_arg(argv))
    args = parser.parse_args(argv)
    config_path = Path(getattr(args, "config", DEFAULT_CONFIG))
    return serve(config_path, getattr(args, "host", None), getattr(args, "port", None))


def _config_arg(argv: list[str]) -> Path:
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return Path(DEFAULT_CONFIG)


def _plugin_command(
    parser: argparse.ArgumentParser, argv: list[str], unknown: list[str], config_path: Path
) -> int:
    from cliproxy.config import load_dotenv_file, load_or_default
    from cliproxy.errors import ConfigError

    setup_logging(False)
    load_dotenv_file(Path.cwd())
    try:
        config, _ = load_or_default(config_path)
    except ConfigError as exc:
        log.error("cannot load %s: %s", config_path, exc)
        return 2
    if not config.plugins.enabled:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return asyncio.run(_run_plugin_command(parser, argv, config, config_path))


async def _run_plugin_command(
    parser: argparse.ArgumentParser, argv: list[str], config: Config, config_path: Path
) -> int:
    from cliproxy.plugins.callbacks import Callbacks
    from cliproxy.plugins.commandline import add_to_parser, collect_flags, run_triggered
    from cliproxy.service import Service

    service = Service(config, config_path, watch=False)
    host = service.plugins
    host.callbacks = Callbacks(host, service)
    try:
        await host.apply_config(config.plugins)
        reserved = {a.lstrip("-") for action in parser._actions for a in action.option_strings}
        flags = await collect_flags(host, reserved)
        add_to_parser(parser, flags)
        args = parser.parse_args(argv)
        code = await run_triggered(host, flags, args, config, config_path)
        return 0 if code is None else code
    finally:
        await host.shutdown()
        await service.http.close()


def serve(config_path: Path, host: str | None, port: int | None) -> int:
    from cliproxy.config import load_dotenv_file, load_or_default
    from cliproxy.errors import ConfigError

    setup_logging(False)
    loaded_env = load_dotenv_file(Path.cwd())
    if loaded_env:
        log.info("loaded %d variable(s) from .env", len(loaded_env))
    try:
        config, existed = load_or_default(config_path)
    except ConfigError as exc:
        log.error("cannot load %s: %s", config_path, exc)
        return 2
    setup_logging(config.debug)
    log.debug("debug logging is on")
    if not existed:
        log.warning(
            "no config file at %s: running on built-in defaults. Put your config there "
            "(see README.md), or pass --config PATH.",
            config_path.resolve(),
        )
    bind_host = host if host is not None else config.host
    bind_port = port if port is not None else config.port
    try:
        _run(config, config_path if existed else None, bind_host, bind_port)
    except ConfigError as exc:  # tls.cert / tls.key that do not load
        log.error("cannot start: %s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", bind_host or "*", bind_port, exc)
        return 1
    return 0


def _run(config: Config, config_path: Path | None, host: str, port: int) -> None:
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - Windows
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(config, config_path, host, port))


def _shown(host: str) -> str:
    if not host:
        return "0.0.0.0"
    return f"[{host}]" if ":" in host else host


async def _serve(config: Config, config_path: Path | None, host: str, port: int) -> None:
    from cliproxy.server.app import listen
    from cliproxy.service import Service

    service = Service(config, config_path)
    listener = await listen(service, host, port)
    log.info(
        "cliproxy %s listening on %s://%s:%d%s (pid %d)",
        __version__,
        listener.scheme,
        _shown(host),
        listener.port,
        "" if host else " (every interface)",
        os.getpid(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down: finishing requests in flight")
        await listener.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
