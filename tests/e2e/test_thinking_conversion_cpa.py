"""CPA's cross-format thinking matrix (test/thinking_conversion_test.go) through a running
proxy: a client's ``model(suffix)`` in its own format, as the fake Codex, Gemini and Claude
upstreams receive it.

CPA registers test models with set capabilities; here API keys' ``models:`` lists give
them the same ``thinking:`` (level-model: minimal..high, no zero, no dynamic;
gemini-budget-model: 128..20000, dynamic; claude-budget-model: 1024..128000, zero
allowed). The full matrix (about 200 rows, every target including Antigravity, Kimi and
xAI) runs on the thinking step itself in tests/models/test_thinking_matrix.py; these rows
show the same answers on the wire.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.thinking_proxy import keys_config, same, send_as
from tests.models._thinking_models import ABSENT
from tests.models._thinking_models import field_at as _at


def _config(fakes: Any) -> str:
    return keys_config(
        fakes,
        codex=[same("level-model", {"levels": ["minimal", "low", "medium", "high"]})],
        gemini=[same("gemini-budget-model", {"min": 128, "max": 20000, "dynamic-allowed": True})],
        claude=[same("claude-budget-model", {"min": 1024, "max": 128000, "zero-allowed": True})],
    )


async def _send(url: str, client: str, model: str, room: bool = False) -> int:
    """``room``: an output limit above every budget, so Claude's rule that a budget stays
    under ``max_tokens`` (CPA's executor has it too) does not hide the matrix's value."""
    limit = 200_000 if room else 1024
    body: dict[str, Any] = {"model": model}
    if client == "gemini":
        body["contents"] = [{"role": "user", "parts": [{"text": "hi"}]}]
        if room:
            body["generationConfig"] = {"maxOutputTokens": limit}
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
        if room or client == "claude":
            body["max_tokens"] = limit
    return await send_as(url, client, body)


RE = "reasoning.effort"
GB = "generationConfig.thinkingConfig.thinkingBudget"
CB, CT = "thinking.budget_tokens", "thinking.type"

# (CPA case number, client format, upstream, model with suffix, field, value)
CASES: list[tuple[int, str, str, str, str, Any]] = [
    (1, "openai", "responses", "level-model", RE, "medium"),
    (2, "openai", "responses", "level-model(medium)", RE, "medium"),
    (4, "openai", "responses", "level-model(none)", RE, "minimal"),
    (5, "openai", "responses", "level-model(auto)", RE, "medium"),
    (6, "gemini", "responses", "level-model", RE, "medium"),
    (7, "gemini", "responses", "level-model(8192)", RE, "medium"),
    (19, "openai", "gemini", "gemini-budget-model(medium)", GB, 8192),
    (20, "openai", "gemini", "gemini-budget-model(xhigh)", GB, 20000),
    (21, "openai", "gemini", "gemini-budget-model(none)", GB, 128),
    (22, "openai", "gemini", "gemini-budget-model(auto)", GB, -1),
    (24, "claude", "gemini", "gemini-budget-model(8192)", GB, 8192),
    (25, "claude", "gemini", "gemini-budget-model(64000)", GB, 20000),
    (26, "claude", "gemini", "gemini-budget-model(0)", GB, 128),
    (27, "claude", "gemini", "gemini-budget-model(-1)", GB, -1),
    (39, "openai", "claude", "claude-budget-model(medium)", CB, 8192),
    (40, "openai", "claude", "claude-budget-model(xhigh)", CB, 32768),
    (41, "openai", "claude", "claude-budget-model(none)", CT, "disabled"),
    (42, "openai", "claude", "claude-budget-model(auto)", CB, 64512),
    (44, "gemini", "claude", "claude-budget-model(8192)", CB, 8192),
    (45, "gemini", "claude", "claude-budget-model(200000)", CB, 128000),
    (46, "gemini", "claude", "claude-budget-model(0)", CT, "disabled"),
    (47, "gemini", "claude", "claude-budget-model(-1)", CB, 64512),
    (71, "claude", "responses", "level-model", RE, "medium"),
    (84, "gemini", "gemini", "gemini-budget-model(8192)", GB, 8192),
    (85, "gemini", "gemini", "gemini-budget-model(64000)", GB, 20000),
    (86, "claude", "claude", "claude-budget-model(8192)", CB, 8192),
    (87, "claude", "claude", "claude-budget-model(200000)", CB, 128000),
]


async def test_suffix_matrix_on_the_wire(start_proxy, fakes) -> None:
    """CPA: TestThinkingE2EMatrix_Suffix (cases 1, 2, 4-7, 19-27, 39-47, 71, 84-87) and
    TestThinkingE2EMatrix_Body (its cases 1, 6 and 71, the same requests): each row's
    suffix reaches the upstream as CPA's matrix says; a Chat, Gemini or Claude client
    naming no effort gets Codex's default ``medium`` (CPA's translators write it). Case 71
    is CPA's user-defined model; an API key's listed model is checked against its
    ``thinking:`` in both, so the row uses level-model (the user-defined row runs on the
    thinking step, tests/models/test_thinking_matrix.py). One proxy serves every row. (Case 3,
    ``level-model(xhigh)`` from a Chat client, is CPA's 400 for a registered model; for an
    API key's configured model CPA, and cliproxy, read "xhigh" across formats as the top
    level the model lists, tests/e2e/test_thinking_configured_models.py, so it is not a
    row here.)"""
    proxy = await start_proxy(_config(fakes))
    wrong = []
    for number, client, upstream, model, field, want in CASES:
        fake = getattr(fakes, upstream)
        before = len(fake.requests)
        status = await _send(proxy.url, client, model, room=upstream == "claude")
        got = _at(fake.last.json, field) if len(fake.requests) > before else ("no request", status)
        if got != want:
            wrong.append((number, got, want))
    assert wrong == [], repr(wrong)


@pytest.mark.parametrize(
    ("client", "model"), [("openai", "gemini-budget-model"), ("claude", "claude-budget-model")]
)
async def test_no_suffix_and_no_body_setting_sends_no_budget(start_proxy, fakes, client, model) -> None:
    """CPA: TestThinkingE2EMatrix_Suffix cases 18 and 38: without a suffix or a body setting
    the request passes through with no thinking budget written."""
    proxy = await start_proxy(_config(fakes))
    assert await _send(proxy.url, client, model) == 200
    upstream = fakes.gemini if model.startswith("gemini") else fakes.claude
    field = GB if model.startswith("gemini") else CB
    assert _at(upstream.last.json, field) is ABSENT


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        ("gpt-5.4", "high", "high"),
        ("gpt-5.4", "minimal", None),
        ("gpt-5.4", "max", None),
        ("gpt-5.4(minimal)", None, None),
        ("gpt-5.4(max)", None, None),
        ("gpt-5.4(low)", "high", "low"),
        ("gpt-5.4", "none", "low"),
    ],
    ids=["body-high", "body-minimal", "body-max", "suffix-minimal", "suffix-max", "suffix-wins", "body-none"],
)
async def test_responses_client_on_codex_is_one_family(start_proxy, fakes, model, effort, sent) -> None:
    """CPA: TestThinkingE2EMatrix_Suffix and TestThinkingE2EMatrix_Body, cases 82 and 83
    (``openai-response`` -> ``codex``): a Responses client and a Codex upstream are one
    family, so a level the registered model does not list is a 400, from the body or a
    suffix, where across families it would be clamped (before, cliproxy clamped it:
    "minimal" went up as "low", "max" as "xhigh"). CPA's level-model lacks "xhigh"; the
    catalog's gpt-5.4 lacks "minimal" and "max". "none" is no level but thinking off, which a
    model that cannot turn it off takes as its lowest level (CPA's ValidateConfig, as in case
    4 where level-model(none) goes up as "minimal"): gpt-5.4 gets "low", while "minimal"
    stays a 400."""
    # a Codex key without models: the catalog's Codex models, registered as CPA registers
    # them (gpt-5.4: low, medium, high, xhigh)
    proxy = await start_proxy(keys_config(fakes, codex=[]))
    extra = {"reasoning": {"effort": effort}} if effort else {}
    before = len(fakes.responses.requests)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        if sent is None:
            with pytest.raises(openai.BadRequestError) as info:
                await client.responses.create(model=model, input="hi", extra_body=extra)
            assert "not supported" in info.value.message, info.value.message
            assert len(fakes.responses.requests) == before
            return
        await client.responses.create(model=model, input="hi", extra_body=extra)
    assert fakes.responses.last.json["reasoning"]["effort"] == sent
