"""CPA's auth provider tests (internal/pluginhost/auth_provider_test.go): the plugin token
storage (merge, key normalisation, skipping an unchanged file, refusing an empty payload)
and a refresh that keeps the credential's auth index, through a running proxy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.plugins.models import save_auth_data, save_token, token_json
from tests.e2e.clients import ask
from tests.plugins.test_flow_python import AUTH_PLUGIN, HEADER, _proxy


def test_storage_merges_metadata_over_raw_json_and_sets_the_type(tmp_path: Path) -> None:
    """TestPluginTokenStorageMergesRawMetadataAndProviderType: metadata overrides the raw
    JSON and ``type`` is the provider, in the payload and in the saved file.
    CPA: TestMergeMetadata (false values, prefix and note kept beside the token)."""
    meta = {"disabled": False, "email": "test@example.com", "prefix": "custom-prefix", "websockets": False}
    merged = token_json(
        b'{"type":"codex","access_token":"token-123"}', {**meta, "note": "custom note"}, "codex"
    )
    assert merged == {"type": "codex", "access_token": "token-123", **meta, "note": "custom note"}
    data = token_json(
        b'{"old":"value","type":"old-provider"}', {"new": "value", "old": "override"}, "Plugin-Provider"
    )
    assert data == {"old": "override", "new": "value", "type": "plugin-provider"}
    path = tmp_path / "auth.json"
    assert save_token(path, data)
    assert json.loads(path.read_text()) == data


@pytest.mark.parametrize(
    ("raw", "meta", "want"),
    [
        (
            b'{"request-retry":2,"disable-cooling":true,"provider-specific-key":"preserved"}',
            None,
            {"request_retry": 2, "disable_cooling": True, "provider-specific-key": "preserved"},
        ),
        (
            b'{"request-retry":2,"disable-cooling":true}',
            {"request_retry": 0, "disable_cooling": False},
            {"request_retry": 0, "disable_cooling": False},
        ),
    ],
    ids=["legacy raw keys", "canonical metadata wins"],
)
def test_storage_normalises_credential_metadata_keys(tmp_path: Path, raw: bytes, meta, want) -> None:
    """TestPluginTokenStorageNormalizesCredentialMetadataKeys (before, a plugin's login
    saved ``request-retry`` and ``disable-cooling`` as they came)."""
    data = token_json(raw, meta, "plugin-provider")
    assert data == {**want, "type": "plugin-provider"}
    path = tmp_path / "auth.json"
    save_token(path, data)
    assert json.loads(path.read_text()) == data


def test_storage_skips_an_unchanged_file(tmp_path: Path) -> None:
    """TestPluginTokenStorageSkipsUnchangedFile: the same JSON is not written again
    (before, every save replaced the file)."""
    path = tmp_path / "auth.json"
    path.write_text('{"disabled":false,"token":"secret","type":"plugin-provider"}')
    before = os.stat(path)
    data = token_json(b'{"token":"secret"}', {"disabled": False}, "plugin-provider")
    assert save_token(path, data) is False
    after = os.stat(path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_storage_rejects_an_empty_payload(tmp_path: Path) -> None:
    """TestPluginTokenStorageRejectsEmptyPayload; and, as CPA's decode error, storage that is
    not a JSON object. A login answer without a provider is not saved
    (TestHostAuthDataToCoreAuthRejectsMissingProviderAndUsesAuthDir, first half)."""
    with pytest.raises(ValueError, match="empty"):
        token_json(b"", None, "")
    with pytest.raises(ValueError, match="empty"):
        save_token(tmp_path / "auth.json", {})
    with pytest.raises(ValueError, match="not JSON"):
        token_json(b"{nope", None, "p")
    assert save_auth_data({"ID": "auth-1"}, tmp_path, "{provider}.json") is None
    assert save_auth_data({"Provider": "p", "StorageJSON": "e25vcGU="}, tmp_path, "{provider}.json") is None
    assert not (tmp_path / "auth.json").exists() and not (tmp_path / "p.json").exists()


async def test_refresh_keeps_the_auth_index(start_proxy, fakes, tmp_path: Path) -> None:
    """TestRefreshAuthPreservesAuthIndex: after a plugin's ``auth.refresh`` the credential
    has its new token, the same id and auth index, and the file keeps its other keys."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "acme-bob.json").write_text('{"type": "acme", "user": "bob", "token": "old-token"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": AUTH_PLUGIN}, {"acme": {}})
    cred = proxy.service.pool.get("acme-bob.json")
    assert cred is not None
    index = cred.index
    answer = await ask(Format.OPENAI, proxy.url, "acme-model", "hi", stream=False)
    assert answer.text == "ok with new-token"
    after = proxy.service.pool.get("acme-bob.json")
    assert after is not None and after.index == index and after.metadata["token"] == "new-token"
    saved = orjson.loads((auths / "acme-bob.json").read_bytes())
    assert saved == {"type": "acme", "user": "bob", "token": "new-token"}


MULTI_PLUGIN = (
    HEADER
    + """
class Multi(Plugin, AuthProvider, ModelProvider, Executor):
    name = "multi"; version = "1"; author = "t"; github_repository = "https://example.com/multi"
    identifier = "Multi"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        auths = [AuthData(id="multi-" + name + ".json", label=req.provider + ":" + name,
                          metadata={"account": name, "token": "old-token"})
                 for name in raw["accounts"]]
        return AuthParseResponse(handled=True, auths=auths)
    async def refresh(self, req):
        return AuthRefreshResponse(auth=AuthData(metadata={"token": "new-token"}))
    async def models_for_auth(self, req):
        return ModelList(provider="multi", models=[ModelInfo(id="multi-model")])
    async def execute(self, req):
        if req.auth_metadata["token"] != "new-token":
            raise PluginError("token expired", http_status=401)
        text = req.auth_id + "/" + req.auth_metadata["account"] + "/" + req.auth_metadata["type"]
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Multi()
"""
)


async def test_one_file_parsed_into_several_credentials(start_proxy, fakes, tmp_path: Path) -> None:
    """TestParseAuthsExpandsMultiplePluginAuths, TestParseAuthDefaultsProviderFromRequest and
    TestRefreshAuthPreservesAuthIndex for such credentials: a file ``auth.parse`` answers with
    two ``Auths`` becomes two credentials, each with its own id, auth index (CPA's virtual
    auth seed) and metadata; an ``AuthData`` without a provider takes the file's, which is
    also its ``type``. A 401 refreshes the credential in memory (it keeps its index) and,
    as CPA does for virtual auths, the shared file is not rewritten. Before, only the first
    auth was used, merged into the file's credential."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    raw = '{"type": "multi", "accounts": ["a", "b"]}'
    (auths / "multi.json").write_text(raw)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"multi": MULTI_PLUGIN}, {"multi": {}})
    pool = proxy.service.pool
    first, second = pool.get("multi-a.json"), pool.get("multi-b.json")
    assert first is not None and second is not None and pool.get("multi.json") is None
    assert (first.label, second.label) == ("multi:a", "multi:b")  # the plugin got the file's provider
    assert first.index and second.index and first.index != second.index
    indexes = {first.id: first.index, second.id: second.index}
    answers = {
        (await ask(Format.OPENAI, proxy.url, "multi-model", "hi", stream=False)).text for _ in range(4)
    }
    assert answers == {"multi-a.json/a/multi", "multi-b.json/b/multi"}
    for cred_id, index in indexes.items():
        cred = pool.get(cred_id)
        assert cred is not None and cred.index == index and cred.metadata["token"] == "new-token"
    assert (auths / "multi.json").read_text() == raw
