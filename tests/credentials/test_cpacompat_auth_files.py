"""Auth files as CPA writes them into auth-dir, one per provider type: they load, a refresh
keeps every field cliproxy does not use, a field of an unexpected type does not stop the
file (or the proxy), and a file that loads as nothing says why in the log.

The shapes are written by hand from CPA's storage structs: internal/auth/claude/token.go
(ClaudeTokenStorage), internal/auth/codex/token.go (CodexTokenStorage), internal/auth/kimi/
token.go (KimiTokenStorage), internal/auth/xai/token.go (TokenStorage), internal/auth/vertex/
vertex_credentials.go (VertexCredentialStorage) and the metadata map sdk/auth/antigravity.go
saves; the fields every file may carry come from internal/watcher/synthesizer/file.go.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.files import load_auth_dir, load_auth_file
from cliproxy.credentials.oauth_tokens import rfc3339
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers.http import HttpClient
from tests.fakes.oauth import oauth_fake  # noqa: F401

JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.sig"


def shapes(expired: str) -> dict[str, dict[str, Any]]:
    """One file per type CPA writes, every field of its storage struct set."""
    return {
        "claude": {
            "id_token": "",
            "access_token": "at-c",
            "refresh_token": "rt-c",
            "last_refresh": "2026-01-01T00:00:00Z",
            "email": "c@example.com",
            "account_uuid": "acc-uuid",
            "organization_uuid": "org-uuid",
            "organization_name": "Org",
            "claude_device_ids": ["dev-1", "dev-2"],
            "type": "claude",
            "expired": expired,
        },
        "codex": {
            "id_token": JWT,
            "access_token": "at-x",
            "refresh_token": "rt-x",
            "account_id": "acct-1",
            "last_refresh": "2026-01-01T00:00:00Z",
            "email": "x@example.com",
            "type": "codex",
            "expired": expired,
        },
        "kimi": {
            "access_token": "at-k",
            "refresh_token": "rt-k",
            "token_type": "Bearer",
            "scope": "kimi-code",
            "device_id": "dev-k",
            "expired": expired,
            "type": "kimi",
        },
        "xai": {
            "type": "xai",
            "access_token": "at-g",
            "refresh_token": "rt-g",
            "id_token": JWT,
            "token_type": "Bearer",
            "expires_in": 3600,
            "expired": expired,
            "last_refresh": "2026-01-01T00:00:00Z",
            "email": "g@example.com",
            "sub": "user-sub",
            "base_url": "http://127.0.0.1:9/v1",
            "redirect_uri": "http://127.0.0.1:56121/callback",
            "token_endpoint": "",
            "auth_kind": "oauth",
        },
        "antigravity": {
            "type": "antigravity",
            "access_token": "at-a",
            "refresh_token": "rt-a",
            "expires_in": 3599,
            "timestamp": 1767225600000,
            "expired": expired,
            "email": "a@example.com",
            "project_id": "proj-1",
        },
        "vertex": {
            "service_account": {
                "type": "service_account",
                "project_id": "vp",
                "client_email": "sa@vp.iam.gserviceaccount.com",
                "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
                "token_uri": "http://127.0.0.1:9/token",
            },
            "project_id": "vp",
            "email": "sa@vp.iam.gserviceaccount.com",
            "location": "us-central1",
            "type": "vertex",
            "prefix": "team",
        },
    }


# what CPA's synthesizer or file store may add to any file (metadata it reads or keeps)
EXTRA = {
    "disabled": False,
    "priority": 3,
    "weight": 2,
    "note": "n",
    "headers": {"X-Team": "a"},
    "proxy_url": "",
    "excluded_models": ["m-*"],
    "request_retry": 1,
    "disable_cooling": False,
}

ODD: tuple[Any, ...] = (7, 2.5, "text", [1, "a"], {"k": 1}, None, True)


def write(root: Path, name: str, data: Any) -> Path:
    path = root / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("kind", ["claude", "codex", "kimi", "xai", "antigravity", "vertex"])
def test_each_type_cpa_writes_loads(tmp_path: Path, kind: str) -> None:
    data = {**shapes("2099-01-01T00:00:00Z")[kind], **EXTRA}
    write(tmp_path, f"{kind}-user.json", data)
    (cred,) = load_auth_dir(tmp_path)
    assert cred.provider == kind and cred.id == f"{kind}-user.json"
    assert cred.label == data["email"] if "email" in data else cred.label == kind
    assert (cred.priority, cred.weight, cred.request_retry) == (3, 2, 1)
    assert cred.attributes["header:X-Team"] == "a" and cred.excluded_models == ("m-*",)
    assert cred.metadata == data  # every field kept as written


@pytest.mark.parametrize("kind", ["claude", "codex", "kimi", "xai", "antigravity"])
async def test_a_refresh_keeps_the_fields_it_does_not_set(
    tmp_path: Path,
    kind: str,
    oauth_fake: Any,  # noqa: F811
) -> None:
    """CPA rewrites the whole storage struct plus its metadata; cliproxy sets only what the
    token answer changes. Every other field, CPA's and a foreign one, is still in the file."""
    data = {**shapes(rfc3339(0))[kind], **EXTRA, "x-foreign": {"kept": [1, 2]}}
    path = write(tmp_path, f"{kind}.json", data)
    cred = load_auth_file(path, tmp_path)
    assert cred is not None
    pool = Pool()
    pool.replace([cred])
    http = HttpClient()
    try:
        urls = dict.fromkeys(("claude", "codex", "antigravity", "kimi", "xai"), oauth_fake.url())
        updated = await Refresher(pool, http, token_urls=urls).refresh_now(cred)
    finally:
        await http.close()
    assert updated.access_token == "at-1"
    saved = orjson.loads(path.read_bytes())
    token_fields = {"access_token", "refresh_token", "expired", "expires_in", "timestamp", "last_refresh"}
    token_fields |= {"id_token", "token_type", "email", "sub", "base_url", "account_id", "auth_kind"}
    for key, value in data.items():
        assert key in saved, key
        if key not in token_fields:
            assert saved[key] == value, key
    assert saved["type"] == kind and saved["access_token"] == "at-1"


def odd_files() -> dict[str, dict[str, Any]]:
    """Each field of each shape, and each field any file may carry, set to each odd value."""
    out = {}
    for kind, shape in shapes("2099-01-01T00:00:00Z").items():
        for field in [
            *shape,
            *EXTRA,
            "max_concurrency",
            "model_aliases",
            "request_scoped_errors",
            "websockets",
        ]:
            if field == "type":
                continue
            for i, odd in enumerate(ODD):
                out[f"{kind}-{field}-{i}.json"] = {**shape, field: odd}
    return out


async def test_fields_of_unexpected_types_do_not_stop_the_proxy(
    start_proxy: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-edited or foreign file with a number where text goes (or the like) still loads;
    only ``weight`` refuses the file, with a line naming it, as CPA's ValidateAuthWeight does.
    The proxy lists the files and models and answers the panel's listing."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-key")
    auths = tmp_path / "auths"
    auths.mkdir()
    files = odd_files()
    for name, data in files.items():
        write(auths, name, data)
    caplog.set_level(logging.WARNING, logger="cliproxy")
    proxy = await start_proxy("")
    loaded = {c.id for c in proxy.service.pool.credentials()}
    refused = set(files) - loaded
    # weight: all but 7 (CPA's credentialweight.ParseValue refuses a null as well)
    assert refused == {f"{k}-weight-{i}.json" for k in shapes("") for i in range(1, len(ODD))}
    for name in refused:
        assert f"skipping auth file {name}: invalid weight" in caplog.text
    headers = {"Authorization": "Bearer m-key"}
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/management/auth-files", headers=headers) as r:
            assert r.status == 200
            assert len((await r.json())["files"]) == len(loaded)
        async with s.get(proxy.url + "/v1/models") as r:
            assert r.status == 200 and (await r.json())["data"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("gemini-user.json", {"type": "gemini", "token": {}}, "type 'gemini' (a Gemini CLI account)"),
        ("cli.json", {"type": "gemini-cli", "token": {}}, "type 'gemini-cli' (a Gemini CLI account)"),
        ("untyped.json", {"access_token": "at"}, 'no "type" naming its provider'),
        ("blank.json", {"type": "  ", "access_token": "at"}, 'no "type" naming its provider'),
        ("list.json", [{"type": "claude"}], "not a JSON object"),
    ],
)
def test_a_file_that_loads_as_nothing_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: Any, why: str
) -> None:
    """CPA passes these over in silence (a Gemini CLI file is left to plugins; cliproxy has no
    plugin hook that parses auth files), so a user who switched saw an account missing and no
    reason. Now one WARNING names the file and the reason, each time the file is read."""
    write(tmp_path, name, content)
    caplog.set_level(logging.WARNING, logger="cliproxy")
    assert load_auth_dir(tmp_path) == []
    assert f"skipping auth file {name}: {why}" in caplog.text


def test_an_empty_file_is_passed_over_in_silence(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An empty file is one being written: no warning (CPA skips it too)."""
    (tmp_path / "new.json").write_text("")
    caplog.set_level(logging.WARNING, logger="cliproxy")
    assert load_auth_dir(tmp_path) == [] and caplog.text == ""
