"""The models plugins declare, as CPA's ``RegisterModels`` and ``RegisterExecutors`` take them.

Every plugin with a model registrar or a static model provider (an executor's only when
its scope is ``static`` or ``both``) declares ``{Provider, Models}``; each model keeps
what the plugin says of it (display name, limits, thinking support...). Then:

* a plugin executor whose provider no built-in serves gets one runtime credential,
  serving the models it claims: the highest-priority plugin claims a model, one no
  built-in credential serves already, and one plugin executor serves a provider;
* a plugin executor named like a built-in provider (``claude``...) gets nothing of its
  own: the built-in serves that provider, and the plugin's models join every
  credential of it, as do the models of a plugin that registers models without an
  executor (for the provider it names).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from cliproxy.credentials.ids import auth_index
from cliproxy.credentials.record import Credential
from cliproxy.models.catalog import ModelInfo
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import PluginModel, host_config, wire_model
from cliproxy.providers import registry as builtin

__all__ = ["Registration", "plugin_credentials", "register_models"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Registration:
    """What the plugins' model declarations add: plugin executor credentials, and the
    models each provider's other credentials serve on top of their own."""

    credentials: list[Credential] = field(default_factory=list)
    provider_models: dict[str, tuple[ModelInfo, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _Declared:
    rec: Record
    provider: str
    models: list[ModelInfo]


async def _declared(host: PluginHost, rec: Record, config: Any, now: int) -> _Declared | None:
    """What ``rec`` registers (``model.static`` before ``model.register``), or ``None``."""
    host_summary = host_config(config)
    try:
        if rec.has("model_provider"):
            result = await host.call(rec, abi.MODEL_STATIC, {"Plugin": rec.metadata, "Host": host_summary})
        else:
            result = await host.call(rec, abi.MODEL_REGISTER, {"Plugin": rec.metadata})
    except (TimeoutError, PluginError, PluginCrashed) as exc:
        log.warning("plugin %s: model registration failed: %s", rec.id, exc)
        return None
    if not isinstance(result, dict):
        return None
    provider = str(ci_get(result, "Provider", "") or "").strip().lower()
    models: list[ModelInfo] = []
    for m in ci_get(result, "Models") or []:
        if (info := wire_model(m, rec.id, now)) is not None:
            models.append(info)
    return _Declared(rec, provider, models)


def _add(out: dict[str, list[ModelInfo]], provider: str, models: list[ModelInfo]) -> None:
    have = out.setdefault(provider, [])
    ids = {m.id for m in have}
    for m in models:
        if m.id not in ids:
            ids.add(m.id)
            have.append(m)


async def register_models(
    host: PluginHost,
    config: Any,
    *,
    native: Collection[str] = (),
    served: Collection[str] = (),
) -> Registration:
    """The plugins' model declarations. ``native``: providers served without plugins
    besides the built-ins (those of the other credentials loaded); ``served``: model
    ids such credentials serve already, which no plugin executor claims (CPA's
    providerHasNativeExecutor, modelHasNativeExecutor)."""

    def is_native(provider: str) -> bool:
        return provider in native or builtin.get(provider) is not None

    now = int(time.time())
    extra: dict[str, list[ModelInfo]] = {}
    executors: list[_Declared] = []
    for rec in host.snapshot:
        if not (rec.has("model_provider") or rec.has("model_registrar")):
            continue
        if rec.has("executor"):
            scope = str(rec.cap("executor_model_scope", "both") or "both").lower()
            if scope == "oauth":
                continue
        declared = await _declared(host, rec, config, now)
        if declared is None or not declared.models:
            continue
        if rec.has("executor"):
            executors.append(declared)
        elif declared.provider:  # CPA: a model-only plugin counts for the provider it names
            _add(extra, declared.provider, declared.models)
    out = Registration()
    blocked = set(served) | {m.id for p, ms in extra.items() if is_native(p) for m in ms}
    claimed: set[str] = set()
    providers: set[str] = set()  # one plugin executor serves a provider: the first (CPA)
    for declared in executors:
        rec = declared.rec
        provider = declared.provider or (await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)).lower()
        if not provider or provider in providers:
            continue
        if is_native(provider):  # the built-in wins; the plugin's models join its credentials
            _add(extra, provider, declared.models)
            continue
        models = [m for m in declared.models if m.id not in claimed and m.id not in blocked]
        if not models:
            continue
        claimed.update(m.id for m in models)
        providers.add(provider)
        cred_id = f"plugin:{rec.id}:{provider}:executor"
        out.credentials.append(
            Credential(
                id=cred_id,
                provider=provider,
                index=auth_index(cred_id),
                label=rec.name,
                models=tuple(PluginModel(m.id, m.id, m) for m in models),
                source=f"plugin:{rec.id}",
                attributes={"plugin": rec.id, "runtime_only": "true"},
            )
        )
    out.provider_models = {p: tuple(ms) for p, ms in extra.items()}
    return out


async def plugin_credentials(host: PluginHost, config: Any) -> list[Credential]:
    """The plugin executor credentials of :func:`register_models`."""
    return (await register_models(host, config)).credentials
