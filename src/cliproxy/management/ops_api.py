"""Operations: reset-quota and api-call. (The OAuth login endpoints the panel calls are in
``cliproxy.management.oauth_api``.)
"""

from __future__ import annotations

from cliproxy.credentials.suspend import REFUSED
from cliproxy.management.ops_apicall import api_call
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body

__all__ = ["ROUTES"]


async def reset_quota(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError as exc:
        raise ApiError(400, "invalid request body") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid request body")
    index = body.get("auth_index")
    index = index.strip() if isinstance(index, str) else ""
    if not index:
        raise ApiError(400, "auth_index is required")
    pool = req.service.pool
    cred = next((c for c in pool.credentials() if c.index == index), None)
    if cred is None:
        raise ApiError(404, "auth not found")
    records = await pool.state.credential_cooldowns(cred.id)
    models = sorted({r.model for r in records if r.model and r.model != REFUSED})  # a model's, not a fact's
    await pool.reset_quota(cred.id)
    await pool.quota.forget(cred.id)  # quota steering's estimate from its 429 goes too
    return Resp(200, {"status": "ok", "auth_index": cred.index, "models": models})


async def post_api_call(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError as exc:
        raise ApiError(400, "invalid body") from exc
    return Resp(200, await api_call(req.service, body))


ROUTES: list[Route] = [
    Route("POST", "/reset-quota", reset_quota),
    Route("POST", "/api-call", post_api_call),
]
