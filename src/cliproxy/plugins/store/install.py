"""Installing a plugin archive: pick the library in the zip, write it where discovery looks.

The zip must hold exactly one dynamic library at its root, named ``<id><ext>`` or
``<id>-v<version><ext>`` (``.so``, ``.dylib`` or ``.dll`` by ``goos``); it is written
atomically to ``<plugins.dir>/<goos>/<goarch>/<id>-v<version><ext>``. Identical bytes
already there are left alone (``skipped``). Because the name carries the version, an update
is a new file and the running one is never overwritten (CPA: ``internal/pluginstore/install.go``).
"""

from __future__ import annotations

import io
import os
import platform
import posixpath
import stat
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cliproxy.plugins.store.client import (
    StoreClient,
    parse_checksums,
    select_artifact,
    select_release_assets,
    verify_artifact_checksum,
    verify_checksum,
)
from cliproxy.plugins.store.manifest import Manifest, release_version
from cliproxy.plugins.store.registry import (
    DIRECT,
    GITHUB_RELEASE,
    InstallPlan,
    Plugin,
    StoreError,
    normalize_goarch,
    normalize_goos,
    normalize_plan,
    valid_plugin_id,
    valid_plugin_version,
    validate_install_plan,
    validate_plugin,
)
from cliproxy.plugins.store.versions import normalize_version

__all__ = ["InstallResult", "Installer", "current_platform", "install_archive", "plugin_extension"]

_LIBRARY_EXTS = (".so", ".dylib", ".dll")
MAX_LIBRARY = 1 << 30  # an unpacked library larger than this is refused (a zip bomb)


def current_platform() -> tuple[str, str]:
    """This interpreter's platform as Go names it (``linux``/``amd64``, ``darwin``/``arm64``...)."""
    goos = (
        "windows"
        if sys.platform.startswith("win")
        else "linux"
        if sys.platform.startswith("linux")
        else sys.platform
    )
    machine = platform.machine().lower()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "i386": "386", "i686": "386", "armv7l": "arm"}.get(
        machine, machine
    )
    return normalize_goos(goos), normalize_goarch(goarch)


def plugin_extension(goos: str) -> str:
    goos = normalize_goos(goos)
    return ".dylib" if goos == "darwin" else ".dll" if goos == "windows" else ".so"


@dataclass(slots=True)
class InstallResult:
    id: str
    version: str
    path: str
    release_tag: str = ""
    install_type: str = ""
    overwritten: bool = False
    skipped: bool = False


def _clean_name(name: str) -> str:
    if not name.strip():
        raise StoreError("zip entry has empty name")
    if "\\" in name:
        raise StoreError(f"zip entry {name} uses backslash path separators")
    if name.startswith("/"):
        raise StoreError(f"zip entry {name} is absolute")
    cleaned = posixpath.normpath(name)
    if cleaned in (".", "..") or cleaned.startswith("../"):
        raise StoreError(f"zip entry {name} escapes archive root")
    return cleaned


def _target_library(archive: zipfile.ZipFile, plugin_id: str, version: str, goos: str) -> tuple[bytes, int]:
    ext = plugin_extension(goos)
    plain, versioned = plugin_id + ext, f"{plugin_id}-v{version}{ext}"
    target: zipfile.ZipInfo | None = None
    for info in archive.infolist():
        cleaned = _clean_name(info.filename)
        if info.is_dir():
            continue
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG):
            raise StoreError(f"zip entry {info.filename} is not a regular file")
        if not cleaned.lower().endswith(_LIBRARY_EXTS):
            continue
        if cleaned not in (plain, versioned):
            if posixpath.basename(cleaned) in (plain, versioned):
                raise StoreError("target dynamic library must be at zip root")
            raise StoreError(f"dynamic library filename must be {plain} or {versioned}")
        if target is not None:
            raise StoreError("zip contains multiple target dynamic libraries")
        target = info
    if target is None:
        raise StoreError(f"zip does not contain {plain}")
    if target.file_size > MAX_LIBRARY:
        raise StoreError(f"{target.filename} is larger than {MAX_LIBRARY} bytes")
    mode = (target.external_attr >> 16) & 0o777
    return archive.read(target), mode or 0o755


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode) if hasattr(os, "fchmod") else None
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_archive(
    data: bytes, plugin_id: str, version: str, plugins_dir: str, goos: str, goarch: str
) -> InstallResult:
    """Extract the plugin library of ``data`` (a zip) into ``plugins_dir``."""
    plugin_id, version = plugin_id.strip(), normalize_version(version)
    if not valid_plugin_id(plugin_id):
        raise StoreError(f"invalid plugin id {plugin_id!r}")
    if not valid_plugin_version(version):
        raise StoreError(f"invalid plugin version {version!r}")
    goos, goarch = normalize_goos(goos), normalize_goarch(goarch)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            library, mode = _target_library(archive, plugin_id, version, goos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise StoreError(f"open zip: {exc}") from None
    target = (
        Path(plugins_dir or "plugins") / goos / goarch / f"{plugin_id}-v{version}{plugin_extension(goos)}"
    )
    overwritten = target.exists()
    if overwritten and target.read_bytes() == library:
        return InstallResult(plugin_id, version, str(target), overwritten=True, skipped=True)
    try:
        _write_atomic(target, library, mode)
    except OSError as exc:
        raise StoreError(f"install plugin file: {exc}") from None
    return InstallResult(plugin_id, version, str(target), overwritten=overwritten)


@dataclass(slots=True)
class Installer:
    """Install a registry plugin for one platform into one plugins directory."""

    client: StoreClient
    plugins_dir: str
    goos: str = ""
    goarch: str = ""

    def __post_init__(self) -> None:
        here = current_platform()
        self.goos = normalize_goos(self.goos or here[0])
        self.goarch = normalize_goarch(self.goarch or here[1])

    async def install_latest(self, plugin: Plugin) -> InstallResult:
        """A GitHub plugin's newest release, a direct plugin's listed version."""
        validate_plugin(plugin)
        if plugin.install_type == DIRECT:
            return await self.install_direct(plugin, normalize_version(plugin.version), plugin.install)
        release = await self.client.latest_release(plugin)
        return await self._install_release(plugin, release.tag_name, release)

    async def install_version(self, plugin: Plugin, tag: str, version: str) -> InstallResult:
        """A GitHub plugin's release ``tag``, which must name ``version``."""
        validate_plugin(plugin)
        version = normalize_version(version)
        if not valid_plugin_version(version):
            raise StoreError(f"invalid plugin version {version!r}")
        tag = tag.strip() or version
        release = await self.client.release_by_tag(plugin, tag)
        resolved = release_version(release.tag_name)
        if resolved != version:
            raise StoreError(f"release tag {tag!r} resolved version {resolved!r}, want {version!r}")
        return await self._install_release(plugin, release.tag_name, release)

    async def _install_release(self, plugin: Plugin, tag: str, release: Any) -> InstallResult:
        version = release_version(tag)
        archive, sums = select_release_assets(release, plugin.id, version, self.goos, self.goarch)
        try:
            data = await self.client.download_asset(archive)
        except StoreError as exc:
            raise StoreError(f"download {archive.name}: {exc}") from None
        try:
            checksums = parse_checksums(await self.client.download_asset(sums))
        except StoreError as exc:
            raise StoreError(f"download checksums.txt: {exc}") from None
        verify_checksum(archive.name, data, checksums)
        result = install_archive(data, plugin.id, version, self.plugins_dir, self.goos, self.goarch)
        result.install_type, result.release_tag = GITHUB_RELEASE, tag.strip()
        return result

    async def install_direct(self, plugin: Plugin, version: str, plan: InstallPlan) -> InstallResult:
        """The artifact of this platform from a direct ``plan``, checked against its sha256."""
        version = normalize_version(version)
        if not valid_plugin_id(plugin.id.strip()):
            raise StoreError(f"invalid plugin id {plugin.id!r}")
        if not valid_plugin_version(version):
            raise StoreError(f"invalid plugin version {version!r}")
        plan = normalize_plan(plan)
        plan.type = DIRECT
        validate_install_plan(plan)
        artifact = select_artifact(plan, self.goos, self.goarch)
        try:
            data = await self.client.download_artifact(artifact)
        except StoreError as exc:
            raise StoreError(f"download artifact: {exc}") from None
        verify_artifact_checksum(artifact, data)
        result = install_archive(data, plugin.id, version, self.plugins_dir, self.goos, self.goarch)
        result.install_type = DIRECT
        return result

    async def install_manifest(self, manifest: Manifest) -> InstallResult:
        """What a manifest pins (direct artifacts, or a GitHub release tag)."""
        manifest.validate()
        if manifest.install_type == DIRECT:
            plan = normalize_plan(manifest.install)
            if not plan.artifacts:
                raise StoreError("direct install manifest has no artifacts")
            return await self.install_direct(manifest.plugin(), manifest.version, plan)
        return await self.install_version(manifest.plugin(), manifest.release_tag, manifest.version)
