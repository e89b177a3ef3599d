"""Built-in sign-ins started from the management panel, kept per management application.

A session is what ``GET /<provider>-auth-url`` opens: its ``state`` (the key), the
provider (CPA's names: ``anthropic``, ``codex``, ``antigravity``, ``kimi``, ``xai``),
the background task that finishes the sign-in, and for callback flows the future the
callback's ``code`` and ``state`` are delivered into. The states follow CPA's
``oauthSessionStore``:

- pending: no status, not completed (``get-auth-status`` says ``wait``);
- failed: ``status`` holds the error text CPA shows (``error``);
- completed: kept one more minute as a tombstone (``ok``), then forgotten;
- a session is forgotten 30 minutes after it started or last failed (device codes of
  xAI and Kimi live that long), then ``unknown or expired state``.

The code is handed over in memory, not through CPA's ``.oauth-<provider>-<state>.oauth``
files: a future is immediate and leaves no code on disk. With ``state: {backend: redis}``
(several workers on one port, or hosts behind a load balancer) every session is also kept
in Redis (:mod:`cliproxy.state.redis_logins`, attached with :meth:`OAuthSessions.attach`):
Redis is then the truth for ``get-auth-status`` in every process, and a callback that
lands on another process than the one that started the sign-in claims the answer there
and finishes the sign-in in that process (token exchange with the stored PKCE verifier,
the file save); the starter's waiting task learns it ended from the ``login``
notification. Device flows keep polling in the process that started them; their status
is readable everywhere. Logins run by plugins
keep CPA's file hand-off (their plugin reads the file), see ``management.oauth_api``.

:class:`Forwarder` is CPA's callback forwarder: while a panel sign-in waits, the
provider's registered callback port (54545, 1455, 51121) redirects to the main server's
``/<provider>/callback``; sign-ins of one provider share it. Closing the store
(the management application's cleanup) cancels every task and stops every forwarder.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from cliproxy.credentials.login.base import AuthStart
from cliproxy.credentials.login.core import CallbackParams
from cliproxy.credentials.login.device import Polling
from cliproxy.state.base import StateBackend
from cliproxy.state.factory import shared

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = [
    "COMPLETED_TTL",
    "SESSION_TTL",
    "Forwarder",
    "ForwarderError",
    "OAuthSession",
    "OAuthSessions",
    "SessionView",
    "valid_state",
]

log = logging.getLogger(__name__)

SESSION_TTL = 30 * 60.0  # CPA: must cover device codes (xAI ~30 min, Kimi ~15 min)
COMPLETED_TTL = 60.0  # a finished sign-in still answers "ok" this long
CALLBACK_TIMEOUT = 300.0  # CPA waits 5 minutes for the browser's callback
FORWARDER_SHUTDOWN = 2.0
_STATE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def valid_state(state: str) -> bool:
    """CPA's ``ValidateOAuthState``: 1-128 of ``[A-Za-z0-9._-]``, no ``..``."""
    return bool(_STATE.match(state)) and ".." not in state


@dataclass(slots=True, eq=False)
class OAuthSession:
    provider: str
    expires: float
    status: str = ""  # the error text once the sign-in failed
    completed: bool = False
    answer: asyncio.Future[CallbackParams] | None = None  # callback flows only
    done: asyncio.Event = field(default_factory=asyncio.Event)  # set when it ends, either way
    task: asyncio.Task[None] | None = None
    shared: bool = False  # also kept in Redis (see OAuthSessions.attach)

    @property
    def pending(self) -> bool:
        return not self.completed and not self.status


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as every process sees it (from Redis when shared, else this process's)."""

    provider: str
    status: str = ""
    completed: bool = False

    @property
    def pending(self) -> bool:
        return not self.completed and not self.status


def encode_start(started: AuthStart) -> str:
    return orjson.dumps(
        {
            "provider": started.provider,
            "state": started.state,
            "flow": started.flow,
            "url": started.url,
            "redirect_uri": started.redirect_uri,
            "secrets": started.secrets,
        }
    ).decode()


def decode_start(text: str) -> AuthStart | None:
    try:
        data = orjson.loads(text)
        return AuthStart(
            provider=str(data["provider"]),
            state=str(data["state"]),
            flow="callback",
            url=str(data.get("url", "")),
            redirect_uri=str(data.get("redirect_uri", "")),
            secrets={str(k): str(v) for k, v in dict(data.get("secrets") or {}).items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class OAuthSessions:
    """Open built-in sign-ins by ``state``; expired ones are dropped on every look-up.

    ``polling`` (device flows' waits, ``None`` = the flows' own), ``callback_timeout``
    and ``callback_ports`` (provider -> port of the forwarder; the provider's registered
    port when absent) are read when a sign-in starts."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.polling: Polling | None = None
        self.callback_timeout = CALLBACK_TIMEOUT
        self.callback_ports: dict[str, int] = {}
        self.forwarders: dict[str, Forwarder] = {}
        self._open: dict[str, OAuthSession] = {}
        self._bus: RedisState | None = None

    def attach(self, state: StateBackend) -> None:
        """Share the sessions through ``state`` when it is Redis (once; memory: nothing)."""
        if self._bus is None and (bus := shared(state)) is not None:
            self._bus = bus
            bus.on_event("login", self._on_remote_end)

    def _live_bus(self) -> RedisState | None:
        return self._bus if self._bus is not None and self._bus.available else None

    def _on_remote_end(self, message: dict[str, object]) -> None:
        """Another process ended or cancelled a sign-in: stop waiting for it here."""
        state = str(message.get("s", ""))
        session = self._open.get(state)
        if session is None or not session.shared or not session.pending:
            return
        del self._open[state]
        if session.task is not None:
            session.task.cancel()
        session.done.set()

    def __len__(self) -> int:
        return len(self._open)

    def _purge(self) -> None:
        now = self.clock()
        for state in [k for k, s in self._open.items() if s.expires < now]:
            session = self._open.pop(state)
            if session.task is not None:
                session.task.cancel()

    def register(self, state: str, provider: str, *, callback: bool) -> OAuthSession:
        """Open a pending session (a callback flow gets a future for its answer)."""
        self._purge()
        answer: asyncio.Future[CallbackParams] | None = None
        if callback:
            answer = asyncio.get_running_loop().create_future()
        session = OAuthSession(provider, self.clock() + SESSION_TTL, answer=answer)
        self._open[state] = session
        return session

    def get(self, state: str) -> OAuthSession | None:
        self._purge()
        return self._open.get(state)

    def is_pending(self, state: str, session: OAuthSession) -> bool:
        """Whether ``session`` is still the pending session of ``state`` (not cancelled,
        failed, finished or expired): checked right before a credential is saved."""
        return self.get(state) is session and session.pending

    def set_error(self, state: str, message: str) -> None:
        session = self.get(state)
        if session is None or session.completed:
            return
        session.status = message.strip() or "Authentication failed"
        session.expires = self.clock() + SESSION_TTL
        session.done.set()

    def complete(self, state: str) -> None:
        session = self.get(state)
        if session is None or session.completed:
            return
        session.status = ""
        session.completed = True
        session.expires = self.clock() + COMPLETED_TTL
        session.done.set()

    def cancel(self, state: str) -> bool:
        """Drop a pending session and stop its task; ``False`` when none is pending."""
        session = self.get(state)
        if session is None or not session.pending:
            return False
        del self._open[state]
        if session.task is not None:
            session.task.cancel()
        session.done.set()
        return True

    def deliver(self, state: str, params: CallbackParams) -> bool:
        """Hand a callback's answer to the sign-in waiting for it; ``False`` when the
        session takes no (more) answer."""
        session = self.get(state)
        if session is None or not session.pending or session.answer is None or session.answer.done():
            return False
        session.answer.set_result(params)
        return True

    # -- shared (Redis) variants; with no Redis attached they are the local methods ----------

    async def open(
        self, state: str, provider: str, *, callback: bool, started: AuthStart | None = None
    ) -> OAuthSession:
        """:meth:`register`, and store the session in Redis when shared (a callback flow
        with what another process needs to finish it)."""
        session = self.register(state, provider, callback=callback)
        if (bus := self._live_bus()) is not None:
            fields = {"p": provider, "f": "callback" if callback else "device", "o": bus.node}
            if callback and started is not None:
                fields["a"] = encode_start(started)
            session.shared = await bus.login_open(state, fields, SESSION_TTL)
        return session

    async def view(self, state: str) -> SessionView | None:
        """The session of ``state`` as every process sees it, or None."""
        local = self.get(state)
        if (bus := self._live_bus()) is not None and (local is None or local.shared):
            found = await bus.login_get(state)
            if bus.available:
                if found is None:
                    return None
                return SessionView(found.get("p", ""), found.get("st", ""), found.get("ok") == "1")
        if local is None:
            return None
        return SessionView(local.provider, local.status, local.completed)

    async def take(self, state: str, params: CallbackParams) -> OAuthSession | AuthStart | None:
        """Hand a callback's answer over: to this process's waiting sign-in (returned), or,
        shared, claim it for this process and return the flow's start to finish it here.
        None when the session takes no (more) answer."""
        local = self.get(state)
        bus = self._live_bus()
        if bus is None or (local is not None and not local.shared):
            return local if self.deliver(state, params) else None
        claimed = await bus.login_claim(state)
        if claimed is None:
            return None
        if local is not None and self.deliver(state, params):
            return local
        return decode_start(claimed)

    def adopt(self, state: str, provider: str) -> OAuthSession:
        """A local session for a shared sign-in whose answer this process claimed."""
        session = self.register(state, provider, callback=False)
        session.shared = True
        return session

    async def still_pending(self, state: str, session: OAuthSession) -> bool:
        """:meth:`is_pending`, and (shared) still pending and not claimed by another process."""
        if not self.is_pending(state, session):
            return False
        if not session.shared or (bus := self._live_bus()) is None:
            return True
        found = await bus.login_get(state)
        if not bus.available:
            return True
        return (
            found is not None
            and found.get("ok") != "1"
            and not found.get("st")
            and found.get("c", bus.node) in ("", bus.node)
        )

    async def end(self, state: str, session: OAuthSession, error: str = "") -> None:
        """Complete (no ``error``) or fail the sign-in, here and (shared) in Redis; when
        another process owns it now, this process just forgets it."""
        if session.shared and (bus := self._live_bus()) is not None:
            message = error.strip() or "Authentication failed" if error else ""
            ttl = SESSION_TTL if error else COMPLETED_TTL
            if not await bus.login_end(state, message, ttl) and bus.available:
                if self._open.get(state) is session:
                    del self._open[state]
                session.done.set()
                return
        if error:
            self.set_error(state, error)
        else:
            self.complete(state)

    async def cancel_any(self, state: str) -> bool:
        """:meth:`cancel`, and (shared) cancel it in Redis, wherever it started."""
        cancelled = self.cancel(state)
        if (bus := self._live_bus()) is not None:
            cancelled = await bus.login_cancel(state) or cancelled
        return cancelled

    # -- forwarders -----------------------------------------------------------------------

    async def hold_forwarder(self, provider: str, host: str, port: int, target: str) -> Forwarder:
        """The forwarder of ``provider`` (started on first use); release it with
        :meth:`release_forwarder`. :class:`ForwarderError` when the port is taken."""
        forwarder = self.forwarders.get(provider)
        if forwarder is None or forwarder.target != target:
            if forwarder is not None:  # the main server moved: a new target, as CPA replaces it
                await forwarder.stop()
            forwarder = Forwarder(host, port, target)
            await forwarder.start()
            self.forwarders[provider] = forwarder
        forwarder.users += 1
        return forwarder

    async def release_forwarder(self, provider: str, forwarder: Forwarder) -> None:
        forwarder.users -= 1
        if forwarder.users <= 0:
            if self.forwarders.get(provider) is forwarder:
                del self.forwarders[provider]
            await forwarder.stop()

    # -- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel every sign-in and stop every forwarder (the management app's cleanup)."""
        tasks = [s.task for s in self._open.values() if s.task is not None and not s.task.done()]
        self._open.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        forwarders, self.forwarders = list(self.forwarders.values()), {}
        for forwarder in forwarders:
            await forwarder.stop()


class ForwarderError(OSError):
    """The forwarder could not listen (``busy``: its port is taken)."""

    def __init__(self, message: str, *, busy: bool) -> None:
        super().__init__(message)
        self.message = message
        self.busy = busy


class Forwarder:
    """A tiny HTTP server on ``host:port`` that redirects every request (302, query kept)
    to ``target``: the provider's registered redirect URI lands on our main server."""

    def __init__(self, host: str, port: int, target: str) -> None:
        self.host = host
        self.port = port
        self.target = target
        self.users = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._redirect)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=FORWARDER_SHUTDOWN)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host or None, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.host or '*'}:{self.port}"
            if exc.errno == errno.EADDRINUSE:
                raise ForwarderError(f"port {self.port} is already in use", busy=True) from None
            raise ForwarderError(f"cannot listen on {where}: {exc.strerror}", busy=False) from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("callback forwarder listening on port %d", self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()
            log.info("callback forwarder on port %d stopped", self.port)

    async def _redirect(self, request: web.Request) -> web.Response:
        target = self.target
        if request.query_string:
            target += ("&" if "?" in target else "?") + request.query_string
        return web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
