"""The running proxy: the current config snapshot and everything derived from it.

The service owns the config watcher and rebuilds derived state (access policy,
credentials, model registry) on every good reload, swapping whole objects so a request
sees one consistent snapshot. Runtime state that must survive a reload (cooldowns,
cursors, affinity) lives in the pool's state backend, keyed by stable credential ids.
The HTTP layer (``cliproxy.server``) only reads what is here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Coroutine
from pathlib import Path
from typing import Any

from cliproxy import announce
from cliproxy.access import KEY_POLICY, HashCheckNeeded, Principal, extract_key
from cliproxy.config import AuthChanges, Config, ConfigDocument, ConfigWatcher
from cliproxy.config.changes import log_changes
from cliproxy.credentials import sources
from cliproxy.credentials.filecache import AuthFileCache
from cliproxy.credentials.owners import CALLER, plugin_caller
from cliproxy.credentials.persist import CdsStore, restore
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.probe import Prober
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import Refresher
from cliproxy.credentials.storage import add_write_listener
from cliproxy.credentials.stores.link import marks, store_link
from cliproxy.errors import AccessError
from cliproxy.formats import Format
from cliproxy.management.auth import ManagementGate
from cliproxy.media import Videos
from cliproxy.models.catalog import Catalog, ModelInfo
from cliproxy.models.listing import suspensions
from cliproxy.models.registry import ModelRegistry
from cliproxy.models.remote import CatalogUpdater, local_urls
from cliproxy.models.shaping import Shaper
from cliproxy.pipeline import Pipeline
from cliproxy.pipeline_probe import ProbeSender
from cliproxy.plugins.binding import FileBinder
from cliproxy.plugins.callbacks import Callbacks
from cliproxy.plugins.compat_refresh import ScheduledRefresh
from cliproxy.plugins.host import PluginHost
from cliproxy.plugins.registration import register_models
from cliproxy.plugins.surface import ManagementTable, authenticate, frontend_providers
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.restore import restore_after_loss, restore_budgets
from cliproxy.policies.rules import build_access
from cliproxy.providers import account_pools, antigravity_hosts, codex_ws, impersonate
from cliproxy.providers import registry as providers
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.antigravity_version import HubVersion
from cliproxy.providers.http import HttpClient, proxy_key
from cliproxy.relay import RelayHub
from cliproxy.route_explain import settings as explain_settings
from cliproxy.service_catalog import CatalogLookups
from cliproxy.service_config import ConfigWrites
from cliproxy.service_mirrors import Mirrors
from cliproxy.state.factory import close_state, open_state, shared, start_state
from cliproxy.state.memory import MemoryState
from cliproxy.translate.registry import default_registry
from cliproxy.usage import recorder_of
from cliproxy.usage.shared import close_usage, share_usage
from cliproxy.usage.stats import ledger_files

__all__ = ["Service"]

log = logging.getLogger(__name__)

BIND_WAIT = 10.0  # seconds a management write waits for its plugin auth files to be bound


class Service:
    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        *,
        watch: bool = True,
        poll_interval: float | None = None,
        token_urls: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        model_updates: bool = False,
        version_updates: bool = False,
    ) -> None:
        """``model_updates``: fetch CPA's remote ``models.json`` at start and every 3
        hours (``cliproxy serve`` turns it on unless ``-local-model``). ``version_updates``:
        keep the Antigravity client version current from the Antigravity Hub's manifest
        (``cliproxy serve`` turns it on, as CPA does even with ``-local-model``)."""
        self.config_path = config_path
        self.catalog_updater: CatalogUpdater | None = None
        self._model_updates = model_updates
        self._version_updates = version_updates
        self.config = config
        self.access = build_access(config)
        self._watch = watch and config_path is not None
        self._poll_interval = poll_interval
        self._watcher: ConfigWatcher | None = None
        self._unlisten: Callable[[], None] | None = None
        self.reloads = 0
        self.auth_files: set[Path] = set()
        self.auth_cache = AuthFileCache()  # auth files as last read: a reload reads the changed ones
        self.http = HttpClient()
        self._apply_upstream_timeouts(config)
        # read once: a change of state.* takes effect after a restart
        self.state = open_state(config.state.backend, config.state.url, config.state.prefix, clock)
        self.pool = Pool.from_config(config, clock=clock, store=self._cds_store(config), state=self.state)
        # management's config edits, and those another process publishes (cliproxy.service_config)
        bus = shared(self.state)
        self._store = store_link()  # a token store's mirror process: pulls on other hosts' pushes
        self.config_writes = ConfigWrites(config_path, bus, self._on_config, lambda: self._watcher)
        if bus is not None:  # config edits made through another process
            bus.on_event("config", self.config_writes.on_remote)
            bus.on_event("auth", self._on_remote_auth)
        self.models = ModelRegistry(Catalog.load())
        # built now, after the environment is final: each reads its endpoint URLs once
        self.providers = providers.Providers()
        self.providers.configure(config)
        # what providers read from the model catalog per request (cliproxy.service_catalog)
        self.lookups = CatalogLookups(self.models)
        self.lookups.wire(self.providers)
        # AI Studio through browsers connected on /v1/ws (cliproxy.relay)
        self.relay = RelayHub(on_change=self._relay_changed, owners=self.pool.owners)
        self.relay.share(config.ws_relay_serves == "all-keys")
        aistudio = self.providers.get("aistudio")
        if aistudio is not None:
            aistudio.transport = self.relay
        # Claude Code's TLS hello for api.anthropic.com, Chrome's for chatgpt.com (CPA's uTLS)
        self._tls = impersonate.install(self.providers, self.http)
        # and the Claude OAuth hello for token refreshes on platform.claude.com (CPA's uTLS)
        self._token_client = impersonate.token_client(self.http)
        # Antigravity: the daily Cloud Code host first, production when it is busy (CPA)
        antigravity_hosts.install(self.providers, self.http)
        # Codex and xAI over their Responses WebSocket, for clients on ours (cliproxy.responses_ws)
        self.ws_upstream = codex_ws.install(self.providers, self.http)
        self.refresher: Refresher | None = None
        self.prober: Prober | None = None  # routing.probe (None: off, no task)
        self.pipeline = Pipeline(
            pool=self.pool,
            models=self.models,
            providers=self.providers,
            http=self.http,
            translations=default_registry(),
            config=config,
        )
        self._token_urls = token_urls
        self.videos = Videos(self)  # /v1/videos and /openai/v1/videos (cliproxy.media)
        self.pipeline.shaper = Shaper(self.models, config.payload)
        self.pipeline.enforcer.prices = PriceTable(config.model_prices)
        self.pipeline.agent_models = self.lookups.agent_models  # codex.optimize-multi-agent-v2
        self.plugins = PluginHost()
        self.plugins.callbacks = Callbacks(self.plugins, self)
        # plugin-provider auth files reach the pool only once their plugin has bound them
        self._binder = FileBinder(self.plugins, lambda: self.config, self.pool.credentials, self._swap_bound)
        self.bind_wait = BIND_WAIT
        self.plugin_routes = ManagementTable()
        self.frontend: tuple[Any, ...] = ()
        self._frontend_exclusive = False
        self.management = ManagementGate()
        if (bus := shared(self.state)) is not None:  # a management ban holds in every process
            self.management.on_ban = lambda ip, seconds: self._background(
                bus.publish("ban", ip=ip, seconds=seconds)
            )
            bus.on_event("ban", self._on_remote_ban)
        self._plugin_creds: list[Credential] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._key_notes = announce.KeyNotes()
        self._mirrors = Mirrors()  # caches shared between workers (cliproxy.service_mirrors)

    # -- lifecycle

    async def start(self) -> None:
        await start_state(self.state)
        rec = recorder_of(self)
        if (bus := shared(self.state)) is not None:  # usage counters and queue in Redis
            share_usage(rec, bus)
            if (link := self._store) is not None:  # the mirror pushed (tell the hosts) or pulled
                pushed = lambda: bus.publish("auth", **marks(link), pushed=True)  # noqa: E731
                link.listen(pushed, lambda: self._background(self.reload_auth_files()))
                bus.on_resubscribe(link.missed)  # another host's push notice may have been missed
            self._mirrors.start(bus, self.pipeline, self.providers)  # the caches a turn needs
            prices = lambda: self.pipeline.enforcer.prices  # noqa: E731
            bus.loss.on_loss(restore_after_loss(rec.stats, lambda: self.config, bus, prices))
            bus.loss.start()  # Redis that lost its data gets budgets and counters back
        if isinstance(self.state, MemoryState):  # key budgets of this period (Redis keeps its own)
            enforcer = self.pipeline.enforcer
            await restore_budgets(rec.stats.ledger, self.config, self.state, enforcer.prices, time.time())
        announce.access(self.access, self.config)
        self._key_notes.announce(self.config)
        await self.auth_cache.update(self.auth_dir, self.config)
        self._load_credentials(scanned=True)
        if self.config.save_cooldown_status:
            restored = await restore(self.pool, self.auth_dir)
            if restored:
                log.info("restored %d cooldown record(s)", restored)
        self._start_refresher()
        self._switch_prober()
        if self._model_updates or local_urls():
            updater = self.catalog_updater = CatalogUpdater(lambda: self.models.catalog, self._apply_catalog)
            self.lookups.codex_templates = lambda: updater.codex_templates  # spawn_agent's model list
            if self._model_updates:
                updater.start()
            else:  # -local-model: a Codex client catalog on disk still loads (CPA: its built-in one)
                await updater.load_local()
        antigravity = self.providers.get("antigravity")
        if self._version_updates and isinstance(antigravity, AntigravityProvider):  # in the background
            antigravity.version.start(self.http, lambda: proxy_key("", self.config.proxy_url))
        await self._apply_plugins()
        if self._watch and self.config_path is not None:
            kwargs = {} if self._poll_interval is None else {"poll_interval": self._poll_interval}
            self._watcher = ConfigWatcher(
                self.config_path,
                self.auth_dir,
                on_config=self._on_config,
                on_auth=self._on_auth,
                on_error=self._on_error,
                config=self.config,
                own_files=ledger_files(self.config),
                **kwargs,
            )
            await self._watcher.start()
            self._unlisten = add_write_listener(self._watcher.note_auth_written)

    async def stop(self) -> None:
        if self._store is not None:
            self._store.stop()
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if self.refresher is not None:
            await self.refresher.stop()
        if self.prober is not None:
            await self.prober.stop()
            self.prober = None
        if self.catalog_updater is not None:
            await self.catalog_updater.stop()
        if isinstance(antigravity := self.providers.get("antigravity"), AntigravityProvider):
            await antigravity.version.stop()
        await self._binder.close()
        await self.plugins.shutdown()
        await self.ws_upstream.close()
        await self.http.close()
        for router in self._tls:
            await router.close()
        if self._token_client is not None:
            await self._token_client.close()
        await close_usage(getattr(self, "recorder", None))  # flush what waits for Redis
        await self._mirrors.close()
        if (recorder := getattr(self, "recorder", None)) is not None:
            recorder.close()
        await close_state(self.state)

    def _start_refresher(self) -> None:
        self.refresher = Refresher(
            self.pool,
            self.http,
            token_urls=self._token_urls,
            global_proxy=self.config.proxy_url or "",
            token_client=self._token_client,
            own_client=account_pools.clients_of(self.providers),  # Antigravity's accounts
            workers=self.config.auth_auto_refresh_workers,
        )
        self.refresher.delegate = ScheduledRefresh(self.pipeline)  # plugins' OpenAI-compatible credentials
        self.pipeline.refresher = self.refresher
        self.refresher.start()

    def _switch_prober(self) -> None:
        """``routing.probe.enabled``: the half-open prober runs; off, there is no task at all."""
        enabled = self.config.routing.probe.enabled
        if enabled and self.prober is None:
            self.prober = Prober(self.pool, ProbeSender(self.pipeline), lambda: self.config.routing.probe)
            self.prober.start()
        elif not enabled and self.prober is not None:
            self.prober.cancel()  # no probe from now on; the task ends on its own
            self.prober = None

    @property
    def auth_dir(self) -> Path:
        return Path(self.config.auth_dir).expanduser()

    @property
    def antigravity_version(self) -> HubVersion:
        """The Antigravity provider's client version (the Hub's while it is kept current)."""
        antigravity = self.providers.get("antigravity")
        return antigravity.version if isinstance(antigravity, AntigravityProvider) else HubVersion()

    async def _apply_plugins(self) -> None:
        await self.plugins.apply_config(self.config.plugins)
        # no active plugin: the pipeline skips every plugin seam with one `is None` test
        self.pipeline.plugins = self.plugins if self.plugins.snapshot else None
        self.frontend, self._frontend_exclusive = await frontend_providers(self.plugins)
        await self.plugin_routes.rebuild(self.plugins, reserved=set())
        natives, served = self._served_natively()
        declared = await register_models(self.plugins, self.config, native=natives, served=served)
        creds, added = declared.credentials, declared.provider_models
        if (
            creds
            or self._plugin_creds
            or self._binder.waiting
            or self._binds_files()
            or added
            or self.models.provider_models
        ):
            self._plugin_creds = creds
            self.models.provider_models = added
            self._load_credentials(scanned=True)  # every caller brought the auth files up to date
            await self.settle_credentials()
        self._binder.report_unserved()  # (the plugins are loaded now: one may serve a type)

    def _served_natively(self) -> tuple[set[str], set[str]]:
        """The providers of credentials other than plugins', and the models they serve of
        their own (none a plugin added): a plugin executor of such a provider gets no
        credential, and none claims such a model (CPA's providerHasNativeExecutor,
        modelHasNativeExecutor)."""
        providers: set[str] = set()
        served: set[str] = set()
        if not self.plugins.snapshot:
            return providers, served
        added = {m.id for infos in self.models.provider_models.values() for m in infos}
        for cred in self.pool.credentials():
            if not cred.attributes.get("plugin"):
                providers.add(cred.provider.strip().lower())
                served.update(info.id for info in self.models.models_for(cred) if info.id not in added)
        return providers, served

    def _binds_files(self) -> bool:
        # a plugin executor's files, or an auth provider's the OpenAI-compatible provider serves
        plugins = self.plugins
        return self.pipeline.plugins is not None and (plugins.any("executor") or plugins.any("auth_provider"))

    def _swap_bound(self, bound: list[Credential], paths: set[Path]) -> None:
        """The credentials plugins made of the auth files ``paths`` replace theirs in the pool."""
        kept = [c for c in self.pool.credentials() if c.path not in paths]
        if renewed := self.pool.replace([*kept, *bound]):
            self._background(self.pool.forget_refusals(renewed))
        self.models.rebuild(self.pool.credentials(), self.config)
        if self.refresher is not None:  # the plugin may have set when they are due
            self.refresher.wake()

    async def settle_credentials(self, paths: Collection[Path] | None = None) -> None:
        """Wait, ``bind_wait`` seconds at most, until the plugin-provider auth files the last
        reload read (of ``paths`` only, when given) are bound; a plugin that takes longer
        is logged and finishes later."""
        if not await self._binder.settle(self.bind_wait, paths):
            log.warning(
                "plugin auth files still being bound after %g s; their previous credentials serve meanwhile",
                self.bind_wait,
            )
        self._binder.report_unserved()

    async def authenticate(self, method: str, path: str, headers: Any, query: Any, body: bytes) -> Principal:
        """Client access when frontend-auth plugins are active (else the sync key check runs)."""
        failure: AccessError | None = None
        if not self._frontend_exclusive and self.access.required:
            try:
                return self.access.check(headers, query)
            except HashCheckNeeded as needed:  # a bcrypt-hashed key: checked off the loop
                try:
                    return await self.access.verify(needed)
                except AccessError as exc:
                    failure = exc
            except AccessError as exc:
                failure = exc
        principal = await authenticate(
            self.plugins, self.frontend, method=method, path=path, headers=headers, query=query, body=body
        )
        if principal is not None:  # the relays' caller (credentials.owners); "plugin:<id>": none named
            anonymous = any(principal == f"plugin:{rec.id}" for rec in self.frontend)
            CALLER.set(plugin_caller(None if anonymous else principal))
            return Principal(principal, "plugin")
        raise failure or AccessError("Invalid API key" if extract_key(headers, query) else "Missing API key")

    # -- credentials

    def reload_credentials(self) -> None:
        """Re-read credentials now (after a write into auth-dir).

        The watcher takes the directory as seen first, so it does not report these
        files again; anything changed after that is still reported."""
        self._reload_auth()
        if (bus := shared(self.state)) is not None:  # the others re-read the (shared) auth-dir
            self._background(bus.publish("auth", **marks(self._store)))

    async def reload_auth_files(self) -> None:
        """:meth:`reload_credentials` with the auth files looked at in worker threads."""
        await self._on_remote_auth()
        if (bus := shared(self.state)) is not None:
            self._background(bus.publish("auth", **marks(self._store)))

    def _reload_auth(self, _message: object = None, *, scanned: bool = False) -> None:
        if self._watcher is not None and not scanned:
            self._watcher.resync_auth()
        self._load_credentials(scanned=scanned)
        if self.refresher is not None:
            self.refresher.wake()
        self._usage_refresh()

    async def _on_remote_auth(self, _message: object = None) -> None:
        """Another process wrote into the (shared) auth-dir: its files are read in a thread.
        Another host's push to the token store is pulled first (read once it is here)."""
        if self._store is not None and self._store.answered(_message):
            return
        if self._watcher is not None:  # first: what changes after this is still reported
            await self._watcher.resync_auth_off_loop()
        await self.auth_cache.update(self.auth_dir, self.config)
        self._reload_auth(scanned=True)

    def _usage_refresh(self) -> None:
        """Tell ``SUBSCRIBE usage`` clients the credentials changed (CPA's NotifyUsageRefresh)."""
        queue = recorder_of(self).queue
        if queue.subscribers:
            queue.publish(b'{"refresh":true}')

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` on the loop, kept referenced until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cds_store(self, config: Config) -> CdsStore | None:
        return CdsStore(Path(config.auth_dir).expanduser()) if config.save_cooldown_status else None

    def _load_credentials(self, *, bind: bool = True, scanned: bool = False) -> None:
        """Rebuild every credential, reading only auth files that changed (none: ``scanned``,
        the cache is up to date). Plugin-provider files keep their previous credentials
        until their plugin executors have bound them (cliproxy.plugins.binding); ``bind``:
        start that now (else the caller's next load does; settle_credentials awaits it)."""
        creds: list[Credential] = sources.from_config(self.config)
        if not scanned:  # a caller that cannot await: every file stat'ed here, changed ones read
            self.auth_cache.refresh(self.auth_dir, self.config)
        live = {c.id: c for c in self.pool.credentials()}
        creds += self.auth_cache.credentials(self.config, _keeps_object, live)
        self.auth_files = self.auth_cache.paths
        creds += self._plugin_creds
        creds += self.relay.credentials()
        loaded = len(creds)
        if self._binds_files():
            creds = self._binder.stage(creds, None, start=bind)
        elif self._binder.waiting:
            self._binder.drop()
        if renewed := self.pool.replace(creds):  # a new sign-in revives a refused account
            self._background(self.pool.forget_refusals(renewed))
        self.models.rebuild(self.pool.credentials(), self.config)
        log.info("%d credential(s) loaded, %d model(s) served", loaded, len(self.models.listable()))
        self._binder.report_unserved()  # once the plugins have bound (or settle_credentials says it)

    def _relay_changed(self) -> None:
        """A relay client came or went: its runtime credential joins or leaves the pool."""
        kept = [c for c in self.pool.credentials() if c.source != "wsrelay"]
        if renewed := self.pool.replace([*kept, *self.relay.credentials()]):  # one gone: its cooldowns too
            self._background(self.pool.forget_refusals(renewed))
        self.models.rebuild(self.pool.credentials(), self.config)

    # -- config writes (management)

    async def edit_config(self, edit: Callable[[ConfigDocument], None], *, create: bool = False) -> Config:
        """Apply ``edit`` to the config file (comments kept), save it, reload at once.

        Writes are serialised, also with the host's other workers, and each starts from the
        file on disk, so concurrent writers never lose an edit. ``ConfigError`` leaves the
        file untouched. A config file deleted while the proxy runs is not recreated from
        memory (that would lose its comments and revive a file someone removed):
        ``ConfigFileMissingError`` (409), unless ``create`` (the edit writes a whole new
        document, as ``PUT config.yaml`` does). The watcher is told what was written, so it
        reports only changes made after it."""
        return await self.config_writes.edit(edit, create=create)

    def _on_remote_ban(self, message: dict[str, Any]) -> None:
        ip, seconds = message.get("ip"), message.get("seconds")
        if isinstance(ip, str) and isinstance(seconds, int | float):
            self.management.ban(ip, float(seconds))

    # -- model lists

    async def listable_models(self) -> list[ModelInfo]:
        """Models to list: those at least one credential can serve (quota-cooled ones stay),
        less those the caller's key may not use (its ``models`` globs)."""
        records = {c.id: await self.pool.cooldowns(c) for c in self.pool.credentials()}
        listed = self.models.listable(suspensions(records, time.time()))
        policy = KEY_POLICY.get()
        return listed if policy is None else [m for m in listed if policy.allows(m.id)]

    async def model_list(self, fmt: Format, client_version: str | None = None) -> dict[str, Any]:
        return self.lookups.model_list(await self.listable_models(), fmt, self.config, client_version)

    async def model_entry(self, fmt: Format, name: str) -> dict[str, Any] | None:
        return self.lookups.model_entry(await self.listable_models(), fmt, name)

    def _apply_catalog(self, catalog: Catalog, changed: list[str]) -> None:
        """A fetched remote catalog that differs: every credential's models again."""
        self.models.catalog = catalog
        self.models.rebuild(self.pool.credentials(), self.config)
        log.info(
            "model catalog updated (%s): %d model(s) served", ", ".join(changed), len(self.models.listable())
        )

    # -- reload

    def apply(self, config: Config, *, scanned: bool = False) -> None:
        """Swap in a new config snapshot (host and port changes need a restart).
        ``scanned``: the auth-file cache was brought up to date for ``config``'s auth-dir."""
        old = self.config
        announce.restart_needed(old, config)  # host, port and the listener's settings
        self.config = config
        if config.ws_auth and not old.ws_auth and len(self.relay):  # CPA drops unauthenticated relays
            self._background(self.relay.close_all("ws-auth enabled"))
        self.relay.share(config.ws_relay_serves == "all-keys")
        self.access = build_access(config)
        if (expel := self.relay.revoke(self.access)) is not None:  # relays of keys no longer listed
            self._background(expel)
        self.pool.apply_config(config)
        self.pool.store = self._cds_store(config)
        self.pipeline.config = config
        self.pipeline.explain = explain_settings(config.routing)  # routing.explain, explain-keys
        self.pipeline.concurrency.configure(config.routing)  # routing.max-concurrency, concurrency-queue
        self.providers.configure(config)
        self._apply_upstream_timeouts(config)
        self._load_credentials(bind=False, scanned=scanned)  # every caller applies plugins next, which binds
        self.pipeline.shaper = Shaper(self.models, config.payload)
        self.pipeline.enforcer.prices = PriceTable(config.model_prices)
        if self.refresher is not None:
            self.refresher.global_proxy = config.proxy_url or ""
            self.refresher.wake()
            self._switch_prober()  # started: routing.probe.enabled may have changed
        self.reloads += 1
        self._usage_refresh()  # also brings the recorder in step with the new config
        if self._watcher is not None:  # the ledger follows usage-ledger (recorder_of): so do its events
            self._watcher.own_files = ledger_files(config)
        if config.debug != old.debug:
            logging.getLogger("cliproxy").setLevel(logging.DEBUG if config.debug else logging.INFO)
        log_changes(old, config)  # field by field, secrets redacted, as CPA logs a reload
        log.info("config reloaded (%d client keys)", len(self.access.keys))
        announce.remote(self.access, self.config)
        self._key_notes.announce(self.config)

    def _apply_upstream_timeouts(self, config: Config) -> None:
        """``timeouts.upstream-*`` on the shared client (pipeline, token refresh, prepare)."""
        t = config.timeouts
        self.http.set_timeouts(
            connect=t.seconds("upstream_connect"),
            first_byte=t.seconds("upstream_first_byte"),
            idle=t.seconds("upstream_idle"),
        )
        self.http.set_upstream_http(config.upstream_http)

    async def _on_config(self, config: Config) -> None:
        await self.auth_cache.update(Path(config.auth_dir).expanduser(), config)  # off the loop
        self.apply(config, scanned=True)
        await self._apply_plugins()

    async def _on_auth(self, changes: AuthChanges) -> None:
        for kind, paths in (
            ("added", changes.added),
            ("changed", changes.changed),
            ("removed", changes.removed),
        ):
            for path in paths:
                log.info("auth file %s: %s", kind, path.name)
        # only the files named are read (in a thread, then kept); the rest stays as it is
        touched = [*changes.added, *changes.changed]
        found = await self.auth_cache.read(
            self.auth_dir, self.config, touched, changes.removed, _keeps_object, self.pool.credentials
        )
        creds = sources.swap_auth_files(self.pool.credentials(), found, changes.removed)
        if self._binds_files():  # plugin-provider files: once bound
            creds = self._binder.stage(creds, {*found, *changes.removed})
        renewed = self.pool.replace(creds)
        await self.pool.forget_refusals(renewed)  # a new sign-in revives a refused account
        self.auth_files = (self.auth_files | set(found)) - set(changes.removed)
        self.models.rebuild(self.pool.credentials(), self.config)
        await self.settle_credentials()
        if self.refresher is not None:
            self.refresher.wake()
        self._usage_refresh()

    def _on_error(self, exc: Exception) -> None:
        log.warning("config reload failed, keeping the last good config: %s", exc)


def _keeps_object(cred: Credential) -> bool:
    """An unchanged auth file keeps its credential object, unless no built-in serves its
    provider: a plugin binds those in place, so they are made anew from the cached bytes."""
    return providers.get(cred.provider) is not None
