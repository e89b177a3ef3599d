"""What the panel's Dashboard reads after traffic: ``/auth-files`` counters (file
credentials) and ``/api-key-usage`` (config API keys), and ``unavailable`` while cooled.

CPA: ``internal/api/handlers/management/auth_files.go`` (``buildAuthFileEntryLocked``:
success, failed, recent_requests, unavailable), ``api_key_usage.go`` (``GetAPIKeyUsage``),
``sdk/cliproxy/auth/types.go`` (``RecentRequestsSnapshot``: 20 buckets of 10 minutes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.management.conftest import mcall
from tests.usage.helpers import close_recorder
from tests.usage.upstream import UsageUpstream

KEY = "sk-panel-client-1"


@pytest.fixture
async def upstream() -> AsyncIterator[UsageUpstream]:
    async with UsageUpstream() as up:
        yield up


def claude_file(base_url: str) -> dict[str, Any]:
    return {
        "type": "claude",
        "access_token": "at-1",
        "refresh_token": "rt-1",
        "expired": "2099-01-01T00:00:00Z",
        "email": "panel@example.com",
        "base_url": base_url,
    }


def config(up: UsageUpstream, tmp_path: Any) -> str:
    base = f"http://127.0.0.1:{up.port}/v1"
    return f"""
api-keys: ["{KEY}"]
usage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}
openai-compatibility:
  - name: Up
    base-url: "{base}"
    api-key-entries: [{{api-key: sk-good}}]
    models: [{{name: up-model, alias: m}}]
  - name: Rejecting
    base-url: "{base}"
    api-key-entries: [{{api-key: sk-other}}]
    models: [{{name: reject-me, alias: r}}]
"""


async def test_twelve_mixed_requests_show_on_both_endpoints(mproxy, fake_claude, upstream, tmp_path):
    """CPA: TestManagerMarkResultRecordsRecentRequests (a credential's success and failure
    totals and its recent-request buckets)."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    (auth_dir / "claude-a.json").write_bytes(orjson.dumps(claude_file(fake_claude.base_url)))
    proxy = await mproxy(config(upstream, tmp_path))
    try:
        oa = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)
        an = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
        msgs: Any = [{"role": "user", "content": "hi"}]
        for _ in range(2):
            await an.messages.create(model="claude-sonnet-4-6", max_tokens=20, messages=msgs)
        for _ in range(2):
            async with an.messages.stream(model="claude-sonnet-4-6", max_tokens=20, messages=msgs) as s:
                await s.get_final_message()
        fake_claude.fail_next(400)
        with pytest.raises(anthropic.BadRequestError):
            await an.messages.create(model="claude-sonnet-4-6", max_tokens=20, messages=msgs)
        for stream in (False, False, True, True, False):
            if stream:
                chunks = await oa.chat.completions.create(model="m", messages=msgs, stream=True)
                async for _ in chunks:
                    pass
            else:
                await oa.chat.completions.create(model="m", messages=msgs)
        for _ in range(2):
            with pytest.raises(openai.BadRequestError):
                await oa.chat.completions.create(model="r", messages=msgs)
        await oa.close()
        await an.close()

        status, body = await mcall(proxy, "GET", "/auth-files")
        assert status == 200
        entry = body["files"][0]
        assert (entry["name"], entry["success"], entry["failed"]) == ("claude-a.json", 4, 1)
        assert sum(b["success"] for b in entry["recent_requests"]) == 4
        assert sum(b["failed"] for b in entry["recent_requests"]) == 1
        assert entry["unavailable"] is False  # a 400 is the request's fault: no cooldown

        status, usage = await mcall(proxy, "GET", "/api-key-usage")
        base = f"http://127.0.0.1:{upstream.port}/v1"
        good, other = usage["up"][f"{base}|sk-good"], usage["rejecting"][f"{base}|sk-other"]
        assert (good["success"], good["failed"], other["success"], other["failed"]) == (5, 0, 0, 2)
        total = entry["success"] + entry["failed"] + good["success"] + other["failed"]
        assert total == 12

        # the ledger says the same, per credential
        status, summary = await mcall(proxy, "GET", "/usage/summary?group=credential")
        rows = {r["key"]: (r["success"], r["failed"]) for r in summary["rows"]}
        assert rows[entry["auth_index"]] == (4, 1)

        # an edit of the file keeps its counters (CPA: TestManagerUpdatePreservesRecentRequestsAndTotals)
        fields = {"name": "claude-a.json", "note": "updated"}
        assert (await mcall(proxy, "PATCH", "/auth-files/fields", fields))[0] == 200
        _, body = await mcall(proxy, "GET", "/auth-files")
        edited = body["files"][0]
        assert (edited["note"], edited["success"], edited["failed"]) == ("updated", 4, 1)
        assert sum(b["success"] + b["failed"] for b in edited["recent_requests"]) == 5
    finally:
        close_recorder(proxy)


async def test_a_model_cooldown_makes_the_file_unavailable(mproxy, fake_claude, tmp_path):
    """The issue's defect: status "error" yet ``unavailable: false`` after a failure that
    cooled the credential, so the panel's health card counted it as active."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    (auth_dir / "claude-a.json").write_bytes(orjson.dumps(claude_file(fake_claude.base_url)))
    (auth_dir / "claude-b.json").write_bytes(
        orjson.dumps({**claude_file(fake_claude.base_url), "disabled": True})
    )
    proxy = await mproxy("usage-ledger: {enabled: false}\n")
    cred = proxy.service.pool.get("claude-a.json")
    await proxy.service.pool.mark_failure(cred, "claude-sonnet-4-6", 429, retry_after=600)
    _, body = await mcall(proxy, "GET", "/auth-files")
    files = {f["name"]: f for f in body["files"]}
    assert files["claude-a.json"]["status"] == "error" and files["claude-a.json"]["unavailable"] is True
    # a disabled account is told apart by ``disabled``, not ``unavailable`` (CPA: test_panelparity_states)
    assert files["claude-b.json"]["disabled"] is True and files["claude-b.json"]["unavailable"] is False
