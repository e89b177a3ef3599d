"""A usage plugin's ``UsageRecord`` in CPA's wire shape (``usage.handle``): one per upstream
call (durations in nanoseconds, times in UTC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.calls import Call
from cliproxy.plugins.rules import wire_headers
from cliproxy.times import format_utc

__all__ = ["usage_record"]

# a record's token counts (CPA's Detail), all 0 when the call read no usage
_DETAIL = (
    "InputTokens",
    "OutputTokens",
    "ReasoningTokens",
    "CachedTokens",
    "CacheReadTokens",
    "CacheCreationTokens",
    "TotalTokens",
)


def usage_record(
    call: Call,
    model: str,
    executor: str,
    times: tuple[float, float, float],
    cred: Any,
    usage: Any,
    failure: tuple[int, str] | None,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """One call's record: ``times`` are when it was sent, its first byte and its end (wall
    seconds); ``cred`` the credential it went to (``None``: a router's plugin ``executor``,
    then named as the provider); ``failure`` its status and error body, when it failed."""
    started, first, now = times
    provider = cred.provider if cred else executor
    detail = dict.fromkeys(_DETAIL, 0)
    if usage is not None:
        detail.update(
            InputTokens=usage.input_tokens,
            OutputTokens=usage.output_tokens,
            ReasoningTokens=usage.reasoning_tokens,
            CachedTokens=usage.cache_read_tokens,
            CacheReadTokens=usage.cache_read_tokens,
            CacheCreationTokens=usage.cache_write_tokens,
            TotalTokens=usage.total,
        )
    return {
        "Provider": provider,
        "ExecutorType": provider,
        "Model": model,
        "Alias": call.model,
        "APIKey": "",
        "AuthID": cred.id if cred else "",
        "AuthIndex": cred.index if cred else "",
        "AuthType": cred.kind if cred else "",
        "Source": call.format.value,
        "ReasoningEffort": "",
        "ServiceTier": "",
        "Generate": call.body.get("generate") is not False,  # only an explicit false (CPA)
        "RequestedAt": format_utc(started),
        "Latency": int((now - started) * 1e9),
        "TTFT": int((first - started) * 1e9),
        "Failed": failure is not None,
        "Failure": {"StatusCode": failure[0], "Body": failure[1]}
        if failure
        else {"StatusCode": 0, "Body": ""},
        "Detail": detail,
        "ResponseHeaders": wire_headers(headers),
    }
