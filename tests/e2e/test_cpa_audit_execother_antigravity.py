"""CPA Antigravity executor facts not pinned elsewhere, through a running proxy against the
fake Cloud Code server (tests/fakes/gemini.py), with the official SDKs as clients:

- antigravity_executor_keepalive_test.go: no request to Cloud Code carries a ``Connection``
  header (the native client sends none; a ``close`` would throw away the TCP and TLS
  session), and an account's token counts reuse its one connection as its generations do
  (TestAntigravityBuildRequestKeepsConnectionAlive,
  TestAntigravityCountTokensReusesUpstreamConnection; the generation half of the reuse is
  tests/e2e/test_antigravity_pools.py);
- antigravity_schema_sanitize_test.go TestAntigravityBuildRequestKeepsJSONObjectMimeOnly: an
  OpenAI ``response_format: json_object`` becomes ``responseMimeType: application/json``
  and no ``responseSchema``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, tmp_path: Path) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\n')


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_no_request_carries_a_connection_header(proxy: Any, fakes: Any, stream: bool) -> None:
    for i in range(3):
        assert (await ask(Format.GEMINI, proxy.url, MODEL, f"hello {i}", stream=stream)).text
    sent = [r for r in fakes.gemini.requests if r.path.startswith("/v1internal:")]
    assert len(sent) == 3
    assert all("Connection" not in r.headers for r in sent)
    assert len(fakes.gemini.connections("ag-token")) == 1


async def test_token_counts_reuse_the_accounts_connection(proxy: Any, fakes: Any) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for i in range(4):
            counted = await client.messages.count_tokens(
                model=MODEL, messages=[{"role": "user", "content": f"count these words {i}"}]
            )
            assert counted.input_tokens > 0
    sent = [r for r in fakes.gemini.requests if r.path == "/v1internal:countTokens"]
    assert len(sent) == 4
    assert all("Connection" not in r.headers for r in sent)
    assert len(fakes.gemini.connections("ag-token")) == 1
    assert proxy.service.http.fast.connections_made == 0  # the account's pool, not the shared one


async def test_json_object_asks_for_json_without_a_schema(proxy: Any, fakes: Any) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi, answer in JSON"}],
            response_format={"type": "json_object"},
        )
    config = fakes.gemini.last.json["request"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "responseSchema" not in config and "responseJsonSchema" not in config
