"""A Claude subscription request whose body names ``metadata`` twice (CPA
claude_executor_auth_test.go), through a running proxy into the fake Anthropic upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY

ACCOUNT = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
DEVICE = "0" * 64


@pytest.mark.parametrize("stream", [False, True])
async def test_a_duplicate_metadata_key_gets_one_identity(
    start_proxy: Any, fake_claude: Any, tmp_path: Path, stream: bool
) -> None:
    """CPA: TestClaudeExecutorDuplicateMetadataIsRequestScoped,
    TestApplyClaudeCredentialMetadataRejectsDuplicateIdentityContainers, a deliberate difference.
    CPA edits the raw bytes, so two ``metadata`` members leave it unsure which one the
    upstream reads, and it refuses the request with a 400. cliproxy parses the body (the
    last member wins, as in every JSON reader) and writes it anew: the upstream gets one
    ``metadata`` holding the credential's identity, so there is nothing to refuse."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "claude",
        "access_token": "sk-ant-oat01-duplicate-metadata",
        "expired": "2099-01-01T00:00:00Z",
        "base_url": fake_claude.base_url,
        "account_uuid": ACCOUNT,
        "claude_device_ids": [DEVICE],
    }
    (auth_dir / "claude-dup.json").write_bytes(orjson.dumps(data))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    raw = (
        b'{"model":"claude-sonnet-4-6","max_tokens":16,"stream":' + (b"true" if stream else b"false")
        + b',"messages":[{"role":"user","content":"hello"}],'
        b'"metadata":{"user_id":"{}"},"metadata":{"user_id":"{}"}}'
    )  # fmt: skip
    headers = {"x-api-key": KEY, "content-type": "application/json"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", data=raw, headers=headers) as r,
    ):
        await r.read()
        assert r.status == 200
    sent = fake_claude.requests[-1]
    assert sent.body.count(b'"metadata"') == 1
    uid = orjson.loads(sent.json["metadata"]["user_id"])
    assert uid["account_uuid"] == ACCOUNT and uid["device_id"] == DEVICE
