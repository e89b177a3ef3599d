"""Credentials from auth-dir JSON files, read the way CPA's file synthesizer reads them."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .ids import auth_index, auth_index_seed
from .oauth_tokens import jwt_claims
from .record import (
    KIND_OAUTH,
    MAX_WEIGHT,
    Credential,
    ScopedErrorRule,
    parse_bool,
    parse_int,
    parse_limit,
)

__all__ = [
    "CANONICAL_METADATA_KEYS",
    "credential_from_bytes",
    "load_auth_dir",
    "load_auth_file",
    "normalize_metadata",
    "parse_weight",
    "read_auth_files",
    "scoped_rules_from",
    "swap_auth_files",
]

log = logging.getLogger(__name__)

CANONICAL_METADATA_KEYS = {
    "api-key": "api_key",
    "base-url": "base_url",
    "disable-cooling": "disable_cooling",
    "excluded-models": "excluded_models",
    "fingerprint-profile": "fingerprint_profile",
    "model-aliases": "model_aliases",
    "proxy-url": "proxy_url",
    "request-retry": "request_retry",
    "request-scoped-errors": "request_scoped_errors",
    "tool-prefix-disabled": "tool_prefix_disabled",
}
SCOPED_ACTIONS = ("stop", "stop-and-cooldown", "continue", "continue-and-cooldown")
# Go's strconv.Atoi accepts a sign and digits only; Python's int() also takes "1_000"
_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def load_auth_dir(auth_dir: str | Path, cfg: Any = None) -> list[Credential]:
    """Every top-level ``*.json`` in ``auth_dir`` (sorted by name); bad files are skipped."""
    root = Path(auth_dir)
    found = (load_auth_file(root / n, root, cfg) for n in _json_names(root))
    return [cred for cred in found if cred is not None]


def _json_names(root: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_file() and e.name.lower().endswith(".json"))
    except OSError:
        return []


def read_auth_files(paths: Iterable[Path], auth_dir: Path, cfg: Any = None) -> dict[Path, Credential | None]:
    """The given files as credentials (None: the file loads as none); files no longer there
    are left out. Blocking: call it in a worker thread."""
    return {p: load_auth_file(p, auth_dir, cfg) for p in paths if p.is_file()}


def swap_auth_files(
    creds: Iterable[Credential], found: Mapping[Path, Credential | None], removed: Iterable[Path]
) -> list[Credential]:
    """``creds`` with the credentials of the ``found`` and ``removed`` files taken out and
    those :func:`read_auth_files` found put in; every other credential is kept as it is (a
    token refreshed in memory stays)."""
    drop = set(found).union(removed)
    kept = [c for c in creds if c.path is None or c.path not in drop]
    return kept + [c for c in found.values() if c is not None]


def load_auth_file(path: str | Path, auth_dir: str | Path | None, cfg: Any = None) -> Credential | None:
    """One auth file as a credential, or None (unreadable, not JSON, no usable type).

    ``cfg`` (a :class:`cliproxy.config.Config`) supplies ``oauth-excluded-models`` and
    ``oauth-request-scoped-errors`` for the file's provider.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.warning("skipping auth file %s: %s", path.name, exc)
        return None
    return credential_from_bytes(path, data, auth_dir, cfg)


def credential_from_bytes(
    path: Path, data: bytes, auth_dir: str | Path | None, cfg: Any
) -> Credential | None:
    """:func:`load_auth_file` on content already read (no file access)."""
    try:
        meta = orjson.loads(data) if data.strip() else None
    except orjson.JSONDecodeError as exc:
        log.warning("skipping auth file %s: %s", path.name, exc)
        return None
    if not isinstance(meta, dict):
        if meta is not None:  # an empty file (one being written) is passed over in silence
            log.warning("skipping auth file %s: not a JSON object", path.name)
        return None
    normalize_metadata(meta)
    try:
        weight = parse_weight(meta["weight"]) if "weight" in meta else 1
    except ValueError as exc:
        log.warning("skipping auth file %s: invalid weight: %s", path.name, exc)
        return None
    raw_type = meta.get("type")
    provider = raw_type.strip().lower() if isinstance(raw_type, str) else ""
    if not provider:
        log.warning('skipping auth file %s: no "type" naming its provider', path.name)
        return None
    if provider in ("gemini", "gemini-cli"):  # CPA leaves Gemini CLI files to plugins
        log.warning(
            "skipping auth file %s: type %r (a Gemini CLI account) has no provider here, as in CPA",
            path.name,
            raw_type,
        )
        return None
    return _credential(path, auth_dir, meta, provider, weight, cfg)


def _credential(
    path: Path, auth_dir: str | Path | None, meta: dict[str, Any], provider: str, weight: int, cfg: Any
) -> Credential:
    full = str(path)
    priority = _priority(meta.get("priority"))
    cred = Credential(
        id=_relative_id(full, auth_dir),
        provider=provider,
        kind=KIND_OAUTH,
        label=_str(meta.get("email")) or provider,
        prefix=_prefix(meta.get("prefix")),
        priority=priority or 0,
        weight=weight,
        max_concurrency=parse_limit(meta.get("max_concurrency", meta.get("max-concurrency"))),
        disabled=meta.get("disabled") is True,
        proxy_url=meta["proxy_url"] if isinstance(meta.get("proxy_url"), str) else "",
        headers=_headers(meta.get("headers")),
        base_url=_str(meta.get("base_url")),
        api_key=_str(meta.get("api_key")),
        metadata=meta,
        excluded_models=_oauth_excluded(meta, provider, cfg),
        model_aliases=_aliases(meta.get("model_aliases")),
        request_retry=_retry(meta.get("request_retry")),
        disable_cooling=_cooling(meta),
        request_scoped_errors=_oauth_rules(meta, provider, cfg),
        path=path,
        source=full,
    )
    attrs = {"source": full, "path": full, "source_backend": "file", "auth_kind": KIND_OAUTH}
    if priority is not None:
        attrs["priority"] = str(priority)
    if "weight" in meta:
        attrs["weight"] = str(weight)
    if cred.max_concurrency:
        attrs["max_concurrency"] = str(cred.max_concurrency)
    if note := _str(meta.get("note")):
        attrs["note"] = note
    attrs.update({f"header:{k}": v for k, v in cred.headers.items()})
    if cred.excluded_models:
        attrs["excluded_models"] = ",".join(cred.excluded_models)
    if provider == "codex" and (plan := _codex_plan(meta)):
        attrs["plan_type"] = plan  # the model catalog of the account's plan (as CPA reads it)
    cred.attributes = attrs
    cred.index = auth_index(
        auth_index_seed(provider=provider, cred_id=cred.id, path=full, file_type=_str(meta.get("type")))
    )
    return cred


def _codex_plan(meta: Mapping[str, Any]) -> str:
    """The ChatGPT plan named in a Codex file's ``id_token`` (``chatgpt_plan_type``)."""
    token = meta.get("id_token")
    auth = jwt_claims(token).get("https://api.openai.com/auth") if isinstance(token, str) else None
    plan = auth.get("chatgpt_plan_type") if isinstance(auth, dict) else None
    return plan.strip() if isinstance(plan, str) else ""


def normalize_metadata(meta: dict[str, Any]) -> None:
    """Rename CPA's legacy kebab-case keys to snake_case; a present snake_case key wins."""
    for key in [k for k in meta if k in CANONICAL_METADATA_KEYS]:
        value = meta.pop(key)
        meta.setdefault(CANONICAL_METADATA_KEYS[key], value)


def parse_weight(value: Any) -> int:
    """CPA's weight rule: an integer up to 1,000,000; non-positive means 0 (excluded)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 1
        if not _INT_TEXT.fullmatch(text):
            raise ValueError("weight must be an integer")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("weight must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("weight must be an integer")
    if value > MAX_WEIGHT:
        raise ValueError(f"weight must not exceed {MAX_WEIGHT}")
    return max(0, int(value))


def scoped_rules_from(raw: Any) -> tuple[ScopedErrorRule, ...]:
    """Rules from JSON/YAML data (keys ``status``, ``match``, ``match-regexr``, ``action``)."""
    if not isinstance(raw, list):
        return ()
    rules = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        status = parse_int(item.get("status")) or 0
        match = _strings(item.get("match"))
        regexr = _strings(item.get("match-regexr", item.get("match_regexr")))
        action = str(item.get("action") or "").strip().lower()
        if status > 0 and (match or regexr) and action in SCOPED_ACTIONS:
            rules.append(ScopedErrorRule(status, match, regexr, action))
    return tuple(rules)


def _oauth_rules(meta: Mapping[str, Any], provider: str, cfg: Any) -> tuple[ScopedErrorRule, ...]:
    own = scoped_rules_from(meta.get("request_scoped_errors"))
    if own or cfg is None:
        return own
    rules = (getattr(cfg, "oauth_request_scoped_errors", None) or {}).get(provider) or []
    return scoped_rules_from(
        [
            {"status": r.status, "match": r.match, "match-regexr": r.match_regexr, "action": r.action}
            for r in rules
        ]
    )


def _oauth_excluded(meta: Mapping[str, Any], provider: str, cfg: Any) -> tuple[str, ...]:
    raw = meta.get("excluded_models")
    own = [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    shared: list[str] = []
    if cfg is not None:
        shared = (getattr(cfg, "oauth_excluded_models", None) or {}).get(provider) or []
    return tuple(sorted({m.strip().lower() for m in [*own, *shared] if m.strip()}))


def _aliases(raw: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if isinstance(item, Mapping) and _str(item.get("name")) and _str(item.get("alias")):
            out.append({**item, "name": _str(item.get("name")), "alias": _str(item.get("alias"))})
    return tuple(out)


def _relative_id(full: str, auth_dir: str | Path | None) -> str:
    if auth_dir is None or not str(auth_dir).strip():
        return full
    try:
        rel = os.path.relpath(full, str(auth_dir))
    except ValueError:
        return full
    return rel if rel and rel != "." else full


def _prefix(raw: Any) -> str:
    if not isinstance(raw, str):
        return ""
    text = raw.strip().strip("/")
    return text if text and "/" not in text else ""


def _priority(raw: Any) -> int | None:
    """An auth file's priority: a JSON number or integer text (CPA); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return int(raw)
    if isinstance(raw, str) and _INT_TEXT.fullmatch(text := raw.strip()):
        return int(text)
    return None


def _cooling(meta: Mapping[str, Any]) -> bool | None:
    return parse_bool(meta["disable_cooling"]) if "disable_cooling" in meta else None


def _retry(raw: Any) -> int | None:
    value = parse_int(raw)
    return value if value is not None and value >= 0 else None


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key, value in raw.items():
        if isinstance(value, str) and str(key).strip() and value.strip():
            out[str(key).strip()] = value.strip()
    return out


def _strings(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(s.strip() for s in raw if isinstance(s, str) and s.strip())


def _str(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""
