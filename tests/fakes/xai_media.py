"""A fake xAI media API (``api.x.ai/v1``): ``POST /v1/images/generations`` and
``/v1/images/edits`` (one 1x1 PNG per ``n``, as base64 or as a URL on this server, as
``response_format`` asks), ``POST /v1/videos/generations`` (``/edits``, ``/extensions``)
answering a ``request_id``, ``GET /v1/videos/{request_id}`` (``pending`` for the first
``polls_pending`` polls, then ``done`` with ``video.url``), and the video bytes at
``GET /files/{request_id}.mp4``."""

from __future__ import annotations

import base64
import itertools
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.server import Behavior, FakeServer

__all__ = ["VIDEO_BYTES", "XAIMediaFake"]

VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42fake-video-bytes"


class XAIMediaFake(FakeServer):
    kind = "xai-media"
    default_models: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, api_keys: set[str] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.api_keys = api_keys  # checked on /v1/* only: the finished files are public URLs
        self.polls_pending = 1
        self.videos: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def extract_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ").strip() or None

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        return {"code": "fake-error", "error": message}

    def auth_error(self, key: str | None) -> web.Response:
        return self.error_response(401, "Incorrect API key provided", None)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/images/generations", self._keyed(self._images))
        router.add_post("/v1/images/edits", self._keyed(self._images))
        for kind in ("generations", "edits", "extensions"):
            router.add_post(f"/v1/videos/{kind}", self._keyed(self._video_create))
        router.add_get("/v1/videos/{request_id}", self._keyed(self._video_poll))
        router.add_get("/files/{name}", self._file)

    def _keyed(self, handler: Any) -> Any:
        async def checked(request: web.Request) -> web.StreamResponse:
            if self.api_keys is not None and self.extract_key(request) not in self.api_keys:
                return self.auth_error(self.extract_key(request))
            return await handler(request)

        return checked

    async def _images(self, request: web.Request) -> web.StreamResponse:
        body = self.body(request)
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return self.error_response(400, "prompt is required", None)
        if request.path.endswith("/edits") and not (body.get("image") or body.get("images")):
            return self.error_response(400, "image is required", None)
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        as_url = body.get("response_format") == "url"
        item = {"url": self.url("/files/image.png")} if as_url else {"b64_json": PNG_1X1}
        data = [{**item, "mime_type": "image/png", "revised_prompt": body["prompt"] + "!"} for _ in range(n)]
        return self.json_response({"created": 1700000000, "data": data, "usage": {"cost_in_usd_ticks": 7}})

    async def _video_create(self, request: web.Request) -> web.StreamResponse:
        body = self.body(request)
        if not body.get("prompt"):
            return self.error_response(400, "prompt is required", None)
        request_id = f"vid-{next(self._ids)}"
        self.videos[request_id] = {"polls": 0, "model": body.get("model"), "key": self.extract_key(request)}
        return self.json_response({"request_id": request_id})

    async def _video_poll(self, request: web.Request) -> web.StreamResponse:
        request_id = request.match_info["request_id"]
        video = self.videos.get(request_id)
        if video is None or video["key"] != self.extract_key(request):
            return self.error_response(404, f"video {request_id} not found", None)
        video["polls"] += 1
        if video["polls"] <= self.polls_pending:
            return self.json_response({"status": "pending", "progress": 40, "model": video["model"]})
        return self.json_response(
            {
                "status": "done",
                "progress": 100,
                "model": video["model"],
                "video": {"url": self.url(f"/files/{request_id}.mp4"), "duration": 4},
            }
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "image.png":
            return web.Response(body=base64.b64decode(PNG_1X1), content_type="image/png")
        if name.removesuffix(".mp4") not in self.videos:
            return self.error_response(404, "no such file", None)
        disposition = {"Content-Disposition": 'attachment; filename="video.mp4"'}
        return web.Response(body=VIDEO_BYTES, content_type="video/mp4", headers=disposition)
