"""Auth files a plugin reads although no plugin executor serves them: parsed by the auth
provider of their type (``auth.parse``), given models by a plugin of their type
(``model.for_auth``), before the pool takes them.

CPA's file synthesizer hands every auth file to the plugin parser of its type; a plugin
usually answers with a ``base_url`` (and an ``api_key``) among the auth's attributes so
that the built-in OpenAI-compatible executor serves it (``credentials.compat_auth``), its
refresh going back to the plugin (``plugins.compat_refresh``). Here such an answer merges
into the file's credential as for a file a plugin executor serves
(``plugins.models.bind_plugin_auths``, which reads the files of its executors' types
itself): several ``Auths`` become that many credentials, one handled with none becomes
none; the attributes' ``base_url`` and ``api_key`` become the endpoint and key the
OpenAI-compatible provider sends. A file of a built-in provider is left as it is.

The models of such a credential are then those a plugin of its type answers
``model.for_auth`` with (CPA's tryRegisterPluginModelsForAuth: a model provider whose auth
provider, else executor, has the credential's type as identifier); a credential no such
plugin answers keeps the models of the ``openai-compatibility`` entry of its name. A
model-only plugin is not asked (CPA also asks one whose static models name the type).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from cliproxy.credentials.compat_auth import PLUGIN_MODELS, native_compat, take_endpoint
from cliproxy.credentials.record import Credential, ModelAlias
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import (
    VIRTUAL,
    PluginModel,
    apply_auth_data,
    file_executors,
    for_auth_params,
    parse_auth_file,
    virtual_credential,
    wire_model,
)
from cliproxy.providers import registry as builtin

__all__ = ["parse_compat_auths", "take_endpoint"]

log = logging.getLogger(__name__)


async def parse_compat_auths(
    host: PluginHost, creds: Iterable[Credential], config: Any, *, timeout: float | None = None
) -> list[Credential]:
    """``creds`` with every file of an auth provider's type (and no plugin executor's)
    replaced by what the plugin's ``auth.parse`` made of it, and every credential the
    OpenAI-compatible provider serves given the models of its plugin's ``model.for_auth``;
    ``timeout``: the seconds each call may take. A file the plugin does not handle stays
    as read."""
    parsers: dict[str, Record] = {}
    for rec in host.active("auth_provider"):
        ident = (await host.identifier(rec, abi.AUTH_IDENTIFIER)).lower()
        if ident:
            parsers.setdefault(ident, rec)
    executors = await file_executors(host)  # their files were parsed with their binding
    models = await _model_plugins(host)
    out: list[Credential] = []
    for cred in creds:
        parser = parsers.get(cred.provider) if _parseable(cred, executors) else None
        auths = await parse_auth_file(host, parser, cred, config, timeout) if parser is not None else None
        if auths is None:
            bound = [cred]
        elif len(auths) == 1:
            apply_auth_data(cred, auths[0])
            cred.id = str(abi.ci_get(auths[0], "ID", "") or "").strip() or cred.id
            bound = [cred]
        else:
            bound = [virtual_credential(cred, auth, n) for n, auth in enumerate(auths)]
        for one in bound:
            if auths is not None:
                take_endpoint(one)
            if (asked := models.get(one.provider)) is not None and _compat_served(one, config):
                await _models_for(host, asked, one, config, timeout)
        out += bound
    return out


def _parseable(cred: Credential, executors: dict[str, Record]) -> bool:
    attrs = cred.attributes
    if cred.path is None or attrs.get("plugin") or attrs.get(VIRTUAL):
        return False
    return cred.provider not in executors and builtin.get(cred.provider) is None


def _compat_served(cred: Credential, config: Any) -> bool:
    """A credential of a type no built-in serves that the OpenAI-compatible provider serves."""
    if cred.attributes.get("plugin") or builtin.get(cred.provider) is not None:
        return False
    return native_compat(cred, config)


async def _model_plugins(host: PluginHost) -> dict[str, Record]:
    """The model providers that answer ``model.for_auth`` for a type: by their auth
    provider's identifier, else their executor's (one that serves OAuth models)."""
    found: dict[str, Record] = {}
    for rec in host.active("model_provider"):
        if rec.has("auth_provider"):
            ident = await host.identifier(rec, abi.AUTH_IDENTIFIER)
        elif rec.has("executor"):
            if str(rec.cap("executor_model_scope", "both") or "both").lower() not in ("oauth", "both"):
                continue
            ident = await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)
        else:
            continue
        if ident:
            found.setdefault(ident.lower(), rec)
    return found


async def _models_for(
    host: PluginHost, rec: Record, cred: Credential, config: Any, timeout: float | None
) -> None:
    """``cred``'s models from the plugin's ``model.for_auth`` (none when the call failed, as
    CPA registers none); an answer for another provider leaves its models as they are."""
    try:
        result = await host.call(rec, abi.MODEL_FOR_AUTH, for_auth_params(rec, cred, config), timeout=timeout)
    except (PluginError, PluginCrashed, TimeoutError) as exc:
        log.warning("plugin %s: model.for_auth for %s failed: %s", rec.id, cred.id, exc)
        result = {}
    if not isinstance(result, dict):
        return
    provider = str(ci_get(result, "Provider", "") or "").strip().lower()
    if provider and provider != cred.provider:
        return
    if isinstance(update := ci_get(result, "AuthUpdate"), dict) and update:
        apply_auth_data(cred, update)
        take_endpoint(cred)
    now = int(time.time())
    models: list[ModelAlias] = []
    for m in ci_get(result, "Models") or []:
        if (info := wire_model(m, rec.id, now)) is not None:
            models.append(PluginModel(info.id, info.id, info))
    cred.models = tuple(models)
    cred.attributes[PLUGIN_MODELS] = rec.id
