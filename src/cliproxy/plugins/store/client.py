"""Plugin store downloads: registries, GitHub release metadata and assets, direct artifacts.

Every request goes through the service's upstream HTTP client (the config's ``proxy-url``)
with redirects followed here, at most :data:`MAX_REDIRECTS`, so the auth rule is chosen
again for each hop and a credential never follows a redirect to another URL it does not
match. Each fetch is bounded in time (:data:`TIMEOUT`) and size (:data:`MAX_DOCUMENT` for
JSON and checksums, :data:`MAX_ARCHIVE` or an artifact's declared size for archives).
A failed authenticated request does not echo the answer's body (it may hold a secret).
CPA: ``internal/pluginstore/github.go``, ``direct.go``, ``checksum.go``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

import orjson

from cliproxy.plugins.store.auth import (
    ARTIFACT,
    METADATA,
    REGISTRY,
    AuthRule,
    apply_auth,
    auth_configured,
    check_request_url,
    github_api_base,
    safe_url,
)
from cliproxy.plugins.store.registry import (
    DIRECT,
    Artifact,
    InstallPlan,
    Plugin,
    Registry,
    StoreError,
    github_repository_parts,
    normalize_goarch,
    normalize_goos,
    normalize_plan,
    parse_registry,
    validate_artifact,
)

__all__ = [
    "Release",
    "ReleaseAsset",
    "StoreClient",
    "archive_name",
    "parse_checksums",
    "select_artifact",
    "select_release_assets",
    "verify_artifact_checksum",
    "verify_checksum",
]

MAX_REDIRECTS = 10
TIMEOUT = 60.0
MAX_DOCUMENT = 8 << 20
MAX_ARCHIVE = 256 << 20
USER_AGENT = "CLIProxyAPI"


class _Response(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def chunks(self) -> AsyncIterator[bytes]: ...
    def release(self) -> None: ...


class Http(Protocol):
    """The upstream client's ``request`` (``cliproxy.providers.http.HttpClient``)."""

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[_Response]: ...


@dataclass(slots=True)
class ReleaseAsset:
    name: str
    api_url: str = ""
    browser_download_url: str = ""


@dataclass(slots=True)
class Release:
    tag_name: str
    assets: list[ReleaseAsset]

    @classmethod
    def parse(cls, data: bytes) -> Release:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"decode release: {exc}") from None
        if not isinstance(obj, dict):
            raise StoreError("decode release: not an object")
        assets = [
            ReleaseAsset(
                str(a.get("name") or ""), str(a.get("url") or ""), str(a.get("browser_download_url") or "")
            )
            for a in obj.get("assets") or []
            if isinstance(a, dict)
        ]
        return cls(str(obj.get("tag_name") or ""), assets)


@dataclass(slots=True)
class StoreClient:
    http: Http
    proxy: str = ""
    rules: tuple[AuthRule, ...] = ()
    timeout: float = TIMEOUT

    async def fetch_registry(self, url: str) -> Registry:
        data = await self.get(url, "application/json", REGISTRY, MAX_DOCUMENT)
        try:
            doc: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"decode registry: {exc}") from None
        return parse_registry(doc)

    def _releases_url(self, plugin: Plugin) -> str:
        owner, repo = github_repository_parts(plugin.repository)
        return f"{github_api_base()}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}/releases/"

    async def latest_release(self, plugin: Plugin) -> Release:
        url = self._releases_url(plugin) + "latest"
        return Release.parse(await self.get(url, "application/vnd.github+json", METADATA, MAX_DOCUMENT))

    async def release_by_tag(self, plugin: Plugin, tag: str) -> Release:
        base = self._releases_url(plugin)
        if not tag.strip():
            raise StoreError("release tag is required")
        url = base + "tags/" + quote(tag.strip(), safe="")
        return Release.parse(await self.get(url, "application/vnd.github+json", METADATA, MAX_DOCUMENT))

    async def download_asset(self, asset: ReleaseAsset, limit: int = MAX_ARCHIVE) -> bytes:
        """An asset by its browser URL, or its API URL when that is all there is or when a
        credential is configured for it (a private repository's assets need the API)."""
        url, api = asset.browser_download_url.strip(), asset.api_url.strip()
        if (not url or (api and auth_configured(list(self.rules), api, ARTIFACT))) and api:
            url = api
        if not url:
            raise StoreError(f"asset {asset.name!r} missing download url")
        return await self.get(url, "application/octet-stream", ARTIFACT, limit)

    async def download_artifact(self, artifact: Artifact) -> bytes:
        validate_artifact(artifact)
        limit = artifact.size if artifact.size > 0 else MAX_ARCHIVE
        try:
            return await self.get(artifact.url, "application/octet-stream", ARTIFACT, limit)
        except _TooLarge:
            if artifact.size > 0:
                raise StoreError("artifact exceeds declared size") from None
            raise

    async def get(self, url: str, accept: str, kind: str, limit: int) -> bytes:
        """GET ``url`` following redirects; the body, at most ``limit`` bytes."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._get(url.strip(), accept, kind, limit)
        except TimeoutError:
            raise StoreError(f"request {safe_url(url)} timed out after {self.timeout:g}s") from None

    async def _get(self, url: str, accept: str, kind: str, limit: int) -> bytes:
        rules = list(self.rules)
        for hop in range(MAX_REDIRECTS + 1):
            check_request_url(rules, url, kind)
            headers = {"Accept": accept, "User-Agent": USER_AGENT}
            authenticated = apply_auth(headers, rules, url, kind)
            try:
                resp = await self.http.request("GET", url, headers=headers, body=None, proxy=self.proxy)
            except StoreError:
                raise
            except Exception as exc:  # refused, unreachable, a bad proxy: one clear message
                raise StoreError(f"request {safe_url(url)} failed: {exc}") from None
            finally:
                headers.clear()
            try:
                if resp.status in (301, 302, 303, 307, 308):
                    location = (resp.headers.get("Location") or "").strip()
                    if not location:
                        raise StoreError("redirect missing Location header")
                    nxt = urljoin(url, location)
                    if not urlsplit(nxt).scheme or not urlsplit(nxt).netloc:
                        raise StoreError("redirect location is not absolute")
                    if hop >= MAX_REDIRECTS:
                        raise StoreError(f"stopped after {MAX_REDIRECTS} redirects")
                    url = nxt
                    continue
                try:
                    return await _read(resp, limit, authenticated)
                except StoreError:
                    raise
                except Exception as exc:  # the connection broke inside the body
                    raise StoreError(f"read {safe_url(url)} failed: {type(exc).__name__}") from None
            finally:
                resp.release()
        raise StoreError(f"stopped after {MAX_REDIRECTS} redirects")  # pragma: no cover


class _TooLarge(StoreError):
    pass


async def _read(resp: _Response, limit: int, authenticated: bool) -> bytes:
    if not 200 <= resp.status < 300:
        if authenticated:
            raise StoreError(f"unexpected status {resp.status}")
        body = bytearray()
        async for chunk in resp.chunks():
            body += chunk
            if len(body) >= 4096:
                break
        text = bytes(body[:4096]).decode("utf-8", "replace").strip()
        raise StoreError(f"unexpected status {resp.status}: {text}")
    out = bytearray()
    async for chunk in resp.chunks():
        out += chunk
        if len(out) > limit:
            raise _TooLarge(f"response exceeds maximum allowed size of {limit} bytes")
    return bytes(out)


# ---------------------------------------------------------------- assets and checksums


def archive_name(plugin_id: str, version: str, goos: str, goarch: str) -> str:
    return f"{plugin_id.strip()}_{version.strip()}_{goos.strip()}_{goarch.strip()}.zip"


def select_release_assets(
    release: Release, plugin_id: str, version: str, goos: str, goarch: str
) -> tuple[ReleaseAsset, ReleaseAsset]:
    """The platform's archive and ``checksums.txt`` of a release."""
    name = archive_name(plugin_id, version, goos, goarch)
    archive = next((a for a in release.assets if a.name.strip() == name), None)
    sums = next((a for a in release.assets if a.name.strip() == "checksums.txt"), None)
    if archive is None:
        raise StoreError(f"release asset {name} not found")
    if sums is None:
        raise StoreError("release asset checksums.txt not found")
    return archive, sums


def parse_checksums(data: bytes) -> dict[str, str]:
    """``sha256sum`` output: file name -> hex digest (``*name`` for binary mode too)."""
    out: dict[str, str] = {}
    for number, raw in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise StoreError(f"line {number}: invalid checksum entry")
        digest = fields[0].lower()
        if len(digest) != 64:
            raise StoreError(f"line {number}: invalid sha256 length")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise StoreError(f"line {number}: invalid sha256: not hexadecimal") from None
        out[fields[1].removeprefix("*")] = digest
    return out


def verify_checksum(name: str, data: bytes, checksums: dict[str, str]) -> None:
    expected = checksums.get(name, "").strip().lower()
    if not expected:
        raise StoreError(f"checksum for {name} not found")
    if hashlib.sha256(data).hexdigest() != expected:
        raise StoreError(f"checksum mismatch for {name}")


def verify_artifact_checksum(artifact: Artifact, data: bytes) -> None:
    expected = artifact.sha256.strip().lower()
    if not expected:
        raise StoreError("artifact checksum missing")
    if hashlib.sha256(data).hexdigest() != expected:
        raise StoreError("artifact checksum mismatch")


def select_artifact(plan: InstallPlan, goos: str, goarch: str) -> Artifact:
    plan = normalize_plan(plan)
    goos, goarch = normalize_goos(goos), normalize_goarch(goarch)
    if plan.type != DIRECT:
        raise StoreError(f"install type {plan.type!r} is not direct")
    found = next((a for a in plan.artifacts if a.goos == goos and a.goarch == goarch), None)
    if found is None:
        raise StoreError(f"artifact not found for {goos}/{goarch}")
    return found
