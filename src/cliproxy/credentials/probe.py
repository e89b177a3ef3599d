"""Half-open probes: ask a long-cooling credential, now and then, whether it is back.

A credential cooled for a long time (a 429 with a Retry-After of an hour, a 30-minute
401/403) may recover well before its cooldown ends: the account's quota resets early, a
key is re-enabled. With ``routing.probe.enabled`` the :class:`Prober` (a background task
the service owns) sends such a credential one cheap request every ``routing.probe.interval``
while its cooldown still has more than ``routing.probe.after`` left; a success clears that
cooldown at once, a failure keeps it (a 429 may push it further out, as the normal
classification does). What the request is and how it is sent belongs to the layer that
knows providers (``cliproxy.pipeline_probe``): this module only decides who is due.

Cost: none when off (no task, and the pool's ``on_cool`` hook stays ``None``). When on,
the task sleeps until the nearest due time, or until the pool reports a new cooldown; the
credentials it watches are those cooled in this process, plus those found cooling when it
starts (cooldowns restored from ``save-cooldown-status``, or set by another process sharing
the state). At most one probe per credential per interval across every process that
shares the state backend: each probe first takes the lease ``probe|<credential id>`` for
one interval, and never gives it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..state.base import CooldownRecord
from .pool import Pool
from .record import Credential, model_key

__all__ = ["PROBE_TIMEOUT", "ProbeResult", "Prober", "Sender"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 30.0  # seconds one probe may take, whatever the upstream does


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe learned: ``status`` 0 for a network failure; ``kind`` is the request
    sent (``models``, ``count`` or ``generate``); ``model`` the upstream model it named;
    ``shared`` the names whose cooldown the probed record shares (an OAuth alias's upstream
    model and its other names: ``models.alias_state``), ``()`` when the record's is its own."""

    status: int
    kind: str
    model: str = ""
    retry_after: float | None = None
    body: bytes = b""
    shared: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


# sends one probe for a credential and the model of the cooldown record ("" = credential-wide)
Sender = Callable[[Credential, str], Awaitable[ProbeResult]]


class Prober:
    """The probe loop of one process. ``settings()`` returns the live ``routing.probe``
    section (read at every wake-up: a reload changes ``after``/``interval`` at once)."""

    def __init__(self, pool: Pool, send: Sender, settings: Callable[[], Any]) -> None:
        self.pool = pool
        self.send = send
        self.settings = settings
        self.owner = uuid.uuid4().hex  # this process's name on the leases
        self.probes = 0  # probes sent by this process (for tests and the log)
        self._watch: set[str] = set()  # credential ids that may need probing
        self._last: dict[str, float] = {}  # credential id -> when it was last due here
        self._probed: dict[tuple[str, str], float] = {}  # (id, model) -> last probe here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self.pool.on_cool = self.cooled
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cliproxy-prober")

    def cancel(self) -> asyncio.Task[None] | None:
        """Unhook from the pool and cancel the loop at once; the task, to await if wanted."""
        if self.pool.on_cool == self.cooled:
            self.pool.on_cool = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

    async def stop(self) -> None:
        task = self.cancel()
        if task is not None:
            await asyncio.wait([task], timeout=5.0)

    @property
    def watching(self) -> frozenset[str]:
        """The credential ids this prober checks at each wake-up."""
        return frozenset(self._watch)

    def cooled(self, credential_id: str) -> None:
        """The pool's hook: ``credential_id`` was just cooled (called on the loop)."""
        self._watch.add(credential_id)
        self._wake.set()

    # the loop --------------------------------------------------------------------

    async def _run(self) -> None:
        self._watch.update(c.id for c in self.pool.credentials())  # what cools already
        while self._task is not None:
            self._wake.clear()
            try:
                wait = await self._tick()
            except Exception:  # a state backend hiccup: try again one interval later
                log.exception("credential probes failed")
                wait = self._interval()
            # asyncio.timeout, not wait_for: 3.11's wait_for may swallow a cancel that
            # comes as the event is set, and the task would never end
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _interval(self) -> float:
        return max(0.05, self.settings().seconds("interval"))

    async def _tick(self) -> float | None:
        """Probe every watched credential that is due; seconds until the next is due."""
        interval, after = self._interval(), self.settings().seconds("after")
        now = self.pool.clock()
        due_next: float | None = None
        work: list[tuple[Credential, CooldownRecord]] = []
        for cid in list(self._watch):
            cred = self.pool.get(cid)
            records = await self._long(cred, now, after) if cred is not None else []
            if cred is None or not records:
                self._forget(cid)
                continue
            due = max(max(r.updated_at for r in records), self._last.get(cid, 0.0)) + interval
            if due > now:
                due_next = due if due_next is None else min(due_next, due)
                continue
            self._last[cid] = now
            due_next = now + interval if due_next is None else min(due_next, now + interval)
            work.append((cred, min(records, key=lambda r: self._order(cid, r))))
        if work:
            await asyncio.gather(*(self._probe(cred, record, interval) for cred, record in work))
        return None if due_next is None else max(0.0, due_next - self.pool.clock())

    def _order(self, cid: str, record: CooldownRecord) -> tuple[float, bool, str]:
        """Which record a probe takes: the one probed least recently; among equals a
        model's before the credential-wide one, whose probe asks whatever model the
        credential lists first rather than one a client asked for."""
        return self._probed.get((cid, record.model), 0.0), not record.model, record.model

    async def _long(self, cred: Credential, now: float, after: float) -> list[CooldownRecord]:
        """``cred``'s records with more than ``after`` seconds still to run."""
        if cred.disabled or cred.attributes.get("plugin"):
            return []
        return [r for r in await self.pool.state.credential_cooldowns(cred.id) if r.until() - now > after]

    def _forget(self, cid: str) -> None:
        self._watch.discard(cid)
        self._last.pop(cid, None)
        for key in [k for k in self._probed if k[0] == cid]:
            del self._probed[key]

    async def _probe(self, cred: Credential, record: CooldownRecord, interval: float) -> None:
        if not await self.pool.state.acquire_lease(f"probe|{cred.id}", self.owner, interval):
            return  # another process probes it in this interval
        self._probed[(cred.id, record.model)] = self.pool.clock()
        self.probes += 1
        who = cred.label or cred.id
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                result = await self.send(cred, record.model)
        except TimeoutError:
            result = ProbeResult(0, "", record.model)
        except Exception as exc:  # a probe must never take the loop down
            log.warning("probe of %s could not be sent: %s", who, exc)
            return
        scope = record.model or "every model"
        if result.ok:
            cleared = False
            for name in result.shared or (record.model,):  # cooled together, cleared together
                cleared = await self.pool.clear_cooldown(cred, name) or cleared
            if result.kind == "generate":  # it generated: the account is fine too
                cleared = await self._generated(cred, record) or cleared
            if cleared:
                await self.pool.quota.forget(cred.id)  # steering may use it again at once
                log.info(
                    "probe (%s) of %s succeeded: its cooldown for %s is cleared", result.kind, who, scope
                )
            return
        log.debug(
            "probe (%s) of %s failed with %s: still cooling for %s", result.kind, who, result.status, scope
        )
        # a 429 whose Retry-After ends later extends the cooldown (the normal classification);
        # nothing a probe answers ever shortens one
        later = result.retry_after is not None and self.pool.clock() + result.retry_after > record.until()
        if result.status == 429 and record.model and later:
            await self.pool.mark_failure(
                cred, record.model, 429, retry_after=result.retry_after, body=result.body
            )
            await self._share(cred, record.model, result.shared)

    async def _generated(self, cred: Credential, record: CooldownRecord) -> bool:
        """A probe of ``record`` generated: clear the credential-wide record and every record
        the same answer wrote (the same moment: the model asked under each of its names, the
        whole account for a rejected shared window), whichever of them was probed."""
        cleared, now = False, self.pool.clock()
        for other in await self.pool.state.credential_cooldowns(cred.id):
            if other.until() > now and (not other.model or other.updated_at == record.updated_at):
                cleared = await self.pool.clear_cooldown(cred, other.model) or cleared
        return cleared

    async def _share(self, cred: Credential, model: str, names: tuple[str, ...]) -> None:
        """``model``'s record just extended, kept for every other name it was cooled with
        (an OAuth alias's upstream model and its other names), so none ends sooner."""
        others = [n for n in names if model_key(n) != model_key(model)]
        extended = await self.pool.state.get_cooldown(cred.id, model_key(model)) if others else None
        if extended is None:
            return
        for name in others:
            await self.pool.state.set_cooldown(
                dataclasses.replace(extended, model=model_key(name), extras=dict(extended.extras))
            )
