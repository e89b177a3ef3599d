"""Credentials of plugin providers: auth files bound to a plugin executor (its
``model.for_auth`` models), parsed and refreshed by its auth provider, and written back
as CPA's token storage writes them. The models plugins declare on their own (and the
runtime credentials of plugin executors) are in ``plugins.registration``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from cliproxy.credentials.compat_auth import PLUGIN_MODELS, native_compat, take_endpoint
from cliproxy.credentials.delegated import NOT_BEFORE, not_before
from cliproxy.credentials.files import normalize_metadata, parse_weight
from cliproxy.credentials.ids import auth_index, auth_index_seed
from cliproxy.credentials.listing import FILE_NAME
from cliproxy.credentials.record import Credential, ModelAlias
from cliproxy.credentials.storage import write_json
from cliproxy.models.catalog import ModelInfo, ThinkingSupport
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.providers import compat_cache, compat_tool_results
from cliproxy.providers import registry as builtin

__all__ = [
    "FILE_NAME",
    "VIRTUAL",
    "VIRTUAL_SOURCE",
    "PluginModel",
    "apply_auth_data",
    "auth_params",
    "bind_plugin_auths",
    "file_executors",
    "for_auth_params",
    "host_config",
    "parse_auth_file",
    "plugin_attributes",
    "refresh_plugin_auth",
    "save_auth_data",
    "save_token",
    "token_json",
    "virtual_credential",
    "wire_model",
    "wire_thinking",
]

log = logging.getLogger(__name__)

# attributes of each credential of a file a plugin parsed into several (CPA's virtual auths)
VIRTUAL = "plugin_virtual"  # "true"
VIRTUAL_SOURCE = "virtual_source"  # the shared file's path


@dataclass(frozen=True, slots=True)
class PluginModel(ModelAlias):
    """A model of a plugin credential, with what its plugin declared of it."""

    info: ModelInfo | None = None


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(s) for s in raw if str(s).strip()) if isinstance(raw, list) else ()


def _int(raw: Any) -> int:
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def wire_model(m: Any, owner: str, now: int) -> ModelInfo | None:
    """A plugin's ``ModelInfo`` (CPA's pluginModelInfoToRegistryModelInfo); ``None``
    without an id. ``owner`` (the plugin) stands for an ``OwnedBy`` it leaves empty."""
    if not isinstance(m, dict):
        return None
    model_id = str(ci_get(m, "ID", "") or ci_get(m, "Name", "") or "").strip()
    if not model_id:
        return None
    thinking = ci_get(m, "Thinking")
    support = None
    if isinstance(thinking, dict):
        levels = tuple(dict.fromkeys(s.strip().lower() for s in _names(ci_get(thinking, "Levels"))))
        support = ThinkingSupport(
            min=_int(ci_get(thinking, "Min")),
            max=_int(ci_get(thinking, "Max")),
            zero_allowed=bool(ci_get(thinking, "ZeroAllowed")) or "none" in levels,
            dynamic_allowed=bool(ci_get(thinking, "DynamicAllowed")) or "auto" in levels,
            levels=levels,
        )
    return ModelInfo(
        id=model_id,
        display_name=str(ci_get(m, "DisplayName", "") or "").strip() or model_id,
        owned_by=str(ci_get(m, "OwnedBy", "") or "").strip() or owner,
        type=str(ci_get(m, "Type", "") or "").strip() or "plugin",
        created=_int(ci_get(m, "Created")) or now,
        version=str(ci_get(m, "Version", "") or ""),
        description=str(ci_get(m, "Description", "") or ""),
        context_window=_int(ci_get(m, "ContextLength")) or _int(ci_get(m, "InputTokenLimit")),
        max_output=_int(ci_get(m, "MaxCompletionTokens")) or _int(ci_get(m, "OutputTokenLimit")),
        methods=_names(ci_get(m, "SupportedGenerationMethods")),
        parameters=_names(ci_get(m, "SupportedParameters")),
        input_modalities=_names(ci_get(m, "SupportedInputModalities")),
        output_modalities=_names(ci_get(m, "SupportedOutputModalities")),
        thinking=support,
        user_defined=bool(ci_get(m, "UserDefined")),
    )


def wire_thinking(info: ModelInfo) -> dict[str, Any]:
    """``info`` as the ``Model`` of a ``thinking.apply`` call (CPA's plugin ModelInfo)."""
    out: dict[str, Any] = {
        "ID": info.id,
        "OwnedBy": info.owned_by,
        "Type": info.type,
        "DisplayName": info.display_name,
        "ContextLength": info.context_window,
        "MaxCompletionTokens": info.max_output,
        "UserDefined": info.user_defined,
    }
    if (t := info.thinking) is not None:
        out["Thinking"] = {
            "Min": t.min,
            "Max": t.max,
            "ZeroAllowed": t.zero_allowed,
            "DynamicAllowed": t.dynamic_allowed,
            "Levels": list(t.levels),
        }
    return out


def host_config(config: Any) -> dict[str, Any]:
    """The ``Host`` summary CPA sends with model, auth and command-line calls. The two maps
    are ``null`` when empty, as Go writes a nil map; the config already holds them with
    trimmed, lower-case channel names and no blank aliases."""
    aliases = {
        channel: [{"Name": a.name, "Alias": a.alias} for a in entries]
        for channel, entries in (getattr(config, "oauth_model_alias", None) or {}).items()
    }
    excluded = {k: list(v) for k, v in (getattr(config, "oauth_excluded_models", None) or {}).items()}
    return {
        "AuthDir": str(config.auth_dir).strip(),
        "ProxyURL": (config.proxy_url or "").strip(),
        "ForceModelPrefix": bool(getattr(config, "force_model_prefix", False)),
        "OAuthModelAlias": aliases or None,
        "ExcludedModels": excluded or None,
    }


# attributes the proxy keeps on a credential for its own providers; CPA has no such
# attribute, so a plugin is not shown them
_OWN_ATTRIBUTES = frozenset(
    {compat_tool_results.ATTRIBUTE, compat_cache.ATTRIBUTE, PLUGIN_MODELS, NOT_BEFORE}
)


def plugin_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A credential's attributes as a plugin gets them (a new dict): CPA's, without the
    proxy's own."""
    return {k: v for k, v in attributes.items() if k not in _OWN_ATTRIBUTES}


def token_json(storage: bytes, meta: Any, provider: str) -> dict[str, Any]:
    """A plugin credential file's content, as CPA's token storage builds it: the storage
    JSON, the metadata on top, ``type`` the provider (trimmed, lower case), and legacy
    kebab-case keys renamed (a snake_case key already there wins). ValueError when the
    storage is not a JSON object or nothing is left."""
    data: dict[str, Any] = {}
    if storage.strip():
        try:
            loaded = orjson.loads(storage)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"plugin token storage is not JSON: {exc}") from exc
        if isinstance(loaded, dict):
            data.update(loaded)
        elif loaded is not None:
            raise ValueError("plugin token storage is not a JSON object")
    if isinstance(meta, dict):
        data.update(meta)
    if provider := provider.strip().lower():
        data["type"] = provider
    normalize_metadata(data)
    if not data:
        raise ValueError("plugin token storage payload is empty")
    return data


def save_token(path: Path, data: dict[str, Any]) -> bool:
    """Write ``data`` unless the file already holds the same JSON (CPA skips the write,
    so the file and its watchers are left alone). True when it wrote."""
    if not data:
        raise ValueError("plugin token storage payload is empty")
    try:
        if orjson.loads(path.read_bytes()) == data:
            return False
    except (OSError, orjson.JSONDecodeError):
        pass
    write_json(path, data)
    return True


def save_auth_data(auth: Any, auth_dir: Path, default_name: str) -> Path | None:
    """A plugin's ``AuthData`` written as a credential file (``token_json``); ``None``
    when it names no provider or its storage is not a JSON object."""
    provider = str(ci_get(auth, "Provider", "") or "").strip().lower()
    if not provider:
        return None
    try:
        data = token_json(abi.b64decode(ci_get(auth, "StorageJSON")), ci_get(auth, "Metadata"), provider)
    except ValueError as exc:
        log.error("plugin auth for %s not saved: %s", provider, exc)
        return None
    name = str(
        ci_get(auth, "FileName", "") or ci_get(auth, "ID", "") or default_name.format(provider=provider)
    )
    name = name.rsplit("/", 1)[-1]
    if not name.endswith(".json"):
        name += ".json"
    path = auth_dir / name
    save_token(path, data)
    return path


async def bind_plugin_auths(
    host: PluginHost, creds: Any, config: Any, *, timeout: float | None = None
) -> list[Credential]:
    """Credential files of a provider no built-in serves, bound to the plugin executor
    with that identifier (scope ``oauth`` or ``both``): their models come from the
    plugin's ``model.for_auth``. A built-in provider always wins, and a file that names an
    OpenAI-compatible endpoint (``credentials.compat_auth``, also once parsed) goes to the
    OpenAI-compatible provider instead, as CPA binds it. A file the plugin's
    ``auth.parse`` answers with several ``Auths`` becomes that many credentials (CPA's
    plugin virtual auths); one it handles without any becomes none, and an ``AuthData``
    with an invalid weight is left out (CPA's compactPluginAuths). ``timeout``: the
    seconds each plugin call may take. The new credential list."""

    executors = await file_executors(host)
    parsers: dict[str, Record] = {}
    for rec in host.active("auth_provider"):
        ident = (await host.identifier(rec, abi.AUTH_IDENTIFIER)).lower()
        if ident:
            parsers.setdefault(ident, rec)
    out: list[Credential] = []
    for cred in creds:
        if not _bindable(cred, executors):
            out.append(cred)
            continue
        parser = parsers.get(cred.provider)
        auths = await _parse(host, parser, cred, config, timeout) if parser is not None else None
        if auths is not None and len(auths) != 1:
            bound = [_virtual(cred, auth, n) for n, auth in enumerate(auths)]
        else:
            if auths:
                apply_auth_data(cred, auths[0])
                cred.id = str(ci_get(auths[0], "ID", "") or "").strip() or cred.id  # CPA: the auth's ID first
            bound = [cred]
        for one in bound:
            if native_compat(one, config):  # CPA: its OpenAI-compatible executor wins then
                take_endpoint(one)  # (``plugins.compat_bind`` gives its models)
            elif (executor := executors.get(one.provider)) is not None:
                await _bind(host, executor, one, config, timeout)
        out += bound
    return out


async def file_executors(host: PluginHost) -> dict[str, Record]:
    """The plugin executors that serve auth files (scope ``oauth`` or ``both``), by identifier."""
    executors: dict[str, Record] = {}
    for rec in host.active("executor"):
        scope = str(rec.cap("executor_model_scope", "both") or "both").lower()
        if scope in ("oauth", "both"):
            ident = (await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)).lower()
            if ident:
                executors.setdefault(ident, rec)
    return executors


def for_auth_params(rec: Record, cred: Credential, config: Any) -> dict[str, Any]:
    """The ``model.for_auth`` request for ``cred`` to the plugin of ``rec``."""
    return {"Plugin": rec.metadata, **auth_params(cred, config)}


def auth_params(cred: Credential, config: Any) -> dict[str, Any]:
    """What a plugin call about ``cred`` carries: its id, provider, stored file, metadata,
    the attributes plugins may see, and the host summary."""
    return {
        "AuthID": cred.id,
        "AuthProvider": cred.provider,
        "StorageJSON": abi.b64encode(_storage(cred)),
        "Metadata": _strings(cred.metadata),
        "Attributes": plugin_attributes(cred.attributes),
        "Host": host_config(config),
    }


def _bindable(cred: Credential, executors: dict[str, Record]) -> bool:
    """A credential file not bound yet, of a provider a plugin executor serves and no
    built-in does."""
    if cred.path is None or cred.attributes.get("plugin") or cred.attributes.get(VIRTUAL):
        return False
    return cred.provider in executors and builtin.get(cred.provider) is None


async def _bind(
    host: PluginHost, executor: Record, cred: Credential, config: Any, timeout: float | None
) -> None:
    """``cred`` served by ``executor``, with the models its ``model.for_auth`` names."""
    models: list[ModelAlias] = []
    if executor.has("model_provider"):
        params = for_auth_params(executor, cred, config)
        try:
            result = await host.call(executor, abi.MODEL_FOR_AUTH, params, timeout=timeout)
        except (PluginError, PluginCrashed, TimeoutError) as exc:
            log.warning("plugin %s: model.for_auth for %s failed: %s", executor.id, cred.id, exc)
            result = None
        now = int(time.time())
        for m in (ci_get(result, "Models") or []) if isinstance(result, dict) else []:
            if (info := wire_model(m, executor.id, now)) is not None:
                models.append(PluginModel(info.id, info.id, info))
    cred.attributes["plugin"] = executor.id
    cred.models = tuple(models)


def _virtual(base: Credential, auth: dict[str, Any], ordinal: int) -> Credential:
    """One of several credentials a plugin parsed out of ``base``'s file: its provider
    defaults to the file's, its id to the file's (numbered after the first), its auth
    index is CPA's virtual-auth seed; the file's metadata with the auth's on top."""
    assert base.path is not None
    provider = str(ci_get(auth, "Provider", "") or "").strip().lower() or base.provider
    path = str(base.path)
    file_name = str(ci_get(auth, "FileName", "") or "").strip() or base.path.name
    seed_id = str(ci_get(auth, "ID", "") or "").strip() or str(ci_get(auth, "FileName", "") or "").strip()
    cred_id = str(ci_get(auth, "ID", "") or "").strip() or (
        base.id if ordinal == 0 else f"{base.id}#{ordinal}"
    )
    seed = "|".join((provider, path, seed_id or str(ordinal), str(ordinal)))
    cred = replace(
        base,
        id=cred_id,
        provider=provider,
        index=auth_index(auth_index_seed(provider=provider, cred_id=cred_id, seed=seed)),
        metadata=dict(base.metadata),
        attributes={**base.attributes, VIRTUAL: "true", VIRTUAL_SOURCE: path, FILE_NAME: file_name},
        headers=dict(base.headers),
    )
    apply_auth_data(cred, auth)
    cred.metadata["type"] = provider
    return cred


def _storage(cred: Credential) -> bytes:
    return orjson.dumps(cred.metadata)


def _strings(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


async def _parse(
    host: PluginHost, rec: Any, cred: Credential, config: Any, timeout: float | None
) -> list[dict[str, Any]] | None:
    """``auth.parse``: the plugin reads its own credential file (label, prefix, storage...);
    the ``AuthData`` it answers (``Auths`` when given, else ``Auth``) with a valid weight,
    ``None`` when not handled."""
    assert cred.path is not None
    params = {
        "Provider": cred.provider,
        "Path": str(cred.path),
        "FileName": cred.path.name,
        "RawJSON": abi.b64encode(cred.path.read_bytes()),
        "Host": host_config(config),
    }
    try:
        result = await host.call(rec, abi.AUTH_PARSE, params, timeout=timeout)
    except (PluginError, PluginCrashed, TimeoutError) as exc:
        log.warning("plugin %s: auth.parse of %s failed: %s", rec.id, cred.path.name, exc)
        return None
    if not isinstance(result, dict) or not ci_get(result, "Handled"):
        return None
    auths = ci_get(result, "Auths") or [ci_get(result, "Auth")]
    auths = [a for a in auths if isinstance(a, dict)] if isinstance(auths, list) else []
    kept = [a for a in auths if _weight_valid(a)]
    if len(kept) < len(auths):
        log.warning(
            "plugin %s: auth.parse of %s: skipped an auth with an invalid weight", rec.id, cred.path.name
        )
    return kept


# for the files of an auth provider no plugin executor serves (``plugins.compat_bind``)
parse_auth_file = _parse
virtual_credential = _virtual


def _weight_valid(auth: dict[str, Any]) -> bool:
    """CPA's ValidateAuthWeight: a weight in the attributes or the metadata must be an integer
    up to 1,000,000."""
    for source in (ci_get(auth, "Attributes"), ci_get(auth, "Metadata")):
        if isinstance(source, dict) and "weight" in source:
            try:
                parse_weight(source["weight"])
            except ValueError:
                return False
    return True


def apply_auth_data(cred: Credential, auth: dict[str, Any]) -> None:
    """Merge a plugin's ``AuthData`` into a credential (empty fields keep their values). A
    weight in its attributes counts unless the file names one (CPA's ApplyAuthWeightMetadata)."""
    own_weight = "weight" not in cred.metadata
    if label := str(ci_get(auth, "Label", "") or ""):
        cred.label = label
    if prefix := str(ci_get(auth, "Prefix", "") or ""):
        cred.prefix = prefix
    if proxy := str(ci_get(auth, "ProxyURL", "") or ""):
        cred.proxy_url = proxy
    if ci_get(auth, "Disabled"):
        cred.disabled = True
    storage = abi.b64decode(ci_get(auth, "StorageJSON"))
    if storage:
        data = orjson.loads(storage)
        if isinstance(data, dict):
            cred.metadata.update(data)
    meta = ci_get(auth, "Metadata")
    if isinstance(meta, dict):
        cred.metadata.update(meta)
    cred.metadata["type"] = cred.provider  # CPA's AuthDataToCoreAuth: the file's type is its provider
    attrs = ci_get(auth, "Attributes")
    if isinstance(attrs, dict):  # the proxy's own attributes are its config's to set, not a plugin's
        cred.attributes.update({str(k): str(v) for k, v in attrs.items() if k not in _OWN_ATTRIBUTES})
        if own_weight and "weight" in attrs:
            with contextlib.suppress(ValueError):  # parse left such an auth out
                cred.weight = parse_weight(attrs["weight"])
    if gate := not_before(ci_get(auth, "NextRefreshAfter")):  # (``credentials.delegated``)
        cred.attributes[NOT_BEFORE] = gate


async def refresh_plugin_auth(host: PluginHost, cred: Credential, config: Any) -> bool:
    """``auth.refresh`` by the auth provider of ``cred.provider``, its answer merged into
    ``cred`` (the caller saves it: ``plugins.refresh_merge``). True when it changed."""
    rec = None
    for cand in host.active("auth_provider"):
        if (await host.identifier(cand, abi.AUTH_IDENTIFIER)).lower() == cred.provider:
            rec = cand
            break
    if rec is None or cred.path is None:
        return False
    params = auth_params(cred, config)
    try:
        result = await host.call(rec, abi.AUTH_REFRESH, params)
    except (PluginError, PluginCrashed, TimeoutError) as exc:
        log.warning("plugin %s: auth.refresh of %s failed: %s", rec.id, cred.id, exc)
        return False
    auth = ci_get(result, "Auth") if isinstance(result, dict) else None
    if not isinstance(auth, dict):
        return False
    apply_auth_data(cred, auth)  # in place: the credential keeps its id and auth index
    if gate := not_before(ci_get(result, "NextRefreshAfter")):
        cred.attributes[NOT_BEFORE] = gate
    normalize_metadata(cred.metadata)
    return True
