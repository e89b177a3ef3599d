"""Finding plugins on disk, as CPA does, plus cliproxy's own kinds.

Search order: ``<dir>/<os>/<arch>/`` then ``<dir>/``; files sorted by name in each.
A file is ``<id>.<ext>`` or ``<id>-v<version>.<ext>``. Native libraries use the
platform extension (``.so``, ``.dylib``, ``.dll``); Python plugins are ``<id>.py`` files
or ``<id>/`` packages (with ``__init__.py``). Several files for one id: the configured
version wins (``plugins.configs.<id>.store.version`` / ``release-tag``), else a versioned
file beats an unversioned one, else the highest version (dot-separated numeric compare,
plain string compare when a segment is not a number). The native extension matches in
any case (``alpha.SO`` is a plugin), as in CPA.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Candidate",
    "desired_version",
    "discover",
    "native_extension",
    "parse_name",
    "pinned_versions",
    "platform_dirs",
]

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")


def native_extension() -> str:
    if sys.platform == "darwin":
        return ".dylib"
    if sys.platform.startswith("win"):
        return ".dll"
    return ".so"


def _goos_goarch() -> tuple[str, str]:
    goos = {"darwin": "darwin", "win32": "windows"}.get(
        sys.platform, "linux" if sys.platform.startswith("linux") else sys.platform
    )
    machine = platform.machine().lower()
    goarch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "i386": "386",
        "i686": "386",
    }.get(machine, machine)
    return goos, goarch


def platform_dirs(root: Path) -> list[Path]:
    goos, goarch = _goos_goarch()
    return [root / goos / goarch, root]


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    version: str
    path: Path
    kind: str  # "native" or "python"


def parse_name(name: str, ext: str) -> tuple[str, str] | None:
    """(id, version) from a file name without ``ext``; ``None`` when not a plugin name."""
    if ext and not name.lower().endswith(ext.lower()):
        return None
    stem = name[: len(name) - len(ext)] if ext else name
    plugin_id, version = stem, ""
    m = re.match(r"^(.*)-v([0-9][0-9A-Za-z.+-]*)$", stem)
    if m and ID_RE.match(m.group(1)):
        plugin_id, version = m.group(1), m.group(2)
    if not ID_RE.match(plugin_id) or (version and not VERSION_RE.match(version)):
        return None
    return plugin_id, version


def desired_version(value: object) -> str:
    """A configured version as discovery compares it: one leading ``v`` dropped, ``""`` if invalid."""
    text = str(value or "").strip()
    if len(text) > 1 and text[0] in "vV":
        text = text[1:]
    return text if VERSION_RE.match(text) else ""


def pinned_versions(configs: Mapping[str, Any]) -> dict[str, str]:
    """Plugin id -> the version its ``plugins.configs.<id>.store`` pins (``version``, else
    ``release-tag``), for the plugins that pin a valid one."""
    out: dict[str, str] = {}
    for plugin_id, inst in configs.items():
        extra = getattr(inst, "model_extra", None) or {}
        store = extra.get("store")
        version = (
            desired_version(store.get("version") or store.get("release-tag"))
            if isinstance(store, dict)
            else ""
        )
        if version:
            out[plugin_id] = version
    return out


def _numeric(version: str) -> tuple[int, ...] | None:
    parts = version.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _newer(candidate: str, current: str) -> bool:
    """Whether version ``candidate`` beats ``current`` (an unversioned file never wins)."""
    if not candidate:
        return False
    if not current:
        return True
    a, b = _numeric(candidate), _numeric(current)
    if a is None or b is None:
        return candidate > current
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) > b + (0,) * (width - len(b))


def _scan(root: Path) -> list[Candidate]:
    found: list[Candidate] = []
    ext = native_extension()
    for folder in platform_dirs(root):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.is_file() and entry.name.lower().endswith(ext):
                parsed = parse_name(entry.name, ext)
                kind = "native"
            elif entry.is_file() and entry.name.endswith(".py"):
                parsed = parse_name(entry.name, ".py")
                kind = "python"
            elif entry.is_dir() and (entry / "__init__.py").is_file() and folder == root:
                parsed = parse_name(entry.name, "")
                kind = "python"
            else:
                continue
            if parsed is not None:
                found.append(Candidate(parsed[0], parsed[1], entry, kind))
    return found


def discover(root: Path, desired_versions: dict[str, str] | None = None) -> dict[str, Candidate]:
    """The chosen file per plugin id. A configured version that no file has skips the id."""
    desired = {k: desired_version(v) for k, v in (desired_versions or {}).items()}
    chosen: dict[str, Candidate] = {}
    for cand in _scan(root):
        current = chosen.get(cand.id)
        if current is None or _preferred(cand, current, desired.get(cand.id, "")):
            chosen[cand.id] = cand
    return {k: c for k, c in chosen.items() if not desired.get(k) or c.version == desired[k]}


def _preferred(cand: Candidate, current: Candidate, want: str) -> bool:
    if want and (cand.version == want) != (current.version == want):
        return cand.version == want
    return _newer(cand.version, current.version)
