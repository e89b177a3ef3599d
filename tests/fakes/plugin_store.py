"""A plugin store on 127.0.0.1: registry documents, GitHub's release API and the assets.

``registries`` maps a path (``/registry.json``) to the document served there;
``add_release(owner, repo, tag, assets)`` publishes a release (the newest added is
``latest``) whose assets are downloaded from ``/assets/<owner>/<repo>/<tag>/<name>``;
``files`` serves direct artifacts at ``/files/<name>``; ``redirects`` answers a path with a 302. ``requests`` records
``(path, Authorization header)`` of every request.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["FakePluginStore", "checksums", "plugin_zip"]


def plugin_zip(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` (name -> bytes), each a regular file with mode 0755."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            archive.writestr(info, data)
    return out.getvalue()


def checksums(assets: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in assets.items()).encode()


class FakePluginStore(LocalServer):
    def __init__(self) -> None:
        self.registries: dict[str, Any] = {}
        self.releases: dict[tuple[str, str], list[tuple[str, dict[str, bytes]]]] = {}
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.redirects: dict[str, str] = {}  # path -> Location answered with 302

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_release(self, owner: str, repo: str, tag: str, assets: dict[str, bytes]) -> None:
        self.releases.setdefault((owner, repo), []).append((tag, assets))

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/repos/{owner}/{repo}/releases/latest", self._latest)
        router.add_get("/repos/{owner}/{repo}/releases/tags/{tag}", self._by_tag)
        router.add_get("/assets/{owner}/{repo}/{tag}/{name}", self._asset)
        router.add_get("/files/{name}", self._file)
        router.add_get("/{path:.*}", self._registry)

    def _record(self, request: web.Request) -> None:
        self.requests.append((request.path, request.headers.get("Authorization", "")))

    def _release_json(self, owner: str, repo: str, tag: str, assets: dict[str, bytes]) -> dict[str, Any]:
        base = f"{self.url}/assets/{owner}/{repo}/{tag}"
        return {
            "tag_name": tag,
            "assets": [
                {"name": n, "url": f"{base}/{n}", "browser_download_url": f"{base}/{n}"} for n in assets
            ],
        }

    async def _latest(self, request: web.Request) -> web.Response:
        self._record(request)
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        releases = self.releases.get((owner, repo))
        if not releases:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(self._release_json(owner, repo, *releases[-1]))

    async def _by_tag(self, request: web.Request) -> web.Response:
        self._record(request)
        owner, repo, tag = request.match_info["owner"], request.match_info["repo"], request.match_info["tag"]
        for name, assets in self.releases.get((owner, repo), []):
            if name == tag:
                return web.json_response(self._release_json(owner, repo, name, assets))
        return web.json_response({"message": "Not Found"}, status=404)

    async def _asset(self, request: web.Request) -> web.Response:
        self._record(request)
        info = request.match_info
        for name, assets in self.releases.get((info["owner"], info["repo"]), []):
            if name == info["tag"] and info["name"] in assets:
                return web.Response(body=assets[info["name"]], content_type="application/octet-stream")
        return web.Response(status=404)

    async def _file(self, request: web.Request) -> web.Response:
        self._record(request)
        data = self.files.get(request.match_info["name"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    async def _registry(self, request: web.Request) -> web.Response:
        self._record(request)
        if (location := self.redirects.get(request.path)) is not None:
            raise web.HTTPFound(location)
        doc = self.registries.get(request.path)
        return (
            web.json_response({"message": "no registry"}, status=404)
            if doc is None
            else web.json_response(doc)
        )
