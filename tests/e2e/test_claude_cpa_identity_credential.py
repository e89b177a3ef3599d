"""The Claude Code identity a subscription request carries in ``metadata.user_id`` (CPA
helps/claude_credential_identity_test.go), through a running proxy into the fake
Anthropic upstream, from the official ``anthropic`` SDK."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anthropic
import orjson

from tests.e2e.clients import KEY

ACCOUNT = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
DEVICE = "0" * 64
NATIVE = "11111111-2222-4333-8444-555555555555"


def write_oauth(tmp_path: Path, base_url: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "claude",
        "access_token": "sk-ant-oat01-credential-identity",
        "expired": "2099-01-01T00:00:00Z",
        "base_url": base_url,
        "account_uuid": ACCOUNT,
        "claude_device_ids": [DEVICE],
    }
    (auth_dir / "claude-identity.json").write_bytes(orjson.dumps(data))


async def ask(url: str, user_id: str, headers: dict[str, str] | None = None) -> None:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=16,
            messages=[{"role": "user", "content": "hello"}],
            metadata={"user_id": user_id},
            extra_headers=headers or {},
        )


async def test_the_credentials_identity_leads_and_the_callers_extras_stay(
    start_proxy: Any, fake_claude: Any, tmp_path: Path
) -> None:
    """CPA: TestApplyClaudeCredentialMetadataUsesCredentialDeviceAndPreservesExtras,
    TestClaudeAgentSessionUUIDIgnoresUnconfirmedClaudeSignals. A caller that is not a
    confirmed Claude Code sends a user id naming another device, account and session, and
    a native-looking session header: the upstream gets the credential's device and
    account, a session of the proxy's own (stable for the conversation, never the copied
    one), those three first, and the caller's other members after them."""
    write_oauth(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    sent = {
        "device_id": "f" * 64,
        "account_uuid": "downstream-account",
        "session_id": NATIVE,
        "parent_session_id": "parent-1",
        "extra": True,
    }
    copied = {"X-Claude-Code-Session-Id": NATIVE}
    await ask(proxy.url, orjson.dumps(sent).decode(), copied)
    raw = fake_claude.requests[-1].json["metadata"]["user_id"]
    uid = orjson.loads(raw)
    session = uid["session_id"]
    assert str(uuid.UUID(session)) == session and session != NATIVE
    prefix = orjson.dumps({"device_id": DEVICE, "account_uuid": ACCOUNT, "session_id": session}).decode()
    assert raw.startswith(prefix[:-1] + ","), raw
    assert uid["parent_session_id"] == "parent-1" and uid["extra"] is True
    assert fake_claude.requests[-1].headers.get("x-claude-code-session-id") == session
    await ask(proxy.url, orjson.dumps(sent).decode(), copied)  # the same conversation again
    assert orjson.loads(fake_claude.requests[-1].json["metadata"]["user_id"])["session_id"] == session
