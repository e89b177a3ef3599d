"""Upstream refusals that one request earns by its size, though they look like the account's.

An upstream answers some requests with a status the cooldown table reads as the
credential's (429, 413), when what it refuses is the size of that one request against the
key's own per-minute token limit, not the key's use of it. Asking again on the same key
never works, and the key is not spent: its other clients' requests still go through. Cooling
it would let one client's oversized request take a key away from every client that shares it
(CPA cools it: a 429 is never a request fault there, ``clienterror.IsRequestFault``).

- OpenAI, and the servers that copy its errors (Groq answers 413 with the same body): type
  ``tokens`` and a message that starts "Request too large for <model> ... on tokens per min
  (TPM): Limit 30000, Requested 50000". A key of a higher tier may take the request: the
  next credential is tried and none cools (:func:`over_token_limit`).
- Anthropic: a 429 ``rate_limit_error`` "This request would exceed the rate limit for your
  organization ... of 30,000 input tokens per minute", which is also what it says when the
  organisation's own use filled the minute. It is the request's alone when the answer's own
  ``anthropic-ratelimit-input-tokens-*`` headers show the minute's budget untouched
  (remaining = limit): nothing was in the way but the request (:func:`over_input_budget`).

Only the upstream's own words at the start of its message count, never text later in it,
which may quote the client's input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["over_input_budget", "over_token_limit"]

_TOO_LARGE = "request too large for "
_WOULD_EXCEED = "this request would exceed "
_INPUT_PREFIX = "anthropic-ratelimit-input-tokens-"  # (the mapping may keep any case)


def over_token_limit(status: int, body: str) -> bool:
    """OpenAI's (and Groq's) "Request too large for ... tokens per min": a 429 (Groq: 413)
    of type ``tokens`` for a request larger than the key's per-minute token limit."""
    if status not in (413, 429) or body.find("equest too large") < 0:
        return False
    err = _error(body)
    if err is None or str(err.get("type") or "").lower() != "tokens":
        return False
    message = err.get("message")
    return isinstance(message, str) and message.lower().startswith(_TOO_LARGE)


def over_input_budget(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """An Anthropic 429 over the input tokens per minute that no earlier request caused: the
    answer says the minute's input budget is all there (remaining = limit), so the request
    alone is over it."""
    if status != 429 or body.find(b"input tokens per minute") < 0:
        return False
    named = {k.lower(): v for k, v in headers.items() if k.lower().startswith(_INPUT_PREFIX)}
    limit, left = _int(named.get(_INPUT_PREFIX + "limit")), _int(named.get(_INPUT_PREFIX + "remaining"))
    if limit is None or left is None or left < limit or limit <= 0:
        return False
    err = _error(body.decode("utf-8", "replace"))
    if err is None or err.get("type") != "rate_limit_error":
        return False
    message = err.get("message")
    return isinstance(message, str) and message.lower().startswith(_WOULD_EXCEED)


def _error(body: str) -> dict[str, Any] | None:
    """The error object of an OpenAI- or Anthropic-shaped body (``{"error": {...}}``)."""
    text = body.strip()
    if not text.startswith("{"):
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else None


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None
