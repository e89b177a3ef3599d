"""Command-line flags contributed by plugins (CPA's ``command_line_plugin``).

Before the command line is parsed, the enabled plugins are loaded and asked for their
flags (``command_line.register``); valid, non-conflicting ones join the parser. When
any plugin flag was given, each plugin whose flag was set gets ``command_line.execute``
once the config is loaded; its output is printed, the credentials it returns are saved
into ``auth-dir``, and the process exits with its exit code instead of serving.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, ci_get
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import host_config, save_auth_data

__all__ = ["PluginFlags", "collect_flags", "run_triggered"]

log = logging.getLogger(__name__)

_TYPES = {"bool", "string", "int", "int64", "float64", "duration"}
_BAD_NAME = re.compile(r"[\s=]")


@dataclass(slots=True)
class PluginFlags:
    by_plugin: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # flag name -> plugin id


async def collect_flags(host: PluginHost, reserved: set[str]) -> PluginFlags:
    flags = PluginFlags()
    for rec in host.active("command_line_plugin"):
        try:
            result = await host.call(rec, abi.COMMAND_LINE_REGISTER, {"Plugin": rec.metadata})
        except (TimeoutError, PluginError, PluginCrashed) as exc:
            log.warning("plugin %s: command_line.register failed: %s", rec.id, exc)
            continue
        for flag in ci_get(result, "Flags") or [] if isinstance(result, dict) else []:
            name = str(ci_get(flag, "Name", "") or "").strip()
            kind = str(ci_get(flag, "Type", "") or "bool").strip().lower() or "bool"
            if (
                not name
                or name.startswith("-")
                or name in ("help", "h")
                or _BAD_NAME.search(name)
                or kind not in _TYPES
                or name in reserved
                or name in flags.owner
            ):
                log.warning("plugin %s: flag %r skipped (invalid or taken)", rec.id, name)
                continue
            flags.owner[name] = rec.id
            flags.by_plugin.setdefault(rec.id, []).append(
                {
                    "Name": name,
                    "Usage": str(ci_get(flag, "Usage", "") or ""),
                    "Type": kind,
                    "DefaultValue": str(ci_get(flag, "DefaultValue", "") or ""),
                }
            )
    return flags


def add_to_parser(parser: argparse.ArgumentParser, flags: PluginFlags) -> None:
    for plugin_id, items in flags.by_plugin.items():
        group = parser.add_argument_group(f"plugin {plugin_id}")
        for f in items:
            dest = "plugin_flag__" + f["Name"].replace("-", "_")
            if f["Type"] == "bool":
                group.add_argument(
                    f"--{f['Name']}", dest=dest, nargs="?", const="true", default=None, help=f["Usage"]
                )
            else:
                group.add_argument(f"--{f['Name']}", dest=dest, default=None, help=f["Usage"])


async def run_triggered(
    host: PluginHost, flags: PluginFlags, args: argparse.Namespace, config: Any, config_path: Path
) -> int | None:
    """Run ``command_line.execute`` for plugins whose flags were set; ``None`` if none was."""
    values = {name: getattr(args, "plugin_flag__" + name.replace("-", "_"), None) for name in flags.owner}
    triggered = {n for n, v in values.items() if v is not None}
    if not triggered:
        return None
    code = 0
    for plugin_id in sorted({flags.owner[n] for n in triggered}):
        rec = host.get(plugin_id)
        if rec is None:
            continue
        mine = {f["Name"]: f for f in flags.by_plugin[plugin_id]}
        flag_values = {
            n: {
                "Name": n,
                "Type": f["Type"],
                "Value": values[n] if values[n] is not None else f["DefaultValue"],
                "Set": values[n] is not None,
            }
            for n, f in mine.items()
        }
        params = {
            "Plugin": rec.metadata,
            "Program": "cliproxy",
            "Args": sys.argv[1:],
            "ConfigPath": str(config_path),
            "Host": host_config(config),
            "Flags": flag_values,
            "TriggeredFlags": {n: v for n, v in flag_values.items() if n in triggered},
        }
        code = max(code, await _execute(host, rec, params, Path(config.auth_dir)))
    return code


async def _execute(host: PluginHost, rec: Record, params: dict[str, Any], auth_dir: Path) -> int:
    try:
        result = await host.call(rec, abi.COMMAND_LINE_EXECUTE, params)
    except (TimeoutError, PluginError, PluginCrashed) as exc:
        print(f"plugin {rec.id}: {exc}", file=sys.stderr)
        return 1
    result = result if isinstance(result, dict) else {}
    sys.stdout.write(b64decode(ci_get(result, "Stdout")).decode("utf-8", "replace"))
    sys.stderr.write(b64decode(ci_get(result, "Stderr")).decode("utf-8", "replace"))
    for auth in ci_get(result, "Auths") or []:
        path = save_auth_data(auth, auth_dir, "{provider}.json")
        if path is not None:
            print(f"Authentication saved to {path}")
    return int(ci_get(result, "ExitCode", 0) or 0)
