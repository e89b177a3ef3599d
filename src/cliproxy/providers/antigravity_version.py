"""The Antigravity client version every Antigravity request reports, kept current from the
Antigravity Hub's update manifest (CPA ``internal/misc/antigravity_version.go``).

Cloud Code serves its newer models only to clients reporting version 2.9.0 or later
(older ones get 404 "Requested entity was not found"), so the version matters: it goes in
the ``antigravity/hub/<version> darwin/arm64`` user agent of every request of an account
without a ``user_agent`` of its own, and in the ``ide_version`` of a first-use
``onboardUser`` (:mod:`cliproxy.providers.antigravity_project`).

:class:`HubVersion` starts at CPA's fallback, 2.9.1. When the service runs it
(:meth:`HubVersion.start`), a background task reads the manifest's ``version:`` at start
and every 3 hours (half the 6-hour life of a fetched version), each fetch bounded by 10
seconds and sent through the config's ``proxy-url``; a request never waits for it. A
failed fetch keeps a fetched version until it is 6 hours old, then falls back to 2.9.1.

Two deliberate differences from CPA: a manifest version below 2.9.0 counts as a failed
fetch (CPA would report it, and Cloud Code would then refuse the newer models); and the
fetch goes through ``proxy-url`` (CPA's uses only the environment's proxy).
``CLIPROXY_ANTIGRAVITY_HUB_MANIFEST_URL`` moves the manifest (a mirror, or a test's fake);
CPA has no setting for it. Each worker process keeps its own copy: they all read the same
manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

import aiohttp
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from cliproxy.errors import UpstreamError
from cliproxy.providers.transport import UpstreamClient

__all__ = [
    "CACHE_TTL",
    "FALLBACK_VERSION",
    "FETCH_TIMEOUT",
    "MANIFEST_URL",
    "MANIFEST_URL_ENV",
    "MINIMUM_VERSION",
    "REFRESH_INTERVAL",
    "HubVersion",
    "ManifestError",
    "parse_manifest",
]

log = logging.getLogger(__name__)

FALLBACK_VERSION = "2.9.1"
MINIMUM_VERSION = (2, 9, 0)  # Cloud Code's floor for its newer models
PLATFORM = "darwin/arm64"
NODE_CLIENT = "google-api-nodejs-client/10.3.0"  # the long (onboardUser) form's suffix
MANIFEST_URL = (
    "https://antigravity-hub-auto-updater-974169037036.us-central1.run.app/manifest/latest-arm64-mac.yml"
)
MANIFEST_URL_ENV = "CLIPROXY_ANTIGRAVITY_HUB_MANIFEST_URL"
CACHE_TTL = 6 * 3600.0
REFRESH_INTERVAL = CACHE_TTL / 2
FETCH_TIMEOUT = 10.0
_MAX_BYTES = 4096  # CPA reads no more of the manifest
_HEADERS = {"User-Agent": "electron-builder", "Cache-Control": "no-cache"}


def _agent(version: str) -> str:
    return f"antigravity/hub/{version} {PLATFORM}"


_FALLBACK_AGENT = _agent(FALLBACK_VERSION)


class ManifestError(Exception):
    """The manifest could not be fetched or names no usable version."""


def parse_manifest(raw: bytes) -> str:
    """The ``version:`` of an electron-builder update manifest (``x.y.z``, at least
    :data:`MINIMUM_VERSION`); :class:`ManifestError` says what is wrong."""
    try:
        doc = YAML(typ="safe", pure=True).load(raw.decode("utf-8", "replace"))
    except YAMLError as exc:
        raise ManifestError(f"manifest is not YAML: {exc}") from exc
    value = doc.get("version") if isinstance(doc, dict) else None
    version = str(value).strip() if value is not None else ""
    if not version:
        raise ManifestError("manifest names no version")
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ManifestError(f"manifest names an invalid version {version!r}")
    if tuple(int(p) for p in parts) < MINIMUM_VERSION:
        raise ManifestError(f"manifest names {version}, below the 2.9.0 Cloud Code needs")
    return version


class HubVersion:
    """The version to report: the last fetched one while it is fresh, else the fallback."""

    def __init__(
        self,
        url: str | None = None,
        *,
        ttl: float = CACHE_TTL,
        interval: float = REFRESH_INTERVAL,
        timeout: float = FETCH_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url or os.environ.get(MANIFEST_URL_ENV) or MANIFEST_URL
        self.ttl = ttl
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self.fetches = 0  # fetches tried (tests wait on it)
        self._version = ""
        self._agent = _FALLBACK_AGENT
        self._expiry = 0.0
        self._task: asyncio.Task[None] | None = None

    def current(self) -> str:
        if self._version and self.clock() < self._expiry:
            return self._version
        return FALLBACK_VERSION

    def user_agent(self) -> str:
        """The short hub form: requests, ``loadCodeAssist``, the model list."""
        if self._version and self.clock() < self._expiry:
            return self._agent
        return _FALLBACK_AGENT

    def onboard_user_agent(self) -> str:
        """The long form ``onboardUser`` sends."""
        return f"{self.user_agent()} {NODE_CLIENT}"

    def start(self, http: UpstreamClient, proxy: Callable[[], str]) -> None:
        """Fetch now and every ``interval`` seconds in the background; ``proxy()`` gives
        the proxy of each fetch (read each time: a config reload may change it)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(http, proxy))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, http: UpstreamClient, proxy: Callable[[], str]) -> None:
        while True:
            await self.refresh(http, proxy())
            await asyncio.sleep(self.interval)

    async def refresh(self, http: UpstreamClient, proxy: str = "") -> str:
        """One fetch, kept as CPA keeps it; the version reported after it."""
        self.fetches += 1
        try:
            version = await self.fetch(http, proxy)
        except ManifestError as exc:
            if self._version and self.clock() < self._expiry:
                log.debug("antigravity version refresh failed, keeping %s: %s", self._version, exc)
            else:
                self._version, self._expiry = "", 0.0
                log.warning("antigravity version refresh failed, reporting %s: %s", FALLBACK_VERSION, exc)
            return self.current()
        self._version, self._expiry = version, self.clock() + self.ttl
        self._agent = _agent(version)
        log.info("antigravity version %s fetched from the Antigravity Hub", version)
        return version

    async def fetch(self, http: UpstreamClient, proxy: str = "") -> str:
        """The manifest's version (:func:`parse_manifest`), within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                resp = await http.request("GET", self.url, headers=_HEADERS, body=None, proxy=proxy)
                try:
                    if resp.status != 200:
                        raise ManifestError(f"manifest answered HTTP {resp.status}")
                    raw = b""
                    async for chunk in resp.chunks():
                        raw += chunk
                        if len(raw) >= _MAX_BYTES:
                            break
                finally:
                    resp.release()
        except (UpstreamError, TimeoutError, OSError, aiohttp.ClientError) as exc:
            raise ManifestError(f"manifest unreachable: {type(exc).__name__} {exc}".rstrip()) from exc
        return parse_manifest(raw[:_MAX_BYTES])
