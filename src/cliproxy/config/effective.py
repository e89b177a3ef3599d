"""Config keys cliproxy reads and keeps but does not act on yet, and unknown keys.

The project rule: a config key either changes behaviour (and a test shows it) or is
named in the start-up warning built here. Nothing a user sets is ignored in silence.

``NOT_EFFECTIVE`` is the table of such keys. Each row names the YAML key path (``[]``
for the items of a list) and ``attr``: the Python attribute whose read, outside
``cliproxy.config``, would be the first sign that the key is used (the field itself, or
its section when the field name is too generic to search for).
``tests/config/test_effective.py`` checks that no such read exists, so a change that makes
a key effective fails until the row is removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from ._base import ConfigModel
from .model import Config
from .sections import PluginInstanceConfig

__all__ = [
    "DEPRECATED",
    "NOT_EFFECTIVE",
    "NotEffective",
    "deprecated_keys",
    "deprecated_warning",
    "ignored_values",
    "ignored_values_warning",
    "not_effective_keys",
    "not_effective_warning",
    "unknown_keys",
    "unknown_keys_warning",
]


class NotEffective(NamedTuple):
    """One row of the table: YAML key path and the Python attribute that would read it."""

    path: str
    attr: str


NOT_EFFECTIVE: tuple[NotEffective, ...] = (
    # a debug listener of Go's pprof: nothing to serve in Python
    NotEffective("pprof.enable", "pprof"),
    NotEffective("pprof.addr", "pprof"),
    # the plugin auth revision CPA's Home plugin sync compares
    NotEffective("plugins.auth-revision", "auth_revision"),
    # CPA's distributed "Home" mode
    NotEffective("credential-concurrency", "credential_concurrency"),
    NotEffective("credential-in-flight", "credential_in_flight"),
    # CPA itself only stores these two and serves them to the management API; no request
    # path reads them (quota-exceeded.antigravity-credits is the one that acts)
    NotEffective("quota-exceeded.switch-project", "switch_project"),
    NotEffective("quota-exceeded.switch-preview-model", "switch_preview_model"),
    # CPA: a WebRTC media relay for Codex Live (/v1/realtime calls), which cliproxy does not serve
    NotEffective("codex.live-media-relay", "live_media_relay"),
    # the main model of CPA's legacy hosted-tool image path (a Responses request with the
    # image_generation tool forced), which CPA no longer reaches either: gpt-image-2 and
    # gpt-image-1.5 go to the Codex backend's own /images/* whether streamed or not
    NotEffective("gpt-image-2-base-model", "gpt_image_2_base_model"),
    # xAI keys never serve Codex Alpha Search: CPA clears the flag (codex-api-key's acts:
    # providers.codex_search)
    NotEffective("xai-api-key[].alpha-search", "alpha_search"),
)


# Keys CPA keeps only so that old configs still load: accepted, no effect, one WARNING
# at start saying what replaced them. (path, note)
DEPRECATED: tuple[tuple[str, str], ...] = (
    (
        "claude-api-key[].experimental-cch-signing",
        "CCH signing is automatic: always for Claude OAuth, for claude-code-cli profiles "
        "only on api.anthropic.com",
    ),
)


def deprecated_keys(config: Config) -> list[str]:
    """The rows of ``DEPRECATED`` set to a true value in the loaded YAML, in table order."""
    return [path for path, _ in DEPRECATED if _truthy(config, path)]


def deprecated_warning(keys: list[str]) -> str:
    notes = dict(DEPRECATED)
    return "deprecated config keys (accepted, no effect): " + "; ".join(f"{k} ({notes[k]})" for k in keys)


def _truthy(config: Config, path: str) -> bool:
    nodes: list[Any] = [config]
    for segment in path.split("."):
        name = segment.removesuffix("[]")
        found: list[Any] = []
        for node in nodes:
            value = getattr(node, name.replace("-", "_"), None) if isinstance(node, ConfigModel) else None
            found.extend(value if isinstance(value, list) else [value])
        nodes = found
    return any(bool(n) for n in nodes)


def not_effective_keys(config: Config) -> list[str]:
    """The rows of ``NOT_EFFECTIVE`` whose key is present in the loaded YAML, in table order."""
    return [row.path for row in NOT_EFFECTIVE if _present(config, row.path)]


def not_effective_warning(keys: list[str]) -> str:
    return "config keys set but not implemented in cliproxy yet (they have no effect): " + ", ".join(keys)


def ignored_values(config: Config) -> list[str]:
    """Values CPA loads but does not understand, each with what runs instead."""
    if strategy := config.routing.unknown_strategy:
        return [f"routing.strategy: {strategy!r} (round-robin is used)"]
    return []


def ignored_values_warning(values: list[str]) -> str:
    return "config values not understood (as in CPA, the default runs instead): " + "; ".join(values)


def unknown_keys(config: Config) -> list[str]:
    """Key paths the config model does not know (kept in the file, ignored).

    A plugin's own settings (``plugins.configs.<id>.*``) belong to the plugin, not here."""
    return list(_extras(config, ""))


def unknown_keys_warning(keys: list[str]) -> str:
    return "unknown config keys (kept in the file, ignored): " + ", ".join(keys)


def _present(config: Config, path: str) -> bool:
    nodes: list[Any] = [config]
    for segment in path.split("."):
        name = segment.removesuffix("[]")
        found: list[Any] = []
        for node in nodes:
            if not isinstance(node, ConfigModel):
                continue
            attr = name.replace("-", "_")
            if name not in node.yaml_keys and attr not in node.yaml_keys:
                continue
            value = getattr(node, attr, None)
            if segment.endswith("[]"):
                found.extend(value if isinstance(value, list) else ())
            else:
                found.append(value)
        if not found:
            return False
        nodes = found
    return True


def _extras(node: Any, path: str) -> Iterator[str]:
    if isinstance(node, ConfigModel):
        if not isinstance(node, PluginInstanceConfig):
            for key in node.model_extra or {}:
                yield f"{path}.{key}" if path else str(key)
        for name, field in type(node).model_fields.items():
            alias = field.alias or name
            yield from _extras(getattr(node, name), f"{path}.{alias}" if path else alias)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _extras(item, f"{path}[{index}]")
    elif isinstance(node, dict):
        for key, item in node.items():
            if isinstance(item, ConfigModel | list):
                yield from _extras(item, f"{path}.{key}")
