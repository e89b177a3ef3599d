"""``request_faults.over_input_quota``: which Gemini 429 a request earns by its size alone.

Only a QuotaFailure whose every violation is a quota of input tokens per minute (named so
by its ``quotaId``) with a value above 0, to a request whose text counted low (4 characters
a token; images and files count nothing) is over each value. Everything else a 429 says is
the key's own quota and cools it (CPA cools them all: ``clienterror.IsRequestFault``)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from cliproxy.credentials.request_faults import over_input_quota, request_chars
from tests.fakes.gemini import input_quota_429

TEXT = "x" * 4004  # 1,001 tokens counted low


def body(*violations: dict[str, Any], status: str = "RESOURCE_EXHAUSTED") -> bytes:
    quota = {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": list(violations)}
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "21s"}
    return orjson.dumps(
        {"error": {"code": 429, "message": "quota", "status": status, "details": [quota, retry]}}
    )


def violation(quota_id: str, value: Any = "1000", metric: str | None = None) -> dict[str, Any]:
    metric = metric or "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"
    return {"quotaMetric": metric, "quotaId": quota_id, "quotaValue": value}


FREE = violation("GenerateContentInputTokensPerModelPerMinute-FreeTier")


def user(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def test_the_real_free_tier_body_over_its_quota():
    """Google's body as a free-tier key gets it (Help and RetryInfo beside the QuotaFailure)."""
    real = orjson.dumps(input_quota_429(1000, "gemini-2.5-pro"))
    assert over_input_quota(429, real, user(TEXT))
    assert not over_input_quota(429, real, user("x" * 4000))  # 1,000 tokens: not over 1,000


@pytest.mark.parametrize(
    ("status", "answer", "over"),
    [
        (429, body(FREE), True),
        # a paid tier's id names the same window
        (429, body(violation("GenerateContentPaidTierInputTokensPerModelPerMinute")), True),
        (429, body(violation("GenerateContentInputTokensPerModelPerMinute-FreeTier", 1000)), True),
        # the JSON array a streamed call's error comes in
        (429, b"[" + body(FREE) + b"]", True),
        # not a 429
        (400, body(FREE), False),
        (503, body(FREE), False),
        # input tokens per day: the key's day is spent, whatever the request
        (429, body(violation("GenerateContentInputTokensPerModelPerDay-FreeTier")), False),
        # requests per minute
        (
            429,
            body(
                violation(
                    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "10",
                    "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                )
            ),
            False,
        ),
        # another quota beside it: the key is spent
        (
            429,
            body(
                FREE,
                violation(
                    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                    "250",
                    "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                ),
            ),
            False,
        ),
        # a limit of 0: the model is not in the key's plan (every request is "over" it)
        (429, body(violation("GenerateContentInputTokensPerModelPerMinute-FreeTier", "0")), False),
        (429, body(violation("GenerateContentInputTokensPerModelPerMinute-FreeTier", "lots")), False),
        # the metric alone does not name the window; a quota id over another metric is no input quota
        (429, body({"quotaMetric": FREE["quotaMetric"], "quotaValue": "1000"}), False),
        (
            429,
            body(violation("GenerateContentInputTokensPerModelPerMinute-FreeTier", metric="x/requests")),
            False,
        ),
        # a 429 without QuotaFailure, or not JSON at all
        (
            429,
            b'{"error": {"code": 429, "message": "InputTokensPerMinute", "status": "RESOURCE_EXHAUSTED"}}',
            False,
        ),
        (429, b"InputTokensPerModelPerMinute: too many", False),
    ],
)
def test_which_answers_are_the_requests_own(status, answer, over):
    assert over_input_quota(status, answer, user(TEXT)) is over


def test_over_every_quota_named():
    """Two input-minute quotas: the request must be over both (the larger decides)."""
    two = body(FREE, violation("GenerateContentInputTokensPerProjectPerMinute", "2000"))
    assert not over_input_quota(429, two, user(TEXT))
    assert over_input_quota(429, two, user("x" * 8004))


def test_what_is_counted():
    """Text parts of every turn, the system instruction, tools and function calls and
    responses as JSON; images and files count nothing, however large; characters, not
    UTF-8 bytes (a low count for Chinese, which Gemini makes a token of about each)."""
    image = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"\0" * 30_000).decode()}}
    file = {"fileData": {"mimeType": "application/pdf", "fileUri": "https://x/" + "f" * 5000}}
    assert request_chars({"contents": [{"role": "user", "parts": [image, file, {"text": "abc"}]}]}) == 3
    tools = [{"functionDeclarations": [{"name": "f", "description": "中文"}]}]
    call = {"functionCall": {"name": "f", "args": {"q": "中"}}}
    response = {"function_response": {"name": "f", "response": {"ok": True}}}
    request = {
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "hello"}]},
            {
                "role": "model",
                "parts": [call, {"text": "thought", "thought": True, "thoughtSignature": "s" * 999}],
            },
            {"role": "user", "parts": [response]},
        ],
        "tools": tools,
    }
    expected = (
        3
        + 5
        + len(orjson.dumps(call["functionCall"]).decode())
        + len("thought")
        + len(orjson.dumps(response["function_response"]).decode())
        + len(orjson.dumps(tools).decode())
    )
    assert request_chars(request) == expected
    assert request_chars({"system_instruction": {"parts": [{"text": "snake"}]}}) == 5
    assert request_chars({"contents": "not a list", "tools": None}) == 0


def test_an_image_heavy_request_under_the_quota_cools_as_before():
    """Megabytes of images with a short question are no oversized request: the key cools."""
    image = {"inlineData": {"mimeType": "image/png", "data": "A" * 2_000_000}}
    request = {"contents": [{"role": "user", "parts": [image, {"text": "what is this?"}]}]}
    assert not over_input_quota(429, body(FREE), request)
