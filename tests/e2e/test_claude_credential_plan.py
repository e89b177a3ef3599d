"""The Claude provider works out a credential's URL, auth header, custom headers and cloak
decision once (``providers/claude_plan.py``): a config reload, and an edit of the
credential record in place (a plugin's auth refresh), change the very next request."""

from __future__ import annotations

import asyncio

from cliproxy.formats import Format
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import IDENTITY, MODEL, SYSTEM, last, send, write_oauth


def _config(fake_url: str, section: str) -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_url}"
{section}
"""


async def test_a_reload_changes_headers_and_cloak_of_the_next_request(start_proxy, fake_claude) -> None:
    proxy = await start_proxy(_config(fake_claude.base_url, '    headers: {X-Static: "one"}'), watch=True)
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    assert rec.headers["X-Static"] == "one" and rec.headers["Authorization"] == "Bearer sk-ant-api-1"
    assert [b["text"] for b in rec.json["system"]] == [SYSTEM]  # the caller's own shape
    # same key, same base URL: only the headers and the cloak settings change
    proxy.config_path.write_text(
        _config(fake_claude.base_url, '    headers: {X-Static: "two"}\n    cloak: {mode: always}')
    )
    for _ in range(200):
        await asyncio.sleep(0.025)
        if any(c.headers.get("X-Static") == "two" for c in proxy.service.pool.credentials()):
            break
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    assert rec.headers["X-Static"] == "two" and rec.headers["X-App"] == "cli"
    assert [b["text"] for b in rec.json["system"]][1:] == [IDENTITY]  # cloaked now


async def test_an_edit_in_place_changes_token_and_cloak_of_the_next_request(
    start_proxy, fake_claude, tmp_path
) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    assert rec.headers["Authorization"] == "Bearer sk-ant-oat01-one"
    assert [b["text"] for b in rec.json["system"]][1:] == [IDENTITY]  # an OAuth token: cloaked (auto)
    (cred,) = proxy.service.pool.credentials()
    # what a plugin's auth refresh does (plugins/models.py apply_auth_data): the same record
    cred.metadata.update({"access_token": "sk-ant-oat01-renewed", "cloak_mode": "never"})
    await send(Format.CLAUDE, proxy.url, MODEL)
    rec = last(fake_claude)
    assert rec.headers["Authorization"] == "Bearer sk-ant-oat01-renewed"
    assert [b["text"] for b in rec.json["system"]][1:] == [SYSTEM]  # not cloaked any more
    cred.attributes["cloak_mode"] = "always"  # an attribute wins over the file's key
    await send(Format.CLAUDE, proxy.url, MODEL)
    assert [b["text"] for b in last(fake_claude).json["system"]][1:] == [IDENTITY]
