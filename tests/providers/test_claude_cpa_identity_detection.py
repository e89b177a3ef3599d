"""CPA's claude_client_detection_test.go cases not covered by
tests/providers/test_claude_identity.py: malformed native signals keep a caller unconfirmed
(it gets the configured local profile), a count of the VS Code Agent SDK needs no metadata."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.providers import claude_identity as ident

SESSION = "11111111-2222-4333-8444-555555555555"
USER_ID = orjson.dumps(
    {"device_id": "0" * 64, "account_uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "session_id": SESSION}
).decode()
CLI = {
    "user-agent": "claude-cli/2.1.220 (external, cli)",
    "x-app": "cli",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
}


def uid(device: str, session: str = SESSION) -> str:
    return orjson.dumps({"device_id": device, "account_uuid": "", "session_id": session}).decode()


def signals(ua: str = CLI["user-agent"], beta: str = "claude-code-20250219") -> dict[str, str]:
    return {"user-agent": ua, "x-app": "cli", "anthropic-beta": beta}


@pytest.mark.parametrize(
    ("headers", "user_id"),
    [
        (CLI, "user_abc_account__session_session"),
        (CLI, uid("abc")),
        (CLI, uid("A" * 64)),
        (CLI, uid("0" * 64, "session")),
        (signals("claude-cli/not-a-version (external, cli)"), USER_ID),
        (signals("claude-cli/2.2.0 (external, cli)"), USER_ID),
        (signals("claude-cli/999.0.0 (external, cli)"), USER_ID),
        (signals(beta="anything"), USER_ID),
    ],
    ids=[
        "legacy metadata",
        "short device",
        "uppercase device",
        "invalid session",
        "malformed user agent",
        "unmeasured next minor",
        "implausible future",
        "unrelated beta",
    ],
)
def test_malformed_native_signals_are_not_confirmed(headers: dict[str, str], user_id: str) -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsMalformedNativeSignals."""
    body = {"metadata": {"user_id": user_id}}
    assert not ident.detect(headers, body, count=False, profile=ident.DeviceProfile()).confirmed


def test_a_vscode_agent_sdk_count_needs_no_metadata() -> None:
    """CPA: TestDetectClaudeCodeCountTokensAllowsMissingMetadata (its VS Code Agent SDK
    caller; cliproxy has no subclient label, the entrypoint says it)."""
    headers = {**CLI, "user-agent": "claude-cli/2.1.220 (external, claude-vscode, agent-sdk/0.3.220)"}
    found = ident.detect(headers, {"messages": []}, count=True, profile=ident.DeviceProfile())
    assert found.confirmed and found.entrypoint == "claude-vscode"
