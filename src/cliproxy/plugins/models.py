"""Models served by plugin executors on the normal (credential) path.

A plugin with an executor (scope ``static`` or ``both``) and a model registrar or
static model provider declares ``{Provider, Models}``; the host turns that into one
runtime credential per plugin, so the registry lists the models, the pool picks the
credential (cooldowns and failover included) and the pipeline runs the plugin's
executor instead of an HTTP upstream.
"""

from __future__ import annotations

import logging
from typing import Any

from cliproxy.credentials.ids import auth_index
from cliproxy.credentials.record import Credential, ModelAlias
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.host import PluginHost

__all__ = ["bind_plugin_auths", "plugin_credentials"]

log = logging.getLogger("cliproxy.plugins")


async def plugin_credentials(host: PluginHost, config: Any) -> list[Credential]:
    out: list[Credential] = []
    claimed: set[str] = set()
    for rec in host.active("executor"):
        scope = str(rec.cap("executor_model_scope", "both") or "both").lower()
        if scope == "oauth":
            continue
        result: Any = None
        host_summary = {"AuthDir": str(config.auth_dir), "ProxyURL": config.proxy_url or "",
                        "ForceModelPrefix": bool(config.force_model_prefix), "OAuthModelAlias": {},
                        "ExcludedModels": {}}
        try:
            if rec.has("model_provider"):
                result = await host.call(rec, abi.MODEL_STATIC, {"Plugin": rec.metadata, "Host": host_summary})
            elif rec.has("model_registrar"):
                result = await host.call(rec, abi.MODEL_REGISTER, {"Plugin": rec.metadata})
        except (TimeoutError, PluginError, PluginCrashed) as exc:
            log.warning("plugin %s: model registration failed: %s", rec.id, exc)
            continue
        if not isinstance(result, dict):
            continue
        provider = str(ci_get(result, "Provider", "") or "").strip().lower()
        provider = provider or await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)
        models = []
        for m in ci_get(result, "Models") or []:
            model_id = str(ci_get(m, "ID", "") or ci_get(m, "Name", "") or "").strip()
            if model_id and model_id not in claimed:  # the highest-priority plugin claims a model
                claimed.add(model_id)
                models.append(ModelAlias(model_id, model_id))
        if not provider or not models:
            continue
        cred_id = f"plugin:{rec.id}:{provider}:executor"
        out.append(Credential(id=cred_id, provider=provider, index=auth_index(cred_id), label=rec.name,
                              models=tuple(models), source=f"plugin:{rec.id}",
                              attributes={"plugin": rec.id, "runtime_only": "true"}))
    return out


async def bind_plugin_auths(host: PluginHost, creds: Any, config: Any) -> bool:
    """Credential files of a provider no built-in serves, bound to the plugin executor
    with that identifier (scope ``oauth`` or ``both``): their models come from the
    plugin's ``model.for_auth``. A built-in provider always wins. True when any changed."""
    from cliproxy.providers import registry as builtin

    executors: dict[str, Any] = {}
    for rec in host.active("executor"):
        scope = str(rec.cap("executor_model_scope", "both") or "both").lower()
        if scope in ("oauth", "both"):
            ident = (await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)).lower()
            if ident:
                executors.setdefault(ident, rec)
    changed = False
    for cred in creds:
        if cred.path is None or cred.attributes.get("plugin") or builtin.get(cred.provider) is not None:
            continue
        rec = executors.get(cred.provider)
        if rec is None:
            continue
        models: list[ModelAlias] = []
        if rec.has("model_provider"):
            params = {"Plugin": rec.metadata, "AuthID": cred.id, "AuthProvider": cred.provider,
                      "StorageJSON": abi.b64encode(_storage(cred)), "Metadata": _strings(cred.metadata),
                      "Attributes": dict(cred.attributes),
                      "Host": {"AuthDir": str(config.auth_dir), "ProxyURL": config.proxy_url or ""}}
            try:
                result = await host.call(rec, abi.MODEL_FOR_AUTH, params)
            except (PluginError, PluginCrashed, TimeoutError) as exc:
                log.warning("plugin %s: model.for_auth for %s failed: %s", rec.id, cred.id, exc)
                result = None
            for m in (ci_get(result, "Models") or []) if isinstance(result, dict) else []:
                model_id = str(ci_get(m, "ID", "") or "").strip()
                if model_id:
                    models.append(ModelAlias(model_id, model_id))
        cred.attributes["plugin"] = rec.id
        cred.models = tuple(models)
        changed = True
    return changed


def _storage(cred: Credential) -> bytes:
    import orjson
    return orjson.dumps(cred.metadata)


def _strings(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}
