"""The device a Claude sign-in writes into its file (CPA internal/auth/claude/identity_test.go)."""

from __future__ import annotations

from cliproxy.credentials.login.claude import claude_record, new_device_id
from cliproxy.providers import claude_identity as ident


def test_a_sign_in_gets_one_new_device() -> None:
    """CPA: TestGenerateDeviceIDPool, TestSelectDeviceIDUsesOneDeviceAcrossSessions: a pool
    of one random device, 64 lower-case hex digits, new for every sign-in; every session of
    the credential then goes as that device (cli_identity takes no session)."""
    first, second = new_device_id(), new_device_id()
    assert ident.valid_device_id(first) and ident.valid_device_id(second) and first != second
    tokens = {"access_token": "at", "refresh_token": "rt", "account": {"email_address": "a@example.com"}}
    record = claude_record(tokens, {}, 0.0, device_id=first)
    assert record["claude_device_ids"] == [first]
