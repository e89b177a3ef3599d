"""The ``cliproxy`` command.

cliproxy [serve] [--config PATH] [--host HOST] [--port PORT]
cliproxy record --out DIR [serve flags]       (docs/record-replay.md)
cliproxy replay DIR [--against URL --api-key K] [--config FILE]
cliproxy -claude-login | -codex-login | -codex-device-login | -antigravity-login
         | -kimi-login | -xai-login [-no-browser] [-oauth-callback-port N] [-config PATH]
cliproxy -vertex-import FILE [-vertex-import-prefix P] [-config PATH]
cliproxy --version

CPA spells its flags with one dash (Go's ``flag`` package, which takes two as well); every
flag here takes either, so a CPA user's scripts and service files run unchanged. CPA flags
cliproxy has no counterpart for are refused with one line saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cliproxy import __version__
from cliproxy.record.commands import add_record_arguments, add_replay_parser
from cliproxy.requestid import setup_logging

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["main"]

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "config.yaml"
TUI_KEY_ENV = "CLIPROXY_MANAGEMENT_KEY"


# CPA's login flags: flag -> (login name, help)
LOGIN_FLAGS = {
    "claude-login": ("claude", "sign in to Claude (browser OAuth; callback on port 54545)"),
    "codex-login": ("codex", "sign in to ChatGPT / Codex (browser OAuth; callback on port 1455)"),
    "codex-device-login": ("codex-device", "sign in to ChatGPT / Codex with a device code"),
    "antigravity-login": ("antigravity", "sign in to Antigravity (Google OAuth; callback on port 51121)"),
    "kimi-login": ("kimi", "sign in to Kimi with a device code"),
    "xai-login": ("xai", "sign in to xAI (Grok) with a device code"),
}
# CPA flags with no counterpart here -> why
UNSUPPORTED_CPA_FLAGS = {
    "password": "set remote-management.secret-key in the config instead",
    "home-jwt": "CPA Home (the hosted control plane) is not supported",
    "home-disable-cluster-discovery": "CPA Home (the hosted control plane) is not supported",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cliproxy",
        description="An LLM API proxy: any client, any upstream, pools of credentials (CLIProxyAPI-compatible).",
        epilog="Every flag takes one dash or two, as in CLIProxyAPI. Sign-ins: see docs/logins.md.",
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"cliproxy {__version__}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the proxy (the default command)", allow_abbrev=False)
    record = sub.add_parser(
        "record", help="run the proxy and record every request (docs/record-replay.md)", allow_abbrev=False
    )
    add_record_arguments(record)
    add_replay_parser(sub)
    for target in (p, serve, record):
        target.add_argument(
            "-config",
            "--config",
            default=argparse.SUPPRESS,
            metavar="PATH",
            help=f"config file (default ./{DEFAULT_CONFIG}; built-in defaults when missing)",
        )
        target.add_argument("--host", default=argparse.SUPPRESS, help="listen address (overrides the config)")
        target.add_argument("--port", type=int, default=argparse.SUPPRESS, help="listen port (default 8317)")
        target.add_argument(
            "--workers",
            type=int,
            default=argparse.SUPPRESS,
            metavar="N",
            help="N server processes on the port (overrides workers:; > 1 needs state.backend: redis)",
        )
        target.add_argument(
            "-local-model",
            "--local-model",
            action="store_true",
            default=argparse.SUPPRESS,
            help="use the embedded model catalog only: no fetch of the remote models.json",
        )
    tui = sub.add_parser(
        "tui", help="a terminal UI for a running proxy (needs cliproxy[tui])", allow_abbrev=False
    )
    tui.add_argument(
        "-config", "--config", default=argparse.SUPPRESS, metavar="PATH", help="config file (its port)"
    )
    tui.add_argument("--url", default="", help="the proxy's address (default http://127.0.0.1:<config port>)")
    p.add_argument(
        "-tui", "--tui", action="store_true", default=argparse.SUPPRESS, help="start the terminal UI (as tui)"
    )
    for target in (p, tui):
        target.add_argument(
            "-standalone",
            "--standalone",
            action="store_true",
            default=argparse.SUPPRESS,
            help="with the terminal UI: run the proxy in this process and manage it",
        )
        target.add_argument(
            "--management-key",
            default=argparse.SUPPRESS,
            metavar="KEY",
            help=f"the UI's management key (default ${TUI_KEY_ENV}, then $MANAGEMENT_PASSWORD)",
        )
    login = p.add_argument_group("sign in (writes a credential file into auth-dir, then exits)")
    for flag, (_, text) in LOGIN_FLAGS.items():
        login.add_argument(f"-{flag}", f"--{flag}", action="store_true", help=text)
    login.add_argument(
        "-no-browser",
        "--no-browser",
        action="store_true",
        help="do not open a browser: print the URL, and accept the pasted callback URL",
    )
    login.add_argument(
        "-oauth-callback-port",
        "--oauth-callback-port",
        type=int,
        default=0,
        metavar="N",
        help="listen for the OAuth callback on port N instead of the provider's",
    )
    login.add_argument(
        "-vertex-import",
        "--vertex-import",
        default="",
        metavar="FILE",
        help="import a Google service-account key file as a Vertex AI credential",
    )
    login.add_argument(
        "-vertex-import-prefix",
        "--vertex-import-prefix",
        default="",
        metavar="P",
        help="with -vertex-import: serve its models as P/<model>",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    argv, unknown = _normalize(parser, argv)
    refused = [flag.lstrip("-") for flag in unknown if flag.lstrip("-") in UNSUPPORTED_CPA_FLAGS]
    if refused:
        why = UNSUPPORTED_CPA_FLAGS[refused[0]]
        print(f"cliproxy: CLIProxyAPI's -{refused[0]} flag is not supported: {why}", file=sys.stderr)
        return 2
    if unknown:  # perhaps flags of command-line plugins
        return _plugin_command(parser, argv, unknown, _config_arg(argv))
    args = parser.parse_args(argv)
    config_path = Path(getattr(args, "config", DEFAULT_CONFIG))
    logins = [name for flag, (name, _) in LOGIN_FLAGS.items() if getattr(args, flag.replace("-", "_"))]
    if args.vertex_import:
        logins.append("vertex")
    if len(logins) > 1:
        parser.error("choose one sign-in at a time (" + ", ".join(logins) + ")")
    if args.vertex_import_prefix and not args.vertex_import:
        parser.error("-vertex-import-prefix goes with -vertex-import FILE")
    if not 0 <= args.oauth_callback_port <= 65535:
        parser.error(f"-oauth-callback-port {args.oauth_callback_port}: not a port number")
    if args.command == "replay":
        from cliproxy.record.replay import run_command

        return run_command(args)
    if args.command == "tui" or getattr(args, "tui", False) or getattr(args, "standalone", False):
        if logins or args.command in ("serve", "record"):
            parser.error("the terminal UI goes with neither serve nor a sign-in flag")
        return run_tui(config_path, args)
    if logins:
        if args.command in ("serve", "record"):
            parser.error(f"a sign-in flag and {args.command} do not go together")
        return login(config_path, logins[0], args)
    workers = getattr(args, "workers", None)
    if workers is not None and not 1 <= workers <= 256:
        parser.error(f"--workers {workers}: give a number from 1 to 256")
    if args.command == "record":
        from cliproxy.record.template import prepare_record

        prepare_record(config_path, Path(args.out))
    from cliproxy.serving import serve

    local_model = bool(getattr(args, "local_model", False))
    return serve(config_path, getattr(args, "host", None), getattr(args, "port", None), workers, local_model)


def run_tui(config_path: Path, args: argparse.Namespace) -> int:
    """``cliproxy tui`` / ``-tui``: the terminal UI against a running proxy, or with
    ``-standalone`` against one started in this process (CPA's two TUI modes)."""
    from cliproxy.config import command_config, read_env
    from cliproxy.tui import run, run_standalone

    read_env()
    loaded = command_config(config_path)
    if loaded is None:
        return 2
    config = loaded[0]
    key = getattr(args, "management_key", "") or os.environ.get(TUI_KEY_ENV, "")
    key = key or os.environ.get("MANAGEMENT_PASSWORD", "")
    if getattr(args, "standalone", False):
        return run_standalone(config, config_path, key)
    url = getattr(args, "url", "") or f"http://127.0.0.1:{config.port}"
    if not key:
        print(
            f"cliproxy tui: give the management key (--management-key, ${TUI_KEY_ENV} or $MANAGEMENT_PASSWORD)",
            file=sys.stderr,
        )
        return 2
    return run(url, key)


_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")


def _normalize(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` with one-dash long flags spelled with two (``-config x`` -> ``--config x``)
    and Go's ``-switch=true`` / ``-switch=false`` applied; plus the flags nobody declared
    (plugin flags, CPA flags we refuse)."""
    actions = _option_actions(parser)
    out: list[str] = []
    unknown: list[str] = []
    takes_value = False
    for arg in argv:
        if takes_value or not arg.startswith("-") or arg in ("-", "--") or _is_number(arg):
            out.append(arg)
            takes_value = False
            continue
        given = arg.partition("=")[0]
        if len(arg) > 2 and not arg.startswith("--"):
            arg = "-" + arg
        name, eq, value = arg.partition("=")
        action = actions.get(name)
        if action is None:
            unknown.append(given)
            out.append(arg)
            continue
        if action.nargs == 0 and eq:  # a switch with Go's explicit value
            if value.strip().lower() in _FALSE:
                continue
            if value.strip().lower() in _TRUE:
                arg = name
        takes_value = action.nargs != 0 and not eq
        out.append(arg)
    return out, unknown


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every option string of ``parser`` and its sub-commands -> its action."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        found.update(dict.fromkeys(action.option_strings, action))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update({o: a for a in sub._actions for o in a.option_strings if o not in found})
    return found


def _is_number(arg: str) -> bool:
    try:
        float(arg)
    except ValueError:
        return False
    return True


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
    from cliproxy.config import command_config, read_env

    setup_logging(False)
    read_env()
    loaded = command_config(config_path)
    if loaded is None:
        return 2
    config = loaded[0]
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


def login(config_path: Path, name: str, args: argparse.Namespace) -> int:
    """Sign in (or import a Vertex key) with the config the server would read, write the
    credential into its auth-dir, and exit: 0 signed in, 1 failed, 13 callback port taken,
    2 the config does not load, 130 interrupted."""
    from cliproxy.config import command_config, read_env
    from cliproxy.credentials.login.command import LoginRequest, run_login

    setup_logging(False)
    read_env()
    loaded = command_config(config_path)
    if loaded is None:
        return 2
    config, existed = loaded
    setup_logging(config.debug)
    if not existed:
        log.warning("no config file at %s: using the built-in defaults", config_path.resolve())
    request = LoginRequest(
        name,
        no_browser=args.no_browser,
        callback_port=args.oauth_callback_port,
        vertex_file=args.vertex_import,
        vertex_prefix=args.vertex_import_prefix,
    )
    try:
        return asyncio.run(run_login(request, config))
    except KeyboardInterrupt:
        print("\ncliproxy: sign-in cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
