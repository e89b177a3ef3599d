"""The OAuth token refresh loop, and the forced refresh after an upstream 401.

Usage::

    refresher = Refresher(pool, http)
    refresher.start()                       # background loop on the running event loop
    cred = await refresher.refresh_now(cred)  # after a 401; concurrent callers share it
    cred = await refresher.refresh_ahead(cred)  # before the token is due (the loop, pre-send)
    await refresher.stop()

When a credential is due follows CPA (``shouldRefresh``): never after its last refresh
was refused as unauthorized, by this process or another sharing the state backend, until
its refresh token changes (``credentials.suspend``: how long it serves meanwhile);
``refresh_interval_seconds`` in the auth file wins; otherwise the provider's lead before
expiry (Claude 4 h, Codex 5 days, Antigravity, Kimi and xAI 5 min); a failed refresh waits
5 minutes.

The token URL of a provider is, first to last: ``token_urls[provider]``, the environment
variable ``CLIPROXY_TOKEN_URL_<PROVIDER>`` (upper case, ``-`` as ``_``; an older alias of
the next), the file's own ``token_endpoint`` (xAI), the endpoint table of the sign-in
flows (``cliproxy.credentials.login.endpoints``: CPA's URL unless
``CLIPROXY_OAUTH_<PROVIDER>_TOKEN`` or ``_BASE`` moves it). The call goes through ``token_client``
(default ``http``; the service passes ``impersonate.token_client``, which gives Claude's
token endpoint the Claude OAuth TLS hello as CPA does), or the credential's own client when
``own_client`` names one (an Antigravity account's own connections, as CPA refreshes
through them: ``providers.account_pools``). A refreshed token is written
back into the auth file atomically (other keys and their order are kept) and swapped into
the pool before anyone can use the old refresh token again. A refusal whose error code
says the grant is gone (``invalid_grant``, OpenAI's nested ``refresh_token_reused``, ...)
or a 401/403 marks the refresh token revoked.

One refresh token, one call: several credentials can hold the same refresh token (one
account signed in twice, a copied auth file), and a rotating token is refused once spent
(OpenAI's ``refresh_token_reused``). So token calls are shared per provider and refresh
token, as CPA's Codex refresh single-flight is: concurrent refreshes of the same token
wait for one call, and its answer reaches every credential of the pool holding that token
(and their files). A rotated token's answer is also kept for ``SPENT_MEMORY`` seconds, so a
credential that turns up later with the spent token (a file copied back in) takes it
instead of spending the token again. Across processes sharing a state backend the refresh
lease is the token's too (a digest of it, never the token), so another process waits and
reads the new tokens from its own credential's file, or (another host's workspace) the
answer the winner sealed in Redis (``credentials.refresh_spent``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient, proxy_key, read_body
from cliproxy.providers.transport import UpstreamClient

from .oauth_tokens import TOKEN_ENDPOINTS, TokenEndpoint
from .pool import Pool
from .presend import PreSend, renew_by
from .record import Credential
from .refresh_spent import find_spent, keep_spent
from .refresh_times import last_refresh, refresh_interval
from .storage import write_json
from .suspend import note_refused, refusal, suspend_refused, token_digest
from .token_reply import REVOKED_CODES, json_object, oauth_error, retry_wait

__all__ = ["FAILURE_BACKOFF", "REVOKED_COOLDOWN", "RefreshError", "Refresher", "refresh_interval"]

log = logging.getLogger(__name__)

FAILURE_BACKOFF = 300.0  # a failed refresh is retried after 5 minutes (CPA)
INEFFECTIVE_BACKOFF = 30.0  # a "successful" refresh that left the token due
REVOKED_COOLDOWN = 1800.0  # how long the pipeline should cool a credential whose grant is gone
DEFAULT_INTERVAL = 900.0
LEASE_TTL = 30.0  # seconds one process may hold a credential's refresh lease (state backend)
LEASE_POLL = 0.05  # seconds between looks while another process refreshes
REFRESH_TIMEOUT = 30.0  # the whole token call, whoever waits for it (CPA)
SPENT_MEMORY = 300.0  # seconds a rotated refresh token's answer is kept for late holders


class RefreshError(UpstreamError):
    """A token refresh failed. ``revoked`` means the grant is gone (``invalid_grant``,
    401/403): the credential needs a new login and should cool for ``cooldown_seconds``."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        revoked: bool = False,
        body: bytes | None = None,
        credential_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, credential_id=credential_id)
        self.revoked = revoked
        self.cooldown_seconds = REVOKED_COOLDOWN if revoked else 0.0


_Answer = tuple[dict[str, Any], dict[str, Any]]  # the token answer, and what the provider read after it


@dataclasses.dataclass(slots=True)
class _Status:
    next_after: float = 0.0
    revoked_token: str = ""  # the refresh token that was refused; a new one clears the block
    last_error: str = ""
    blocked_until: float = 0.0  # the token endpoint said 429: no call for this token before
    blocked_token: str = ""


class Refresher:
    """Keeps OAuth access tokens of the pool's credentials fresh."""

    def __init__(
        self,
        pool: Pool,
        http: HttpClient,
        *,
        token_urls: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = DEFAULT_INTERVAL,
        workers: int = 16,
        global_proxy: str = "",
        token_client: UpstreamClient | None = None,
        own_client: Callable[[Credential], UpstreamClient | None] | None = None,
    ) -> None:
        self.pool = pool
        self.http = http
        # the token calls' client (``impersonate.token_client``: Claude's OAuth TLS hello)
        self.token_client: UpstreamClient = token_client or http
        # a credential's own client (None: ``token_client``)
        self.own_client = own_client
        self.token_urls = {k.lower(): v for k, v in (token_urls or {}).items()}
        self.clock = clock
        self.interval = interval
        self.global_proxy = global_proxy
        self.workers = max(1, workers)  # auth-auto-refresh-workers: due refreshes at once
        self._workers = asyncio.Semaphore(self.workers)
        self._status: dict[str, _Status] = {}
        # by id: the credential object, its refresh token and when its tokens are due
        # (None: never), so a wake-up pass reads only the credentials new since the last
        self._tokens: dict[str, tuple[Credential, str, float | None]] = {}
        # by id, for the delegate's credentials: what refreshed it when its due time was asked
        self._owners: dict[str, object | None] = {}
        self._live: object = None  # the delegate's live refreshers as last seen
        self._inflight: dict[str, asyncio.Future[Credential]] = {}
        # token calls by (provider, refresh token), and rotated tokens' answers by the same key
        self._calls: dict[tuple[str, str], asyncio.Future[_Answer]] = {}
        self._spent: dict[tuple[str, str], tuple[float, _Answer]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._owner = os.urandom(8).hex()  # this refresher, as a lease holder
        self.delegate: Any = None  # plugins' credentials (``credentials.delegated.Delegate``)
        self.presend = PreSend(self)  # which tokens to renew before a request goes out

    # -- when ---------------------------------------------------------------------

    def due_at(self, cred: Credential) -> float | None:
        """Unix time when ``cred`` should be refreshed (0 = now), or None for never."""
        self._follow_delegate()
        return self._due_at(cred)

    def _due_at(self, cred: Credential) -> float | None:
        memo = self._tokens.get(cred.id)
        if memo is None or memo[0] is not cred:  # the credential's own part, once per object
            if self.delegate is not None and cred.provider not in TOKEN_ENDPOINTS:
                self._owners[cred.id] = self.delegate.owner(cred)
                memo = self._tokens[cred.id] = (cred, cred.refresh_token, self.delegate.due(cred))
            else:
                memo = self._tokens[cred.id] = (cred, cred.refresh_token, _token_due(cred))
        if memo[2] is None:
            return None
        status = self._status.get(cred.id)
        if status is None:
            return memo[2]
        if status.revoked_token and status.revoked_token == memo[1]:
            return None
        return max(memo[2], status.next_after)

    def due(self, now: float | None = None) -> list[Credential]:
        """Credentials of the pool that are due at ``now``."""
        now = self.clock() if now is None else now
        creds = self.pool.credentials()
        if self._status or len(self._tokens) > len(creds):
            # a removed credential's backoff or refusal goes with it (CPA unschedules it)
            ids = {c.id for c in creds}
            for gone in self._status.keys() - ids:
                del self._status[gone]
            for gone in self._tokens.keys() - ids:
                del self._tokens[gone]
                self._owners.pop(gone, None)
        self._follow_delegate()
        return [c for c in creds if (at := self._due_at(c)) is not None and at <= now]

    def _follow_delegate(self) -> None:
        """When the delegate's live refreshers changed (a plugin fused, disabled, back or
        reloaded), forget the due time and back-off of each credential whose refresher is
        another now: one left without a refresher leaves the schedule (no attempt bound to
        fail every 5 minutes), one whose refresher is back is due by its own times at once."""
        if not self._owners or self.delegate is None:
            return
        live = self.delegate.live()
        if live == self._live:
            return
        self._live = live
        for cid, owner in list(self._owners.items()):
            memo = self._tokens.get(cid)
            if memo is None or self.delegate.owner(memo[0]) is not owner:
                del self._owners[cid]
                self._tokens.pop(cid, None)
                self._status.pop(cid, None)

    def token_url(self, cred: Credential) -> str:
        """Where ``cred``'s refresh request goes (see the module docstring for the order)."""
        provider = cred.provider.lower()
        if provider in self.token_urls:
            return self.token_urls[provider]
        env = os.environ.get("CLIPROXY_TOKEN_URL_" + provider.upper().replace("-", "_"))
        if env:
            return env
        return TOKEN_ENDPOINTS[provider].url_for(cred)

    # -- refresh ------------------------------------------------------------------

    async def refresh_now(self, cred: Credential) -> Credential:
        """Refresh ``cred`` after the upstream refused its access token (a 401) and return the
        updated record; a refused refresh token takes it out of service now
        (``credentials.suspend``). Otherwise as :meth:`refresh_ahead`."""
        try:
            return await self._renew(cred)
        except RefreshError as exc:
            if exc.revoked:
                await suspend_refused(
                    self.pool, (self.pool.get(cred.id) or cred,), exc.message, REVOKED_COOLDOWN
                )
            raise

    async def refresh_ahead(self, cred: Credential) -> Credential:
        """Refresh ``cred`` before its token is due and return the updated record. Concurrent
        callers for the same credential share one refresh; a caller holding a token that
        another refresh already replaced gets the current record without a new call.
        Raises :class:`RefreshError` (at once, without a call, when this refresh token was
        already refused: the account then leaves service once its token is due)."""
        try:
            return await self._renew(cred)
        except RefreshError as exc:
            current = self.pool.get(cred.id) or cred
            if exc.revoked and (until := renew_by(current)) is not None and until <= self.clock():
                await suspend_refused(self.pool, (current,), exc.message, REVOKED_COOLDOWN)
            raise

    async def _renew(self, cred: Credential) -> Credential:
        current = self.pool.get(cred.id) or cred
        if cred.access_token and current.access_token and current.access_token != cred.access_token:
            return current
        status = self._status.get(cred.id)
        if status is not None and status.revoked_token and status.revoked_token == current.refresh_token:
            raise RefreshError(
                f"refresh token was refused earlier: {status.last_error}",
                status=401,
                revoked=True,
                credential_id=cred.id,
            )
        wait = status.blocked_until - self.clock() if status is not None else 0.0
        if status is not None and wait > 0 and status.blocked_token == current.refresh_token:
            raise RefreshError(
                f"token refresh is rate limited for {wait:.0f}s more: {status.last_error}",
                status=429,
                credential_id=cred.id,
            )
        pending = self._inflight.get(cred.id)
        if pending is None:
            pending = asyncio.ensure_future(self._refresh(current))
            self._inflight[cred.id] = pending
            cid = cred.id
            pending.add_done_callback(lambda _f: self._inflight.pop(cid, None))
        return await asyncio.shield(pending)

    async def tick(self) -> int:
        """Refresh every due credential (at most ``workers`` at once); how many succeeded."""

        async def one(cred: Credential) -> bool:
            async with self._workers:
                try:
                    await self.refresh_ahead(cred)
                except RefreshError as exc:
                    if not exc.revoked:  # a refusal has its own line (``note_refused``)
                        log.warning("token refresh of %s failed: %s", cred.label or cred.id, exc.message)
                    return False
            return True

        results = await asyncio.gather(*(one(c) for c in self.due()))
        return sum(results)

    async def _refresh(self, cred: Credential) -> Credential:
        endpoint = TOKEN_ENDPOINTS.get(cred.provider)
        if endpoint is None and self.delegate is not None:
            try:
                updated: Credential = await self.delegate.refresh(cred)
            except RefreshError as exc:
                await self._failed(cred, exc)
                raise
            self._renewed(updated)
            return updated
        if endpoint is None:
            raise RefreshError(
                f"{cred.provider} credentials have no token refresh", status=400, credential_id=cred.id
            )
        if not cred.refresh_token:
            raise RefreshError("credential has no refresh token", status=401, credential_id=cred.id)
        # a rotating refresh token must be spent once: across processes sharing the state
        # backend, one takes the token's lease and refreshes, the others wait and read its result
        lease = _lease(cred)
        state = self.pool.state
        while not await state.acquire_lease(lease, self._owner, LEASE_TTL):
            if (renewed := await self._wait_for_other(lease, cred)) is not None:
                return renewed
        try:
            if (refused := await refusal(self.pool, cred)) is not None:  # by another process
                status = self._status.setdefault(cred.id, _Status())
                status.revoked_token, status.last_error = cred.refresh_token, refused.message
                message = f"refresh token was refused earlier: {refused.message}"
                raise RefreshError(message, status=401, revoked=True, credential_id=cred.id)
            try:
                data, more = await self._token_answer(endpoint, cred)
            except RefreshError as exc:
                await self._failed(cred, exc)
                raise
            await keep_spent(state, cred, (data, more), SPENT_MEMORY)  # for other hosts (refresh_spent.py)
            updated = await self._commit(cred, {**endpoint.updates(data, cred, self.clock()), **more})
            await self._share(endpoint, cred, (data, more))  # before another process reads the files
        finally:
            await state.release_lease(lease, self._owner)
        self._renewed(updated)
        return updated

    def _renewed(self, updated: Credential) -> None:
        self._status.pop(updated.id, None)
        if (at := self.due_at(updated)) is not None and at <= self.clock():
            self._status[updated.id] = _Status(next_after=self.clock() + INEFFECTIVE_BACKOFF)

    async def _token_answer(self, endpoint: TokenEndpoint, cred: Credential) -> _Answer:
        """The token endpoint's answer for ``cred``'s refresh token: one call per provider
        and token, whoever asks meanwhile; a rotated token's recent answer without a call."""
        key = (cred.provider, cred.refresh_token)
        spent = self._spent.get(key)
        if spent is not None and self.clock() - spent[0] < SPENT_MEMORY:
            log.info("%s holds a refresh token just spent: taking its new tokens", cred.label or cred.id)
            return spent[1]
        if (found := await find_spent(self.pool.state, cred)) is not None:  # spent by another host
            log.info(
                "%s holds a refresh token another process spent: taking its new tokens", cred.label or cred.id
            )
            return found
        call = self._calls.get(key)
        if call is None:
            call = asyncio.ensure_future(self._post(endpoint, cred))
            self._calls[key] = call
            call.add_done_callback(lambda done: self._settle(key, done))
        elif not call.done():
            log.info(
                "%s shares a refresh token with a refresh under way: waiting for it", cred.label or cred.id
            )
        try:
            return await asyncio.shield(call)
        except RefreshError as exc:
            if exc.credential_id == cred.id:
                raise
            raise RefreshError(
                exc.message, status=exc.status, revoked=exc.revoked, body=exc.body, credential_id=cred.id
            ) from exc

    def _settle(self, key: tuple[str, str], call: asyncio.Future[_Answer]) -> None:
        self._calls.pop(key, None)
        now = self.clock()
        for old in [k for k, (at, _) in self._spent.items() if now - at >= SPENT_MEMORY]:
            del self._spent[old]
        if call.cancelled() or call.exception() is not None:
            return
        data = call.result()[0]
        if isinstance(rotated := data.get("refresh_token"), str) and rotated and rotated != key[1]:
            self._spent[key] = (now, call.result())

    async def _share(self, endpoint: TokenEndpoint, source: Credential, answer: _Answer) -> None:
        """The new tokens to every other credential of the pool holding ``source``'s old
        refresh token (same provider), and into their files."""
        data, more = answer
        for other in self._holders(source):
            log.info(
                "%s holds the refresh token %s just spent: it takes the new tokens",
                other.label or other.id,
                source.label or source.id,
            )
            self._renewed(await self._commit(other, {**endpoint.updates(data, other, self.clock()), **more}))

    def _holders(self, source: Credential) -> list[Credential]:
        return [
            c
            for c in self.pool.credentials()
            if c.id != source.id and c.provider == source.provider and c.refresh_token == source.refresh_token
        ]

    async def _wait_for_other(self, lease: str, cred: Credential) -> Credential | None:
        """Wait while another process holds ``lease``; then the credential as that process
        saved it (its auth file), or None when the token did not change (refresh ourselves)."""
        deadline = time.monotonic() + LEASE_TTL
        while await self.pool.state.lease_holder(lease) is not None and time.monotonic() < deadline:
            await asyncio.sleep(LEASE_POLL)
        if cred.path is None:
            return None
        try:
            saved = orjson.loads(await asyncio.to_thread(cred.path.read_bytes))
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(saved, dict):
            return None
        updated = dataclasses.replace(cred, metadata={**cred.metadata, **saved})
        if not updated.access_token or updated.access_token == cred.access_token:
            return None
        await self._swap(updated)
        self._status.pop(cred.id, None)
        return updated

    async def _post(self, endpoint: TokenEndpoint, cred: Credential) -> tuple[dict[str, Any], dict[str, Any]]:
        """The token answer, and what the provider reads after it (Claude's profile)."""
        body, headers = endpoint.request(cred)
        proxy = proxy_key(cred.proxy_url, self.global_proxy)
        client = self.token_client
        if self.own_client is not None:
            client = self.own_client(cred) or client
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):  # on top of the client's own limits
                resp = await client.request(
                    "POST", self.token_url(cred), headers=headers, body=body, proxy=proxy
                )
                raw = await read_body(resp)
        except TimeoutError:
            raise RefreshError(
                f"token endpoint did not answer within {REFRESH_TIMEOUT:g}s", credential_id=cred.id
            ) from None
        except UpstreamError as exc:
            raise RefreshError(
                f"token endpoint unreachable: {exc.message}", status=exc.status, credential_id=cred.id
            ) from exc
        data = json_object(raw)
        if resp.status == 200 and isinstance(data.get("access_token"), str) and data["access_token"]:
            if self.token_url(cred) != endpoint.url_for(cred):  # a moved token URL: no known profile
                return data, {}
            return data, await endpoint.after_refresh(client, data["access_token"], proxy)
        if resp.status == 429:
            status = self._status.setdefault(cred.id, _Status())
            status.blocked_until = self.clock() + retry_wait(resp.headers)
            status.blocked_token = cred.refresh_token
        code, description = oauth_error(data)
        revoked = code in REVOKED_CODES or resp.status in (401, 403)
        detail = description or code or f"status {resp.status}"
        raise RefreshError(  # (a 5xx or a 429 is no refusal: the refresh is tried again later)
            f"token refresh refused: {detail}"
            if revoked
            else f"token refresh failed ({resp.status}): {detail}",
            status=401 if revoked else 502,
            revoked=revoked,
            body=raw,
            credential_id=cred.id,
        )

    async def _failed(self, cred: Credential, exc: RefreshError) -> None:
        """``cred``'s refresh failed: it, and every credential holding its refresh token,
        waits (or, refused, is never refreshed again until the token changes)."""
        holders = (cred, *self._holders(cred))
        for holder in holders:
            status = self._status.setdefault(holder.id, _Status())
            status.last_error = exc.message
            if exc.revoked:
                status.revoked_token = cred.refresh_token
            else:
                status.next_after = self.clock() + FAILURE_BACKOFF
        if exc.revoked:
            await note_refused(self.pool, holders, exc.message)

    async def _commit(self, cred: Credential, updates: dict[str, Any]) -> Credential:
        current = self.pool.get(cred.id)
        if current is None:  # removed while its token call ran: nothing to update (CPA)
            log.info(
                "%s was removed during its token refresh: the new token is not saved", cred.label or cred.id
            )
            return dataclasses.replace(cred, metadata={**cred.metadata, **updates})
        if cred.path is not None:
            try:
                await asyncio.to_thread(write_auth_file, cred.path, updates)
            except OSError as exc:
                log.warning("could not save refreshed token to %s: %s", cred.path, exc)
        # the pool's object, not the one the call began with: an edit of the account made
        # meanwhile (disabled or re-prioritised in the panel, its file changed) stays
        updated = dataclasses.replace(current, metadata={**current.metadata, **updates})
        await self._swap(updated)
        return updated

    async def _swap(self, updated: Credential) -> None:
        creds = self.pool.credentials()
        if any(c.id == updated.id for c in creds):
            renewed = self.pool.replace(updated if c.id == updated.id else c for c in creds)
            await self.pool.forget_refusals(renewed)  # the new token has not been refused

    # -- loop ---------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a task on the running event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cliproxy-refresh")

    def wake(self) -> None:
        """Re-check due times now (e.g. after credentials were reloaded)."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        pending: list[asyncio.Future[Any]] = [*self._inflight.values(), *self._calls.values()]
        for t in [task, *pending]:
            if t is not None:
                t.cancel()
        for t in [task, *pending]:
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the loop must survive anything one pass does
                log.exception("token refresh pass failed")
            self._wake.clear()
            # ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
            # cancellation that lands as the event is set, and ``stop`` then waited forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_delay()):
                    await self._wake.wait()

    def _next_delay(self) -> float:
        now = self.clock()
        self._follow_delegate()
        times = [at for c in self.pool.credentials() if (at := self._due_at(c)) is not None]
        return min(self.interval, max(1.0, min(times, default=now + self.interval) - now))


def _token_due(cred: Credential) -> float | None:
    """When ``cred``'s tokens are due by their own times (0 = now), None for never; the
    refresher adds its failures and refusals (:meth:`Refresher.due_at`)."""
    endpoint = TOKEN_ENDPOINTS.get(cred.provider)
    if endpoint is None or cred.disabled or not cred.refresh_token:
        return None
    expires = cred.expires_at()
    expiry = expires.timestamp() if expires is not None else None
    last = last_refresh(cred.metadata)
    step = refresh_interval(cred.metadata) or endpoint.lead
    if refresh_interval(cred.metadata):
        due = min(expiry - step if expiry is not None else float("inf"), last + step if last else 0.0)
    elif expiry is not None:
        due = expiry - step
    else:
        due = last + step if last else 0.0
    return max(due, 0.0)


def _lease(cred: Credential) -> str:
    """The state-backend lease of ``cred``'s refresh token (a digest: no secret in a key)."""
    return f"refresh:{token_digest(cred)}"


def write_auth_file(path: Path, updates: Mapping[str, Any]) -> None:
    """Set ``updates`` in the JSON file at ``path``: atomic (temp file + rename), other
    keys and the key order kept, new keys appended. A file that is gone stays gone
    (``FileNotFoundError``): a credential removed meanwhile is not written back in part."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, orjson.JSONDecodeError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.update(updates)
    write_json(path, data)
