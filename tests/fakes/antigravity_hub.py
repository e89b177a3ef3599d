"""A fake Antigravity Hub auto-updater: ``GET /manifest/latest-arm64-mac.yml`` answers an
electron-builder update manifest (YAML) naming ``version``, as the real one does; other
paths are 404. ``fail_next(500)`` makes the next fetch fail; ``manifest`` replaces the
whole answer (an invalid one, say)."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.server import Behavior, FakeServer

__all__ = ["MANIFEST_PATH", "AntigravityHubFake"]

MANIFEST_PATH = "/manifest/latest-arm64-mac.yml"


class AntigravityHubFake(FakeServer):
    kind = "antigravity-hub"
    default_models: ClassVar[tuple[str, ...]] = ()

    def __init__(self, version: str = "2.9.7", **kw: Any) -> None:
        super().__init__(**kw)
        self.version = version
        self.manifest: str | None = None  # the whole answer, when set

    @property
    def manifest_url(self) -> str:
        return self.url(MANIFEST_PATH)

    def extract_key(self, request: web.Request) -> str | None:
        return None

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        return message

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(MANIFEST_PATH, self._manifest)

    async def _manifest(self, request: web.Request) -> web.StreamResponse:
        text = self.manifest
        if text is None:
            text = (
                f"version: {self.version}\n"
                "files:\n"
                f"  - url: Antigravity-{self.version}-arm64-mac.zip\n"
                "    sha512: ZmFrZQ==\n"
                f"path: Antigravity-{self.version}-arm64-mac.zip\n"
                "releaseDate: '2026-08-20T10:00:00.000Z'\n"
            )
        return web.Response(text=text, content_type="application/x-yaml")
