"""The command-line sign-in: what ``cliproxy -claude-login`` (and CPA's other login flags)
runs once the command line is parsed and the config loaded.

    code = asyncio.run(run_login(LoginRequest("claude", no_browser=True), config))

It builds the provider's flow over an HTTP client with the config's ``proxy-url`` and
upstream timeouts, shows the user what to open (the authorize URL, or the device page and
code), opens a browser when there is one and ``no_browser`` is off, waits, writes the
credential into ``auth-dir`` through the single credential writer, and says which account
it was, which file it wrote and which models the account brings (as the server registers
them: catalog, ``oauth-excluded-models``, prefixes). A running proxy picks the file up
through its auth-dir watcher; nothing here talks to it.

Exit codes: 0 signed in; 1 the sign-in failed (one line on stderr says why); 13 the
callback port is taken (CPA's code).

Device flows wait the provider's poll interval (5 s or more). ``CLIPROXY_LOGIN_POLL_INTERVAL``
(seconds) caps each wait: it exists for tests against local fake servers; real providers
answer ``slow_down`` to a client that polls faster than they asked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

from cliproxy.models.catalog import Catalog
from cliproxy.models.registry import ModelRegistry
from cliproxy.providers.http import HttpClient

from ..files import load_auth_file
from .antigravity import AntigravityLogin
from .base import LoginError, LoginFlow, Saved
from .callback import (
    DEFAULT_PASTE_AFTER,
    CallbackFlow,
    has_display,
    open_in_browser,
    read_stdin_line,
    run_callback_login,
)
from .claude import ClaudeLogin
from .codex import CodexLogin
from .codex_device import CodexDeviceFlow
from .core import save
from .device import Polling, prompt_lines
from .kimi import KimiDeviceFlow
from .vertex import VertexImportError, import_vertex_file
from .xai import XAIDeviceFlow

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = [
    "EXIT_FAILED",
    "EXIT_PORT_IN_USE",
    "LOGINS",
    "POLL_INTERVAL_ENV",
    "LoginRequest",
    "StdinLines",
    "model_summary",
    "run_login",
]

log = logging.getLogger(__name__)

EXIT_FAILED: Final = 1
EXIT_PORT_IN_USE: Final = 13  # CPA exits with 13 when the OAuth callback port is taken
POLL_INTERVAL_ENV: Final = "CLIPROXY_LOGIN_POLL_INTERVAL"
MODELS_SHOWN: Final = 6

# login name -> (what the user reads, how it signs in)
LOGINS: Final = {
    "claude": ("Claude", "callback"),
    "codex": ("Codex (ChatGPT)", "callback"),
    "codex-device": ("Codex (ChatGPT)", "device"),
    "antigravity": ("Antigravity", "callback"),
    "kimi": ("Kimi", "device"),
    "xai": ("xAI (Grok)", "device"),
    "vertex": ("Vertex AI", "import"),
}

Say = Callable[[str], object]
ReadPasted = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """One sign-in from the command line. ``callback_port`` 0 = the provider's port;
    ``vertex_file`` / ``vertex_prefix`` serve the ``vertex`` import only."""

    login: str
    no_browser: bool = False
    callback_port: int = 0
    vertex_file: str = ""
    vertex_prefix: str = ""


class StdinLines:
    """Lines typed (or piped) on stdin, read on the event loop: a prompt still waiting when
    the sign-in ends through the browser is dropped with the loop, with no thread left
    blocked on stdin (which makes Python abort at exit). Where stdin cannot be watched it
    falls back to :func:`~cliproxy.credentials.login.callback.read_stdin_line`'s thread: a
    regular file or ``/dev/null`` answers it at once; on Windows (no ``add_reader``) a
    prompt left waiting keeps that thread, as before."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._eof = False

    async def __call__(self, prompt: str) -> str:
        loop = asyncio.get_running_loop()
        try:
            fd = sys.stdin.fileno()
            watched = asyncio.Event()
            loop.add_reader(fd, watched.set)
        except (OSError, ValueError, AttributeError, NotImplementedError):
            return await read_stdin_line(prompt)
        print(prompt, end="", flush=True)
        try:
            while b"\n" not in self._pending and not self._eof:
                await watched.wait()
                watched.clear()
                chunk = os.read(fd, 4096)
                self._eof = not chunk
                self._pending += chunk
        finally:
            loop.remove_reader(fd)
        line, _, rest = bytes(self._pending).partition(b"\n")
        self._pending = bytearray(rest)
        return line.decode(errors="replace").strip()


def _say(line: str) -> None:
    print(line, flush=True)


def _fail(line: str) -> None:
    print(f"cliproxy: {line}", file=sys.stderr, flush=True)


async def run_login(
    request: LoginRequest,
    config: Config,
    *,
    say: Say = _say,
    fail: Say = _fail,
    read_pasted: ReadPasted | None = None,
) -> int:
    """Run one sign-in to the end; the process exit code. ``read_pasted`` reads a pasted
    redirect URL (default: :class:`StdinLines`)."""
    name, _ = LOGINS[request.login]
    auth_dir = Path(config.auth_dir).expanduser()
    try:
        if request.login == "vertex":
            saved = await _vertex(request, auth_dir)
        else:
            say(f"Signing in to {name}; the credential will be saved in {auth_dir}")
            saved = await _sign_in(request, config, auth_dir, say, read_pasted or StdinLines())
    except LoginError as exc:
        fail(f"{name} sign-in failed: {exc.message}")
        return EXIT_PORT_IN_USE if exc.reason == "port_in_use" else EXIT_FAILED
    except VertexImportError as exc:
        fail(f"vertex-import failed: {exc}")
        return EXIT_FAILED
    except OSError as exc:  # auth-dir not writable, a file in the way...
        fail(f"{name} sign-in failed: cannot write the credential: {exc.strerror or exc}")
        return EXIT_FAILED
    for line in _outcome(name, saved, auth_dir, config):
        say(line)
    return 0


async def _sign_in(
    request: LoginRequest, config: Config, auth_dir: Path, say: Say, read_pasted: ReadPasted
) -> Saved:
    http = HttpClient(
        connect_timeout=config.timeouts.seconds("upstream_connect"),
        first_byte_timeout=config.timeouts.seconds("upstream_first_byte"),
        idle_timeout=config.timeouts.seconds("upstream_idle"),
    )
    browser = not request.no_browser and has_display()
    try:
        flow = _flow(request.login, http, config.proxy_url)
        if LOGINS[request.login][1] == "device":
            return await _device(flow, auth_dir, browser, say)
        return await run_callback_login(
            cast(CallbackFlow, flow),
            auth_dir,
            open_browser=browser,
            port=request.callback_port or None,
            on_url=lambda url: _show_url(url, say),
            say=say,
            read_pasted=read_pasted,
            # with no browser here the answer comes back pasted (or through a forwarded
            # port): offer the prompt at once instead of after CPA's 15 s
            paste_after=DEFAULT_PASTE_AFTER if browser else 0.0,
        )
    finally:
        await http.close()


def _flow(login: str, http: HttpClient, proxy: str) -> LoginFlow:
    polling = Polling(sleep=_poll_sleep())
    flows: dict[str, Callable[[], LoginFlow]] = {
        "claude": lambda: ClaudeLogin(http, proxy=proxy),
        "codex": lambda: CodexLogin(http, proxy=proxy),
        "antigravity": lambda: AntigravityLogin(http, proxy=proxy),
        "codex-device": lambda: CodexDeviceFlow(http, proxy=proxy, polling=polling),
        "kimi": lambda: KimiDeviceFlow(http, proxy=proxy, polling=polling),
        "xai": lambda: XAIDeviceFlow(http, proxy=proxy, polling=polling),
    }
    return flows[login]()


def _poll_sleep() -> Callable[[float], Awaitable[None]]:
    """``asyncio.sleep``, capped by :data:`POLL_INTERVAL_ENV` when it is set."""
    raw = os.environ.get(POLL_INTERVAL_ENV, "").strip()
    try:
        cap = float(raw) if raw else None
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", POLL_INTERVAL_ENV, raw)
        cap = None
    if cap is None or cap < 0:
        return asyncio.sleep

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(min(seconds, cap))

    return sleep


def _show_url(url: str, say: Say) -> None:
    say("Open this URL in a browser to sign in:")
    say(f"  {url}")


async def _device(flow: LoginFlow, auth_dir: Path, browser: bool, say: Say) -> Saved:
    started = await flow.start()
    for line in prompt_lines(started):
        say(line)
    if browser and not await asyncio.to_thread(open_in_browser, started.url):
        say("Could not open a browser: open the page above yourself.")
    name, record = await flow.finish(started)
    return await asyncio.to_thread(save, auth_dir, name, record)


async def _vertex(request: LoginRequest, auth_dir: Path) -> Saved:
    return await asyncio.to_thread(
        import_vertex_file, request.vertex_file, auth_dir, prefix=request.vertex_prefix
    )


def _outcome(name: str, saved: Saved, auth_dir: Path, config: Config) -> list[str]:
    verb = "Imported" if saved.provider == "vertex" else "Signed in to"
    lines = [f"{verb} {name} as {saved.account}", f"Saved {saved.path.resolve()}"]
    models = model_summary(saved.path, auth_dir, config)
    lines.append(f"Models: {models}" if models else "Models: none (see oauth-excluded-models in the config)")
    lines.append("A running cliproxy with this auth-dir uses the account at once; no restart needed.")
    return lines


def model_summary(path: Path, auth_dir: Path, config: Config, shown: int = MODELS_SHOWN) -> str:
    """The client-visible models the credential at ``path`` brings, as the server would
    register them (catalog family, exclusions, aliases, prefix): ``"a, b, c and 9 more"``,
    or ``""`` for none."""
    cred = load_auth_file(path, auth_dir, config)
    if cred is None:
        return ""
    registry = ModelRegistry(Catalog.load())
    registry.rebuild([cred], config)
    ids: Sequence[str] = [m.id for m in registry.models_for(cred)]
    if len(ids) <= shown:
        return ", ".join(ids)
    return f"{', '.join(ids[:shown])} and {len(ids) - shown} more"
