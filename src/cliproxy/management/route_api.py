"""``POST /v0/management/route``: the routing decision for a request, as a dry run.

Body: ``{"model": ..., "format": "openai" | "claude" | "gemini" | "responses" (default
openai), "body": {...the request body, optional}, "headers": {...optional}}``. The answer
(:func:`cliproxy.route_explain.dry_run`) holds the router plugins' decision, the model
resolution and every candidate credential with its state, in the order they would be
tried; no upstream is called and no routing state changes. 404 for an unknown model,
400 for a malformed body.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import ModelNotFoundError, clip
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body
from cliproxy.route_explain import FORMATS, dry_run

__all__ = ["ROUTES"]

MAX_HEADERS = 100


async def post_route(req: Req) -> Resp:
    data = json_body(req)
    if not isinstance(data, dict):
        raise ApiError(400, 'body must be a JSON object: {"model": ..., "format": ..., "body": {...}}')
    body = data.get("body")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "body: must be a JSON object (the request body a client would send)")
    model = data.get("model", body.get("model"))
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: a non-empty string is required")
    name = data.get("format", "openai")
    fmt = FORMATS.get(name.strip().lower()) if isinstance(name, str) else None
    if fmt is None:
        raise ApiError(400, "format: one of openai, claude, gemini, responses")
    headers = _headers(data.get("headers"))
    service = req.service
    try:
        answer = await dry_run(
            pool=service.pool,
            models=service.models,
            plugins=service.plugins,
            config=service.config,
            model=model.strip(),
            fmt=fmt,
            body=body,
            headers=headers,
        )
    except ModelNotFoundError:
        raise ApiError(404, f"unknown model {clip(model.strip())}: no provider serves it") from None
    return Resp(200, answer)


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise ApiError(400, f"headers: a JSON object of at most {MAX_HEADERS} string values")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ApiError(400, "headers: every name and value must be a string")
    return dict(value)


ROUTES: list[Route] = [Route("POST", "/route", post_route)]
