"""Reading a token endpoint's refusal: which error it names, whether the refresh grant is
gone, and how long a 429 holds the next call back (``credentials.refresh``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.providers.retry import retry_after_header

__all__ = ["RATE_LIMIT_WAIT", "REVOKED_CODES", "json_object", "oauth_error", "retry_wait"]

RATE_LIMIT_WAIT = (5.0, 300.0)  # a 429's Retry-After, clamped: no refresh call meanwhile (CPA)
# error codes that mean the refresh grant is gone (CPA's home_refresh list)
REVOKED_CODES = frozenset(
    {
        "invalid_grant",
        "authentication_error",
        "unauthorized",
        "refresh_token_expired",
        "refresh_token_revoked",
        "refresh_token_reused",
    }
)


def oauth_error(data: Mapping[str, Any]) -> tuple[str, str]:
    """``(code, description)`` of a token endpoint's refusal: RFC 6749's ``error`` /
    ``error_description``, or OpenAI's and Anthropic's ``error: {code|type, message}``."""
    error = data.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code") or error.get("type"), error.get("message")
    else:
        code, message = error, data.get("error_description")
    return (
        code.strip() if isinstance(code, str) else "",
        message.strip() if isinstance(message, str) else "",
    )


def retry_wait(headers: Mapping[str, str]) -> float:
    """How long a 429 from a token endpoint blocks the next call: ``Retry-After`` (seconds
    or a date), else ``Retry-After-Ms``, within :data:`RATE_LIMIT_WAIT` (CPA's clamp)."""
    wait = retry_after_header(headers)
    if wait is None:
        ms = (headers.get("Retry-After-Ms") or headers.get("retry-after-ms") or "").strip()
        try:
            wait = float(ms) / 1000
        except ValueError:
            wait = None
    low, high = RATE_LIMIT_WAIT
    return low if wait is None else min(max(wait, low), high)


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object; ``{}`` when it is empty, not JSON or not an object."""
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
