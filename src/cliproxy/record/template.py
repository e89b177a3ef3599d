"""The config a recording carries: the proxy's config with its secrets taken out
(``sanitize``), and the same config turned into one that sends every provider to the
recorded upstream (``for_replay``)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from cliproxy.usage.recording import RECORD_DIR_ENV
from cliproxy.usage.scrub import scrub_headers, scrub_text

__all__ = [
    "CLIENT_KEY",
    "PROVIDER_LISTS",
    "TEMPLATE",
    "dump",
    "for_replay",
    "load",
    "prepare_record",
    "sanitize",
    "write_template",
]

TEMPLATE = "config.yaml"  # beside the recordings
CLIENT_KEY = "replay-client-key"
# the config lists whose entries call an upstream at their base-url
PROVIDER_LISTS = (
    "claude-api-key",
    "codex-api-key",
    "gemini-api-key",
    "interactions-api-key",
    "vertex-api-key",
    "xai-api-key",
    "openai-compatibility",
)
_SECRET_PARTS = ("key", "token", "secret", "password")
_NOT_SECRET = frozenset({"api-key-entries", "models", "excluded-models"})


def _yaml() -> YAML:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    return yaml


def load(path: Path) -> dict[str, Any]:
    data = _yaml().load(path.read_text()) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _secret_name(name: str) -> bool:
    lower = name.lower()
    return lower not in _NOT_SECRET and any(part in lower for part in _SECRET_PARTS)


def sanitize(value: Any, _counter: Iterator[int] | None = None, _name: str = "") -> Any:
    """A copy of a parsed config with every secret replaced by a distinct placeholder
    (distinct, so credentials stay apart) and custom headers scrubbed."""
    counter = _counter if _counter is not None else itertools.count(1)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() == "headers" and isinstance(item, dict):
                out[key] = scrub_headers({str(k): str(v) for k, v in item.items()})
            elif name.lower() == "proxy-url":
                out[key] = ""
            else:
                out[key] = sanitize(item, counter, name)
        return out
    if isinstance(value, list):
        return [sanitize(item, counter, _name) for item in value]
    if isinstance(value, str):
        if _name and _secret_name(_name) and value:
            return f"replay-secret-{next(counter)}"
        return scrub_text(value)
    return value


def write_template(config_path: Path | None, out: Path) -> Path:
    """``out/config.yaml``: the sanitized config (an empty one without a config file)."""
    data = sanitize(load(config_path)) if config_path is not None else {}
    data.pop("auth-dir", None)  # a local path; a replay uses an empty one of its own
    out.mkdir(parents=True, exist_ok=True)
    path = out / TEMPLATE
    with path.open("w") as f:
        _yaml().dump(data, f)
    return path


def prepare_record(config_path: Path, out: Path) -> None:
    """``cliproxy record``, before serving: the config template beside the recordings, and
    the folder every server process (workers included) records into."""
    write_template(config_path if config_path.is_file() else None, out)
    os.environ[RECORD_DIR_ENV] = str(out.resolve())
    print(f"cliproxy record: recording every request into {out.resolve()}", file=sys.stderr)


def _rebase(url: str, upstream: str) -> str:
    path = urlsplit(url).path if url else ""
    return upstream.rstrip("/") + path


def for_replay(template: dict[str, Any], upstream: str, auth_dir: Path) -> dict[str, Any]:
    """The template with every provider's base-url moved to ``upstream`` (the path kept),
    one client key (``CLIENT_KEY``), an empty auth-dir and no management, logs or proxy."""
    config = dict(template)
    for name in PROVIDER_LISTS:
        entries = config.get(name)
        if not isinstance(entries, list):
            continue
        rebased = []
        for entry in entries:
            if isinstance(entry, dict):
                entry = dict(entry)
                entry["base-url"] = _rebase(str(entry.get("base-url") or ""), upstream)
            rebased.append(entry)
        config[name] = rebased
    config.update(
        {
            "host": "127.0.0.1",
            "port": 0,
            "auth-dir": str(auth_dir),
            "api-keys": [CLIENT_KEY],
            "proxy-url": "",
            "request-log": False,
            "logging-to-file": False,
            "usage-statistics-enabled": False,
            "remote-management": {"secret-key": "", "allow-remote": False},
        }
    )
    config.pop("workers", None)
    config.pop("state", None)
    return config


def dump(config: dict[str, Any], path: Path) -> None:
    with path.open("w") as f:
        _yaml().dump(config, f)
