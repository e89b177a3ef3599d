"""Finding plugins on disk, as CPA does, plus cliproxy's own kinds.

Search order: ``<dir>/<os>/<arch>/`` then ``<dir>/``; files sorted by name in each.
A file is ``<id>.<ext>`` or ``<id>-v<version>.<ext>``. Native libraries use the
platform extension (``.so``, ``.dylib``, ``.dll``); Python plugins are ``<id>.py`` files
or ``<id>/`` packages (with ``__init__.py``). Several files for one id: the configured
version wins (``plugins.configs.<id>.store.version`` / ``release-tag``), else a versioned
file beats an unversioned one, else the highest version (dot-separated numeric compare).
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Candidate", "discover", "native_extension", "parse_name", "platform_dirs"]

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
    if ext and not name.endswith(ext):
        return None
    stem = name[: len(name) - len(ext)] if ext else name
    plugin_id, version = stem, ""
    m = re.match(r"^(.*)-v([0-9][0-9A-Za-z.+-]*)$", stem)
    if m and ID_RE.match(m.group(1)):
        plugin_id, version = m.group(1), m.group(2)
    if not ID_RE.match(plugin_id) or (version and not VERSION_RE.match(version)):
        return None
    return plugin_id, version


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    parts: list[tuple[int, int | str]] = []
    for seg in re.split(r"[.+-]", version):
        parts.append((0, int(seg)) if seg.isdigit() else (1, seg))
    return tuple(parts)


def _scan(root: Path) -> list[Candidate]:
    found: list[Candidate] = []
    ext = native_extension()
    for folder in platform_dirs(root):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.is_file() and entry.name.endswith(ext):
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
    desired_versions = desired_versions or {}
    by_id: dict[str, list[Candidate]] = {}
    for cand in _scan(root):
        by_id.setdefault(cand.id, []).append(cand)
    chosen: dict[str, Candidate] = {}
    for plugin_id, cands in by_id.items():
        want = desired_versions.get(plugin_id, "").lstrip("v")
        if want:
            match = next((c for c in cands if c.version == want), None)
            if match is not None:
                chosen[plugin_id] = match
            continue
        versioned = [c for c in cands if c.version]
        if versioned:
            chosen[plugin_id] = max(versioned, key=lambda c: _version_key(c.version))
        else:
            chosen[plugin_id] = cands[0]
    return chosen
