"""Fake OpenAI platform: Chat Completions, Responses (incl. the ChatGPT Codex backend), models.

Routes (each also without the ``/v1`` prefix):
``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/responses/compact``,
``GET /v1/models``, ``GET /v1/models/{id}``, and the Codex backend
``POST /backend-api/codex/responses`` (stream only, 400 otherwise; a top-level ``metadata``,
``top_logprobs``, ``seed`` or penalty is a 400 too, as the real backend answers) and ``.../compact``;
the Responses WebSocket on ``GET /backend-api/codex/responses`` and ``GET /v1/responses``
(``openai_responses.handle_ws``);
Kimi Code's ``POST /coding/v1/chat/completions``.
Auth: ``Authorization: Bearer <key>``.
``fake.compact_answers`` (a list of JSON values) answers the next ``/responses/compact``
calls with those, one each, instead of a compaction (an upstream's odd answer).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes import openai_chat, openai_images, openai_responses
from tests.fakes.server import Behavior, FakeServer, Recorded, sse

__all__ = ["OpenAIFake"]

_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
    529: ("server_error", "server_is_overloaded"),
}
_STREAM_CODES = {"overloaded": "server_is_overloaded"}


class OpenAIFake(FakeServer):
    """Fake of api.openai.com (and chatgpt.com/backend-api/codex)."""

    kind = "openai"
    default_models: ClassVar[tuple[str, ...]] = ("gpt-4o-mini", "gpt-4o", "gpt-5", "gpt-5-codex")
    image_stream = b""  # the bytes of the last streamed Images API answer (openai_images)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        # the ids of the files this account uploaded; a chat ``file`` part naming another
        # answers 404 as the API does (openai_chat)
        self.files: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self.files = set()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for prefix in ("/v1", ""):
            router.add_post(prefix + "/chat/completions", self._chat)
            router.add_post(prefix + "/responses", self._responses)
            router.add_post(prefix + "/responses/compact", self._compact)
            router.add_get(prefix + "/models", self._models)
            router.add_get(prefix + "/models/{model}", self._model)
        router.add_post("/backend-api/codex/responses", self._codex)
        # the Responses WebSocket (Codex's; xAI's under /v1)
        router.add_get("/backend-api/codex/responses", self._ws)
        router.add_get("/v1/responses", self._ws)
        router.add_post("/backend-api/codex/responses/compact", self._compact)
        router.add_post("/backend-api/codex/images/generations", self._image_generations)
        router.add_post("/backend-api/codex/images/edits", self._image_edits)
        router.add_post("/v1/images/generations", self._image_generations)  # an openai-compat image model
        router.add_post("/v1/images/edits", self._image_edits)
        router.add_post("/coding/v1/chat/completions", self._chat)  # Kimi Code
        router.add_post("/backend-api/codex/alpha/search", self._alpha_search)  # Codex Alpha Search
        router.add_post("/v1/alpha/search", self._alpha_search)  # a codex-api-key entry's base URL

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await openai_chat.handle(self, request)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        return await openai_responses.handle(self, request)

    async def _codex(self, request: web.Request) -> web.StreamResponse:
        body = self.body(request)
        if body.get("stream") is not True:
            return self.json_response({"detail": "Stream must be set to true"}, status=400)
        refused = next((k for k in openai_responses.CODEX_REFUSED if k in body), None)
        if refused:  # the backend's answer to these fields (CPA issue 5112; dario issue 1009)
            return self.json_response({"detail": f"Unsupported parameter: {refused}"}, status=400)
        return await openai_responses.handle(self, request)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        return await openai_responses.handle_ws(self, request)

    async def _image_generations(self, request: web.Request) -> web.StreamResponse:
        return await openai_images.generations(self, request)

    async def _image_edits(self, request: web.Request) -> web.StreamResponse:
        return await openai_images.edits(self, request)

    async def _alpha_search(self, request: web.Request) -> web.StreamResponse:
        """Codex's search endpoint: JSON in and out; it refuses the Responses-only
        ``prompt_cache_*`` fields, as the real one does."""
        body = self.body(request)
        for field in ("prompt_cache_key", "prompt_cache_retention"):
            if field in body:
                return self.json_response(
                    {
                        "error": {
                            "message": f"Unsupported parameter: {field}",
                            "type": "invalid_request_error",
                        }
                    },
                    status=400,
                )
        queries = (
            body.get("commands", {}).get("search_query", []) if isinstance(body.get("commands"), dict) else []
        )
        results = [
            {"url": f"https://example.com/{i}", "title": str(q.get("q", ""))} for i, q in enumerate(queries)
        ]
        return self.json_response(
            {"id": body.get("id", ""), "results": results or [{"url": "https://example.com"}]}
        )

    async def _compact(self, request: web.Request) -> web.StreamResponse:
        scripted: list[Any] | None = getattr(self, "compact_answers", None)
        if scripted:
            return self.json_response(scripted.pop(0))
        return self.json_response(openai_responses.compact(self.body(request)))

    async def _models(self, request: web.Request) -> web.StreamResponse:
        return self.json_response({"object": "list", "data": [_model(m) for m in self.models]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return self.error_response(404, f"The model '{model}' does not exist", None)
        return self.json_response(_model(model))

    # ---- errors -----------------------------------------------------------------------

    def auth_error(self, key: str | None) -> web.Response:
        if key is None:
            message = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            body = {
                "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
            }
            return self.error_response(401, message, Behavior(body=body))
        message = f"Incorrect API key provided: {key[:3]}***{key[-4:]}. You can find your API key at https://platform.openai.com/account/api-keys."
        return self.error_response(401, message, None)

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        if beh is not None and (beh.resets_at is not None or beh.resets_in_seconds is not None):
            return {"error": _usage_limit(beh, message)}
        kind, code = _TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def is_stream(self, rec: Recorded) -> bool:
        """A JSON ``stream: true``, or a form's ``stream=true`` (a multipart image edit)."""
        return isinstance(rec.json, dict) and rec.json.get("stream") in (True, "true")

    def stream_error_frame(self, request: web.Request, beh: Behavior, sent: int) -> bytes:
        code = _STREAM_CODES.get(beh.stream_error or "", beh.stream_error)
        message = beh.message or f"fake in-band error: {code}"
        if "/images/" in request.path:  # the Images API's own error event
            return openai_images.error_frame(code or "server_error", message, beh.body)
        if "/chat/completions" in request.path:
            if code == "named_error":  # a frame named ``error`` whose data holds no ``error`` object
                return sse({"type": "server_error", "message": message}, "error")
            return sse({"error": {"message": message, "type": "server_error", "param": None, "code": code}})
        error = _usage_limit(beh, message) if code == "usage_limit_reached" else None  # Codex's plan limit
        return openai_responses.failed_frame(self.body(request), code or "server_error", message, sent, error)


def _usage_limit(beh: Behavior, message: str) -> dict[str, Any]:
    now = int(time.time())
    resets_in = beh.resets_in_seconds
    resets_at = beh.resets_at if beh.resets_at is not None else now + (resets_in or 0)
    if resets_in is None:
        resets_in = max(0, resets_at - now)
    if beh.message is None:
        message = "The usage limit has been reached"
    return {
        "type": "usage_limit_reached",
        "message": message,
        "plan_type": "plus",
        "resets_at": resets_at,
        "resets_in_seconds": resets_in,
    }


def _model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": "openai"}
