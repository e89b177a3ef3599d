"""What every callback sign-in shares: PKCE and state, the one-shot local callback server,
reading a pasted redirect URL, the token-endpoint call with its errors mapped to
:class:`~cliproxy.credentials.login.base.LoginError`, CPA's file names, the save into
``auth-dir``, and :func:`run_callback_login`, the whole command-line sign-in in one call.

    flow = ClaudeLogin(http)
    saved = await run_callback_login(flow, auth_dir, open_browser=True, read_pasted=read_stdin_line)
    print(f"signed in as {saved.account}, saved to {saved.path}")

Limits: the callback wait ends after ``timeout`` seconds (CPA: 5 minutes); the pasted-URL
prompt appears after ``paste_after`` seconds (CPA: 15); the browser's page waits at most
:data:`PAGE_WAIT` seconds for the outcome; the callback server is closed when the sign-in
ends, whichever way. Token-endpoint calls go through the shared
:class:`~cliproxy.providers.http.HttpClient`, so its connect / first-byte / idle limits and
the proxy setting apply. No token is ever put in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import html
import logging
import os
import secrets
import sys
import threading
import webbrowser
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

import orjson
from aiohttp import web

from cliproxy.errors import UpstreamError, clip
from cliproxy.providers.http import read_body
from cliproxy.providers.transport import UpstreamClient

from ..storage import write_json
from .base import AuthStart, LoginError, LoginFailure, LoginFlow, Saved

__all__ = [
    "DEFAULT_CALLBACK_TIMEOUT",
    "DEFAULT_PASTE_AFTER",
    "PAGE_WAIT",
    "REQUEST_TIMEOUT",
    "TOKEN_PAYLOAD_KEYS",
    "CallbackFlow",
    "CallbackParams",
    "CallbackServer",
    "Pkce",
    "antigravity_file_name",
    "callback_error",
    "check_file_name",
    "check_state",
    "claude_file_name",
    "describe_oauth_error",
    "has_display",
    "new_state",
    "oauth_error",
    "open_in_browser",
    "parse_callback_url",
    "pkce_challenge",
    "pkce_pair",
    "read_stdin_line",
    "request_json",
    "run_callback_login",
    "save",
    "token_request",
]

log = logging.getLogger(__name__)

DEFAULT_CALLBACK_TIMEOUT = 300.0  # CPA waits 5 minutes for the callback
DEFAULT_PASTE_AFTER = 15.0  # CPA offers the paste prompt after 15 s
PAGE_WAIT = 30.0  # the browser's callback page waits this long for the outcome
REQUEST_TIMEOUT = 30.0  # one call to a sign-in server (CPA's auth clients use 30 s)

# Keys a new sign-in always sets; everything else an existing file holds (prefix, note,
# proxy_url, weight, headers...) is the user's and survives a second sign-in (CPA's
# ``IsAuthTokenPayloadKey`` / ``MergeExistingAuthMetadata``).
# fmt: off
TOKEN_PAYLOAD_KEYS = frozenset({
    "access_token", "refresh_token", "id_token", "session_id", "expired", "last_refresh",
    "expires_in", "timestamp", "token_type", "user_code", "verification_uri", "verification_uri_complete",
})
# fmt: on


# -- PKCE and state ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pkce:
    """An RFC 7636 pair: ``verifier`` stays with us, ``challenge`` (S256) goes out."""

    verifier: str
    challenge: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: base64url(sha256(verifier)), unpadded."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def pkce_pair() -> Pkce:
    """A fresh pair; the verifier is 96 random bytes as 128 base64url characters (CPA)."""
    verifier = _b64url(secrets.token_bytes(96))
    return Pkce(verifier, pkce_challenge(verifier))


def new_state() -> str:
    """A fresh ``state``: 16 random bytes in hex (CPA's ``GenerateRandomState``)."""
    return secrets.token_hex(16)


def check_state(started: AuthStart, state: str) -> None:
    """Refuse a callback whose ``state`` is not the one ``started`` issued."""
    if not state or not secrets.compare_digest(state.encode(), started.state.encode()):
        raise LoginError(
            "state_mismatch",
            "the sign-in answer does not belong to this sign-in (state mismatch); start again",
            provider=started.provider,
        )


# -- callback parameters ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackParams:
    """What the provider sent the browser back with."""

    code: str = ""
    state: str = ""
    error: str = ""
    error_description: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CallbackParams:
        return cls(
            code=query.get("code", "").strip(),
            state=query.get("state", "").strip(),
            error=query.get("error", "").strip(),
            error_description=query.get("error_description", "").strip(),
        )


def parse_callback_url(text: str) -> CallbackParams | None:
    """The parameters of a pasted redirect URL, read as CPA's ``ParseOAuthCallback`` does:
    a full URL, a URL without scheme, a bare query (``?code=...`` or ``code=...``);
    parameters in the fragment count when the query lacks them; ``code#state`` is split.
    ``None`` for empty text; :class:`LoginError` (``bad_response``) when it is no
    callback URL."""
    text = text.strip()
    if not text:
        return None
    candidate = text
    if "://" not in candidate:
        if candidate.startswith("?"):
            candidate = "http://localhost" + candidate
        elif any(c in candidate for c in "/?#:"):
            candidate = "http://" + candidate
        elif "=" in candidate:
            candidate = "http://localhost/?" + candidate
        else:
            raise LoginError("bad_response", "that is not a callback URL")
    parts = urlsplit(candidate)
    query = _first_values(parts.query)
    fragment = _first_values(parts.fragment)
    merged = {k: query.get(k) or fragment.get(k, "") for k in ("code", "state", "error", "error_description")}
    params = CallbackParams.from_query(merged)
    code, state, error, description = params.code, params.state, params.error, params.error_description
    if code and not state and "#" in code:
        code, state = code.split("#", 1)
    if not error and description:
        error, description = description, ""
    if not code and not error:
        raise LoginError("bad_response", "the callback URL has no code")
    return CallbackParams(code, state, error, description)


def _first_values(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items() if v}


def callback_error(params: CallbackParams, provider: str) -> LoginError:
    """The :class:`LoginError` for a callback that carries ``error`` instead of a code."""
    detail = clip(params.error_description or params.error, 200)
    if params.error == "access_denied":
        return LoginError("denied", f"the sign-in was cancelled or denied ({detail})", provider=provider)
    return LoginError("bad_response", f"the provider refused the sign-in: {detail}", provider=provider)


# -- talking to the provider -------------------------------------------------------------


async def request_json(
    http: UpstreamClient,
    method: str,
    url: str,
    *,
    provider: str,
    what: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    proxy: str = "",
    timeout: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """One call to a provider's sign-in server (token endpoint, device endpoint, profile
    lookups; every flow uses this one): ``(status, JSON object or {})``. The whole call
    is bounded by ``timeout`` seconds (default :data:`REQUEST_TIMEOUT`) on top of the
    client's own limits; a network failure or no answer in time is :class:`LoginError`
    ``unreachable`` naming ``what`` was attempted (never the URL's query, never a token)."""
    limit = REQUEST_TIMEOUT if timeout is None else timeout
    try:
        async with asyncio.timeout(limit):
            resp = await http.request(method, url, headers=headers, body=body, proxy=proxy)
            raw = await read_body(resp)
    except TimeoutError:
        raise LoginError(
            "unreachable",
            f"{what}: the {provider} sign-in server did not answer within {limit:g}s",
            provider=provider,
        ) from None
    except UpstreamError as exc:
        raise LoginError(
            "unreachable",
            f"{what}: the {provider} sign-in server is unreachable ({exc.message})",
            provider=provider,
        ) from None
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        data = {}
    return resp.status, data if isinstance(data, dict) else {}


def oauth_error(data: Mapping[str, Any]) -> tuple[str, str]:
    """``(error code, description)`` of an OAuth error body: RFC 6749's ``{"error": "x",
    "error_description": "..."}``, or OpenAI's / Anthropic's ``{"error": {"code"|"type":
    ..., "message": ...}}``; ``("", "")`` when the body carries none."""
    error = data.get("error")
    if isinstance(error, Mapping):
        code = error.get("code") or error.get("type") or ""
        return str(code).strip(), str(error.get("message") or "").strip()
    if isinstance(error, str):
        desc = data.get("error_description") or data.get("message") or ""
        return error.strip(), str(desc).strip()
    message = data.get("error_description") or data.get("message") or ""
    return "", str(message).strip()


def describe_oauth_error(data: Mapping[str, Any], status: int) -> str:
    """A short sentence from an OAuth error body (:func:`oauth_error`); the status when
    the body says nothing."""
    code, message = oauth_error(data)
    text = f"{code}: {message}" if code and message else code or message or f"status {status}"
    return clip(text, 200)


async def token_request(
    http: UpstreamClient,
    url: str,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    proxy: str = "",
    what: str = "code exchange",
) -> dict[str, Any]:
    """POST to a token endpoint; the token answer, or :class:`LoginError`:
    ``exchange_failed`` when the endpoint refuses (4xx: wrong verifier, used code...),
    ``bad_response`` for a 5xx or an answer without ``access_token``."""
    status, data = await request_json(
        http, "POST", url, provider=provider, what=what, headers=headers, body=body, proxy=proxy
    )
    token = data.get("access_token")
    if status == 200 and isinstance(token, str) and token.strip():
        return data
    reason: LoginFailure = "exchange_failed" if 400 <= status < 500 else "bad_response"
    if status == 200:
        raise LoginError("bad_response", f"{what}: the answer has no access token", provider=provider)
    raise LoginError(
        reason, f"{what} refused by {provider} ({describe_oauth_error(data, status)})", provider=provider
    )


# -- file names and saving -------------------------------------------------------------


def claude_file_name(email: str) -> str:
    """CPA: ``claude-<email>.json``."""
    return f"claude-{email.strip()}.json"


def antigravity_file_name(email: str) -> str:
    """CPA: ``antigravity-<email>.json`` (``antigravity.json`` without an email)."""
    email = email.strip()
    return f"antigravity-{email}.json" if email else "antigravity.json"


def check_file_name(name: str) -> None:
    """Refuse a name that is not one plain ``*.json`` file (the email in it comes from
    the provider: it must never reach outside ``auth-dir``)."""
    bad = not name.endswith(".json") or name.startswith(".") or any(c in name for c in "/\\\0")
    if bad or name in (".json",) or any(ord(c) < 32 for c in name):
        raise LoginError("bad_response", "the account name cannot be used as a file name")


def save(auth_dir: str | Path, name: str, record: Mapping[str, Any]) -> Saved:
    """Write ``record`` as ``auth_dir/name`` through the single credential writer
    (atomic, 0600). The name is the account key: a second sign-in to the same account
    replaces the file, keeping what the user set in it (prefix, note, proxy_url, weight...)
    and taking every token field from the new sign-in. Keys are written sorted, as CPA's
    Go maps are."""
    check_file_name(name)
    path = Path(auth_dir) / name
    merged = dict(record)
    for key, value in _read_object(path).items():
        if key.strip().lower() not in TOKEN_PAYLOAD_KEYS and key not in merged:
            merged[key] = value
    write_json(path, dict(sorted(merged.items())))
    email = merged.get("email")
    account = email.strip() if isinstance(email, str) and email.strip() else name.removesuffix(".json")
    return Saved(provider=str(merged.get("type", "")), path=path, account=account, record=merged)


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the local callback server -------------------------------------------------------------

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
