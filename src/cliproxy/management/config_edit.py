"""The one way management endpoints write config.yaml, and the small body readers they share.

Every write is a function of the freshly loaded :class:`ConfigDocument` handed over by
``Service.edit_config`` (serialised, comment-preserving, applied live), so concurrent
writers never lose an edit. An ``ApiError`` raised inside the edit aborts it with the
file untouched; a ``ConfigError`` (the edit made the config invalid) answers 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cliproxy.config import ConfigDocument
from cliproxy.errors import ConfigError
from cliproxy.management.types import ApiError, Req, Resp, json_body

__all__ = ["OK", "Edit", "bool_or_null", "invalid_body", "object_body", "ok", "save"]

Edit = Callable[[ConfigDocument], None]
OK = {"status": "ok"}


def ok() -> Resp:
    """CPA's answer to a successful write."""
    return Resp(200, dict(OK))


async def save(req: Req, edit: Edit) -> Resp:
    """Run ``edit`` on the config document, save, reload; ``{"status": "ok"}`` on success."""
    try:
        await req.service.edit_config(edit)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None
    return ok()


def invalid_body() -> ApiError:
    return ApiError(400, "invalid body")


def object_body(req: Req) -> dict[str, Any]:
    """The JSON body, which must be an object (else CPA's 400 ``invalid body``)."""
    try:
        body = json_body(req)
    except ApiError:
        raise invalid_body() from None
    if not isinstance(body, dict):
        raise invalid_body()
    return body


def bool_or_null(value: Any, field: str) -> bool | None:
    """A tri-state switch: ``null`` clears it, a boolean sets it."""
    if value is None or isinstance(value, bool):
        return value
    raise ApiError(400, f"{field} must be a boolean or null")
