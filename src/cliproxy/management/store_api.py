"""``/plugin-store``: the plugin store listing and install, in CPA's shapes.

``GET /plugin-store`` reads every source (the official registry first, then
``plugins.store-sources``), asks GitHub for each release plugin's newest version (cached
per repository: :data:`RELEASE_TTL`, failures :data:`FAILURE_TTL`) and merges the local
state: files in ``plugins.dir``, ``plugins.configs`` and loaded plugins. A source that fails
is a ``source_errors`` entry; all failing with nothing listed is a 502.

``POST /plugin-store/{id}/install`` (``?source=``, ``?version=`` or ``{"version"}``) installs
for this platform, then sets ``plugins.configs.<id>.enabled: true`` and ``store: <manifest>``
(other keys kept) through the config edit, whose reload loads the new file. A plugin
installed from one source is not silently replaced from another (409).
CPA: ``internal/api/handlers/management/plugin_store.go``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cliproxy.config import ConfigDocument
from cliproxy.errors import ConfigError
from cliproxy.management.types import Req, Resp, Route
from cliproxy.plugins.abi import ci_get
from cliproxy.plugins.discovery import discover, pinned_versions
from cliproxy.plugins.store.auth import AuthRule, github_api_base, parse_rules, plugin_auth_configured
from cliproxy.plugins.store.client import StoreClient
from cliproxy.plugins.store.install import Installer, InstallResult
from cliproxy.plugins.store.manifest import (
    Manifest,
    manifest_from_plugin,
    manifest_from_release,
    release_version,
)
from cliproxy.plugins.store.registry import (
    DIRECT,
    GITHUB_RELEASE,
    Plugin,
    Source,
    StoreError,
)
from cliproxy.plugins.store.sources import normalize_sources
from cliproxy.plugins.store.versions import normalize_version, update_available
from cliproxy.plugins.surface import html_escape
from cliproxy.providers.http import proxy_key

__all__ = ["ROUTES"]

log = logging.getLogger(__name__)

RELEASE_TTL = 600.0
FAILURE_TTL = 30.0
# (GitHub API base, repository) -> (latest version, expiry): another API base (a mirror,
# an Enterprise host) is another repository
_releases: dict[tuple[str, str], tuple[str, float]] = {}


def _fail(status: int, code: str, message: str, **extra: Any) -> Resp:
    return Resp(status, {"error": code, "message": message, **extra})


@dataclass(slots=True)
class _Ctx:
    enabled: bool
    plugins_dir: str
    sources: list[Source]
    rules: list[AuthRule]
    configs: dict[str, Any]
    client: StoreClient


def _context(req: Req) -> _Ctx | Resp:
    cfg = req.service.config
    try:
        sources = normalize_sources(cfg.plugins.store_sources)
    except StoreError as exc:
        return _fail(500, "plugin_store_source_invalid", str(exc))
    rules = parse_rules(cfg.plugins.store_auth)
    client = StoreClient(req.service.http, proxy_key(None, cfg.proxy_url), tuple(rules))
    return _Ctx(cfg.plugins.enabled, cfg.plugins.dir, sources, rules, dict(cfg.plugins.configs), client)


async def _fetch_all(ctx: _Ctx) -> tuple[list[tuple[Source, Plugin]], list[dict[str, str]]]:
    answers = await asyncio.gather(
        *(ctx.client.fetch_registry(s.url) for s in ctx.sources), return_exceptions=True
    )
    plugins: list[tuple[Source, Plugin]] = []
    errors: list[dict[str, str]] = []
    for source, answer in zip(ctx.sources, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, StoreError):
                raise answer
            errors.append(
                {
                    "source_id": source.id,
                    "source_name": source.name,
                    "source_url": source.url,
                    "message": str(answer),
                }
            )
            continue
        plugins.extend((source, p) for p in answer.plugins)
    return plugins, errors


async def _latest(client: StoreClient, plugin: Plugin) -> str:
    """A release plugin's newest version ('' when unknown), cached per repository."""
    if plugin.install_type != GITHUB_RELEASE or not plugin.repository:
        return ""
    now = time.monotonic()
    key = (github_api_base(), plugin.repository)
    cached = _releases.get(key)
    if cached is not None and now < cached[1]:
        return cached[0]
    version, ttl = "", FAILURE_TTL
    try:
        release = await client.latest_release(plugin)
        version, ttl = release_version(release.tag_name), RELEASE_TTL
    except StoreError as exc:
        log.warning("plugin store: latest release of %s unknown: %s", plugin.id, exc)
    _releases[key] = (version, now + ttl)
    return version


def _store_of(inst: Any) -> dict[str, Any] | None:
    store = (getattr(inst, "model_extra", None) or {}).get("store")
    return store if isinstance(store, dict) else None


def _statuses(req: Req, ctx: _Ctx) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def status(pid: str) -> dict[str, Any]:
        return out.setdefault(
            pid,
            {"installed": False, "version": "", "path": "", "configured": False, "registered": False,
             "enabled": False, "managed": False, "source_id": "", "source_url": ""},
        )  # fmt: skip

    found = discover(Path(ctx.plugins_dir), pinned_versions(ctx.configs)) if ctx.plugins_dir else {}
    for pid, cand in found.items():
        st = status(pid)
        st.update(installed=True, path=str(cand.path), enabled=True)
        if cand.version:
            st["version"] = cand.version
    for pid, inst in ctx.configs.items():
        st = status(pid)
        st.update(configured=True, enabled=bool(inst.enabled))
        store = _store_of(inst)
        if store is not None:
            manifest = Manifest.from_config(store)
            st.update(managed=True, source_id=manifest.source_id, source_url=manifest.source_url)
    for pid, rec in req.service.plugins.records.items():
        if not rec.valid or rec.fused:
            continue
        st = status(pid)
        st.update(installed=True, registered=True, version=str(ci_get(rec.metadata, "Version") or "").strip())
        st["path"] = st["path"] or rec.path
    for st in out.values():
        st["effective"] = ctx.enabled and st["enabled"] and st["registered"]
    return out


def _installed_source(st: dict[str, Any], sources: list[Source]) -> tuple[str, bool]:
    sid, url = st["source_id"], st["source_url"]
    if sid:
        match = next((s for s in sources if s.id == sid), None)
        if match is not None and url and match.url != url:
            return "", False
        return sid, True
    match = next((s for s in sources if url and s.url == url), None)
    return (match.id, True) if match is not None else ("", False)


def _source_status(
    st: dict[str, Any] | None, sources: list[Source], entry: str, count: int
) -> tuple[str, str, bool]:
    if st is None or not (st["installed"] or st["configured"] or st["registered"]):
        return "", "", True
    sid, known = _installed_source(st, sources)
    if known:
        return (sid, "matched", True) if sid == entry else (sid, "different", False)
    if st["managed"] or count > 1:
        return "", "unknown", False
    return "", "assumed", True


async def list_plugin_store(req: Req) -> Resp:
    ctx = _context(req)
    if isinstance(ctx, Resp):
        return ctx
    plugins, errors = await _fetch_all(ctx)
    if not plugins and errors:
        return _fail(502, "plugin_store_registry_failed", errors[0]["message"])
    statuses = _statuses(req, ctx)
    latest = await asyncio.gather(*(_latest(ctx.client, p) for _, p in plugins))
    counts: dict[str, int] = {}
    for _, p in plugins:
        counts[p.id] = counts.get(p.id, 0) + 1
    e = html_escape
    entries = []
    for (source, p), newest in zip(plugins, latest, strict=True):
        st = statuses.get(p.id)
        installed_sid, src_status, may_update = _source_status(st, ctx.sources, source.id, counts[p.id])
        installed_version = st["version"] if st else ""
        version = newest or p.version
        entry: dict[str, Any] = {
            "store_id": e(f"{source.id}/{p.id}"), "source_id": e(source.id), "source_name": e(source.name),
            "source_url": e(source.url), "id": e(p.id), "name": e(p.name), "description": e(p.description),
            "author": e(p.author), "version": e(version), "repository": e(p.repository),
            "install_type": e(p.install_type), "auth_required": p.auth_required,
            "auth_configured": plugin_auth_configured(source, p, ctx.rules),
        }  # fmt: skip
        if platforms := p.platforms():
            entry["platforms"] = [{k: e(v) for k, v in pair.items()} for pair in platforms]
        for key in ("logo", "homepage", "license"):
            if value := getattr(p, key):
                entry[key] = e(value)
        if p.tags:
            entry["tags"] = [e(t) for t in p.tags]
        entry.update(
            installed=bool(st and st["installed"]), installed_version=e(installed_version),
        )  # fmt: skip
        if installed_sid:
            entry["installed_source_id"] = e(installed_sid)
        if src_status:
            entry["install_source_status"] = src_status
        entry.update(
            path=e(st["path"] if st else ""), configured=bool(st and st["configured"]),
            registered=bool(st and st["registered"]), enabled=bool(st and st["enabled"]),
            effective_enabled=bool(st and st["effective"]),
            update_available=may_update and update_available(installed_version, version),
        )  # fmt: skip
        entries.append(entry)
    body: dict[str, Any] = {
        "plugins_enabled": ctx.enabled,
        "plugins_dir": e(ctx.plugins_dir),
        "sources": [{k: e(v) for k, v in s.as_json().items()} for s in ctx.sources],
        "plugins": entries,
    }
    if errors:
        body["source_errors"] = [{k: e(v) for k, v in err.items()} for err in errors]
    return Resp(200, body)


def _requested_version(req: Req) -> str:
    query = (req.query.get("version") or "").strip()
    if not req.body.strip():
        return query
    try:
        doc = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"decode install request: {exc}") from None
    body = doc.get("version") if isinstance(doc, dict) else None
    if body is not None and not isinstance(body, str):
        raise StoreError("decode install request: version must be a string")
    body = (body or "").strip()
    if not query:
        return body
    if not body or normalize_version(body) == normalize_version(query):
        return query
    raise StoreError(f"version query {query!r} does not match request body version {body!r}")


async def _target(req: Req, ctx: _Ctx, pid: str) -> tuple[Source, Plugin] | Resp:
    wanted = (req.query.get("source") or "").strip()
    if wanted:
        source = next((s for s in ctx.sources if s.id == wanted), None)
        if source is None:
            return _fail(404, "plugin_store_source_not_found", "plugin store source not found")
        try:
            registry = await ctx.client.fetch_registry(source.url)
        except StoreError as exc:
            return _fail(502, "plugin_store_registry_failed", str(exc))
        plugin = registry.plugin(pid)
        if plugin is None:
            return _fail(404, "plugin_not_found", "plugin not found in registry source")
        return source, plugin
    plugins, errors = await _fetch_all(ctx)
    matches = [(s, p) for s, p in plugins if p.id == pid]
    if not matches:
        if not plugins and errors:
            return _fail(502, "plugin_store_registry_failed", errors[0]["message"])
        return _fail(404, "plugin_not_found", "plugin not found in registry")
    if len(matches) > 1:
        return _fail(
            409, "plugin_store_source_required", "multiple plugin store sources contain this plugin id; specify source",
            sources=[{k: html_escape(v) for k, v in s.as_json().items()} for s, _ in matches],
        )  # fmt: skip
    return matches[0]


def _check_source(ctx: _Ctx, pid: str, wanted: str) -> Resp | None:
    inst = ctx.configs.get(pid)
    store = _store_of(inst) if inst is not None else None
    if store is None:
        return None
    manifest = Manifest.from_config(store)
    st = {"source_id": manifest.source_id, "source_url": manifest.source_url}
    sid, known = _installed_source(st, ctx.sources)
    if not known:
        return _fail(
            409, "plugin_store_installed_source_unknown",
            "installed plugin source cannot be verified; uninstall it before reinstalling from the store",
            requested_source_id=wanted,
        )  # fmt: skip
    if sid != wanted:
        return _fail(
            409, "plugin_store_source_conflict",
            "installed plugin belongs to a different store source; uninstall it before switching sources",
            installed_source_id=sid, requested_source_id=wanted,
        )  # fmt: skip
    return None


def _direct_manifest(source: Source, plugin: Plugin, requested: str) -> Manifest:
    version = normalize_version(requested) or normalize_version(plugin.version)
    if normalize_version(plugin.version) == version:
        plugin.version = version
        return manifest_from_plugin(source, plugin)
    for entry in plugin.versions:
        if normalize_version(entry.version) == version:
            plugin.version = version
            plugin.install = entry.install
            plugin.install.type = plugin.install.type or DIRECT
            return manifest_from_plugin(source, plugin)
    raise StoreError(f"direct plugin version {version!r} not found")


async def _install_release(installer: Installer, plugin: Plugin, requested: str) -> InstallResult:
    version = normalize_version(requested)
    if not version:
        return await installer.install_latest(plugin)
    tags = [requested, requested[1:]] if requested.lower().startswith("v") else [requested, "v" + requested]
    failures = []
    for tag in tags:
        try:
            return await installer.install_version(plugin, tag, version)
        except StoreError as exc:
            failures.append(f"{tag}: {exc}")
    raise StoreError("install release by tag: " + "; ".join(failures))


async def install_from_store(req: Req) -> Resp:
    pid = req.params.get("id", "").strip()
    try:
        requested = _requested_version(req)
    except StoreError as exc:
        return _fail(400, "invalid_request", str(exc))
    ctx = _context(req)
    if isinstance(ctx, Resp):
        return ctx
    target = await _target(req, ctx, pid)
    if isinstance(target, Resp):
        return target
    source, plugin = target
    if (refused := _check_source(ctx, pid, source.id)) is not None:
        return refused
    installer = Installer(ctx.client, ctx.plugins_dir)
    manifest: Manifest | None = None
    try:
        if plugin.install_type == DIRECT:
            try:
                manifest = _direct_manifest(source, plugin, requested)
            except StoreError as exc:
                return _fail(502, "plugin_manifest_invalid", str(exc))
            result = await installer.install_manifest(manifest)
        else:
            result = await _install_release(installer, plugin, requested)
            manifest = manifest_from_release(source, plugin, result.release_tag)
    except StoreError as exc:
        return _fail(502, "plugin_install_failed", str(exc))
    store = manifest.to_config()

    def enable(doc: ConfigDocument) -> None:
        doc.set(["plugins", "configs", pid, "enabled"], True, validate=False)
        doc.set(["plugins", "configs", pid, "store"], store)

    try:
        await req.service.edit_config(enable)
    except ConfigError as exc:
        return _fail(
            500, "config_update_failed",
            f"plugin file installed at {result.path} but enabling it in config failed: {exc.message}",
            path=result.path,
        )  # fmt: skip
    log.info(
        "plugin store: installed %s %s from %s (%s) at %s%s",
        result.id, result.version, source.id, result.install_type, result.path, " (unchanged)" if result.skipped else "",
    )  # fmt: skip
    e = html_escape
    return Resp(
        200,
        {
            "status": "installed", "source_id": e(source.id), "source_name": e(source.name),
            "source_url": e(source.url), "id": e(result.id), "version": e(result.version),
            "install_type": e(result.install_type), "path": e(result.path),
            "plugins_enabled": ctx.enabled, "restart_required": False,
        },
    )  # fmt: skip


ROUTES: list[Route] = [
    Route("GET", "/plugin-store", list_plugin_store),
    Route("POST", "/plugin-store/{id}/install", install_from_store),
]
