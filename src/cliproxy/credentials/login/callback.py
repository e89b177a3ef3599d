"""The interactive callback sign-in: a one-shot local callback server, the browser, the
pasted-redirect-URL prompt for headless machines, and :func:`run_callback_login`, the whole
command-line sign-in in one call.

    flow = ClaudeLogin(http)
    saved = await run_callback_login(flow, auth_dir, open_browser=True, read_pasted=read_stdin_line)
    print(f"signed in as {saved.account}, saved to {saved.path}")

Limits: the callback wait ends after ``timeout`` seconds (CPA: 5 minutes); the pasted-URL
prompt appears after ``paste_after`` seconds (CPA: 15); the browser's page waits at most
:data:`PAGE_WAIT` seconds for the outcome; the callback server is closed when the sign-in
ends, whichever way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import logging
import os
import sys
import threading
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from aiohttp import web

from cliproxy.errors import clip

from .base import LoginError, LoginFlow, Saved
from .core import CallbackParams, callback_error, parse_callback_url, save

__all__ = [
    "DEFAULT_CALLBACK_TIMEOUT",
    "DEFAULT_PASTE_AFTER",
    "PAGE_WAIT",
    "CallbackFlow",
    "CallbackServer",
    "has_display",
    "open_in_browser",
    "read_stdin_line",
    "run_callback_login",
]

log = logging.getLogger(__name__)

DEFAULT_CALLBACK_TIMEOUT = 300.0  # CPA waits 5 minutes for the callback
DEFAULT_PASTE_AFTER = 15.0  # CPA offers the paste prompt after 15 s
PAGE_WAIT = 30.0  # the browser's callback page waits this long for the outcome


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style>
</head><body><h1>{title}</h1><p>{message}</p></body></html>
"""


def _page(status: int, title: str, message: str) -> web.Response:
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return web.Response(
        status=status, text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


class CallbackServer:
    """A one-shot HTTP server on ``host:port`` (0 = any free port) that takes the first
    callback carrying a ``code`` or an ``error`` on :attr:`path`, answers the browser with
    a small page (success once :meth:`conclude` says so, else the failure), and is closed
    by :meth:`stop` (or the ``async with`` block)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, provider: str = "") -> None:
        self.host = host
        self.port = port
        self.provider = provider
        self.path = "/"
        self.state = ""
        self._runner: web.AppRunner | None = None
        self._result: asyncio.Future[CallbackParams] | None = None
        self._outcome: asyncio.Future[tuple[bool, str]] | None = None

    def expect(self, *, path: str, state: str) -> None:
        """Which path the callback arrives on and which ``state`` it must carry."""
        self.path = path or "/"
        self.state = state

    async def start(self) -> int:
        """Listen; the bound port. :class:`LoginError` ``port_in_use`` when it is taken."""
        loop = asyncio.get_running_loop()
        self._result, self._outcome = loop.create_future(), loop.create_future()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._callback)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, keepalive_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise LoginError(
                    "port_in_use",
                    f"port {self.port} is already in use; free it or choose another callback port",
                    provider=self.provider,
                ) from None
            raise LoginError(
                "unreachable",
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}",
                provider=self.provider,
            ) from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self.port

    async def result(self) -> CallbackParams:
        """Wait for the callback."""
        assert self._result is not None, "start() first"
        return await asyncio.shield(self._result)

    def conclude(self, ok: bool, message: str) -> None:
        """Tell the waiting browser page how the sign-in ended."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((ok, message))

    async def stop(self) -> None:
        self.conclude(False, "The sign-in was stopped. Return to the terminal.")
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _callback(self, request: web.Request) -> web.Response:
        if request.path != self.path:
            return _page(404, "Not found", "This address is not part of the sign-in.")
        assert self._result is not None and self._outcome is not None
        if self._result.done():
            return _page(409, "Sign-in already answered", "Return to the terminal.")
        params = CallbackParams.from_query(request.query)
        if not params.code and not params.error:
            return _page(400, "Sign-in failed", "The callback carries no authorization code.")
        self._result.set_result(params)
        if params.error:
            return _page(400, "Sign-in failed", f"The provider answered: {clip(params.error, 100)}.")
        if params.state != self.state:
            return _page(
                400, "Sign-in failed", "The answer does not belong to this sign-in (state mismatch)."
            )
        try:
            ok, message = await asyncio.wait_for(asyncio.shield(self._outcome), PAGE_WAIT)
        except TimeoutError:
            return _page(200, "Authorization received", "Return to the terminal to see the outcome.")
        if ok:
            return _page(200, "Signed in", message)
        return _page(400, "Sign-in failed", message)


# -- the whole command-line flow ------------------------------------------------------------


class CallbackFlow(LoginFlow, Protocol):
    """A callback flow as :func:`run_callback_login` drives it."""

    default_port: int

    def redirect_uri_for(self, port: int) -> str:
        """The redirect URI to register when the callback server listens on ``port``."""
        ...


ReadPasted = Callable[[str], Awaitable[str]]


async def run_callback_login(
    flow: CallbackFlow,
    auth_dir: str | Path,
    *,
    open_browser: bool,
    port: int | None = None,
    redirect_uri: str | None = None,
    host: str = "127.0.0.1",
    timeout: float = DEFAULT_CALLBACK_TIMEOUT,
    on_url: Callable[[str], object] = print,
    say: Callable[[str], object] = print,
    read_pasted: ReadPasted | None = None,
    paste_after: float = DEFAULT_PASTE_AFTER,
) -> Saved:
    """Sign in with ``flow`` and save the credential in ``auth_dir``.

    Listens on ``port`` (default: the provider's, as CPA; 0 = any free port), shows the
    authorize URL through ``on_url`` (and opens a browser when ``open_browser``), then waits
    for the browser's callback or, after ``paste_after`` seconds, for a redirect URL read
    with ``read_pasted(prompt)`` (an empty line keeps waiting), whichever comes first.
    ``redirect_uri`` overrides the flow's (``{port}`` in it becomes the bound port).
    Raises :class:`LoginError`; the callback server is closed in every case."""
    server = CallbackServer(
        host=host, port=flow.default_port if port is None else port, provider=flow.provider
    )
    async with server:
        bound = server.port
        redirect = (redirect_uri or flow.redirect_uri_for(bound)).replace("{port}", str(bound))
        started = await flow.start(redirect_uri=redirect)
        server.expect(path=urlsplit(started.redirect_uri or redirect).path, state=started.state)
        on_url(started.url)
        if open_browser and not await asyncio.to_thread(open_in_browser, started.url):
            say("Could not open a browser: open the URL above yourself.")
        say(
            f"Waiting for the {flow.provider} sign-in callback on port {bound}. On a remote machine, "
            f"forward the port (ssh -L {bound}:127.0.0.1:{bound} <user>@<host>) or paste the URL "
            "the browser ends on."
        )
        try:
            params = await _answer(server, flow.provider, timeout, read_pasted, paste_after, say)
            if params.error:
                raise callback_error(params, flow.provider)
            name, record = await flow.finish(started, code=params.code, state=params.state)
            saved = await asyncio.to_thread(save, auth_dir, name, record)
        except LoginError as exc:
            server.conclude(False, exc.message)
            raise
        server.conclude(True, f"Signed in to {flow.provider} as {saved.account}. You can close this window.")
        log.info("%s sign-in saved to %s", flow.provider, saved.path.name)
        return saved


def has_display() -> bool:
    """Whether a graphical browser can open here: macOS, Windows, or a Unix session with
    ``DISPLAY`` / ``WAYLAND_DISPLAY`` (an SSH session or a server has neither)."""
    return sys.platform in ("darwin", "win32") or any(
        os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY")
    )


def open_in_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser; False without a display (:func:`has_display`),
    where Python would otherwise start a console browser in the terminal."""
    if not has_display():
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


async def _answer(
    server: CallbackServer,
    provider: str,
    timeout: float,
    read_pasted: ReadPasted | None,
    paste_after: float,
    say: Callable[[str], object],
) -> CallbackParams:
    try:
        async with asyncio.timeout(timeout):
            return await _first_answer(server, provider, read_pasted, paste_after, say)
    except TimeoutError:
        raise LoginError(
            "timeout", f"no {provider} sign-in answer within {timeout:g} seconds", provider=provider
        ) from None


async def _first_answer(
    server: CallbackServer,
    provider: str,
    read_pasted: ReadPasted | None,
    paste_after: float,
    say: Callable[[str], object],
) -> CallbackParams:
    callback = asyncio.ensure_future(server.result())
    pasted: asyncio.Future[str] | None = None
    try:
        done, _ = await asyncio.wait({callback}, timeout=paste_after if read_pasted else None)
        if callback in done or read_pasted is None:
            return await callback
        prompt = f"Paste the {provider} callback URL (or press Enter to keep waiting): "
        while True:
            pasted = asyncio.ensure_future(read_pasted(prompt)) if pasted is None else pasted
            waiting: set[asyncio.Future[Any]] = {callback, pasted}
            ready, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if callback in ready:
                return callback.result()
            try:
                params = parse_callback_url(pasted.result())
            except LoginError as exc:
                say(f"{exc.message}; try again.")
                pasted = None
                continue
            except (EOFError, OSError):
                return await callback  # no more input: the browser's callback only
            if params is None:  # Enter: keep waiting for the browser, as CPA does
                return await callback
            return params
    finally:
        for task in (callback, pasted):
            if task is not None and not task.done():
                task.cancel()


async def read_stdin_line(prompt: str) -> str:
    """``input(prompt)`` off the event loop, in a daemon thread (one that is still
    blocked in ``input`` never holds the process open); ``""`` at end of input."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def deliver(line: str) -> None:
        if not answer.done():
            answer.set_result(line)

    def read() -> None:
        try:
            line = input(prompt)
        except (EOFError, OSError):
            line = ""
        with contextlib.suppress(RuntimeError):  # the loop may be gone
            loop.call_soon_threadsafe(deliver, line)

    threading.Thread(target=read, name="cliproxy-login-paste", daemon=True).start()
    return await answer
