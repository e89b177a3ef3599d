"""Device-code sign-in (RFC 8628), the part the Codex-device, Kimi and xAI flows share.

A device flow asks the provider for a code, shows the user a page and the code, then polls
the token endpoint until the user approves, refuses, or the code runs out. The poll loop
here knows the protocol's answers:

- ``authorization_pending``: ask again after the interval;
- ``slow_down``: the interval grows by 5 seconds (RFC 8628 section 3.5), for good;
- ``expired_token`` / ``access_denied``: :class:`LoginError` ``expired`` / ``denied``;
- the code's own ``expires_in`` and an overall cap (:attr:`Polling.max_wait`) end the wait
  with ``expired`` or ``timeout``.

Waits go through :class:`Polling` (``sleep`` and ``clock``), so a test runs the whole flow
against a real HTTP fake without waiting real seconds, and the loop stops as soon as the
task running it is cancelled (a wait is an ``await``, never a blocking sleep). Every HTTP
call goes through :func:`cliproxy.credentials.login.core.request_json`, bounded by
:attr:`Polling.request_timeout` on top of the client's own limits.

:func:`run_device_login` is what the command line calls: start, show the prompt, finish,
write the file.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from cliproxy.errors import clip
from cliproxy.providers.http import HttpClient, proxy_key

from .base import AuthStart, LoginError, LoginFlow, Saved
from .core import REQUEST_TIMEOUT
from .core import save as save_file

__all__ = [
    "DEVICE_GRANT",
    "PENDING",
    "SLOW_DOWN",
    "SLOW_DOWN_STEP",
    "DeviceFlow",
    "Pending",
    "Polling",
    "classify",
    "device_answer",
    "issued_at",
    "poll_until",
    "prompt_lines",
    "run_device_login",
    "seconds",
    "text",
]

log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5.0  # seconds added to the interval on each slow_down (RFC 8628 3.5)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Polling:
    """How a device flow waits. ``max_wait`` (seconds, ``None`` = the provider's own cap)
    bounds the whole poll; ``request_timeout`` each HTTP call."""

    sleep: Sleep = asyncio.sleep
    clock: Clock = time.time
    max_wait: float | None = None
    request_timeout: float = REQUEST_TIMEOUT


@dataclass(frozen=True, slots=True)
class Pending:
    """A poll answer that means "ask again" (``slow_down``: and more slowly)."""

    slow_down: bool = False


PENDING = Pending()
SLOW_DOWN = Pending(slow_down=True)


async def poll_until(
    attempt: Callable[[], Awaitable[T | Pending]],
    *,
    provider: str,
    polling: Polling,
    interval: float,
    issued_at: float,
    expires_in: float,
    max_wait: float,
    min_interval: float = 0.0,
    first_now: bool = False,
) -> T:
    """Call ``attempt`` every ``interval`` seconds until it returns something other than
    :class:`Pending`. ``first_now`` polls once before the first wait (xAI does, Kimi and
    Codex wait first). The code lapses ``expires_in`` seconds after ``issued_at`` (0 =
    no stated lifetime); the whole wait ends ``polling.max_wait or max_wait`` seconds after
    ``issued_at``; ``min_interval`` is a floor under the server's interval. Raises
    :class:`LoginError` (``expired``, ``timeout``, or what ``attempt`` raises)."""
    interval = max(interval, min_interval, 0.0)
    cap = issued_at + (polling.max_wait if polling.max_wait is not None else max_wait)
    lapses = issued_at + expires_in if expires_in > 0 else float("inf")
    wait = not first_now
    while True:
        if wait:
            await polling.sleep(interval)
        wait = True
        now = polling.clock()
        if now >= lapses and lapses <= cap:
            raise LoginError(
                "expired", f"the {provider} device code expired before it was approved", provider=provider
            )
        if now >= cap:
            raise LoginError("timeout", f"{provider} sign-in was not approved in time", provider=provider)
        result = await attempt()
        if not isinstance(result, Pending):
            return result
        if result.slow_down:
            interval += SLOW_DOWN_STEP
            log.debug("%s device poll: slow_down, interval now %.0fs", provider, interval)


def classify(provider: str, code: str, description: str = "") -> Pending:
    """The poll outcome of an OAuth error ``code``: :data:`PENDING` or :data:`SLOW_DOWN`,
    else :class:`LoginError` (``expired``, ``denied``, or ``bad_response``)."""
    if code == "authorization_pending":
        return PENDING
    if code == "slow_down":
        return SLOW_DOWN
    if code == "expired_token":
        raise LoginError("expired", f"the {provider} device code expired", provider=provider)
    if code == "access_denied":
        raise LoginError("denied", f"{provider} sign-in was denied by the user", provider=provider)
    detail = f"{code}: {clip(description, 160)}" if description else code
    raise LoginError("bad_response", f"{provider} sign-in failed: {detail}", provider=provider)


def text(value: Any) -> str:
    """A JSON string field trimmed, or ``""``."""
    return value.strip() if isinstance(value, str) else ""


def seconds(value: Any, default: float = 0.0) -> float:
    """A positive number of seconds from a JSON number or numeric string, else ``default``."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value) if value > 0 else default
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return default
        return number if number > 0 else default
    return default


def issued_at(started: AuthStart, polling: Polling) -> float:
    """When ``started``'s code was issued (kept in its secrets), else now."""
    try:
        return float(started.secrets.get("issued_at", ""))
    except ValueError:
        return polling.clock()


def prompt_lines(started: AuthStart) -> list[str]:
    """What to show the user for a device code: the page and the code to type."""
    lines = [f"To sign in to {started.provider}, open: {started.url}"]
    if started.user_code:
        lines.append(f"and enter the code: {started.user_code}")
    if started.expires_in:
        lines.append(f"(the code expires in {started.expires_in:.0f} seconds)")
    lines.append("Waiting for approval...")
    return lines


async def run_device_login(
    flow: LoginFlow,
    auth_dir: Path,
    *,
    on_prompt: Callable[[str], object] = print,
    timeout: float | None = None,
    save: Callable[[Path, str, dict[str, Any]], Saved] | None = None,
) -> Saved:
    """Sign in with a device flow from start to file: ``on_prompt`` receives each line for
    the user (page, code, then where the file went); ``timeout`` (seconds) bounds the whole
    sign-in (:class:`LoginError` ``timeout``). ``save`` writes the file (the single
    credential writer :func:`cliproxy.credentials.login.core.save` when not given: a second
    sign-in to the same account replaces its file and keeps the user's own keys)."""
    try:
        async with asyncio.timeout(timeout):
            started = await flow.start()
            for line in prompt_lines(started):
                on_prompt(line)
            name, record = await flow.finish(started)
    except TimeoutError as exc:
        raise LoginError(
            "timeout", f"{flow.provider} sign-in was not completed in time", provider=flow.provider
        ) from exc
    saved = (save or save_file)(Path(auth_dir), name, record)
    on_prompt(f"Signed in to {flow.provider} as {saved.account}; saved to {saved.path}")
    return saved


class DeviceFlow:
    """What every device-code flow shares: the HTTP client, the proxy, the polling policy,
    and how a device-code answer becomes an :class:`AuthStart`."""

    provider: str
    flow: Literal["callback", "device"] = "device"
    max_wait: float  # the provider's cap on one sign-in, whatever the code's own lifetime
    min_interval = 0.0  # the shortest wait between polls the provider allows
    default_interval = 0.0  # the wait when the answer named none
    first_now = False  # poll once before the first wait

    def __init__(self, http: HttpClient, *, proxy: str = "", polling: Polling | None = None) -> None:
        self.http = http
        self.proxy = proxy_key(None, proxy)
        self.polling = polling or Polling()

    def started(
        self, data: Mapping[str, Any], *, page: str, user_code: str, interval: float, **hidden: str
    ) -> AuthStart:
        """The start of a sign-in from the device-code answer ``data``; ``hidden`` are the
        values ``finish`` needs (the device code...), never shown to the user."""
        return AuthStart(
            provider=self.provider,
            state=secrets.token_urlsafe(16),
            flow="device",
            url=page,
            user_code=user_code,
            expires_in=seconds(data.get("expires_in")),
            interval=interval,
            secrets={**hidden, "issued_at": repr(self.polling.clock())},
        )

    async def poll(self, started: AuthStart, attempt: Callable[[], Awaitable[T | Pending]]) -> T:
        """:func:`poll_until` for a sign-in this flow started."""
        return await poll_until(
            attempt,
            provider=self.provider,
            polling=self.polling,
            interval=started.interval or self.default_interval,
            issued_at=issued_at(started, self.polling),
            expires_in=started.expires_in,
            max_wait=self.max_wait,
            min_interval=self.min_interval,
            first_now=self.first_now,
        )


def device_answer(data: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(device_code, user_code, page)`` of an RFC 8628 answer (the page with the code
    filled in when the server offers it); empty strings for what is missing."""
    page = text(data.get("verification_uri_complete")) or text(data.get("verification_uri"))
    return text(data.get("device_code")), text(data.get("user_code")), page
