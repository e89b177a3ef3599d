"""Antigravity accounts through a running proxy never share an upstream connection (CPA's
per-auth pools, antigravity_executor.go ``newAntigravityHTTPClient``): the fake Cloud Code
server records the client port of every request, so the TCP connections of each account
can be counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_providers_more import FAR, write_auth

SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
MODEL = "gemini-3-flash"  # the fake lists it in webSearchModelIds


def two_accounts(tmp_path: Path, base_url: str, *, project: bool = True) -> None:
    for name in ("a", "b"):
        data: dict[str, Any] = {
            "type": "antigravity",
            "access_token": f"tok-{name}",
            "refresh_token": f"rt-{name}",
            "expired": FAR,
            "email": f"{name}@example.com",
            "base_url": base_url,
        }
        if project:
            data["project_id"] = "fake-project"
        write_auth(tmp_path, f"antigravity-{name}.json", data)


def paths(fakes: Any, key: str) -> list[str]:
    return [r.path.rpartition(":")[2] for r in fakes.gemini.requests if r.key == key]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_two_accounts_keep_to_their_own_connections(
    start_proxy: Any, fakes: Any, tmp_path: Path, stream: bool
) -> None:
    """CPA TestAntigravityExecuteStreamReusesUpstreamConnection and
    TestNewAntigravityHTTPClientScopesPoolsByAuthIdentity, through the proxy: the two accounts
    take turns (round-robin), each account's requests reuse its one connection, and no
    connection carries both accounts. The shared client opens none."""
    two_accounts(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    for i in range(6):
        answer = await ask(Format.OPENAI, proxy.url, MODEL, f"hello {i}", stream=stream)
        assert answer.text
    a, b = fakes.gemini.connections("tok-a"), fakes.gemini.connections("tok-b")
    assert len(paths(fakes, "tok-a")) == 3 and len(paths(fakes, "tok-b")) == 3
    assert len(a) == 1 and len(b) == 1 and not a & b
    assert proxy.service.http.fast.connections_made == 0


async def test_the_lookup_and_models_list_use_the_accounts_connection(
    start_proxy: Any, fakes: Any, tmp_path: Path
) -> None:
    """CPA fetchAntigravityProjectID builds its client with newAntigravityHTTPClient: an
    account's first-use project lookup (loadCodeAssist) goes over that account's connection,
    and so does the list of models a web search waits for (fetchAvailableModels), then the
    search itself. Deliberate difference: CPA asks for the list through a plain client with
    ``Connection: close`` (a fresh connection every time, never another account's); here it
    reuses the account's own, which is just as separate and saves a handshake."""
    two_accounts(tmp_path, fakes.gemini.base_url, project=False)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for _ in range(2):
            message = await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=[{"role": "user", "content": "Perform a web search for the query: tides"}],
                tools=[SEARCH],  # type: ignore[list-item]
            )
            assert message.content[0].type == "server_tool_use"
    for key in ("tok-a", "tok-b"):
        assert paths(fakes, key) == ["loadCodeAssist", "fetchAvailableModels", "generateContent"]
        assert fakes.gemini.requests[-1].json["project"] == "fake-project"
    a, b = fakes.gemini.connections("tok-a"), fakes.gemini.connections("tok-b")
    assert len(a) == 1 and len(b) == 1 and not a & b
    assert proxy.service.http.fast.connections_made == 0
