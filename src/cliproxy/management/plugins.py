"""``/v0/management/plugins``: list, per-plugin config, enable, delete (CPA's shapes).

Every write goes through the comment-preserving config document, is saved atomically
under one lock (so concurrent writers never lose an edit) and applied at once as a
reload.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliproxy.config import ConfigDocument
from cliproxy.errors import ConfigError
from cliproxy.plugins.abi import AUTH_IDENTIFIER, ci_get
from cliproxy.plugins.discovery import Candidate, discover, pinned_versions
from cliproxy.plugins.surface import html_escape

if TYPE_CHECKING:
    from cliproxy.management.ports import ManagementService

__all__ = ["PluginAdmin"]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _s(value: Any) -> str:
    """A plugin-supplied display string, HTML-escaped as CPA escapes it."""
    return html_escape(str(value or ""))


class PluginAdmin:
    def __init__(self, service: ManagementService) -> None:
        self.service = service

    # ------------------------------------------------------------------ reads

    async def listing(self) -> dict[str, Any]:
        cfg = self.service.config.plugins
        host = self.service.plugins
        found = self._found()
        ids = sorted(set(found) | set(cfg.configs) | set(host.records))
        out = []
        for pid in ids:
            rec = host.records.get(pid)
            inst = cfg.configs.get(pid)
            meta = rec.metadata if rec is not None else {}
            fields = [
                {
                    "name": _s(ci_get(f, "Name")),
                    "type": _s(ci_get(f, "Type")),
                    "enum_values": [_s(v) for v in ci_get(f, "EnumValues") or []],
                    "description": _s(ci_get(f, "Description")),
                }
                for f in ci_get(meta, "ConfigFields") or []
            ]
            registered = rec is not None and rec.valid and not rec.fused
            enabled = bool(inst and inst.enabled)
            oauth = rec is not None and rec.has("auth_provider")
            # the provider its sign-in serves: its auth identifier (CPA's OAuthProvider)
            provider = await host.identifier(rec, AUTH_IDENTIFIER) if oauth and registered and rec else ""
            out.append(
                {
                    "id": pid,
                    "path": rec.path if rec else (str(found[pid].path) if pid in found else ""),
                    "configured": inst is not None,
                    "registered": registered,
                    "enabled": enabled,
                    "effective_enabled": bool(cfg.enabled and enabled and registered),
                    "supports_oauth": oauth,
                    "oauth_provider": _s(provider),
                    "logo": _s(ci_get(meta, "Logo")),
                    "config_fields": fields,
                    "menus": [
                        {k: _s(v) for k, v in menu.items()}
                        for menu in self.service.plugin_routes.menus.get(pid, [])
                    ],
                    "metadata": {
                        "name": _s(ci_get(meta, "Name")),
                        "version": _s(ci_get(meta, "Version")),
                        "author": _s(ci_get(meta, "Author")),
                        "github_repository": _s(ci_get(meta, "GitHubRepository")),
                        "logo": _s(ci_get(meta, "Logo")),
                        "config_fields": fields,
                    },
                }
            )
        return {"plugins_enabled": bool(cfg.enabled), "plugins_dir": cfg.dir, "plugins": out}

    def config_of(self, plugin_id: str) -> dict[str, Any]:
        cfg = self.service.config.plugins
        inst = cfg.configs.get(plugin_id)
        if inst is not None:
            return inst.model_dump(by_alias=True, exclude_none=True)
        if plugin_id in self._known():
            return {}
        raise AdminError(404, "plugin_not_found")

    def _found(self) -> dict[str, Candidate]:
        """The plugin files in ``plugins.dir``: per id, the one the host would load (the
        version a plugin's ``store`` pins, when it pins one)."""
        cfg = self.service.config.plugins
        return discover(Path(cfg.dir), pinned_versions(cfg.configs)) if cfg.dir else {}

    def _known(self) -> set[str]:
        cfg = self.service.config.plugins
        found = self._found()
        return set(found) | set(cfg.configs) | set(self.service.plugins.records)

    # ------------------------------------------------------------------ writes

    async def put_config(self, plugin_id: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise AdminError(400, "config must be a JSON object")
        self._require(plugin_id)
        await self.service.edit_config(lambda doc: doc.set(["plugins", "configs", plugin_id], value))
        return self.config_of(plugin_id)

    async def patch_config(self, plugin_id: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise AdminError(400, "config must be a JSON object")
        self._require(plugin_id)

        def edit(doc: ConfigDocument) -> None:
            for key, item in value.items():
                path = ["plugins", "configs", plugin_id, str(key)]
                if item is None:
                    doc.delete(path, validate=False)
                else:
                    doc.set(path, item, validate=False)
            doc.set(
                ["plugins", "configs", plugin_id, "enabled"],
                doc.get(["plugins", "configs", plugin_id, "enabled"], False),
            )

        await self.service.edit_config(edit)
        return self.config_of(plugin_id)

    async def set_enabled(self, plugin_id: str, value: Any) -> dict[str, Any]:
        enabled = ci_get(value, "enabled") if isinstance(value, dict) else None
        if not isinstance(enabled, bool):
            raise AdminError(400, 'body must be {"enabled": true|false}')
        self._require(plugin_id)
        await self.service.edit_config(
            lambda doc: doc.set(["plugins", "configs", plugin_id, "enabled"], enabled)
        )
        return {"status": "ok", "id": plugin_id, "enabled": enabled}

    async def delete(self, plugin_id: str) -> dict[str, Any]:
        self._require(plugin_id)
        rec = self.service.plugins.records.get(plugin_id)
        cfg = self.service.config.plugins
        found = self._found()
        path = rec.path if rec is not None else (str(found[plugin_id].path) if plugin_id in found else "")
        await self.service.plugins.unload(plugin_id)
        file_deleted = False
        target = Path(path)
        # a plugin file (the one the host loads or would load); a subprocess plugin's command is not one
        if path and target.exists() and (rec is None or rec.transport != "subprocess"):
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
            file_deleted = True
        configured = plugin_id in cfg.configs
        if configured:

            def drop(doc: ConfigDocument) -> None:
                doc.delete(["plugins", "configs", plugin_id])

            await self.service.edit_config(drop)
        return {
            "status": "deleted",
            "id": plugin_id,
            "path": path,
            "file_deleted": file_deleted,
            "configured_removed": configured,
            "restart_required": False,
        }

    def _require(self, plugin_id: str) -> None:
        if plugin_id not in self._known():
            raise AdminError(404, "plugin_not_found")


def config_error(exc: ConfigError) -> AdminError:
    return AdminError(400, exc.message)
