"""Files as CPA writes them (compact JSON, sorted keys, the shapes of CPA's token_test.go
and sdk/auth/antigravity.go) load in our credential loader with every field a login
writes, and our sign-in files have exactly CPA's keys."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from cliproxy.credentials.files import load_auth_dir, load_auth_file

CLAUDE = {
    "access_token": "new-claude-access",
    "account_uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    "claude_device_ids": ["0" * 64],
    "disabled": False,
    "email": "user@example.com",
    "expired": "2026-12-31T23:59:59Z",
    "id_token": "",
    "last_refresh": "2026-04-14T12:00:00Z",
    "note": "claude custom note",
    "organization_name": "Example Org",
    "organization_uuid": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
    "prefix": "claude-prefix",
    "proxy_url": "http://proxy:8080",
    "refresh_token": "new-claude-refresh",
    "type": "claude",
    "weight": 5,
}
CODEX = {
    "access_token": "new-access-token",
    "account_id": "new-account",
    "disabled": False,
    "email": "user@example.com",
    "expired": "2026-12-31T23:59:59Z",
    "id_token": "new-id-token",
    "last_refresh": "2026-04-14T12:00:00Z",
    "note": "my important note",
    "prefix": "my-prefix",
    "proxy_url": "http://proxy:8080",
    "refresh_token": "new-refresh-token",
    "type": "codex",
    "websockets": False,
    "weight": 42,
}
ANTIGRAVITY = {
    "access_token": "ya29.a0-access",
    "disabled": False,
    "email": "user@example.com",
    "expired": "2026-12-31T23:59:59+08:00",
    "expires_in": 3599,
    "project_id": "cogent-snow-4mnnp",
    "refresh_token": "1//0g-refresh",
    "timestamp": 1798732799000,
    "type": "antigravity",
}


@pytest.mark.parametrize(
    ("name", "data", "prefix", "weight"),
    [
        ("claude-user@example.com.json", CLAUDE, "claude-prefix", 5),
        ("codex-user@example.com.json", CODEX, "my-prefix", 42),
        ("antigravity-user@example.com.json", ANTIGRAVITY, "", 1),
    ],
)
def test_a_cpa_file_loads(tmp_path, name, data, prefix, weight) -> None:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n")  # Go's json.Encoder
    cred = load_auth_file(path, tmp_path)
    assert cred is not None
    assert cred.id == name and cred.provider == data["type"] and cred.label == "user@example.com"
    assert cred.access_token == data["access_token"] and cred.refresh_token == data["refresh_token"]
    assert cred.expires_at() == datetime.fromisoformat(data["expired"].replace("Z", "+00:00")).astimezone(UTC)
    assert cred.prefix == prefix and cred.weight == weight and cred.disabled is False
    assert cred.proxy_url == data.get("proxy_url", "")
    assert cred.metadata == data


def test_the_project_rides_along_for_antigravity(tmp_path) -> None:
    (tmp_path / "antigravity-user@example.com.json").write_bytes(orjson.dumps(ANTIGRAVITY))
    (cred,) = load_auth_dir(tmp_path)
    assert cred.metadata["project_id"] == "cogent-snow-4mnnp"


def test_a_disabled_cpa_file_stays_disabled(tmp_path) -> None:
    (tmp_path / "claude-user@example.com.json").write_bytes(orjson.dumps({**CLAUDE, "disabled": True}))
    (cred,) = load_auth_dir(tmp_path)
    assert cred.disabled is True
