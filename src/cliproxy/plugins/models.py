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

__all__ = ["plugin_credentials"]

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
