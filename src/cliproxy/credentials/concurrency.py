"""Fair per-credential concurrency: ``max-concurrency`` slots and the queue in front of them.

A credential may cap the requests in flight on it at once: its own ``max-concurrency``
(an auth file's ``"max-concurrency": 2``, a config key entry's ``max-concurrency: 2``) or,
when it has none, ``routing.max-concurrency`` for its provider kind (``{claude: 2}``). The
pipeline asks the :class:`Gate` for a slot around each attempt (``Gate.enter``):

- a credential with no limit needs nothing (``Credential.max_concurrency`` and the kind
  table are both empty: the pipeline's one check, and no slot);
- a credential at its limit is passed over (``note_skip(id, "over-concurrency")``) for the
  next candidate of the pool that has a free slot;
- only when every candidate is at its limit does the request wait, in a :class:`FairQueue`
  per group of credentials: round-robin across client keys, first come first served within
  one key, at most ``routing.concurrency-queue.max-length`` waiting and each for at most
  ``max-wait``; past either, :class:`~cliproxy.errors.ConcurrencyLimitError` (429 with
  ``Retry-After``).

A slot is held until the answer ends: a whole answer at once, a stream when it finishes or
the client goes away (the stream's iterator is wrapped, as a key policy's ``Ticket`` does),
and it is given back exactly once on every path (errors, cancellation, failover).

Slots live in the state backend (``try_acquire_slot`` / ``release_slot``), so with the Redis
backend the limit holds across every worker and host. Each slot has a TTL (:data:`SLOT_TTL`)
that this process renews while it holds the slot: a worker that dies stops renewing and its
slots expire instead of leaking. The fairness queue itself is per process: slots freed here
wake this process's waiters at once; slots freed elsewhere (another worker, an expiry) are
found by polling with a short backoff (:data:`POLL_MIN` to :data:`POLL_MAX`) while anyone waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine, Mapping
from typing import Any, TypeVar

from cliproxy.access import KEY_POLICY, extract_key
from cliproxy.calls import Reply, StreamReply, then
from cliproxy.config.sections import RoutingConfig
from cliproxy.errors import ConcurrencyLimitError
from cliproxy.state.base import StateBackend
from cliproxy.state.factory import shared

from .explain import note_skip
from .record import Credential

__all__ = ["POLL_MAX", "POLL_MIN", "SLOT_TTL", "FairQueue", "Gate", "Slot", "client_of"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SLOT_TTL = 30.0  # seconds a slot outlives its last renewal (renewed every third of it)
POLL_MIN = 0.02  # seconds: first look for a slot freed by another process
POLL_MAX = 0.25  # seconds: the longest pause between two looks
RETRY_AFTER = 1.0  # seconds a refused client is told to wait

# picks another candidate, passing over the ids given; None when the pool has no other
Picker = Callable[[Collection[str]], Awaitable[Credential | None]]


def client_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """Who a waiting request belongs to, for fairness: the key policy's id, else a digest
    of the client key (never the key itself), else ``""`` (an open proxy)."""
    policy = KEY_POLICY.get()
    if policy is not None:
        return f"policy:{policy.id}"
    found = extract_key(headers, query)
    return hashlib.sha256(found[0].encode()).hexdigest()[:16] if found else ""


class _Waiter:
    __slots__ = ("client", "future", "queued")

    def __init__(self, client: str, future: asyncio.Future[tuple[Credential, Slot]]) -> None:
        self.client = client
        self.future = future
        self.queued = True


class FairQueue:
    """Waiting requests: round-robin across clients, first in first out within one client.

    The dict keeps clients in turn order: the first one is served next and goes to the
    back if it still has requests waiting; a client that was not waiting joins at the back.
    """

    __slots__ = ("_clients", "_size")

    def __init__(self) -> None:
        self._clients: dict[str, deque[_Waiter]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, waiter: _Waiter) -> None:
        found = self._clients.get(waiter.client)
        if found is None:
            found = self._clients[waiter.client] = deque()
        found.append(waiter)
        self._size += 1

    def head(self) -> _Waiter | None:
        """The next waiter to serve (waiters that gave up are dropped on the way)."""
        while self._clients:
            waiting = next(iter(self._clients.values()))
            if not waiting[0].future.done():
                return waiting[0]
            self.remove(waiting[0])
        return None

    def pop(self) -> _Waiter:
        """Take the next waiter; its client's turn passes to the next client."""
        client = next(iter(self._clients))
        waiting = self._clients.pop(client)
        waiter = waiting.popleft()
        if waiting:
            self._clients[client] = waiting  # to the back of the turn order
        waiter.queued = False
        self._size -= 1
        return waiter

    def remove(self, waiter: _Waiter) -> None:
        """Take ``waiter`` out wherever it is (it gave up); nothing when already out."""
        if not waiter.queued:
            return
        waiting = self._clients.get(waiter.client)
        if waiting is not None:
            with contextlib.suppress(ValueError):
                waiting.remove(waiter)
            if not waiting:
                del self._clients[waiter.client]
        waiter.queued = False
        self._size -= 1


class _Group:
    """The credentials a set of waiters can use, their queue and its background work."""

    __slots__ = ("again", "creds", "dispatching", "ids", "kinds", "poller", "queue")

    def __init__(self, creds: tuple[Credential, ...], kinds: Mapping[str, int]) -> None:
        self.creds = creds
        self.ids = frozenset(c.id for c in creds)
        self.kinds = kinds
        self.queue = FairQueue()
        self.dispatching = self.again = False
        self.poller: asyncio.Task[None] | None = None


class Slot:
    """One request's slot on one credential: given back exactly once."""

    __slots__ = ("_released", "credential_id", "gate", "holder", "kept")

    def __init__(self, gate: Gate, credential_id: str, holder: str) -> None:
        self.gate, self.credential_id, self.holder = gate, credential_id, holder
        self.kept = False  # a stream took the slot with it
        self._released = False

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self.gate._release(self.credential_id, self.holder)

    def keep(self, result: Reply | StreamReply) -> Reply | StreamReply:
        """``result`` holding the slot until it ends: a stream gives it back when it finishes or
        is closed (the client went away); a whole answer leaves it to :meth:`done`."""
        if isinstance(result, Reply):
            return result
        self.kept = True
        return StreamReply(
            result.headers, result.first, _Held(self, result.rest), result.credential, result.read_usage
        )

    async def done(self) -> None:
        """The attempt is over: give the slot back unless a stream carries it."""
        if not self.kept:
            await self.release()


class _Held:
    """A stream whose end (or abandonment) gives its slot back."""

    __slots__ = ("_rest", "_slot")

    def __init__(self, slot: Slot, rest: AsyncIterator[bytes]) -> None:
        self._slot, self._rest = slot, rest

    def __aiter__(self) -> _Held:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._rest.__anext__()
        except BaseException:  # the end, an upstream failure or a cancel: the slot goes back
            await self.aclose()
            raise

    @property
    def failure(self) -> Any:
        """The error the stream ended with (the request's usage record reads it)."""
        return getattr(self._rest, "failure", None)

    async def aclose(self) -> None:
        try:
            closer = getattr(self._rest, "aclose", None)
            if closer is not None:
                await closer()
        finally:
            await self._slot.release()

    def relay(
        self, emit: Callable[[bytes], int], drain: Callable[[], Awaitable[None]]
    ) -> Coroutine[Any, Any, None] | None:
        """Push mode (``cliproxy.replies``): the stream pushed as it is, its slot given back
        at its end; ``None`` when its source cannot push."""
        relay = getattr(self._rest, "relay", None)
        inner = relay(emit, drain) if relay is not None else None
        return None if inner is None else then(inner, self.aclose)


class Gate:
    """The slots and queues of one pipeline (see the module docstring)."""

    def __init__(self, state: StateBackend, routing: Any = None, *, slot_ttl: float = SLOT_TTL) -> None:
        self.state = state
        self.slot_ttl = slot_ttl
        self.routing: Any = None
        self.kinds: Mapping[str, int] = {}  # routing.max-concurrency (empty: no kind default)
        self.configure(routing if routing is not None else RoutingConfig())
        self._groups: dict[frozenset[str], _Group] = {}
        self._groups_of: dict[str, list[_Group]] = {}  # credential id -> groups with waiters
        self._held: dict[str, str] = {}  # holder -> credential id (renewed while held)
        self._renewer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # a shared backend answers over the network: a cancel could land between Redis taking
        # or giving back a slot and this process hearing of it (see _take and _release)
        self._remote = shared(state) is not None

    def configure(self, routing: Any) -> None:
        """Take a (reloaded) ``routing`` config section: kind defaults and queue bounds."""
        self.routing = routing
        self.kinds = {k: int(v) for k, v in (routing.max_concurrency or {}).items() if int(v) > 0}

    @staticmethod
    def limit(cred: Credential, kinds: Mapping[str, int]) -> int:
        """``cred``'s limit: its own, else its provider kind's (0: unlimited)."""
        if cred.max_concurrency:
            return cred.max_concurrency
        if not kinds:
            return 0
        found = kinds.get(cred.provider)
        if found is None and cred.compat_name:
            found = kinds.get("openai-compatibility")
        return found if found is not None and found > 0 else 0

    def waiting(self) -> int:
        """Requests waiting in this process (all groups)."""
        return sum(len(g.queue) for g in self._groups.values())

    async def enter(
        self, cred: Credential, pick: Picker, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[Credential, Slot | None]:
        """A credential to attempt and its slot (None: the credential has no limit).

        ``cred`` first; at its limit, whatever else ``pick`` offers; when every candidate is
        at its limit, a place in the queue (``ConcurrencyLimitError`` when there is none).
        The caller's check comes first: ``cred.max_concurrency or gate.kinds``."""
        kinds = self.kinds
        busy: list[Credential] = []
        while True:
            limit = self.limit(cred, kinds)
            if limit <= 0:
                return cred, None
            if not self._queued_for(cred.id):  # nobody waits for it here: no jumping the queue
                slot = await self._take(cred.id, limit)
                if slot is not None:
                    return cred, slot
            note_skip(cred.id, "over-concurrency")
            busy.append(cred)
            other = await pick([c.id for c in busy])
            if other is None or any(c.id == other.id for c in busy):
                break
            cred = other
        return await self._wait(busy, client_of(headers, query))

    # ---------------------------------------------------------------- slots

    def _queued_for(self, credential_id: str) -> bool:
        groups = self._groups_of.get(credential_id)
        return bool(groups) and any(len(g.queue) for g in groups or ())

    async def _take(self, credential_id: str, limit: int) -> Slot | None:
        holder = os.urandom(8).hex()
        acquire = self.state.try_acquire_slot(credential_id, limit, holder, self.slot_ttl)
        if not self._remote:  # the memory backend never pauses: no cancel lands inside it
            taken = await acquire
        else:  # its own task: a cancel cannot cut the script off from the slot it takes
            task = self._spawn(acquire)
            try:
                taken = await asyncio.shield(task)
            except asyncio.CancelledError:
                task.add_done_callback(lambda done: self._undo(done, credential_id, holder))
                raise
        if not taken:
            return None
        self._held[holder] = credential_id
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
        return Slot(self, credential_id, holder)

    async def _release(self, credential_id: str, holder: str) -> None:
        self._held.pop(holder, None)  # first: a release cut short leaves a slot that expires
        if not self._held and self._renewer is not None:
            self._renewer.cancel()  # nothing left to renew: no task idles until its next round
            self._renewer = None
        try:
            if self._remote:  # its own task: a second cancel cannot leave the slot to its TTL
                await asyncio.shield(self._spawn(self.state.release_slot(credential_id, holder)))
            else:
                await self.state.release_slot(credential_id, holder)
        finally:
            for group in self._groups_of.get(credential_id, ()):
                if len(group.queue):
                    self._kick(group)

    def _undo(self, acquire: asyncio.Task[bool], credential_id: str, holder: str) -> None:
        """The caller of :meth:`_take` was cancelled: once Redis has answered, give back the
        slot it took (an error is no answer: the holder is released all the same)."""
        if not acquire.cancelled() and acquire.exception() is None and not acquire.result():
            return
        self._spawn(self.state.release_slot(credential_id, holder))

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """``work`` in a task of its own, kept until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _renew(self) -> None:
        """Renew this process's slots every third of their TTL while it holds any."""
        while self._held:
            await asyncio.sleep(self.slot_ttl / 3)
            held = [(cid, holder) for holder, cid in self._held.items()]
            try:
                await self.state.renew_slots(held, self.slot_ttl)
            except Exception:  # a backend hiccup: the next round tries again
                log.warning("concurrency: renewing %d slot(s) failed", len(held), exc_info=True)

    # ---------------------------------------------------------------- the queue

    async def _wait(self, busy: list[Credential], client: str) -> tuple[Credential, Slot]:
        settings = self.routing.concurrency_queue
        ids = frozenset(c.id for c in busy)
        group = self._groups.get(ids)
        if group is None:
            group = self._groups[ids] = _Group(tuple(busy), self.kinds)
            for cid in ids:
                self._groups_of.setdefault(cid, []).append(group)
        group.kinds = self.kinds
        max_length, max_wait = int(settings.max_length), settings.max_wait_seconds
        if len(group.queue) >= max_length or max_wait <= 0:
            self._forget_if_idle(group)
            raise ConcurrencyLimitError(
                f"all {len(busy)} credential(s) for this model are at their max-concurrency and "
                f"{len(group.queue)} request(s) already wait (concurrency-queue.max-length {max_length}); "
                f"retry in {int(RETRY_AFTER)}s",
                RETRY_AFTER,
            )
        future: asyncio.Future[tuple[Credential, Slot]] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(client, future)
        group.queue.push(waiter)
        self._kick(group)  # a slot may have come free since we looked
        if group.poller is None or group.poller.done():
            group.poller = asyncio.get_running_loop().create_task(self._poll(group))
        handed = False
        try:
            async with asyncio.timeout(max_wait):
                got = await future
            handed = True
            return got
        except TimeoutError:
            raise ConcurrencyLimitError(
                f"all {len(busy)} credential(s) for this model stayed at their max-concurrency for "
                f"{settings.max_wait} (concurrency-queue.max-wait); retry in {int(RETRY_AFTER)}s",
                RETRY_AFTER,
            ) from None
        finally:
            group.queue.remove(waiter)
            if not handed:
                if future.done() and not future.cancelled():
                    await future.result()[1].release()  # handed a slot just as it gave up
                else:
                    future.cancel()
            self._forget_if_idle(group)

    def _forget_if_idle(self, group: _Group) -> None:
        if len(group.queue) or group.dispatching or self._groups.get(group.ids) is not group:
            return
        del self._groups[group.ids]
        for cid in group.ids:
            found = self._groups_of.get(cid)
            if found is not None:
                with contextlib.suppress(ValueError):
                    found.remove(group)
                if not found:
                    del self._groups_of[cid]

    def _kick(self, group: _Group) -> None:
        """Hand free slots to the group's waiters, in a task of its own (a cancelled caller
        cannot stop it between taking a slot and handing it over)."""
        if group.dispatching:
            group.again = True
            return
        self._spawn(self._dispatch(group))

    async def _dispatch(self, group: _Group) -> None:
        if group.dispatching:
            group.again = True
            return
        group.dispatching = True
        try:
            while True:
                group.again = False
                while (waiter := group.queue.head()) is not None:
                    got = await self._take_any(group)
                    if got is None:
                        break
                    if waiter.future.done():  # it gave up while we took the slot
                        await self._give_back(got[1])
                        continue
                    if group.queue.head() is waiter:
                        group.queue.pop()
                    waiter.future.set_result(got)
                if not group.again:
                    break
        finally:
            group.dispatching = False
            self._forget_if_idle(group)

    async def _take_any(self, group: _Group) -> tuple[Credential, Slot] | None:
        for cred in group.creds:
            limit = self.limit(cred, group.kinds)
            if limit <= 0:  # the limit went away (a reload): take it with no slot to hold
                limit = 1 << 30
            slot = await self._take(cred.id, limit)
            if slot is not None:
                return cred, slot
        return None

    async def _give_back(self, slot: Slot) -> None:
        """A slot taken for a waiter that gave up meanwhile (no dispatch: the caller loops)."""
        slot._released = True
        self._held.pop(slot.holder, None)
        await self.state.release_slot(slot.credential_id, slot.holder)

    async def _poll(self, group: _Group) -> None:
        """While anyone waits: look again for slots freed elsewhere (another process, an expiry)."""
        delay = POLL_MIN
        while len(group.queue):
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)
            if len(group.queue) and not group.dispatching:
                try:
                    await self._dispatch(group)
                except Exception:
                    log.warning("concurrency: looking for a free slot failed", exc_info=True)
