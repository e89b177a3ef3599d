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
from tests.plugins.test_flow_python import AUTH_PLUGIN, _proxy


def test_storage_merges_metadata_over_raw_json_and_sets_the_type(tmp_path: Path) -> None:
    """TestPluginTokenStorageMergesRawMetadataAndProviderType: metadata overrides the raw
    JSON and ``type`` is the provider, in the payload and in the saved file."""
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
