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
- Anthropic, for a subscription account: a 429 ``rate_limit_error`` "Extra usage is required
  for long context requests." to a request that asks for the 1M context window (the
  ``context-1m`` beta) where the account's plan does not include it without extra usage,
  however small the request; its windows are open to every other request. An account with
  extra usage may take it: the next credential is tried and none cools
  (:func:`over_token_limit`; CPA cools the account's model, router-for-me/CLIProxyAPI#2464).
- Anthropic: a 429 ``rate_limit_error`` "This request would exceed the rate limit for your
  organization ... of 30,000 input tokens per minute", which is also what it says when the
  organisation's own use filled the minute. It is the request's alone when the answer's own
  ``anthropic-ratelimit-input-tokens-*`` headers show the minute's budget untouched
  (remaining = limit): nothing was in the way but the request (:func:`over_input_budget`;
  the provider marks the error ``oversized``: the next account is tried, none cools).

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
_LONG_CONTEXT = "extra usage is required for long context"
_INPUT_PREFIX = "anthropic-ratelimit-input-tokens-"  # (the mapping may keep any case)


def over_token_limit(status: int, body: str) -> bool:
    """A request larger than the credential takes one to be, whoever sends it: OpenAI's
    (and Groq's) "Request too large for ... tokens per min", a 429 (Groq: 413) of type
    ``tokens`` for a request over the key's per-minute token limit; Anthropic's 429 for a
    1M-context request to a subscription without extra usage."""
    if status not in (413, 429):
        return False
    if body.find("equest too large") >= 0:
        kind, start = "tokens", _TOO_LARGE
    elif status == 429 and body.find("xtra usage is required for long context") >= 0:
        kind, start = "rate_limit_error", _LONG_CONTEXT
    else:
        return False
    err = _error(body)
    if err is None or str(err.get("type") or "").lower() != kind:
        return False
    message = err.get("message")
    return isinstance(message, str) and message.lower().startswith(start)


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
