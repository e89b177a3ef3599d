"""The usage queue's record names what the client asked: its reasoning effort, its service
tier and whether it wanted an answer generated, as CPA's usage reporter records them
(``usage_helpers_test.go``).

Before, ``reasoning_effort`` and ``service_tier`` were always empty and ``generate`` always
true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from multidict import CIMultiDict

from cliproxy.usage import recorder_of
from cliproxy.usage.record import answer_service_tier, request_settings
from tests.management.conftest import mcall
from tests.usage.helpers import CLIENT_KEY, MSG, claude_config, close_recorder, post


@pytest.fixture
async def proxy(mproxy: Any, fake_claude: Any) -> AsyncIterator[Any]:
    started = await mproxy(claude_config(fake_claude, "usage-statistics-enabled: true"))
    recorder_of(started.service)
    yield started
    close_recorder(started)


async def _records(proxy: Any, n: int) -> list[dict[str, Any]]:
    status, records = await mcall(proxy, "GET", f"/usage-queue?count={n}")
    assert status == 200 and len(records) == n
    return records  # type: ignore[no-any-return]


async def test_the_record_names_effort_tier_and_generate(proxy: Any) -> None:
    """TestUsageReporterBuildRecordIncludesReasoningEffort, TestUsageReporterBuildRecordIncludesServiceTier,
    TestUsageReporterBuildRecordDefaultsGenerateTrue and TestUsageReporterBuildRecordIncludesGenerateFalse
    (CPA: TestUsageQueuePluginPayloadIncludesGenerateFalse, TestUsageQueuePluginPayloadDefaultsGenerateTrueWhenOmitted,
    TestUsageQueuePluginEmitsSingleCanonicalAutoTier: one ``service_tier``, no ``request_service_tier``):
    a Claude budget of 2048 tokens is
    CPA's "medium"; no tier asked is "auto"; only an explicit ``"generate": false`` turns
    generate off."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0) as client:
        await client.messages.create(**MSG)
        await client.messages.create(
            **{**MSG, "max_tokens": 4096},
            thinking={"type": "enabled", "budget_tokens": 2048},
            service_tier="standard_only",
        )
    status, _ = await post(proxy, {**MSG, "generate": False})
    assert status == 200
    plain, thinking, quiet = await _records(proxy, 3)
    assert (plain["reasoning_effort"], plain["service_tier"], plain["generate"]) == ("", "auto", True)
    assert (thinking["reasoning_effort"], thinking["service_tier"], thinking["generate"]) == (
        "medium",
        "standard_only",
        True,
    )
    assert quiet["generate"] is False and "response_service_tier" not in plain
    assert not any("request_service_tier" in r for r in (plain, thinking, quiet))


async def test_the_record_names_the_client(proxy: Any) -> None:
    """CPA: TestGetContextWithCancelCapturesClientRequestMetadata: the client IP is the
    direct peer's, not a forwarded one; every X-Forwarded-For line is kept, joined with
    ", "; the User-Agent as sent."""
    headers = [
        ("x-api-key", CLIENT_KEY),
        ("X-Forwarded-For", "203.0.113.5"),
        ("X-Forwarded-For", "198.51.100.8"),
        ("User-Agent", "test-client/1.0"),
    ]
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=MSG, headers=CIMultiDict(headers)) as r,
    ):
        assert r.status == 200
    (record,) = await _records(proxy, 1)
    assert record["client_ip"] == "127.0.0.1"
    assert record["x_forwarded_for"] == "203.0.113.5, 198.51.100.8"
    assert record["user_agent"] == "test-client/1.0"


@pytest.mark.parametrize(
    ("body", "fmt", "model", "want"),
    [
        ({"reasoning_effort": "high"}, "openai", "gpt-5.4", ("high", "auto", True)),
        (
            {"reasoning": {"effort": "low"}, "service_tier": "flex"},
            "openai-response",
            "gpt-5.4",
            ("low", "flex", True),
        ),
        ({"reasoning": {"effort": "low"}}, "openai-response", "gpt-5.4(xhigh)", ("xhigh", "auto", True)),
        ({"thinking": {"type": "disabled"}}, "claude", "claude-sonnet-4-6", ("none", "auto", True)),
        (
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}},
            "gemini",
            "g",
            ("auto", "auto", True),
        ),
        ({"generate": False, "service_tier": " "}, "openai-response", "m", ("", "auto", False)),
        ({"reasoning_effort": "low"}, "openai", "gpt-5.4(high)", ("high", "auto", True)),
        ({"service_tier": "default", "generate": True}, "openai", "gpt-5.4", ("", "default", True)),
    ],
)
def test_request_settings(body: dict[str, Any], fmt: str, model: str, want: tuple[str, str, bool]) -> None:
    """The model's thinking suffix wins over the body (CPA ``ExtractReasoningEffort``); a
    blank tier is "auto", an explicit "default" is kept. CPA: TestSetReasoningEffortMetadataUsesSuffixOverBody,
    TestSetReasoningEffortMetadataSupportsOpenAIResponses, TestSetServiceTierMetadataExtractsValue,
    TestSetServiceTierMetadataDefaultsWhenMissing, TestSetServiceTierMetadataPreservesExplicitDefault,
    TestSetGenerateMetadataDefaultsWhenMissing, TestSetGenerateMetadataPreservesTrue,
    TestSetGenerateMetadataHonorsExplicitFalse; sdk/cliproxy/usage/manager_test.go's
    TestGenerateEnabledDefaultsNilToTrue, TestGenerateEnabledHonorsExplicitFalse,
    TestGenerateEnabledHonorsExplicitTrue, TestGenerateFromContextDefaultsMissingToTrue,
    TestGenerateFromContextHonorsExplicitFalse and TestRecordOmittedGenerateIsEnabled (no
    ``generate`` is true, an explicit one is kept); conductor_usage_test.go's
    TestContextWithRequestedModelAliasIncludesReasoningEffort,
    TestContextWithRequestedModelAliasDefaultsGenerateTrue and
    TestContextWithRequestedModelAliasPreservesExistingGenerateFalse."""
    assert request_settings(orjson.dumps(body), fmt, model) == want


def test_answer_service_tier() -> None:
    """TestParseOpenAIUsageResponses / TestParseCodexUsagePreservesResponseTierWithoutUsage /
    TestParseOpenAIUsagePreservesResponseTierWithoutUsage:
    the tier the answer names, at the top or under ``response``."""
    assert answer_service_tier(b'{"service_tier":"default","usage":null}') == "default"
    assert answer_service_tier(b'{"response":{"service_tier":"priority"}}') == "priority"
    assert answer_service_tier(b'{"usage":{"total_tokens":1}}') == ""
    assert answer_service_tier(b"not json service_tier") == ""
