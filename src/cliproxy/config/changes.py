"""What a config reload changed, as redacted lines for the log (CPA's ``BuildConfigChangeDetails``).

:func:`describe_changes` walks two :class:`~cliproxy.config.model.Config` snapshots field
by field and says what differs, by YAML name (``gemini[0].proxy-url: ... -> ...``). It
is generic over the model: a field needs no entry here to be reported, and a scalar is
printed as ``path: old -> new``. The rules below only say what must not be printed as is:

- secrets never: a string whose name ends in ``key`` or speaks of a secret, password,
  token or credential is "updated"; ``api-keys`` and ``routing.explain-keys`` give a
  count; ``remote-management.secret-key`` says created, deleted or updated; ``headers``
  (values are often credentials) say "updated"; ICE servers give a count.
- a URL (any key ending in ``url``, and the panel repository) shows its scheme and host
  only, so neither a proxy password nor a token in a path or query appears.
- a list gives its length (``updated (1 -> 2 entries)``; payload rules say "rules",
  sensitive words a bare count); model and exclusion lists compare as sets, as CPA does.
- the ``*-api-key`` lists are walked entry by entry (``claude[0].base-url``) when their
  length is kept, and give a count otherwise; ``openai-compatibility`` is matched by
  provider name (:func:`describe_compat_changes`).
- maps are walked key by key (``oauth-excluded-models[claude]: added (2 entries)``).
- keys the model does not know (kept as written) say only "updated".

Only sub-trees that differ are visited, so a reload of a config with hundreds of keys
that changed one of them costs a few equality checks per entry.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._base import ConfigModel
from .model import Config
from .providers import OpenAICompatibility, OpenAICompatModel

__all__ = [
    "compat_key",
    "compat_signature",
    "count_api_keys",
    "count_models",
    "describe_changes",
    "describe_compat_changes",
    "format_url",
    "log_changes",
]

log = logging.getLogger(__name__)

_MISSING = object()
_SECRET_WORDS = ("secret", "password", "token", "credential")
_KEY_LISTS = frozenset(
    (
        "gemini-api-key",
        "interactions-api-key",
        "codex-api-key",
        "xai-api-key",
        "claude-api-key",
        "vertex-api-key",
    )
)

Lines = list[str]


def describe_changes(old: Config | None, new: Config | None) -> Lines:
    """The changes from ``old`` to ``new``, one redacted line each; empty when equal."""
    out: Lines = []
    if old is None or new is None or old is new:
        return out
    _section(old, new, "", out)
    if old.client_keys != new.client_keys:
        out.append(
            f"api-keys: key policies updated ({len(old.client_keys)} -> {len(new.client_keys)} entries, redacted)"
        )
    return out


def log_changes(old: Config | None, new: Config) -> Lines:
    """Log the changes at INFO the way CPA does: a heading, then one line per change."""
    lines = describe_changes(old, new)
    if lines:
        log.info("config changes detected:")
        for line in lines:
            log.info("  %s", line)
    elif old is not None:
        log.debug("no material config field changes detected")
    return lines


def format_url(raw: str) -> str:
    """A URL as ``scheme://host[:port]``: no user, password, path or query (CPA's ``formatURL``).

    ``host:port`` without a scheme gives ``host:port``; empty gives ``<none>``; text with
    no host (or that does not parse) gives ``<redacted>``."""
    text = raw.strip()
    if not text:
        return "<none>"
    try:
        parts = urlsplit(text)
        if not parts.netloc:
            parts = urlsplit("http://" + text)._replace(scheme="")
        _ = parts.port  # a port that is not a number (a password?) raises, as Go refuses it
    except ValueError:
        return "<redacted>"
    host = parts.netloc.rpartition("@")[2]
    if not host:
        return "<redacted>"
    return f"{parts.scheme}://{host}" if parts.scheme else host


# -- the walk


def _section(old: ConfigModel, new: ConfigModel, prefix: str, out: Lines) -> None:
    for name, field in type(new).model_fields.items():
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            key = field.alias or name
            _field(prefix + key, key, before, after, out)
    extra_old, extra_new = old.model_extra or {}, new.model_extra or {}
    if extra_old != extra_new:  # unknown keys: what they hold is not known, so never printed
        for key in sorted(set(extra_old) | set(extra_new), key=str):
            if extra_old.get(key, _MISSING) != extra_new.get(key, _MISSING):
                out.append(f"{prefix}{key}: updated")


def _field(path: str, name: str, old: Any, new: Any, out: Lines) -> None:
    rule = _PATH_RULES.get(path) or _NAME_RULES.get(name)
    if rule is not None:
        rule(path, old, new, out)
    elif path in _KEY_LISTS:
        _key_list(path, old, new, out)
    elif _is_secret(name) and isinstance(old or new, str | list):
        out.append(f"{path}: updated")
    elif name.endswith("url") and isinstance(old, str) and isinstance(new, str):
        _url(path, old, new, out)
    else:
        _value(path, name, old, new, out)


def _value(path: str, name: str, old: Any, new: Any, out: Lines) -> None:
    if isinstance(old, ConfigModel) and isinstance(new, ConfigModel):
        _section(old, new, path + ".", out)
    elif isinstance(old, ConfigModel) or isinstance(new, ConfigModel):
        out.append(f"{path}: {'added' if old is None else 'removed'}")
    elif isinstance(old, Mapping) and isinstance(new, Mapping):
        _mapping(path, name, old, new, out)
    elif isinstance(old, list) and isinstance(new, list):
        _entries(path, name, old, new, out)
    else:
        out.append(f"{path}: {_scalar(old, new)} -> {_scalar(new, old)}")


def _key_list(path: str, old: list[Any], new: list[Any], out: Lines) -> None:
    """``claude-api-key``: a count when entries came or went, else each entry (``claude[0].x``)."""
    if len(old) != len(new):
        out.append(f"{path} count: {len(old)} -> {len(new)}")
        return
    label = path.removesuffix("-api-key")
    for index, (before, after) in enumerate(zip(old, new, strict=True)):
        if before != after:
            _section(before, after, f"{label}[{index}].", out)


def _mapping(path: str, name: str, old: Mapping[Any, Any], new: Mapping[Any, Any], out: Lines) -> None:
    for key in sorted(set(old) | set(new), key=str):
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        here = f"{path}[{key}]"
        if after is _MISSING:
            out.append(f"{here}: removed")
        elif before is _MISSING:
            size = f" ({_count(name, after)} entries)" if isinstance(after, list) else ""
            out.append(f"{here}: added{size}")
        elif before != after:
            _value(here, name, before, after, out)


def _entries(path: str, name: str, old: list[Any], new: list[Any], out: Lines, unit: str = "entries") -> None:
    """A list that differs: its length before and after (model and exclusion lists count
    distinct entries, and a change of order alone is none, as in CPA)."""
    summarize = _SUMMARIES.get(name)
    if summarize is None:
        out.append(f"{path}: updated ({len(old)} -> {len(new)} {unit})")
    elif (before := summarize(old)) != (after := summarize(new)):
        out.append(f"{path}: updated ({len(before)} -> {len(after)} {unit})")


def _count(name: str, values: list[Any]) -> int:
    summarize = _SUMMARIES.get(name)
    return len(values) if summarize is None else len(summarize(values))


def _excluded(values: list[Any]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if isinstance(v, str) and v.strip())


def _models(values: list[Any]) -> frozenset[str]:
    """Model entries as a set: name and alias case-folded, entries with neither left out."""
    keys = set()
    for model in values:
        data = model.model_dump() if isinstance(model, ConfigModel) else {}
        name, alias = str(data.get("name", "")).strip(), str(data.get("alias", "")).strip()
        if name or alias:
            keys.add(repr({**data, "name": name.lower(), "alias": alias.lower()}))
    return frozenset(keys)


_SUMMARIES: dict[str, Callable[[list[Any]], frozenset[str]]] = {
    "excluded-models": _excluded,
    "oauth-excluded-models": _excluded,
    "models": _models,
    "oauth-model-alias": _models,
}


def _scalar(value: Any, other: Any) -> str:
    if value is None:  # an optional override: a flag inherits, a number is unset (CPA's words)
        return "inherit" if isinstance(other, bool) else "<unset>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip() or "<none>"
    return str(value)


def _is_secret(name: str) -> bool:
    return name == "key" or name.endswith("-key") or any(w in name for w in _SECRET_WORDS)


# -- the rules for what must not be printed as it is


def _url(path: str, old: str, new: str, out: Lines) -> None:
    if old.strip() == new.strip():
        return
    before, after = format_url(old), format_url(new)
    if before == after:  # only what is not shown changed (path, query, user, password)
        out.append(f"{path}: updated ({after}, details redacted)")
    else:
        out.append(f"{path}: {before} -> {after}")


def _updated(path: str, old: Any, new: Any, out: Lines) -> None:
    out.append(f"{path}: updated")


def _client_keys(path: str, old: list[str], new: list[str], out: Lines) -> None:
    if len(old) != len(new):
        out.append(f"{path} count: {len(old)} -> {len(new)}")
    elif [k.strip() for k in old] != [k.strip() for k in new]:
        out.append(f"{path}: values updated (count unchanged, redacted)")


def _secret_key(path: str, old: str, new: str, out: Lines) -> None:
    state = "created" if not old else "deleted" if not new else "updated"
    out.append(f"{path}: {state}")


def _word_count(path: str, old: list[Any], new: list[Any], out: Lines) -> None:
    out.append(f"{path}: {len(old)} -> {len(new)}")


def _ice_servers(path: str, old: list[Any], new: list[Any], out: Lines) -> None:
    out.append(f"{path}: updated ({len(old)} -> {len(new)} entries, credentials redacted)")


def _payload_rules(path: str, old: list[Any], new: list[Any], out: Lines) -> None:
    _entries(path, "rules", old, new, out, unit="rules")


def _compat(path: str, old: list[Any], new: list[Any], out: Lines) -> None:
    if lines := describe_compat_changes(old, new):
        out.append(f"{path}:")
        out.extend("  " + line for line in lines)


Rule = Callable[[str, Any, Any, Lines], None]

_PATH_RULES: dict[str, Rule] = {
    "api-keys": _client_keys,
    "routing.explain-keys": _client_keys,
    "remote-management.secret-key": _secret_key,
    "remote-management.panel-github-repository": _url,
    "codex.live-media-relay.ice-servers": _ice_servers,
    "openai-compatibility": _compat,
    **{
        f"payload.{s}": _payload_rules
        for s in ("default", "default-raw", "override", "override-raw", "filter")
    },
}

_NAME_RULES: dict[str, Rule] = {
    "api-key": _updated,
    "headers": _updated,
    "sensitive-words": _word_count,
}


# -- openai-compatibility, provider by provider (CPA's DiffOpenAICompatibility)
#
# Providers are matched by name (then base URL, first model alias, a signature of what
# they hold, or their position), not by index, so adding one in front of the others
# reports one provider added, not every provider changed. A provider says how many keys
# it has, never which.


def describe_compat_changes(
    old: Sequence[OpenAICompatibility], new: Sequence[OpenAICompatibility]
) -> list[str]:
    """``provider added|removed|updated: <label> (...)`` lines, ordered by match key."""
    before, after = _keyed(old), _keyed(new)
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            label, entry = after[key]
            out.append(f"provider added: {label} ({_sizes(entry)})")
        elif key not in after:
            label, entry = before[key]
            out.append(f"provider removed: {label} ({_sizes(entry)})")
        elif details := _details(before[key][1], after[key][1]):
            out.append(f"provider updated: {before[key][0]} ({', '.join(details)})")
    return out


def compat_key(entry: OpenAICompatibility, index: int) -> tuple[str, str]:
    """The match key and the printed label of a provider (CPA's ``openAICompatKey``)."""
    if name := entry.name.strip():
        return "name:" + name, name
    if base := entry.base_url.strip():
        return "base:" + base, format_url(base)
    for model in entry.models:
        if alias := model.alias.strip() or model.name.strip():
            return "alias:" + alias, alias
    if signature := compat_signature(entry):
        return "sig:" + signature, "compat-" + signature[:8]
    return f"index:{index}", f"entry-{index + 1}"


def compat_signature(entry: OpenAICompatibility) -> str:
    """A hash of what identifies a nameless provider (no key material: only the key count)."""
    parts: list[str] = []
    if name := entry.name.strip():
        parts.append("name=" + name.lower())
    if base := entry.base_url.strip():
        parts.append("base=" + base)
    if models := sorted(_model_key(m) for m in entry.models if m.name.strip() or m.alias.strip()):
        parts.append("models=" + ",".join(models))
    if headers := sorted(k.strip().lower() for k in entry.headers if k.strip()):
        parts.append("headers=" + ",".join(headers))
    if keys := count_api_keys(entry):
        parts.append(f"api_keys={keys}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest() if parts else ""


def count_api_keys(entry: OpenAICompatibility) -> int:
    """Key entries with a key."""
    return sum(1 for k in entry.api_key_entries if k.api_key.strip())


def count_models(models: Sequence[OpenAICompatModel]) -> int:
    """Model entries with a name or an alias."""
    return sum(1 for m in models if m.name.strip() or m.alias.strip())


def _keyed(entries: Sequence[OpenAICompatibility]) -> dict[str, tuple[str, OpenAICompatibility]]:
    out: dict[str, tuple[str, OpenAICompatibility]] = {}
    for index, entry in enumerate(entries):
        key, label = compat_key(entry, index)
        unique, n = key, 0
        while unique in out:  # the same name twice: the second is its own provider
            n += 1
            unique = f"duplicate:{key}:{n}"
        out[unique] = (label, entry)
    return out


def _sizes(entry: OpenAICompatibility) -> str:
    return f"api-keys={count_api_keys(entry)}, models={count_models(entry.models)}"


def _flag(value: bool | None) -> str:
    return "inherit" if value is None else str(value).lower()


def _number(value: int | None) -> str:
    return "<unset>" if value is None else str(value)


def _details(old: OpenAICompatibility, new: OpenAICompatibility) -> list[str]:
    """What changed in one provider: CPA's items first, in CPA's order, then cliproxy's."""
    out: list[str] = []
    for name, show in _SHOWN:
        before, after = show(old), show(new)
        if before != after:
            out.append(f"{name} {before} -> {after}")
    if old.headers != new.headers:
        out.append("headers updated")
    # cliproxy: changes CPA leaves unsaid (same counts, other content)
    if count_api_keys(old) == count_api_keys(new) and old.api_key_entries != new.api_key_entries:
        out.append("api-keys updated")
    if count_models(old.models) == count_models(new.models) and old.models != new.models:
        out.append("models updated")
    if old.request_scoped_errors != new.request_scoped_errors:
        out.append(
            f"request-scoped-errors {len(old.request_scoped_errors)} -> {len(new.request_scoped_errors)}"
        )
    return out


_SHOWN: tuple[tuple[str, Callable[[OpenAICompatibility], str]], ...] = (
    ("disabled", lambda e: _flag(e.disabled)),
    ("support-prompt-cache-key", lambda e: _flag(e.support_prompt_cache_key)),
    ("disable-cooling", lambda e: _flag(e.disable_cooling)),
    ("request-retry", lambda e: _number(e.request_retry)),
    ("api-keys", lambda e: str(count_api_keys(e))),
    ("models", lambda e: str(count_models(e.models))),
    # cliproxy's additions (CPA does not report these)
    ("base-url", lambda e: format_url(e.base_url)),
    ("prefix", lambda e: e.prefix or "<none>"),
    ("priority", lambda e: str(e.priority)),
)


def _model_key(model: OpenAICompatModel) -> str:
    name, alias = model.name.strip().lower(), model.alias.strip().lower()
    return f"{name}|{alias}|{model.display_name.strip()}|image={str(model.image).lower()}"
