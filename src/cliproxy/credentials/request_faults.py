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
- Gemini API keys (a free-tier key above all: 250,000 input tokens a minute for a Pro
  model): a 429 ``RESOURCE_EXHAUSTED`` whose ``google.rpc.QuotaFailure`` names only quotas
  of input tokens per minute (``quotaId`` "GenerateContentInputTokensPerModelPerMinute-
  FreeTier", ``quotaValue`` "250000"), also what it says when earlier requests filled the
  minute. Gemini sends no "remaining" count: the request is its own cause when its text
  alone, counted low, is over every such quota's value (:func:`over_input_quota`; the
  failover notes the verdict with the attempt's request and the provider marks the error
  ``oversized``: the next key is tried, none cools).

Only the upstream's own words at the start of its message count, never text later in it,
which may quote the client's input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["over_input_budget", "over_input_quota", "over_token_limit", "request_chars"]

_TOO_LARGE = "request too large for "
_WOULD_EXCEED = "this request would exceed "
_LONG_CONTEXT = "extra usage is required for long context"
_INPUT_PREFIX = "anthropic-ratelimit-input-tokens-"  # (the mapping may keep any case)
_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
# a Gemini quota of input tokens per minute, as its id names it: "GenerateContentInputTokens
# PerModelPerMinute-FreeTier" (a paid tier's ids name the same window; "...PerDay" is not one)
_INPUT_MINUTE = re.compile(r"InputTokensPer[A-Za-z]*PerMinute")
_JSON_PARTS = (("functionCall", "function_call"), ("functionResponse", "function_response"))


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


def over_input_quota(status: int, body: bytes, request: Mapping[str, Any]) -> bool:
    """A Gemini 429 over the input tokens per minute that ``request`` (the Gemini
    ``generateContent`` body sent) earns alone: every violation of the answer's
    ``QuotaFailure`` is a quota of input tokens per minute with a value above 0, and the
    request's text, at 4 characters a token, is over each value. Any other violation beside
    them (requests per minute or per day, input tokens per day, a limit of 0: the model is
    not in the key's plan) leaves the key's own quota spent: it cools as before.

    The count is deliberately low (Gemini's tokenizer makes a token of fewer than 4
    characters of most text, of about one of Chinese or Japanese; an image counts nothing
    here): when it is over the quota, the request nearly always is. A request counted over it
    wrongly costs little: the key is not cooled now, and its next request refused for the
    same spent minute (a small one, which no count puts over the quota) cools it then."""
    if status != 429 or body.find(b"InputTokensPer") < 0:
        return False
    quotas = _input_minute_quotas(body)
    if not quotas:
        return False
    return request_chars(request) // 4 > max(quotas)


def _input_minute_quotas(body: bytes) -> list[int]:
    """The values of the input-tokens-per-minute quotas a Google error body's
    ``QuotaFailure`` names; empty when it names any other quota too, or none."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if isinstance(data, list) and data:  # (a streamed call's error comes as a JSON array)
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    values: list[int] = []
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or detail.get("@type") != _QUOTA_FAILURE:
            continue
        violations = detail.get("violations")
        for v in violations if isinstance(violations, list) else ():
            if not isinstance(v, dict):
                return []
            quota_id, metric, value = v.get("quotaId"), v.get("quotaMetric"), v.get("quotaValue")
            if not (isinstance(quota_id, str) and _INPUT_MINUTE.search(quota_id)):
                return []
            if isinstance(metric, str) and "input_token" not in metric:
                return []
            value = _int(value) if isinstance(value, str) else value  # (an int64: a string in JSON)
            if type(value) is not int or value <= 0:
                return []
            values.append(value)
    return values


def request_chars(request: Mapping[str, Any]) -> int:
    """The characters of a Gemini request's text: its contents' text parts, function calls
    and responses (as JSON), its system instruction and its tool declarations (as JSON).
    An image, audio or file part (``inlineData``, ``fileData``) counts nothing: Gemini counts
    it at a few hundred tokens whatever its bytes, and a signature is no text it reads."""
    total = 0
    system = _field(request, "systemInstruction", "system_instruction")
    if isinstance(system, str):
        total += len(system)
    elif isinstance(system, dict):
        total += _parts_chars(system.get("parts"))
    contents = request.get("contents")
    for content in contents if isinstance(contents, list) else ():
        if isinstance(content, dict):
            total += _parts_chars(content.get("parts"))
    tools = request.get("tools")
    return total + (_json_len(tools) if tools else 0)


def _parts_chars(parts: Any) -> int:
    total = 0
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            total += len(text)
        for names in _JSON_PARTS:
            value = _field(part, *names)
            if value is not None:
                total += _json_len(value)
    return total


def _json_len(value: Any) -> int:
    """The characters (not UTF-8 bytes: a low count) of ``value``'s JSON."""
    try:
        return len(orjson.dumps(value).decode())
    except orjson.JSONEncodeError:  # (an integer past 64 bits: counted as nothing)
        return 0


def _field(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    """A member Gemini accepts under either name (its JSON mapping of the protobuf)."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


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
