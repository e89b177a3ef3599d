"""A Codex model's forced upstream headers (CPA codex_websockets_executor_test.go
ApplyModelHeaderOverrides*): the catalog names Codex's own terminal client for
gpt-5.6-luna, whatever client asked; a Mac OS identity without a session gets one."""

from __future__ import annotations

import openai
import pytest

from cliproxy.providers.codex import _model_headers
from tests.e2e.clients import KEY
from tests.e2e.test_codex_prompt_cache import HEAD, codex_file  # noqa: F401

LUNA_AGENT = "codex-tui/0.144.0 (Mac OS 26.5.1; arm64) iTerm.app/3.6.11 (codex-tui; 0.144.0)"


@pytest.mark.usefixtures("codex_file")
async def test_luna_goes_as_codexs_terminal_client(start_proxy, fake_responses) -> None:
    """CPA TestApplyModelHeaderOverridesFromModelConfig."""
    proxy = await start_proxy(HEAD)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model="gpt-5.6-luna", messages=[{"role": "user", "content": "hi"}]
        )
        luna = fake_responses.last.headers
        await client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
        other = fake_responses.last.headers
    assert luna["User-Agent"] == LUNA_AGENT and luna["Originator"] == "codex-tui"
    assert len(luna.getall("User-Agent")) == 1  # replaced, never sent twice
    assert luna.get("Session_id") or luna.get("Session-Id")
    assert other["User-Agent"] != LUNA_AGENT


def test_forced_headers_replace_any_casing_and_keep_a_session() -> None:
    """CPA TestApplyModelHeaderOverridesMultipleHeaders."""
    headers = {"user-agent": "OpenAI/Python 1.0", "Session-Id": "s-1"}
    _model_headers(headers, {"user-agent": LUNA_AGENT, "originator": "codex-tui"})
    assert headers == {"Session-Id": "s-1", "User-Agent": LUNA_AGENT, "Originator": "codex-tui"}
    fresh: dict[str, str] = {}
    _model_headers(fresh, {"user-agent": LUNA_AGENT})
    assert len(fresh["Session_id"]) == 36  # a Mac OS client without a session gets one
    plain: dict[str, str] = {"User-Agent": "x"}
    _model_headers(plain, {})
    assert plain == {"User-Agent": "x"}
