"""Sampling settings Anthropic accepts (CPA ``normalizeClaudeSamplingForUpstream``; its
``TestNormalizeClaudeSamplingForUpstream*`` cases ported), applied last in the Claude
provider's build, whoever set them; and through a running proxy against the fake, which
refuses what Anthropic refuses."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.claude_sampling import settle
from tests.e2e.clients import KEY

THINKING = {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # CPA's table for a native caller, whose rule we apply to every caller
        ({"temperature": 0.5, "top_k": 40}, {"temperature": 0.5, "top_k": 40}),
        ({"temperature": 0.5, "top_p": 0.9}, {"temperature": 0.5}),
        ({"top_p": 0.9}, {"top_p": 0.9}),
        ({"temperature": 1, "thinking": {"type": "disabled"}}, {"temperature": 1}),
        ({"temperature": 1, "thinking": THINKING}, {"temperature": 1}),
        ({"temperature": 0.5, "thinking": THINKING}, {}),
        ({"top_p": 0.99, "thinking": THINKING}, {"top_p": 0.99}),
        ({"top_p": 0.9, "thinking": THINKING}, {}),
        ({"top_k": 40, "thinking": THINKING}, {}),
        # adaptive and auto are thinking too; the measured Claude Code helper keeps temperature 1
        ({"temperature": 0.2, "top_p": 0.9, "top_k": 40, "thinking": {"type": "adaptive"}}, {}),
        ({"temperature": 0, "thinking": {"type": " Auto "}}, {}),
        ({"temperature": None, "top_p": None, "thinking": THINKING}, {}),
    ],
)
def test_only_what_anthropic_refuses_is_dropped(body: dict[str, Any], kept: dict[str, Any]) -> None:
    """CPA: TestNormalizeClaudeSamplingForUpstreamNativeDropsOnlyRejectedCombinations,
    TestNormalizeClaudeSamplingForUpstream_RemovesTemperatureWithThinkingEnabled,
    TestNormalizeClaudeSamplingForUpstream_RemovesTopPAndTopKForThinking,
    TestNormalizeClaudeSamplingForUpstreamNativeKeepsMeasuredHelperTemperature.
    """
    settle(body)
    assert {k: v for k, v in body.items() if k != "thinking"} == kept


def test_a_caller_that_is_not_claude_code_keeps_what_anthropic_accepts() -> None:
    """Deliberate difference: CPA drops temperature and top_p from every caller that is
    not a confirmed Claude Code (its cases ..._RemovesTemperature and
    ..._NoThinkingRemovesTemperatureAndTopP); a temperature of 0 asked for repeatable
    answers is kept here, and only the refused pair gives way.

    CPA: TestNormalizeClaudeSamplingForUpstream_RemovesTemperature,
    TestNormalizeClaudeSamplingForUpstream_NoThinkingRemovesTemperatureAndTopP. (deliberate
    difference, said above)"""
    body = {"temperature": 0, "top_p": 0.9, "top_k": 40, "messages": [{"role": "user", "content": "hi"}]}
    settle(body)
    assert (body.get("temperature"), body.get("top_p"), body.get("top_k")) == (0, None, 40)


def build(body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    cred = Credential(id="k", provider="claude", api_key="sk-ant-x")
    req = ClaudeProvider().build(cred, body, model="claude-sonnet-4-6", stream=False, client_headers={}, **kw)
    return orjson.loads(req.body)


def test_the_build_settles_sampling_after_a_forced_tool_turned_thinking_off() -> None:
    # CPA ..._AfterForcedToolChoiceRemovesTemperature: here thinking off lets temperature 0 stay
    """CPA: TestNormalizeClaudeSamplingForUpstream_AfterForcedToolChoiceRemovesTemperature.
    (difference: temperature 0 stays once thinking is off)
    """
    body = {
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0,
        "top_p": 0.5,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max"},
        "tool_choice": {"type": "any"},
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    }
    sent = build(body)
    assert "thinking" not in sent and "output_config" not in sent
    assert sent["temperature"] == 0 and "top_p" not in sent


async def _messages(url: str, model: str, **body: Any) -> tuple[int, Any]:
    payload = {"model": model, "max_tokens": 2048, "messages": [{"role": "user", "content": "hi"}], **body}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(f"{url}/v1/messages", json=payload, headers={"x-api-key": KEY}) as resp,
    ):
        return resp.status, await resp.json()


async def _chat(url: str, model: str, **body: Any) -> tuple[int, Any]:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(
            f"{url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_thinking_turned_on_by_the_proxy_does_not_make_the_clients_temperature_refused(
    start_proxy: Any, fakes: Any
) -> None:
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-sampling"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "sonnet"}}]
""")
    # a model suffix turns thinking on after the client wrote its temperature
    status, answer = await _messages(proxy.url, "sonnet(high)", temperature=0.3)
    assert status == 200, answer
    sent = fakes.claude.last.json
    assert sent["thinking"]["type"] in ("enabled", "adaptive") and "temperature" not in sent
    # no thinking: the pair a Claude client sent loses top_p, keeps its temperature
    status, answer = await _messages(proxy.url, "sonnet", temperature=0, top_p=0.5)
    assert status == 200, answer
    assert fakes.claude.last.json["temperature"] == 0 and "top_p" not in fakes.claude.last.json
    # an OpenAI client's temperature of 1.6 (its scale goes to 2) is Claude's highest
    status, answer = await _chat(proxy.url, "sonnet", temperature=1.6)
    assert status == 200, answer
    assert fakes.claude.last.json["temperature"] == 1


@pytest.mark.parametrize("choice", ["any", "auto"])
def test_context_management_never_outlives_the_thinking_it_needs(choice: str) -> None:
    """CPA: TestClaudeCodeContextManagementNeverOutlivesEligibleThinking. A cloaked request
    to Anthropic gets Claude Code's ``context_management`` only while thinking stays on: a
    forced tool choice turns thinking off, and the object goes with it (Anthropic refuses
    ``clear_thinking_20251015`` without thinking)."""
    cred = Credential(id="o", provider="claude", api_key="sk-ant-oat01-cm")
    body = {
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "adaptive"},
        "tool_choice": {"type": choice},
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    }
    req = ClaudeProvider().build(cred, body, model="claude-opus-5", stream=False, client_headers={})
    sent = orjson.loads(req.body)
    assert ("thinking" in sent) is (choice == "auto")
    assert ("context_management" in sent) is (choice == "auto")
