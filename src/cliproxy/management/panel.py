"""The control panel page: ``management.html`` cached on disk, fetched from GitHub releases.

Where it lives (CPA's order): ``MANAGEMENT_STATIC_PATH`` (a directory, or the file
itself), else ``$WRITABLE_PATH/static``, else ``<config dir>/static``.

Where it comes from: the ``management.html`` asset of the latest release of
``remote-management.panel-github-repository``. The release API base is
``https://api.github.com`` unless ``CLIPROXY_PANEL_RELEASE_API`` names another (tests
point it at a local server). The asset's ``digest`` (``sha256:<hex>``) is checked
before anything is written; a mismatch keeps the old file (or none). At most one
attempt runs every 30 seconds. With auto-update on, a cached page is re-checked in the
background every 3 hours; ``disable-auto-update-panel`` stops that (a missing page is
still fetched once on first access, as CPA does).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from yarl import URL

from cliproxy.config.env import writable_path
from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import UpstreamResponse

__all__ = [
    "ASSET_NAME",
    "DEFAULT_API_BASE",
    "PanelError",
    "PanelUpdater",
    "panel_path",
    "release_url",
    "static_dir",
]

log = logging.getLogger(__name__)

ASSET_NAME = "management.html"
DEFAULT_API_BASE = "https://api.github.com"
DEFAULT_REPOSITORY = "router-for-me/Cli-Proxy-API-Management-Center"
MIN_INTERVAL = 30.0
UPDATE_INTERVAL = 3 * 3600.0
MAX_SIZE = 50 << 20
TIMEOUT = 15.0
_USER_AGENT = "cliproxy-management-updater"
_REDIRECTS = (301, 302, 303, 307, 308)


class PanelError(Exception):
    """Why the page could not be fetched (the message is safe to show)."""


def static_dir(config_path: Path | None) -> Path | None:
    override = os.environ.get("MANAGEMENT_STATIC_PATH", "").strip()
    if override:
        path = Path(override)
        return path.parent if path.name.lower() == ASSET_NAME else path
    writable = writable_path()
    if writable:
        return Path(writable) / "static"
    if config_path is None:
        return None
    base = config_path if config_path.is_dir() else config_path.parent
    return base / "static"


def panel_path(config_path: Path | None) -> Path | None:
    override = os.environ.get("MANAGEMENT_STATIC_PATH", "").strip()
    if override and Path(override).name.lower() == ASSET_NAME:
        return Path(override)
    folder = static_dir(config_path)
    return folder / ASSET_NAME if folder is not None else None


def release_url(repository: str) -> str:
    """The latest-release API URL for ``owner/name``, a github.com URL or an API URL."""
    base = (os.environ.get("CLIPROXY_PANEL_RELEASE_API", "").strip() or DEFAULT_API_BASE).rstrip("/")
    owner_name = _owner_name(repository.strip()) or DEFAULT_REPOSITORY
    return f"{base}/repos/{owner_name}/releases/latest"


def _owner_name(repository: str) -> str:
    if "://" not in repository:
        parts = [p for p in repository.strip("/").split("/") if p]
        return "/".join(parts) if len(parts) == 2 else ""
    try:
        url = URL(repository)
    except ValueError:
        return ""
    parts = [p for p in url.path.strip("/").split("/") if p]
    if url.host == "api.github.com" and len(parts) >= 3 and parts[0] == "repos":
        return f"{parts[1]}/{parts[2]}"
    if url.host == "github.com" and len(parts) >= 2:
        return f"{parts[0]}/{parts[1].removesuffix('.git')}"
    return ""


class PanelUpdater:
    """Fetches the page into the static directory: one attempt at a time, throttled."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last_attempt: float | None = None
        self._last_check: float | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.last_error = ""

    async def ensure(self, target: Path, http: HttpClient, proxy: str, repository: str) -> bool:
        """Fetch the page unless an attempt ran in the last 30 s; True when a page is there."""
        async with self._lock:
            now = self._clock()
            if self._last_attempt is None or now - self._last_attempt >= MIN_INTERVAL:
                self._last_attempt = self._last_check = now
                try:
                    await self._update(target, http, proxy, repository)
                    self.last_error = ""
                except PanelError as exc:
                    self.last_error = str(exc)
                    log.warning("control panel update failed: %s", exc)
        return target.is_file()

    def refresh_due(self) -> bool:
        """Whether a background re-check is due (never done, or 3 hours ago)."""
        return self._last_check is None or self._clock() - self._last_check >= UPDATE_INTERVAL

    def refresh_in_background(self, target: Path, http: HttpClient, proxy: str, repository: str) -> None:
        self._last_check = self._clock()
        task = asyncio.get_running_loop().create_task(self.ensure(target, http, proxy, repository))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _update(self, target: Path, http: HttpClient, proxy: str, repository: str) -> None:
        download, digest = await _latest_asset(http, proxy, release_url(repository))
        if digest and target.is_file() and _sha256(target.read_bytes()) == digest:
            return
        data = await _get(http, proxy, download, {"User-Agent": _USER_AGENT})
        got = _sha256(data)
        if digest and got != digest:
            raise PanelError(f"digest mismatch for {ASSET_NAME}: expected {digest}, got {got}")
        if not digest:
            log.warning("control panel release asset has no digest; saved without verification")
        _write(target, data)
        log.info("control panel updated (sha256 %s)", got)


async def _latest_asset(http: HttpClient, proxy: str, url: str) -> tuple[str, str]:
    raw = await _get(http, proxy, url, {"Accept": "application/vnd.github+json", "User-Agent": _USER_AGENT})
    try:
        release = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PanelError(f"release information is not JSON: {exc}") from exc
    assets = release.get("assets") if isinstance(release, dict) else None
    for asset in assets if isinstance(assets, list) else ():
        if isinstance(asset, dict) and str(asset.get("name", "")).lower() == ASSET_NAME:
            download = str(asset.get("browser_download_url") or "")
            if not download:
                break
            return download, _digest(str(asset.get("digest") or ""))
    raise PanelError(f"{ASSET_NAME} not found in the latest release")


async def _get(http: HttpClient, proxy: str, url: str, headers: dict[str, str], hops: int = 5) -> bytes:
    try:
        async with asyncio.timeout(TIMEOUT):
            resp = await http.request("GET", url, headers=headers, body=None, proxy=proxy)
            try:
                location = resp.headers.get("Location", "")
                if resp.status in _REDIRECTS and location and hops > 0:  # GitHub assets redirect to a CDN
                    return await _get(http, proxy, str(URL(url).join(URL(location))), headers, hops - 1)
                if not 200 <= resp.status < 300:  # any success, as CPA's httpfetch takes
                    raise PanelError(f"GET {URL(url).with_query(None)} answered {resp.status}")
                return await _read_limited(resp)
            finally:
                resp.release()
    except (UpstreamError, TimeoutError, OSError, aiohttp.ClientError) as exc:
        raise PanelError(f"cannot download from {URL(url).origin()}: {exc}") from exc


async def _read_limited(resp: UpstreamResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.chunks():
        size += len(chunk)
        if size > MAX_SIZE:
            raise PanelError(f"download larger than {MAX_SIZE} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _digest(raw: str) -> str:
    return raw.split(":", 1)[-1].strip().lower()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PanelError(f"cannot write {target}: {exc.strerror}") from exc
