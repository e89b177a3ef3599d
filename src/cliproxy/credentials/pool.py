"""The credential pool: which credential serves the next request, and cooldowns.

Usage::

    pool = Pool(state=MemoryState(), strategy="round-robin")
    pool.replace(sources.from_config(cfg) + sources.load_auth_dir(cfg.auth_dir, cfg))
    cred = await pool.pick("claude-sonnet-4", providers=["claude"], tried=tried)
    ...
    await pool.mark_success(cred, "claude-sonnet-4")
    decision = await pool.mark_failure(cred, "claude-sonnet-4", 429, retry_after=12.0)

Selection follows CPA: the candidates are the enabled credentials of every listed
provider at once (a mixed pool) that serve the model and were not tried yet; cooling
ones are filtered out; only the highest ``priority`` among the rest is offered to the
strategy (with ``routing.quota-steering``, first narrowed to the credentials whose rate
limits have headroom left: :mod:`.headroom`). Candidate lists are computed once per
(model, providers, supports) and dropped when :meth:`Pool.replace` or
:meth:`Pool.configure` changes anything.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CooldownError, NoCredentialError
from ..state.base import CooldownRecord, StateBackend
from ..state.memory import CURSOR_WRAP, MemoryState
from .cooldown import CooldownInput, classify, next_record, quota_only, transient_seconds
from .explain import NOTES, note_skip
from .explain import classify as explain_states
from .headroom import QuotaSteering
from .owners import Owners
from .record import Credential, model_key
from .reloaded import changed_ids
from .returning import Departures
from .rounds import next_round_in
from .selectors import RoundRobin, SessionAffinity, Strategy, strategy_for
from .served import Served

__all__ = ["CooldownStore", "Decision", "Pool", "Supports"]

Supports = Callable[[Credential, str], bool]
# a scheduler plugin: given the candidates, a Credential (picked), a built-in strategy
# name to delegate to, or None for the configured strategy; raising denies the pick
PluginScheduler = Callable[[Sequence[Credential]], Awaitable["Credential | str | None"]]
_MAX_GROUPS = 4096


class CooldownStore(Protocol):
    """Where cooldowns are persisted (``save-cooldown-status``); see :mod:`.persist`."""

    def save(self, cred: Credential, records: Sequence[CooldownRecord]) -> None:
        """Replace the stored records of ``cred`` (an empty list removes them)."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What :meth:`Pool.mark_failure` decided.

    ``cooldown_seconds`` is 0 when the credential was not cooled; ``scope`` is
    ``model``, ``credential`` (every model of the credential) or ``none``;
    ``request_fault`` means the client's request was at fault; ``stop`` means the
    error goes back to the client without trying another credential.
    """

    status: int
    kind: str
    cooldown_seconds: float = 0.0
    reason: str = ""
    request_fault: bool = False
    stop: bool = False
    scope: str = "none"
    action: str = ""


@dataclass(frozen=True, slots=True)
class _Group:
    creds: tuple[Credential, ...]  # sorted by id
    top: tuple[Credential, ...]  # the highest priority tier when nothing is filtered
    single_tier: bool
    rotation_key: str
    provider: str  # for CooldownError; "" over a mixed pool


class Pool:
    """Credential selection and cooldown bookkeeping over a :class:`StateBackend`."""

    def __init__(
        self,
        state: StateBackend | None = None,
        strategy: str = "round-robin",
        session_affinity: bool = False,
        affinity_ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
        disable_cooling: bool = False,
        transient_cooldown: int = 0,
        store: CooldownStore | None = None,
    ) -> None:
        self.state: StateBackend = state if state is not None else MemoryState(clock=clock)
        self.clock = clock
        self.store = store
        self.quota = QuotaSteering(self.state, clock)  # routing.quota-steering (headroom.py)
        self.steering = 0.0  # its threshold in used percent; 0: off, one float test per pick
        # told the id of every credential a failure cools (routing.probe); None: off
        self.on_cool: Callable[[str], None] | None = None
        self.owners = Owners()  # credentials that serve one client key alone (AI Studio relays)
        self._creds: dict[str, Credential] = {}
        self._sorted: tuple[Credential, ...] = ()
        self._revived: set[str] = set()  # re-enabled by a reload: their cooldowns go (forget_refusals)
        self._departed = Departures()  # gone for good: a return starts without cooldowns
        self._cooling_was_off = disable_cooling  # disable-cooling at the last replace (reloaded.py)
        # cred id -> models it answered or cooled for (CPA's ModelStates keys): ``unavailable``
        # in a listing is whether all of them block (listing.py); a success adds its model
        self.served = Served(self.state)  # (shared through the state backend: served.py)
        # some credential has its own request-retry (CPA's per-credential retry windows)
        self.retry_overrides = False
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._model_keys: dict[str, str] = {}  # model -> model_key(model), memoized
        # the memory backend's own cooldown table (the same dict, never replaced): while it
        # is empty nothing cools, and a pick or a success reads no cooldown at all (read only)
        self.cooling = self.state.cooldown_map if type(self.state) is MemoryState else None
        self._cursor: Callable[[str], int] | None = None  # round-robin on the memory backend
        self._cursors: dict[str, int] | None = None  # and its cursors, to advance in place
        self.configure(
            strategy=strategy,
            session_affinity=session_affinity,
            affinity_ttl=affinity_ttl,
            disable_cooling=disable_cooling,
            transient_cooldown=transient_cooldown,
        )

    @classmethod
    def from_config(
        cls,
        cfg: Any,
        state: StateBackend | None = None,
        clock: Callable[[], float] = time.time,
        store: CooldownStore | None = None,
    ) -> Pool:
        """A pool set up from a :class:`cliproxy.config.Config` (no credentials yet)."""
        pool = cls(state=state, clock=clock, store=store)
        pool.apply_config(cfg)
        return pool

    def apply_config(self, cfg: Any) -> None:
        """Take the routing and cooling settings of a (reloaded) config."""
        routing = cfg.routing
        self.configure(
            strategy=routing.strategy,
            session_affinity=routing.session_affinity,
            affinity_ttl=routing.session_affinity_ttl_seconds,
            disable_cooling=cfg.disable_cooling,
            transient_cooldown=cfg.transient_error_cooldown_seconds,
            quota_steering=routing.quota_steering,
        )

    def configure(
        self,
        *,
        strategy: str | None = None,
        session_affinity: bool | None = None,
        affinity_ttl: float | None = None,
        disable_cooling: bool | None = None,
        transient_cooldown: int | None = None,
        quota_steering: float | None = None,
    ) -> None:
        """Change settings in place; state (cursors, cooldowns, bindings) is kept."""
        if quota_steering is not None:
            self.steering = self.quota.threshold = max(0.0, float(quota_steering))
        if strategy is not None:
            self.strategy_name = strategy
            self.strategy: Strategy = strategy_for(strategy)
            # round-robin over the memory backend: its cursor advanced without a coroutine
            local = type(self.strategy) is RoundRobin and type(self.state) is MemoryState
            self._cursor = self.state.next_cursor_now if local else None  # type: ignore[attr-defined]
            self._cursors = self.state.cursor_map if local else None  # type: ignore[attr-defined]
        if session_affinity is not None:
            self.session_affinity = session_affinity
        if affinity_ttl is not None:
            self.affinity_ttl = affinity_ttl
        self.affinity = SessionAffinity(self.strategy, self.affinity_ttl) if self.session_affinity else None
        if disable_cooling is not None:
            self.disable_cooling = disable_cooling
        if transient_cooldown is not None:
            self.transient_cooldown = transient_cooldown
        self._groups.clear()

    # credentials ---------------------------------------------------------------

    def replace(self, credentials: Iterable[Credential]) -> list[str]:
        """Swap the credential set (hot reload). State stays keyed by id, so a
        credential whose id is stable keeps its cooldowns; one gone for good
        (:func:`.reloaded.gone_for_good`) loses its ``.cds`` file, and its cooldowns too.

        Returns the ids whose tokens changed (a new sign-in over an old file, a refresh),
        that are or were disabled, whose cooling was just turned off or that left for good:
        hand them to :meth:`forget_refusals`."""
        old = self._creds
        creds = {c.id: c for c in credentials}
        self._creds = creds
        self._sorted = tuple(sorted(creds.values(), key=lambda c: c.id))
        self.retry_overrides = any(c.request_retry is not None for c in self._sorted)
        self._groups.clear()
        changed = changed_ids(old, creds, self._revived, self._cooling_was_off, self.disable_cooling)
        self._cooling_was_off = self.disable_cooling
        # the .cds files of those gone for good go; those back after that start fresh
        return changed + self._departed.update(old, creds, self._revived, self.store)

    async def forget_refusals(self, ids: Iterable[str]) -> list[str]:
        """Drop the cooldowns ``ids`` earned by their old tokens being refused (401/403):
        new tokens deserve a fresh try; a quota (one a refusal carried too) stays, the
        account's own (CPA keeps them all, up to 30 minutes after a re-login). One disabled,
        or until this reload, keeps none (CPA's Update inherits model states only from
        active to active). Returns the ids cleared."""
        cleared = []
        for key in ids:
            cred = self._creds.get(key)
            fresh = key in self._revived or (cred is not None and cred.disabled)
            self._revived.discard(key)
            if fresh or cred is None:  # CPA carries model states only from active to active
                await self.served.forget(key)
            for rec in await self.state.credential_cooldowns(key):
                status = (rec.last_error or {}).get("http_status")
                if fresh or status in (401, 403):
                    if (kept := None if fresh else quota_only(rec, self.clock())) is None:
                        await self.state.delete_cooldown(key, rec.model)
                    else:  # a running quota the refusal carried (next_record) stays
                        await self.state.set_cooldown(kept)
                    cleared.append(key)
            if fresh and cred is not None and key in cleared:
                await self._persist(cred)
        return cleared

    def credentials(self) -> tuple[Credential, ...]:
        """Every credential, sorted by id (disabled ones included)."""
        return self._sorted

    def get(self, key: str) -> Credential | None:
        """A credential by id or by ``auth_index``."""
        found = self._creds.get(key)
        if found is None:
            found = next((c for c in self._sorted if c.index == key), None)
        return found

    def providers(self) -> list[str]:
        """Sorted distinct providers of enabled credentials (CPA's ``AvailableProviders``)."""
        return sorted({c.provider for c in self._sorted if not c.disabled})

    def _group(
        self, model: str, mk: str, providers: Sequence[str] | None, supports: Supports | None
    ) -> _Group:
        key = (model, tuple(providers) if providers is not None else None, supports)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= _MAX_GROUPS:
                self._groups.clear()
            group = self._groups[key] = self._build_group(model, mk, providers, supports)
        return group

    def _build_group(
        self, model: str, mk: str, providers: Sequence[str] | None, supports: Supports | None
    ) -> _Group:
        # ``supports`` is asked about the model as registered: an alias that carries a
        # thinking suffix (``public(low)``) is served under that id, not its cooldown key
        wanted = {p.strip().lower() for p in providers} if providers is not None else None
        positive = self.strategy.positive_weights_only
        creds = tuple(
            c
            for c in self._sorted
            if not c.disabled
            and (wanted is None or c.provider in wanted)
            and (not positive or c.weight > 0)
            and (supports is None or supports(c, model))
        )
        top = _top_tier(creds)
        single = wanted is not None and len(wanted) == 1
        provider = next(iter(wanted)) if single and wanted else ""
        rotation = f"{provider}:{mk}" if single else f"mixed:{mk}"
        return _Group(creds, top, len(top) == len(creds), rotation, provider)

    def retry_windows(
        self, model: str, providers: Sequence[str] | None, supports: Supports | None, default: int
    ) -> dict[str, int]:
        """How many retry rounds each candidate for ``model`` takes part in: its own
        ``request-retry`` when it has one, else ``default`` (the global one). A credential
        sits out round ``n`` when its number is below ``n``, as CPA's retry rounds do."""
        wanted = {p.strip().lower() for p in providers} if providers is not None else None
        return {
            c.id: default if c.request_retry is None else c.request_retry
            for c in self._sorted
            if not c.disabled
            and (wanted is None or c.provider in wanted)
            and (supports is None or supports(c, model))
        }

    # selection -----------------------------------------------------------------

    async def pick(
        self,
        model: str,
        providers: Sequence[str] | None = None,
        tried: Collection[str] = (),
        session_key: str | None = None,
        supports: Supports | None = None,
        session_fallback_key: str = "",
        scheduler: PluginScheduler | None = None,
        prefer: Callable[[Credential], bool] | None = None,
    ) -> Credential:
        """The credential for the next attempt at ``model``.

        ``providers`` limits the pool (None = every provider); ``tried`` holds ids
        already used in this round; ``supports(cred, model)`` filters credentials that
        cannot serve the model (pass a stable function: results are cached per
        function). ``prefer``: when some available credentials pass it, the pick is made
        among them alone, at the highest priority one of them has (CPA's preference of
        websocket-enabled credentials for a Responses WebSocket client), with a rotation of
        its own. Raises :class:`CooldownError` when every candidate is cooling (with the
        earliest reset) and :class:`NoCredentialError` when none exists.
        """
        mk = self._model_keys.get(model) or self._model_key(model)
        group = self._groups.get((model, tuple(providers) if providers is not None else None, supports))
        if group is None:
            group = self._group(model, mk, providers, supports)
        if NOTES.get() is not None:  # routing explain: why each candidate is passed over
            await self._note_skips(model, mk, providers, tried, supports)
        if not group.creds:
            raise NoCredentialError(model, list(providers or ()))
        available: Sequence[Credential] = group.creds
        tier: Sequence[Credential] = group.top
        local = self.cooling
        if local is None or local or tried:  # something may cool, or some were tried
            model_cd = await self.state.get_cooldowns(mk)
            cred_cd = await self.state.get_cooldowns("")
            if model_cd or cred_cd or tried:
                available = self._available(group, model, providers, tried, model_cd, cred_cd, self.clock())
                if available is not group.creds:
                    tier = available if group.single_tier else _top_tier(available)
        rotation = group.rotation_key
        if prefer is not None and (preferred := [c for c in available if prefer(c)]):
            available, tier, rotation = preferred, _top_tier(preferred), rotation + ":preferred"
        if scheduler is not None:  # a scheduler plugin sees the top tier of available candidates
            choice = await scheduler(tier)
            if isinstance(choice, Credential):
                return choice
            if isinstance(choice, str):
                return await strategy_for(choice).choose(self.state, rotation, tier)
        if self.steering and len(tier) > 1:  # prefer the tier's credentials with headroom left
            tier = await self.quota.steer(tier)
        if self.affinity is not None and session_key:
            ns = rotation.split(":", 1)[0]
            keys = (
                f"{ns}::{session_key}::{mk}",
                f"{ns}::{session_fallback_key}::{mk}"
                if session_fallback_key and session_fallback_key != session_key
                else "",
            )
            return await self.affinity.choose_bound(self.state, keys, available, tier, rotation)
        cursors = self._cursors
        if cursors is not None:  # RoundRobin.choose, without its two coroutines nor a call
            key = rotation
            index = cursors.get(key)
            if index is None or index >= CURSOR_WRAP:  # a new key or one to wrap: as it says
                assert self._cursor is not None
                index = self._cursor(key)
            else:  # MemoryState.next_cursor_now's common case, in place
                cursors[key] = index + 1
            return tier[index % len(tier)]
        return await self.strategy.choose(self.state, rotation, tier)

    def _model_key(self, model: str) -> str:
        keys = self._model_keys
        if len(keys) >= _MAX_GROUPS:
            keys.clear()
        mk = keys[model] = model_key(model)
        return mk

    def _available(
        self,
        group: _Group,
        model: str,
        providers: Sequence[str] | None,
        tried: Collection[str],
        model_cd: Any,
        cred_cd: Any,
        now: float,
    ) -> Sequence[Credential]:
        blocked: dict[str, float] = {}
        for table in (cred_cd, model_cd):
            for cid, record in table.items():
                until = record.until()
                if until > now and until > blocked.get(cid, 0.0):
                    blocked[cid] = until
        if not blocked and not tried:
            return group.creds
        available = [c for c in group.creds if c.id not in blocked and c.id not in tried]
        if available:
            return available
        waits = [blocked[c.id] for c in group.creds if c.id not in tried]
        if waits:  # every untried candidate is cooling
            raise CooldownError(model, max(0.0, min(waits) - now), group.provider)
        raise NoCredentialError(model, list(providers or ()))

    async def _note_skips(
        self,
        model: str,
        mk: str,
        providers: Sequence[str] | None,
        tried: Collection[str],
        supports: Supports | None,
    ) -> None:
        cooldowns = (await self.state.get_cooldowns(""), await self.state.get_cooldowns(mk))
        positive, now = self.strategy.positive_weights_only, self.clock()
        states = explain_states(
            self._sorted,
            providers,
            model,
            supports,
            positive_only=positive,
            tried=tried,
            cooldowns=cooldowns,
            now=now,
        )
        for c in states:
            if c.state != "available":
                note_skip(c.cred.id, c.state, c.detail, c.until)

    async def next_available_in(
        self,
        model: str,
        providers: Sequence[str] | None = None,
        tried: Collection[str] = (),
        supports: Supports | None = None,
    ) -> float | None:
        """Seconds until a candidate worth a retry round is free: 0 when one is free now,
        None when none exists (:mod:`.rounds` says which cooling ones count)."""
        mk = model_key(model)
        group = self._group(model, mk, providers, supports)
        creds = [c for c in group.creds if c.id not in tried]
        model_cd = await self.state.get_cooldowns(mk)
        return next_round_in(creds, model_cd, await self.state.get_cooldowns(""), self.clock())

    # results -------------------------------------------------------------------

    def succeeded(self, cred: Credential, model: str) -> Awaitable[None] | None:
        """:meth:`mark_success` to await, or ``None`` when it has nothing to do (the memory
        backend holds no cooldown record at all): the caller then awaits nothing."""
        local = self.cooling
        if local is not None and not local:
            return None
        return self.mark_success(cred, model)

    async def mark_success(self, cred: Credential, model: str) -> None:
        """A request succeeded: clear the model's cooldown and back-off level.

        An active credential-wide quota cooldown is kept, as CPA does.
        """
        mk = self._model_keys.get(model) or self._model_key(model)
        wide = await self.state.get_cooldown(cred.id, "")
        if wide is not None and wide.quota_reason == "credential_quota" and wide.blocks(self.clock()):
            return
        changed = await self.state.delete_cooldown(cred.id, mk) if mk else False
        if wide is not None:
            changed = await self.state.delete_cooldown(cred.id, "") or changed
        if changed:
            await self._persist(cred)

    async def mark_failure(
        self,
        cred: Credential,
        model: str,
        status: int,
        retry_after: float | None = None,
        body: bytes | str = b"",
        now: float | None = None,
        credential_scoped: bool = False,
        session_key: str | None = None,
        providers: Sequence[str] | None = None,
        oversized: bool = False,
    ) -> Decision:
        """Apply CPA's cooldown table to a failed attempt and say what was decided.

        ``credential_scoped`` marks a 429 that exhausts the whole account (every
        model cools). Honours ``disable-cooling`` (global, then per credential) and
        the credential's request-scoped error rules. With session affinity on, pass
        the request's ``session_key`` and ``providers`` to release its binding;
        ``oversized``, the provider's verdict that the request alone is over the limit."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        failure = classify(status, text, cred.request_scoped_errors, oversized)
        if not failure.cools:
            return Decision(
                status,
                failure.kind,
                request_fault=failure.kind == "request_fault",
                stop=failure.stop,
                action=failure.action,
            )
        now = self.clock() if now is None else now
        mk = model_key(model)
        self.served[cred.id].add(mk)
        disable = self.disable_cooling if cred.disable_cooling is None else cred.disable_cooling
        prev = await self.state.get_cooldown(cred.id, mk)
        event = CooldownInput(
            status, failure, text.strip(), retry_after, disable, transient_seconds(self.transient_cooldown)
        )
        record = next_record(prev, CooldownRecord(cred.id, mk, cred.provider), event, now)
        until = record.until()
        if until > now or record.backoff_level or prev is not None:
            await self.state.set_cooldown(record)
        scope = ("model" if mk else "credential") if until > now else "none"
        if credential_scoped and status == 429 and until > now and mk:
            await self._cool_credential(cred, until, now)
            scope = "credential"
        if self.on_cool is not None and until > now:
            self.on_cool(cred.id)
        if session_key and self.affinity is not None:
            ns = (
                providers[0].strip().lower()
                if providers is not None and len(set(providers)) == 1
                else "mixed"
            )
            await self.state.delete_binding(f"{ns}::{session_key}::{mk}", cred.id)
        await self._persist(cred)
        return Decision(
            status,
            failure.kind,
            max(0.0, until - now),
            record.reason,
            False,
            failure.stop,
            scope,
            failure.action,
        )

    async def _cool_credential(self, cred: Credential, until: float, now: float) -> None:
        wide = await self.state.get_cooldown(cred.id, "")
        if wide is not None and wide.quota_exceeded:
            until = max(until, wide.next_recover_at)
        await self.state.set_cooldown(
            CooldownRecord(
                cred.id,
                "",
                cred.provider,
                next_retry_after=until,
                reason="credential_quota",
                status_message="credential_quota",
                quota_exceeded=True,
                quota_reason="credential_quota",
                next_recover_at=until,
                updated_at=now,
            )
        )

    async def clear_cooldown(self, cred: Credential, model: str) -> bool:
        """Remove one cooldown record of ``cred`` (``model`` ``""``: the credential-wide
        one), as a successful half-open probe does; True when there was one."""
        changed = await self.state.delete_cooldown(cred.id, model_key(model))
        if changed:
            await self._persist(cred)
        return changed

    async def reset_quota(self, key: str | None = None) -> list[str]:
        """Clear every cooldown of one credential (by id or ``auth_index``), or of all.

        Returns the ids of the credentials whose state was cleared.
        """
        if key is None:
            cleared = await self.state.clear_cooldowns(None)
        else:
            cred = self.get(key)
            if cred is None:
                return []
            cleared = await self.state.clear_cooldowns(cred.id)
        for cid in cleared:
            if (cred := self._creds.get(cid)) is not None:
                await self._persist(cred)
        return cleared

    async def cooldowns(self, cred: Credential) -> list[CooldownRecord]:
        """The credential's records that still block at this moment."""
        now = self.clock()
        return [r for r in await self.state.credential_cooldowns(cred.id) if r.blocks(now)]

    async def _persist(self, cred: Credential) -> None:
        if self.store is not None:
            self.store.save(cred, await self.cooldowns(cred))


def _top_tier(creds: Sequence[Credential]) -> tuple[Credential, ...]:
    if not creds:
        return ()
    best = max(c.priority for c in creds)
    return tuple(c for c in creds if c.priority == best)
