"""The plugin host: loading, registration, the active snapshot, fusing.

``apply_config`` follows CPA's algorithm: a plugin loads only when ``plugins.enabled``
and ``plugins.configs.<id>.enabled`` are both true; a loaded plugin gets
``plugin.register`` once and ``plugin.reconfigure`` on every later reload; a new file for
a loaded id is a hot reload (the old client is retired); registration is validated
(name, version, author, repository, one capability); the snapshot is ordered by priority
descending then id ascending and swapped whole. A plugin whose call crashes is fused:
it leaves every chain until a reload points its id at another file.

The calling rules (chain, first wins, fall-through) live in ``plugins.rules``; host
callbacks (``host.*``) in ``plugins.callbacks``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.client import PluginClient
from cliproxy.plugins.discovery import Candidate, discover, pinned_versions

if TYPE_CHECKING:
    from cliproxy.plugins.callbacks import Callbacks

__all__ = ["PluginHost", "Record"]

log = logging.getLogger(__name__)

_REQUIRED_META = ("Name", "Version", "Author", "GitHubRepository")
# How long unload and shutdown wait for a config apply stuck in a plugin's register.
LOCK_WAIT = 30.0
# How long plugin.register / plugin.reconfigure may take before the plugin is left out and
# the config apply goes on (CPA waits forever; a native call keeps running in its thread).
REGISTER_TIMEOUT = 30.0


@dataclass(eq=False)
class Record:
    """One registered plugin as the host sees it."""

    id: str
    path: str
    transport: str
    client: PluginClient
    priority: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    caps: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 1
    valid: bool = False
    fused: bool = False
    identifiers: dict[str, str] = field(default_factory=dict)

    def has(self, flag: str) -> bool:
        return bool(ci_get(self.caps, flag))

    def cap(self, name: str, default: Any = None) -> Any:
        return ci_get(self.caps, name, default)

    @property
    def name(self) -> str:
        return str(ci_get(self.metadata, "Name", "") or self.id)


@dataclass(frozen=True, slots=True)
class _Spec:
    """Where a plugin comes from: a discovered file, a subprocess command, an entry point."""

    id: str
    path: str
    kind: str  # native, python, subprocess, entrypoint
    command: tuple[str, ...] = ()


class PluginHost:
    """Owns every loaded plugin. ``snapshot`` is the ordered tuple of active records."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.snapshot: tuple[Record, ...] = ()
        self.enabled = False
        self.dir = ""
        self._retired: list[PluginClient] = []
        self._fused: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()
        self._closing = False  # set by shutdown: a load that finishes later is released
        self.callbacks: Callbacks | None = None
        self._flags: dict[str, tuple[Record, ...]] = {}
        self._enabled_ids: set[str] = set()
        self.on_call: Callable[[str, str, float], None] | None = None
        self.register_timeout = REGISTER_TIMEOUT

    # ------------------------------------------------------------------ dispatcher

    async def host_call(self, plugin_id: str, method: str, params: Any) -> Any:
        if self.callbacks is None:
            raise PluginError("host callbacks are not available")
        return await self.callbacks.dispatch(plugin_id, method, params)

    # ------------------------------------------------------------------ queries

    def active(self, flag: str, skip: str | None = None) -> tuple[Record, ...]:
        """Active records with ``flag``, in snapshot order, without ``skip``."""
        found = self._flags.get(flag)
        if found is None:
            found = self._flags[flag] = tuple(r for r in self.snapshot if r.has(flag))
        if skip is None:
            return found
        return tuple(r for r in found if r.id != skip)

    def any(self, flag: str, skip: str | None = None) -> bool:
        return bool(self.active(flag, skip))

    def get(self, plugin_id: str) -> Record | None:
        rec = self.records.get(plugin_id)
        return rec if rec is not None and rec in self.snapshot else None

    @property
    def applying(self) -> bool:
        """A config apply (or an unload) is loading, registering or retiring plugins now."""
        return self._lock.locked()

    # ------------------------------------------------------------------ calls

    async def call(self, rec: Record, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Call a plugin; a crash fuses it (and raises ``PluginCrashed``). ``on_call``, when
        set, hears each call's plugin id, method and seconds (the metrics)."""
        if rec.fused:
            raise PluginCrashed(f"plugin {rec.id} is fused")
        if self.on_call is not None:
            started = time.perf_counter()
            try:
                return await self._call(rec, method, params, timeout)
            finally:
                if self.on_call is not None:
                    self.on_call(rec.id, method, time.perf_counter() - started)
        return await self._call(rec, method, params, timeout)

    async def _call(self, rec: Record, method: str, params: Any, timeout: float | None) -> Any:
        try:
            return await rec.client.call(method, params, timeout=timeout)
        except PluginError:
            raise
        except PluginCrashed as exc:
            self.fuse(rec, method, exc)
            raise
        except (TimeoutError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a transport bug is still the plugin's crash
            self.fuse(rec, method, exc)
            raise PluginCrashed(f"plugin {rec.id} failed in {method}: {exc}") from exc

    def _crashed(self, plugin_id: str, exc: BaseException) -> None:
        """A transport saw its plugin die between calls (a subprocess exited)."""
        rec = self.records.get(plugin_id)
        if rec is not None:
            self.fuse(rec, "(process)", exc)

    def fuse(self, rec: Record, method: str, exc: BaseException) -> None:
        if rec.fused:
            return
        rec.fused = True
        self._fused.add((rec.id, rec.path))
        log.error(
            "plugin %s crashed in %s and is left out until the proxy restarts or loads it from"
            " another file (a versioned %s-v<version> file): %s",
            rec.id,
            method,
            rec.id,
            exc,
        )
        if self.callbacks is not None:
            self.callbacks.abort_plugin(rec.id, f"plugin {rec.id} crashed")
        self._publish()

    # ------------------------------------------------------------------ config

    async def apply_config(self, plugins: Any) -> None:
        """Load, register, reconfigure and retire plugins to match ``plugins`` config."""
        async with self._lock:
            self.enabled = bool(plugins.enabled)
            if not self.enabled:
                self.snapshot = ()
                self._flags = {}
                return
            self.dir = str(plugins.dir)
            specs = self._specs(plugins)
            _warn_missing(plugins, {spec.id for spec in specs})
            seen: set[str] = set()
            for spec in specs:
                inst = plugins.configs.get(spec.id)
                if inst is None or not inst.enabled:
                    continue
                seen.add(spec.id)
                await self._apply_one(spec, inst)
            self._enabled_ids = seen  # disabled or gone: out of the snapshot, still loaded (CPA)
            self._publish()

    def _specs(self, plugins: Any) -> list[_Spec]:
        desired = pinned_versions(plugins.configs)
        specs: dict[str, _Spec] = {}
        for plugin_id, inst in plugins.configs.items():
            command = (inst.model_extra or {}).get("command")
            if command:
                argv = tuple(command) if isinstance(command, list) else tuple(str(command).split())
                specs[plugin_id] = _Spec(plugin_id, " ".join(argv), "subprocess", argv)
        found: dict[str, Candidate] = discover(Path(plugins.dir), desired) if plugins.dir else {}
        for plugin_id, cand in found.items():
            specs.setdefault(plugin_id, _Spec(plugin_id, str(cand.path), cand.kind))
        for plugin_id in desired:  # pinned to a version not on disk yet: keep the loaded one (CPA)
            rec = self.records.get(plugin_id)
            if plugin_id not in specs and rec is not None and rec.transport in ("native", "python"):
                specs[plugin_id] = _Spec(plugin_id, rec.path, rec.transport)
        for plugin_id in plugins.configs:
            if plugin_id not in specs and _entry_point_exists(plugin_id):
                specs[plugin_id] = _Spec(plugin_id, f"entrypoint:{plugin_id}", "entrypoint")
        return [specs[k] for k in sorted(specs)]

    async def _apply_one(self, spec: _Spec, inst: Any) -> None:
        if (spec.id, spec.path) in self._fused:
            return
        current = self.records.get(spec.id)
        params = {"config_yaml": abi.b64encode(_config_yaml(inst)), "schema_version": abi.SCHEMA_VERSION}
        if current is not None and current.path == spec.path and not current.fused:
            current.priority = int(inst.priority)
            await self._register(current, abi.PLUGIN_RECONFIGURE, params)
            return
        try:
            client = await self._open(spec)
        except Exception as exc:
            log.error("plugin %s could not be loaded from %s: %s", spec.id, spec.path, exc)
            return
        rec = Record(spec.id, spec.path, client.transport, client, priority=int(inst.priority))
        if not await self._register(rec, abi.PLUGIN_REGISTER, params) or self._closing:
            await client.shutdown()
            return
        if current is not None:
            self._retired.append(current.client)
            log.info(
                "plugin %s hot-reloaded: %s -> %s (%s retired)",
                spec.id,
                ci_get(current.metadata, "Version", "?"),
                ci_get(rec.metadata, "Version", "?"),
                current.path,
            )
            self._fused.discard((current.id, current.path))
        self.records[spec.id] = rec
        log.info(
            "plugin %s %s loaded (%s, %s)",
            spec.id,
            ci_get(rec.metadata, "Version", ""),
            rec.transport,
            spec.path,
        )

    async def _open(self, spec: _Spec) -> PluginClient:
        if spec.kind == "native":
            from cliproxy.plugins.native import NativeClient

            return await NativeClient.load(spec.path, spec.id, self)
        if spec.kind == "subprocess":
            from cliproxy.plugins.subprocess import SubprocessClient

            return await SubprocessClient.start(list(spec.command), spec.id, self, on_crash=self._crashed)
        from cliproxy.plugins.inproc import PythonClient, load_entry_point, load_module_plugin

        obj = load_entry_point(spec.id) if spec.kind == "entrypoint" else load_module_plugin(Path(spec.path))
        return PythonClient(obj, spec.id, self, path=spec.path)

    async def _register(self, rec: Record, method: str, params: dict[str, Any]) -> bool:
        try:
            result = await self.call(rec, method, params, timeout=self.register_timeout)
        except (TimeoutError, PluginError, PluginCrashed) as exc:
            reason = str(exc) or f"no answer within {self.register_timeout:g}s"
            log.error("plugin %s: %s failed: %s; it is not used", rec.id, method, reason)
            rec.valid = False
            return method == abi.PLUGIN_RECONFIGURE  # stays loaded, out of the snapshot
        result = result if isinstance(result, dict) else {}
        version = ci_get(result, "schema_version", 0) or 1
        if int(version) > abi.SCHEMA_VERSION:
            log.error("plugin %s: plugin schema version %s is not supported", rec.id, version)
            rec.valid = False
            return False
        rec.schema_version = int(version)
        meta = ci_get(result, "metadata") or {}
        rec.metadata = meta if isinstance(meta, dict) else {}
        rec.caps = abi.capabilities(result)
        rec.identifiers = {}
        problems = [k for k in _REQUIRED_META if not str(ci_get(rec.metadata, k, "") or "").strip()]
        if not abi.has_any_capability(rec.caps):
            problems.append("at least one capability")
        rec.valid = not problems
        if problems:
            log.error(
                "plugin %s registration is invalid (missing %s); it is not used", rec.id, ", ".join(problems)
            )
        return True

    def _publish(self) -> None:
        active = [
            r
            for r in self.records.values()
            if r.valid and not r.fused and self.enabled and r.id in self._enabled_ids
        ]
        active.sort(key=lambda r: (-r.priority, r.id))
        self.snapshot = tuple(active)
        self._flags = {}

    # ------------------------------------------------------------------ identifiers

    async def identifier(self, rec: Record, method: str) -> str:
        """A cached ``*.identifier`` answer (CPA asks every time; it never changes per registration)."""
        cached = rec.identifiers.get(method)
        if cached is not None:
            return cached
        try:
            result = await self.call(rec, method, {})
        except (TimeoutError, PluginError, PluginCrashed):
            result = None
        ident = str(ci_get(result, "identifier", "") or "").strip() if isinstance(result, dict) else ""
        rec.identifiers[method] = ident
        return ident

    # ------------------------------------------------------------------ shutdown

    async def unload(self, plugin_id: str, *, wait: float = LOCK_WAIT) -> bool:
        """Unload one plugin (and its hot-reload leftovers). Like CPA, this waits for a
        config apply in progress, so a plugin still registering is unloaded once it is
        loaded rather than coming back after; gives up (False) after ``wait`` seconds."""
        try:
            async with asyncio.timeout(wait):
                await self._lock.acquire()
        except TimeoutError:
            log.error("plugin %s: not unloaded, a config apply is still running", plugin_id)
            return False
        try:
            rec = self.records.pop(plugin_id, None)
            retired = [c for c in self._retired if c.plugin_id == plugin_id]
            self._retired = [c for c in self._retired if c.plugin_id != plugin_id]
            self._fused = {f for f in self._fused if f[0] != plugin_id}
            self._publish()
            clients = ([rec.client] if rec is not None else []) + retired
            await asyncio.gather(*(c.shutdown() for c in clients), return_exceptions=True)
            return bool(clients)
        finally:
            self._lock.release()

    async def shutdown(self, *, wait: float = LOCK_WAIT) -> None:
        """Release every plugin. Waits (at most ``wait`` seconds) for a config apply in
        progress, as CPA does; past that it goes on, and the late load releases itself."""
        self._closing = True
        locked = False
        try:
            async with asyncio.timeout(wait):
                await self._lock.acquire()
                locked = True
        except TimeoutError:
            log.error("plugins: shutting down while a config apply is still running")
        try:
            clients = [r.client for r in self.records.values()] + self._retired
            self.records.clear()
            self._retired.clear()
            self._publish()
            await asyncio.gather(*(c.shutdown() for c in clients), return_exceptions=True)
        finally:
            if locked:
                self._lock.release()

    def __iter__(self) -> Iterator[Record]:
        return iter(self.snapshot)


def _config_yaml(inst: Any) -> bytes:
    """The plugin's config subtree as YAML (JSON is YAML), with enabled/priority."""
    data = dict(inst.model_extra or {})
    data["enabled"] = bool(inst.enabled)
    data["priority"] = int(inst.priority)
    return orjson.dumps(data)


def _entry_point_exists(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group="cliproxy.plugins"))


def _warn_missing(plugins: Any, found: set[str]) -> None:
    """Each enabled ``plugins.configs`` entry with no plugin to load (a typo, a file not
    copied yet), said every time the config is applied rather than left silent."""
    for plugin_id, inst in plugins.configs.items():
        if inst.enabled and plugin_id not in found:
            log.warning(
                "plugins.configs.%s is enabled but there is no plugin %s: no %s.py, %s/ or native"
                " library in %s, no entry point %s in group cliproxy.plugins, no `command`",
                plugin_id,
                plugin_id,
                plugin_id,
                plugin_id,
                plugins.dir or "(plugins.dir not set)",
                plugin_id,
            )
