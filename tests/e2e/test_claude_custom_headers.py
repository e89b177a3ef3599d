"""A Claude credential's ``headers:`` replace the request's own headers whatever their
spelling: the names each entry replaces are worked out once per credential
(``claude_plan._custom``), on the caller's own request shape and on Claude Code's, and a
reload applies the new entries to the very next request."""

from __future__ import annotations

import asyncio

import aiohttp
from multidict import CIMultiDict

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import MODEL, last, write_oauth

_HEADERS = (
    '{authorization: "Bearer other", Anthropic-Version: "2099", anthropic-version: "2098", '
    'User-Agent: "$x-ua", Anthropic-Beta: "$x-beta"}'
)


def _config(fake_url: str, headers: str, cloak: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_url}"
    headers: {headers}
{cloak}
"""


async def _post(base: str, headers: dict[str, str]) -> None:
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/v1/messages", json=body, headers=sent) as resp,
    ):
        assert resp.status == 200, await resp.text()


def _one(rec, name: str) -> str:
    (value,) = rec.headers.getall(name)  # never a second spelling of the same header
    return value


async def test_credential_headers_replace_every_spelling(start_proxy, fake_claude) -> None:
    proxy = await start_proxy(_config(fake_claude.base_url, _HEADERS))
    client = {"x-ua": "my-agent/1", "x-beta": "b1", "anthropic-beta": "client-beta", "user-agent": "sdk/1"}
    await _post(proxy.url, client)
    rec = last(fake_claude)
    assert _one(rec, "authorization") == "Bearer other"  # over the plan's own "Authorization"
    assert _one(rec, "anthropic-version") == "2098"  # the later of two spellings, over the client's
    assert _one(rec, "user-agent") == "my-agent/1"  # a copied value over a forwarded header
    assert _one(rec, "anthropic-beta") == "b1"
    await _post(proxy.url, {})  # copies left out when the client sent none: the request's own stay
    rec = last(fake_claude)
    assert _one(rec, "user-agent") != "my-agent/1" and "anthropic-beta" not in rec.headers


async def test_cloaked_request_and_reload(start_proxy, fake_claude) -> None:
    cloak = "    cloak: {mode: always}"
    proxy = await start_proxy(_config(fake_claude.base_url, _HEADERS, cloak), watch=True)
    await _post(proxy.url, {"x-ua": "my-agent/1", "x-beta": "b1"})
    rec = last(fake_claude)
    assert _one(rec, "authorization") == "Bearer other" and _one(rec, "x-app") == "cli"
    assert _one(rec, "anthropic-version") == "2098" and _one(rec, "user-agent") == "my-agent/1"
    assert _one(rec, "anthropic-beta") == "b1"
    # new entries: the next request takes them, none of the old ones linger
    proxy.config_path.write_text(
        _config(fake_claude.base_url, '{X-Static: "two", AUTHORIZATION: "$x-tok"}', cloak)
    )
    for _ in range(200):
        await asyncio.sleep(0.025)
        if any(c.headers.get("X-Static") == "two" for c in proxy.service.pool.credentials()):
            break
    await _post(proxy.url, {"x-ua": "my-agent/1", "x-tok": "Bearer copied"})
    rec = last(fake_claude)
    assert _one(rec, "x-static") == "two" and _one(rec, "authorization") == "Bearer copied"
    assert _one(rec, "anthropic-version") == "2023-06-01" and _one(rec, "user-agent") != "my-agent/1"
    assert "claude-code-20250219" in _one(rec, "anthropic-beta")


async def _two_beta_lines(base: str) -> None:
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    sent = CIMultiDict(
        [
            ("x-api-key", KEY),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "interleaved-thinking-2025-05-14"),
            ("anthropic-beta", "context-1m-2025-08-07, files-api-2025-04-14"),
        ]
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/v1/messages", json=body, headers=sent) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def test_anthropic_beta_sent_on_two_lines_is_one_list(start_proxy, fake_claude, tmp_path) -> None:
    """CPA: TestNormalizedClaudeBetaHeaderIsDeterministic. A client that writes
    ``anthropic-beta`` on two lines means one list: every member reaches
    Anthropic on one line, in the order sent on the caller's own request shape, with a
    subscription's betas on its cloaked one; before, only the last line's members went on."""
    asked = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "files-api-2025-04-14"]
    proxy = await start_proxy(_config(fake_claude.base_url, "{}"))
    await _two_beta_lines(proxy.url)
    assert _one(last(fake_claude), "anthropic-beta").split(",") == asked
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _two_beta_lines(proxy.url)
    sent = _one(last(fake_claude), "anthropic-beta").split(",")
    assert "oauth-2025-04-20" in sent  # the subscription's own betas, with the client's
    assert set(asked) <= set(sent)  # (placed in Claude Code's order)
