"""What ``GET /auth-files`` shows of a cooled subscription account, and ``POST /reset-quota``.

CPA: ``sdk/cliproxy/auth/conductor_cooldown.go`` (``updateAggregatedAvailability`` gives the
auth the earliest ``NextRetryAfter`` of its blocked model states),
``internal/api/handlers/management/auth_files.go`` (``next_retry_after`` in the entry) and
``quota.go`` (``ResetQuota``, by ``auth_index`` only).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest

from tests.management.conftest import mcall

KEY = "client-key"
MODEL = "claude-sonnet-4-6"


def write_account(tmp_path: Path, base_url: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    account = {
        "type": "claude",
        "access_token": "at-1",
        "refresh_token": "rt-1",
        "expired": "2099-01-01T00:00:00Z",
        "email": "sub@example.com",
        "base_url": base_url,
    }
    (auth_dir / "claude-sub.json").write_bytes(orjson.dumps(account))


async def cooled_proxy(mproxy: Any, fake_claude: Any, tmp_path: Path, retry_after: int) -> Any:
    """A proxy whose one subscription account answered 429 with ``retry_after`` seconds."""
    write_account(tmp_path, fake_claude.base_url)
    proxy = await mproxy(f'api-keys: ["{KEY}"]\nusage-ledger: {{enabled: false}}\n')
    fake_claude.fail_next(429, retry_after=retry_after)
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=proxy.url, max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
            )
    return proxy


async def listed(proxy: Any) -> dict[str, Any]:
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    (entry,) = body["files"]
    return entry


async def test_a_model_cooldown_shows_when_the_account_serves_again(mproxy, fake_claude, tmp_path):
    """CPA: TestUpdateAggregatedAvailability_FutureNextRetryBlocksAuth. A 429 with
    Retry-After on the account's only model blocks the account, and the listing says until
    when (``next_retry_after``), as CPA's aggregate of its model states does. Before, only a
    credential-wide cooldown had a ``next_retry_after``, so the panel showed an unavailable
    account with no time to wait for."""
    before = time.time()
    proxy = await cooled_proxy(mproxy, fake_claude, tmp_path, retry_after=300)
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", True)
    assert "rate_limit_error" in entry["status_message"]
    until = datetime.fromisoformat(entry["next_retry_after"]).timestamp()
    assert before + 299 <= until <= time.time() + 301


async def test_reset_quota_clears_the_listed_cooldown(mproxy, fake_claude, tmp_path):
    """CPA: TestResetQuota_UsesAuthIndex. Reset by ``auth_index`` answers ``status: ok`` with
    that index; the listing then shows the account active, with no message, available and
    without ``next_retry_after``."""
    proxy = await cooled_proxy(mproxy, fake_claude, tmp_path, retry_after=3600)
    index = (await listed(proxy))["auth_index"]
    status, body = await mcall(proxy, "POST", "/reset-quota", {"auth_index": index})
    assert status == 200 and (body["status"], body["auth_index"]) == ("ok", index)
    assert body["models"] == [MODEL]
    entry = await listed(proxy)
    assert (entry["status"], entry["status_message"], entry["unavailable"]) == ("active", "", False)
    assert "next_retry_after" not in entry


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ({"auth_id": "claude-sub.json"}, 400),
        ({"id": "claude-sub.json"}, 400),
        ({"auth_index": "claude-sub.json"}, 404),  # a file name (here also the id) is no index
    ],
)
async def test_reset_quota_takes_only_an_auth_index(mproxy, fake_claude, tmp_path, body, want):
    """CPA: TestResetQuota_DoesNotAcceptAuthIDOrFileName. ``auth_id`` and ``id`` are not read
    (400, ``auth_index`` is required), and an id or file name given as the index finds
    nothing (404); the cooldown stays."""
    proxy = await cooled_proxy(mproxy, fake_claude, tmp_path, retry_after=3600)
    status, answer = await mcall(proxy, "POST", "/reset-quota", body)
    assert status == want and answer["error"]
    assert (await listed(proxy))["unavailable"] is True
