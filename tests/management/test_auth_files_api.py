"""/v0/management/auth-files and friends: list, upload, download, delete, status, fields,
models, model definitions and Vertex import, with their effect on the running proxy."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import aiohttp
import orjson
import pytest
import yaml

from tests.management.conftest import MHEADERS, mcall

KEY = "client-key"
MODEL = "claude-sonnet-4-6"
FAR = "2099-01-01T00:00:00Z"
HEAD = f'api-keys: ["{KEY}"]\n'
PEM = Path(__file__).parents[1] / "providers" / "data" / "sa_key.pem"


def claude_file(base_url: str = "http://127.0.0.1:9", **extra: object) -> dict:
    return {
        "type": "claude",
        "access_token": "at-claude",
        "refresh_token": "rt",
        "expired": FAR,
        "email": "user@example.com",
        "base_url": base_url,
        **extra,
    }


def jwt(claims: dict) -> str:
    part = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"e30.{part}.sig"


def put(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps(data))
    return path


async def ask_claude(proxy) -> int:
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        await r.read()
        return r.status


async def raw(proxy, method: str, path: str, **kw) -> tuple[int, bytes, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, proxy.url + "/v0/management" + path, headers=MHEADERS, **kw) as r,
    ):
        return r.status, await r.read(), dict(r.headers)


def form(*files: tuple[str, str, bytes], **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)  # raw names, as browsers send
    for field, name, content in files:
        data.add_field(field, content, filename=name, content_type="application/json")
    for key, value in fields.items():
        data.add_field(key, value)
    return data


# -- list --------------------------------------------------------------------------------


async def test_list_shows_file_credentials_with_cpa_fields(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file(priority=3, note=" team ", weight=5, request_retry=2))
    id_token = jwt(
        {"https://api.openai.com/auth": {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "pro"}}
    )
    put(
        tmp_path,
        "codex-b.json",
        {
            "type": "codex",
            "access_token": "at",
            "id_token": id_token,
            "email": "c@example.com",
            "last_refresh": "2025-01-02T03:04:05Z",
            "websockets": True,
        },
    )
    proxy = await mproxy(HEAD + 'claude-api-key:\n  - api-key: "sk-config"\n')
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    files = {f["name"]: f for f in body["files"]}
    assert list(files) == ["claude-a.json", "codex-b.json"]  # config keys are not auth files
    a = files["claude-a.json"]
    cred = proxy.service.pool.get("claude-a.json")
    assert a["id"] == "claude-a.json" and a["auth_index"] == cred.index and len(a["auth_index"]) == 16
    assert a["type"] == a["provider"] == "claude" and a["label"] == a["email"] == "user@example.com"
    assert (a["status"], a["status_message"], a["disabled"], a["unavailable"]) == ("active", "", False, False)
    assert a["runtime_only"] is False and a["source"] == "file"
    assert a["path"] == str(tmp_path / "auths" / "claude-a.json") and a["size"] > 0 and a["modtime"]
    assert (a["priority"], a["note"], a["weight"], a["request_retry"]) == (3, "team", 5, 2)
    assert (a["account_type"], a["account"]) == ("oauth", "user@example.com")
    assert a["success"] == 0 and a["failed"] == 0 and len(a["recent_requests"]) == 20
    assert set(a["recent_requests"][0]) == {"time", "success", "failed"}
    b = files["codex-b.json"]
    assert b["id_token"] == {"chatgpt_account_id": "acc-1", "plan_type": "pro"}
    assert b["websockets"] is True and b["last_refresh"].startswith("2025-01-02")
    assert "priority" not in b and "note" not in b

    status, body = await mcall(proxy, "GET", "/auth-files?name=codex-b.json")
    assert [f["name"] for f in body["files"]] == ["codex-b.json"]
    status, body = await mcall(proxy, "GET", f"/auth-files?auth_index={cred.index}")
    assert [f["name"] for f in body["files"]] == ["claude-a.json"]


async def test_list_shows_cooldown_state(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file())
    proxy = await mproxy(HEAD)
    cred = proxy.service.pool.get("claude-a.json")
    await proxy.service.pool.mark_failure(cred, "", 429, retry_after=600)
    _, body = await mcall(proxy, "GET", "/auth-files")
    entry = body["files"][0]
    assert entry["status"] == "error" and entry["unavailable"] is True and entry["next_retry_after"]


async def test_management_headers_on_every_answer(mproxy):
    proxy = await mproxy(HEAD)
    _, _, headers = await raw(proxy, "GET", "/auth-files")
    assert headers["X-CPA-VERSION"] and headers["X-CPA-COMMIT"] and headers["X-CPA-BUILD-DATE"]
    assert headers["X-CPA-SUPPORT-PLUGIN"] == "1"
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/v0/management/auth-files") as r:
        assert r.status == 401 and r.headers["X-CPA-SUPPORT-PLUGIN"] == "1"


# -- upload / download / delete --------------------------------------------------------


async def test_upload_raw_json_writes_0600_and_serves(mproxy, tmp_path, fake_claude):
    proxy = await mproxy(HEAD)
    assert await ask_claude(proxy) != 200
    data = orjson.dumps(claude_file(fake_claude.base_url))
    status, body = await mcall(proxy, "POST", "/auth-files?name=claude-new.json", data=data)
    assert (status, body) == (200, {"status": "ok"})
    path = tmp_path / "auths" / "claude-new.json"
    assert path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert proxy.service.pool.get("claude-new.json") is not None
    assert await ask_claude(proxy) == 200  # live: the new credential serves at once
    assert fake_claude.last.key == "at-claude"


@pytest.mark.parametrize(
    ("name", "payload", "error"),
    [
        ("../evil.json", b"{}", "invalid name"),
        ("sub/evil.json", b"{}", "invalid name"),
        ("..\\evil.json", b"{}", "invalid name"),
        ("", b"{}", "invalid name"),
        ("x.txt", b"{}", "name must end with .json"),
    ],
)
async def test_upload_raw_rejects_bad_names(mproxy, tmp_path, name, payload, error):
    proxy = await mproxy(HEAD)
    status, body = await mcall(proxy, "POST", f"/auth-files?name={name}", data=payload)
    assert (status, body) == (400, {"error": error})
    assert not (tmp_path / "evil.json").exists()


async def test_upload_rejects_invalid_json(mproxy, tmp_path):
    proxy = await mproxy(HEAD)
    for payload in (b"{not json", b"[1, 2]"):
        status, body = await mcall(proxy, "POST", "/auth-files?name=bad.json", data=payload)
        assert status == 400 and body["error"].startswith("invalid auth file")
    assert not (tmp_path / "auths" / "bad.json").exists()


async def test_upload_multipart_single_and_many(mproxy, tmp_path):
    proxy = await mproxy(HEAD)
    one = orjson.dumps(claude_file())
    status, body = await mcall(proxy, "POST", "/auth-files", data=form(("file", "../../one.json", one)))
    assert (status, body) == (200, {"status": "ok"})
    assert (tmp_path / "auths" / "one.json").read_bytes() == one  # reduced to its base name

    status, body = await mcall(
        proxy,
        "POST",
        "/auth-files",
        data=form(("a", "two.json", one), ("b", "three.json", b"{oops"), ("c", "four.txt", one)),
    )
    assert status == 207 and body["status"] == "partial" and body["uploaded"] == 1
    assert body["files"] == ["two.json"]
    assert {f["name"]: f["error"] for f in body["failed"]} == {
        "three.json": body["failed"][0]["error"],
        "four.txt": "file must be .json",
    }
    assert body["failed"][0]["error"].startswith("invalid auth file")
    assert {c.id for c in proxy.service.pool.credentials()} == {"one.json", "two.json"}

    status, body = await mcall(
        proxy, "POST", "/auth-files", data=form(("a", "x.json", one), ("b", "y.json", one))
    )
    assert (status, body) == (200, {"status": "ok", "uploaded": 2, "files": ["x.json", "y.json"]})
    status, body = await mcall(proxy, "POST", "/auth-files", data=form(note="no file"))
    assert (status, body) == (400, {"error": "no files uploaded"})


async def test_download(mproxy, tmp_path):
    path = put(tmp_path, "claude-a.json", claude_file())
    proxy = await mproxy(HEAD)
    status, data, headers = await raw(proxy, "GET", "/auth-files/download?name=claude-a.json")
    assert status == 200 and data == path.read_bytes()
    assert headers["Content-Disposition"] == 'attachment; filename="claude-a.json"'
    assert headers["Content-Type"].startswith("application/json")
    assert await mcall(proxy, "GET", "/auth-files/download?name=nope.json") == (
        404,
        {"error": "file not found"},
    )
    (tmp_path / "secret.json").write_text("{}")
    assert await mcall(proxy, "GET", "/auth-files/download?name=../secret.json") == (
        400,
        {"error": "invalid name"},
    )
    assert await mcall(proxy, "GET", "/auth-files/download?name=x.yaml") == (
        400,
        {"error": "name must end with .json"},
    )


async def test_delete_single_many_and_all(mproxy, tmp_path, fake_claude):
    for name in ("a.json", "b.json", "c.json", "d.json"):
        put(tmp_path, name, claude_file(fake_claude.base_url))
    (tmp_path / "keep.json").write_text("{}")
    proxy = await mproxy(HEAD)
    assert await mcall(proxy, "DELETE", "/auth-files?name=a.json") == (200, {"status": "ok"})
    assert not (tmp_path / "auths" / "a.json").exists() and proxy.service.pool.get("a.json") is None
    assert await mcall(proxy, "DELETE", "/auth-files?name=a.json") == (404, {"error": "auth file not found"})
    assert await mcall(proxy, "DELETE", "/auth-files?name=../keep.json") == (400, {"error": "invalid name"})
    assert await mcall(proxy, "DELETE", "/auth-files") == (400, {"error": "invalid name"})
    assert (tmp_path / "keep.json").exists()

    status, body = await mcall(proxy, "DELETE", "/auth-files", {"names": ["b.json", "zz.json"]})
    assert status == 207 and body["deleted"] == 1 and body["files"] == ["b.json"]
    assert body["failed"] == [{"name": "zz.json", "error": "auth file not found"}]

    status, body = await mcall(proxy, "DELETE", "/auth-files?all=true")
    assert (status, body) == (200, {"status": "ok", "deleted": 2})
    assert proxy.service.pool.credentials() == ()
    assert await ask_claude(proxy) != 200


# -- status and fields ----------------------------------------------------------------------


async def test_status_disable_and_enable_is_live(mproxy, tmp_path, fake_claude):
    path = put(tmp_path, "claude-a.json", claude_file(fake_claude.base_url))
    proxy = await mproxy(HEAD)
    assert await ask_claude(proxy) == 200
    status, body = await mcall(
        proxy, "PATCH", "/auth-files/status", {"name": "claude-a.json", "disabled": True}
    )
    assert (status, body) == (200, {"status": "ok", "disabled": True})
    assert orjson.loads(path.read_bytes())["disabled"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert await ask_claude(proxy) != 200
    _, listing = await mcall(proxy, "GET", "/auth-files")
    assert listing["files"][0]["status"] == "disabled" and listing["files"][0]["disabled"] is True

    index = proxy.service.pool.get("claude-a.json").index
    status, _ = await mcall(
        proxy,
        "PATCH",
        "/auth-files/status",
        {"name": "claude-a.json", "auth_index": index, "disabled": False},
    )
    assert status == 200 and await ask_claude(proxy) == 200


async def test_status_errors(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file())
    proxy = await mproxy(HEAD)
    assert await mcall(proxy, "PATCH", "/auth-files/status", {"disabled": True}) == (
        400,
        {"error": "name is required"},
    )
    assert await mcall(proxy, "PATCH", "/auth-files/status", {"name": "claude-a.json"}) == (
        400,
        {"error": "disabled is required"},
    )
    assert await mcall(proxy, "PATCH", "/auth-files/status", data=b"{x") == (
        400,
        {"error": "invalid request body"},
    )
    assert await mcall(proxy, "PATCH", "/auth-files/status", {"name": "nope.json", "disabled": True}) == (
        404,
        {"error": "auth file not found"},
    )
    assert await mcall(
        proxy,
        "PATCH",
        "/auth-files/status",
        {"name": "claude-a.json", "auth_index": "0000000000000000", "disabled": True},
    ) == (404, {"error": "auth file not found"})


async def test_status_on_config_key_excludes_all_models(mproxy, tmp_path, fake_claude):
    proxy = await mproxy(
        HEAD + f'claude-api-key:\n  - api-key: "sk-a"  # keep me\n    base-url: "{fake_claude.base_url}"\n'
    )
    assert await ask_claude(proxy) == 200
    cred = proxy.service.pool.credentials()[0]
    status, body = await mcall(
        proxy, "PATCH", "/auth-files/status", {"name": cred.id, "auth_index": cred.index, "disabled": True}
    )
    assert (status, body) == (
        200,
        {"status": "ok", "disabled": True, "via": "config:excluded-models", "excluded_pattern": "*"},
    )
    text = proxy.config_path.read_text()
    assert "# keep me" in text and "excluded-models" in text
    assert await ask_claude(proxy) != 200
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {"name": cred.id, "disabled": False})
    assert status == 200 and "excluded-models" not in proxy.config_path.read_text()
    assert await ask_claude(proxy) == 200


async def test_fields_merge_into_file(mproxy, tmp_path):
    path = put(
        tmp_path,
        "claude-a.json",
        claude_file(**{"proxy-url": "http://old:1", "note": "x", "headers": {"X-A": "1", "X-B": "2"}}),
    )
    proxy = await mproxy(HEAD)
    status, body = await mcall(
        proxy,
        "PATCH",
        "/auth-files/fields",
        {
            "name": "claude-a.json",
            "priority": 7,
            "note": None,
            "weight": 3,
            "request_retry": 4,
            "headers": {"X-A": "", "X-C": "3"},
            "proxy-url": "http://new:2",
            "extra.nested": "v",
        },
    )
    assert (status, body) == (200, {"status": "ok"})
    data = orjson.loads(path.read_bytes())
    assert data["priority"] == 7 and "note" not in data and data["weight"] == 3 and data["request_retry"] == 4
    assert data["headers"] == {"X-B": "2", "X-C": "3"}
    assert data["proxy_url"] == "http://new:2" and "proxy-url" not in data
    assert data["extra"] == {"nested": "v"} and data["access_token"] == "at-claude"
    cred = proxy.service.pool.get("claude-a.json")  # applied live
    assert (cred.priority, cred.weight, cred.request_retry, cred.proxy_url) == (7, 3, 4, "http://new:2")
    assert cred.headers == {"X-B": "2", "X-C": "3"}

    status, _ = await mcall(
        proxy, "PATCH", "/auth-files/fields", {"name": "claude-a.json", "request_retry": -1}
    )
    assert status == 200 and "request_retry" not in orjson.loads(path.read_bytes())


@pytest.mark.parametrize(
    ("patch", "code", "error"),
    [
        ({"priority": 1}, 400, "name is required"),
        ({"name": "claude-a.json"}, 400, "no fields to update"),
        ({"name": "claude-a.json", "weight": "3"}, 400, "weight must be an integer"),
        ({"name": "claude-a.json", "weight": 2_000_000}, 400, "weight must not exceed 1000000"),
        ({"name": "claude-a.json", "weight.x": 1}, 400, "weight does not support nested fields"),
        ({"name": "claude-a.json", "request_retry": 1.5}, 400, "request_retry must be an integer or null"),
        (
            {"name": "claude-a.json", "request_retry.x": 1},
            400,
            "request_retry does not support nested fields",
        ),
        ({"name": "nope.json", "note": "x"}, 404, "auth file not found"),
    ],
)
async def test_fields_errors(mproxy, tmp_path, patch, code, error):
    path = put(tmp_path, "claude-a.json", claude_file())
    before = path.read_bytes()
    proxy = await mproxy(HEAD)
    assert await mcall(proxy, "PATCH", "/auth-files/fields", patch) == (code, {"error": error})
    assert path.read_bytes() == before


# -- models ----------------------------------------------------------------------------------


async def test_auth_file_models_and_definitions(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file())
    proxy = await mproxy(HEAD)
    status, body = await mcall(proxy, "GET", "/auth-files/models?name=claude-a.json")
    ids = {m["id"] for m in body["models"]}
    assert status == 200 and MODEL in ids
    assert all(m.get("owned_by") == "anthropic" for m in body["models"])
    assert await mcall(proxy, "GET", "/auth-files/models?name=nope.json") == (200, {"models": []})
    assert await mcall(proxy, "GET", "/auth-files/models") == (400, {"error": "name is required"})

    status, body = await mcall(proxy, "GET", "/model-definitions/Claude")
    assert status == 200 and body["channel"] == "claude"
    entry = next(m for m in body["models"] if m["id"] == MODEL)
    assert entry["object"] == "model" and entry["type"] == "claude" and entry["context_length"] > 0
    status, body = await mcall(proxy, "GET", "/model-definitions/gemini")
    assert status == 200 and body["models"][0]["name"].startswith("models/")
    assert await mcall(proxy, "GET", "/model-definitions/nope") == (
        400,
        {"error": "unknown channel", "channel": "nope"},
    )


# -- vertex import ---------------------------------------------------------------------------


async def test_vertex_import(mproxy, tmp_path):
    proxy = await mproxy(HEAD)
    account = {
        "type": "service_account",
        "project_id": "my proj",
        "client_email": "sa@p.iam.gserviceaccount.com",
        "private_key": PEM.read_text(),
        "private_key_id": "k1",
    }
    put(tmp_path, "vertex-my-proj.json", {"type": "vertex", "prefix": "team"})
    status, body = await mcall(
        proxy,
        "POST",
        "/vertex/import",
        data=form(("file", "sa.json", orjson.dumps(account)), location="europe-west4"),
    )
    path = tmp_path / "auths" / "vertex-my-proj.json"
    assert (status, body) == (
        200,
        {
            "status": "ok",
            "auth-file": str(path),
            "project_id": "my proj",
            "email": "sa@p.iam.gserviceaccount.com",
            "location": "europe-west4",
        },
    )
    data = orjson.loads(path.read_bytes())
    assert data["type"] == "vertex" and data["service_account"] == account and data["prefix"] == "team"
    assert data["label"] == "my proj (sa@p.iam.gserviceaccount.com)"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert proxy.service.pool.get("vertex-my-proj.json").provider == "vertex"

    status, body = await mcall(proxy, "POST", "/vertex/import", data=form(("file", "sa.json", b"{x")))
    assert status == 400 and body["error"] == "invalid json" and body["message"]
    bad_key = {**account, "private_key": "nope"}
    status, body = await mcall(
        proxy, "POST", "/vertex/import", data=form(("file", "sa.json", orjson.dumps(bad_key)))
    )
    assert status == 400 and body["error"] == "invalid service account"
    no_project = {k: v for k, v in account.items() if k != "project_id"}
    assert await mcall(
        proxy, "POST", "/vertex/import", data=form(("file", "sa.json", orjson.dumps(no_project)))
    ) == (400, {"error": "project_id missing"})
    assert await mcall(proxy, "POST", "/vertex/import", {"x": 1}) == (400, {"error": "file required"})


@pytest.mark.parametrize(
    ("section", "entry"),
    [
        ("codex-api-key", 'api-key: "sk-test"\n    base-url: "https://example.com/v1"'),
        ("claude-api-key", 'api-key: ""\n    base-url: "https://custom-claude.example.com"'),
        ("gemini-api-key", 'api-key: "   "\n    base-url: "https://custom-gemini.example.com"'),
        ("vertex-api-key", 'api-key: "vertex-key-only"'),
    ],
)
async def test_status_on_each_config_key_kind_toggles_excluded_all(mproxy, section, entry):
    """CPA: TestToggleConfigAPIKeyExcludedAll_Codex, TestToggleConfigAPIKeyExcludedAll_EmptyKeyWithBaseURL,
    TestToggleConfigAPIKeyExcludedAll_Vertex_NoBaseURL: a Codex key, a Claude or Gemini entry
    with an empty (or blank) key and only a base URL, and a Vertex key without a base URL are
    each found again in the config and get ``excluded-models: ["*"]``, cleared on enable."""
    proxy = await mproxy(HEAD + f"{section}:\n  - {entry}\n")
    creds = [c for c in proxy.service.pool.credentials() if c.source.startswith("config:")]
    assert len(creds) == 1
    cred = creds[0]
    status, body = await mcall(proxy, "PATCH", "/auth-files/status", {"name": cred.id, "disabled": True})
    assert (status, body["via"]) == (200, "config:excluded-models")
    assert yaml.safe_load(proxy.config_path.read_text())[section][0]["excluded-models"] == ["*"]
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {"name": cred.id, "disabled": False})
    assert status == 200 and "excluded-models" not in proxy.config_path.read_text()
