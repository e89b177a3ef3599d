"""CPA's auth-files handler cases (internal/api/handlers/management/auth_files_*_test.go),
ported through a running proxy's ``/v0/management/auth-files`` routes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from tests.management.conftest import mcall
from tests.management.test_auth_files_api import HEAD, claude_file, form, put


def codex_file(**extra: object) -> dict:
    return {"type": "codex", "email": "user@example.com", "access_token": "at-codex", **extra}


def stored(path: Path) -> dict:
    return orjson.loads(path.read_bytes())


async def listed(proxy, query: str = "") -> list[dict]:
    status, body = await mcall(proxy, "GET", "/auth-files" + query)
    assert status == 200
    return body["files"]


# -- upload / delete / download ----------------------------------------------------------


async def test_batch_upload_with_a_bad_file_keeps_the_existing_one(mproxy, tmp_path):
    """TestUploadAuthFile_BatchMultipart_InvalidJSONDoesNotOverwriteExistingFile: a batch
    where one part is broken JSON answers 207, the file of that name on disk is untouched,
    and the good part is written byte for byte."""
    existing = put(tmp_path, "alpha.json", codex_file(email="alpha@example.com"))
    before = existing.read_bytes()
    proxy = await mproxy(HEAD)
    beta = b'{"type":"claude","email":"beta@example.com"}'
    status, body = await mcall(
        proxy,
        "POST",
        "/auth-files",
        data=form(("file", "alpha.json", b'{"type":"codex"'), ("file", "beta.json", beta)),
    )
    assert status == 207 and body["uploaded"] == 1
    assert existing.read_bytes() == before
    assert (tmp_path / "auths" / "beta.json").read_bytes() == beta


async def test_upload_keeps_the_priority_of_the_file(mproxy, tmp_path):
    """TestUploadAuthFile_PreservesPriorityAttributes: an uploaded file's ``priority``
    reaches the live credential and the listing."""
    proxy = await mproxy(HEAD)
    name = "codex-someone@example.com-plus.json"
    content = orjson.dumps(codex_file(priority=98))
    status, body = await mcall(proxy, "POST", "/auth-files", data=form(("file", name, content)))
    assert (status, body) == (200, {"status": "ok"})
    assert proxy.service.pool.get(name).priority == 98
    assert (await listed(proxy))[0]["priority"] == 98


async def test_delete_names_repeated_in_the_query(mproxy, tmp_path):
    """TestDeleteAuthFile_BatchQuery: ``?name=a&name=b`` deletes both and counts them."""
    for name in ("alpha.json", "beta.json"):
        put(tmp_path, name, codex_file())
    proxy = await mproxy(HEAD)
    status, body = await mcall(proxy, "DELETE", "/auth-files?name=alpha.json&name=beta.json")
    assert status == 200 and body["deleted"] == 2
    assert not list((tmp_path / "auths").glob("*.json"))
    assert proxy.service.pool.credentials() == ()


async def test_delete_removes_the_file_and_the_live_credential(mproxy, tmp_path):
    """TestDeleteAuthFile_FallbackToAuthDirPath and TestDeleteAuthFile_RemovesRuntimeAuth:
    deleting by name removes the file from auth-dir and the credential from the pool, and
    the listing is empty afterwards."""
    path = put(tmp_path, "runtime-remove-user.json", codex_file())
    proxy = await mproxy(HEAD)
    assert proxy.service.pool.get("runtime-remove-user.json") is not None
    status, _ = await mcall(proxy, "DELETE", "/auth-files?name=runtime-remove-user.json")
    assert status == 200 and not path.exists()
    assert proxy.service.pool.get("runtime-remove-user.json") is None
    assert await listed(proxy) == []


@pytest.mark.parametrize(
    "name",
    ["../external/secret.json", "..\\external\\secret.json", "nested/secret.json", "nested\\secret.json"],
)
async def test_download_refuses_path_separators(mproxy, tmp_path, name):
    """TestDownloadAuthFile_RejectsPathSeparators and
    TestDownloadAuthFile_PreventsWindowsSlashTraversal: a name holding ``/`` or ``\\`` is a
    400, whatever exists outside auth-dir."""
    (tmp_path / "external").mkdir()
    (tmp_path / "external" / "secret.json").write_text("{}")
    proxy = await mproxy(HEAD)
    status, _ = await mcall(proxy, "GET", "/auth-files/download?name=" + quote(name, safe=""))
    assert status == 400


# -- list --------------------------------------------------------------------------------


async def test_list_filters_by_name(mproxy, tmp_path):
    """TestListAuthFilesFromDiskFiltersByNameAndRejectsAuthIndex (the name half; the
    auth_index half needs CPA's listing without a manager, which the proxy never has)."""
    put(tmp_path, "alpha.json", codex_file(email="alpha@example.com"))
    put(tmp_path, "beta.json", codex_file(email="beta@example.com"))
    proxy = await mproxy(HEAD)
    assert [f["name"] for f in await listed(proxy, "?name=beta.json")] == ["beta.json"]


async def test_list_shows_project_id_and_websockets(mproxy, tmp_path):
    """TestListAuthFiles_IncludesProjectIDFromManager, TestListAuthFilesFromDisk_IncludesProjectID,
    TestListAuthFiles_IncludesWebsocketsFromManager and TestListAuthFilesFromDisk_IncludesWebsockets:
    an Antigravity file's project_id is listed; a Codex file's ``websockets`` is listed as
    written, true or false, and left out when the file does not say."""
    put(
        tmp_path,
        "antigravity-user@example.com-project-a.json",
        {"type": "antigravity", "email": "user@example.com", "project_id": "project-a"},
    )
    put(tmp_path, "codex-on.json", codex_file(websockets=True))
    put(tmp_path, "codex-off.json", codex_file(websockets=False))
    put(tmp_path, "codex-unset.json", codex_file())
    proxy = await mproxy(HEAD)
    files = {f["name"]: f for f in await listed(proxy)}
    assert files["antigravity-user@example.com-project-a.json"]["project_id"] == "project-a"
    assert files["codex-on.json"]["websockets"] is True
    assert files["codex-off.json"]["websockets"] is False
    assert "websockets" not in files["codex-unset.json"]


async def test_list_has_twenty_recent_request_buckets(mproxy, tmp_path):
    """TestListAuthFiles_IncludesRecentRequestsBuckets: each entry carries numeric success
    and failed counts and 20 buckets of ``{time, success, failed}``."""
    put(tmp_path, "codex-a.json", codex_file())
    proxy = await mproxy(HEAD)
    entry = (await listed(proxy))[0]
    assert isinstance(entry["success"], int) and isinstance(entry["failed"], int)
    assert len(entry["recent_requests"]) == 20
    for bucket in entry["recent_requests"]:
        assert isinstance(bucket["time"], str)
        assert isinstance(bucket["success"], int) and isinstance(bucket["failed"], int)


# -- fields ------------------------------------------------------------------------------


async def test_fields_merge_headers_and_drop_blank_values(mproxy, tmp_path):
    """TestPatchAuthFileFields_MergeHeadersAndDeleteEmptyValues: prefix and proxy_url are
    set; a header with a new value is replaced, a new one added, and one sent blank or as
    whitespace is removed, on disk and on the live credential."""
    path = put(tmp_path, "test.json", claude_file(headers={"X-Old": "old", "X-Remove": "gone"}))
    proxy = await mproxy(HEAD)
    patch = {
        "name": "test.json",
        "prefix": "p1",
        "proxy_url": "http://proxy.local",
        "headers": {"X-Old": "new", "X-New": "v", "X-Remove": "  ", "X-Nope": ""},
    }
    assert (await mcall(proxy, "PATCH", "/auth-files/fields", patch))[0] == 200
    data = stored(path)
    assert data["prefix"] == "p1" and data["proxy_url"] == "http://proxy.local"
    assert data["headers"] == {"X-Old": "new", "X-New": "v"}
    cred = proxy.service.pool.get("test.json")
    assert cred.prefix == "p1" and cred.proxy_url == "http://proxy.local"
    assert cred.headers == {"X-Old": "new", "X-New": "v"}


async def test_fields_empty_headers_change_nothing(mproxy, tmp_path):
    """TestPatchAuthFileFields_HeadersEmptyMapIsNoop: ``headers: {}`` beside another field
    leaves the stored headers as they were."""
    path = put(tmp_path, "noop.json", claude_file(headers={"X-Kee": "1"}))
    proxy = await mproxy(HEAD)
    patch = {"name": "noop.json", "note": "hello", "headers": {}}
    assert (await mcall(proxy, "PATCH", "/auth-files/fields", patch))[0] == 200
    assert stored(path)["headers"] == {"X-Kee": "1"} and stored(path)["note"] == "hello"
    assert proxy.service.pool.get("noop.json").headers == {"X-Kee": "1"}


async def test_fields_websockets_false_is_an_update(mproxy, tmp_path):
    """TestPatchAuthFileFields_WebsocketsFalseIsUpdate: ``websockets: false`` is a change,
    not an empty patch, and the listing then says false."""
    path = put(tmp_path, "codex.json", codex_file(websockets=True))
    proxy = await mproxy(HEAD)
    status, _ = await mcall(proxy, "PATCH", "/auth-files/fields", {"name": "codex.json", "websockets": False})
    assert status == 200 and stored(path)["websockets"] is False
    assert (await listed(proxy))[0]["websockets"] is False


async def test_fields_arbitrary_and_dotted_keys_persist(mproxy, tmp_path):
    """TestPatchAuthFileFields_ArbitraryFieldsPersistToFile: unknown keys are written, a
    dotted key nests, an object value is kept whole."""
    path = put(tmp_path, "generic.json", codex_file())
    proxy = await mproxy(HEAD)
    patch = {"name": "generic.json", "abc": True, "nested.cde": True, "fgh": {"ijk": True}}
    assert (await mcall(proxy, "PATCH", "/auth-files/fields", patch))[0] == 200
    data = stored(path)
    assert data["abc"] is True and data["nested"] == {"cde": True} and data["fgh"] == {"ijk": True}


async def test_fields_weight_set_then_reset(mproxy, tmp_path):
    """TestPatchAuthFileFields_WeightPersistsAndSyncsRuntime and
    TestPatchAuthFileFields_DeletesPluginFields: a weight is stored and live; ``null``
    removes it from the file and the credential, leaving other fields alone."""
    path = put(tmp_path, "weighted.json", codex_file(headers={"X-Header": "val"}))
    proxy = await mproxy(HEAD)
    default = proxy.service.pool.get("weighted.json").weight
    status, _ = await mcall(proxy, "PATCH", "/auth-files/fields", {"name": "weighted.json", "weight": 7})
    assert status == 200
    assert stored(path)["weight"] == 7 and proxy.service.pool.get("weighted.json").weight == 7
    status, _ = await mcall(proxy, "PATCH", "/auth-files/fields", {"name": "weighted.json", "weight": None})
    assert status == 200 and "weight" not in stored(path)
    assert stored(path)["headers"] == {"X-Header": "val"} and stored(path)["access_token"] == "at-codex"
    assert proxy.service.pool.get("weighted.json").weight == default


@pytest.mark.parametrize("weight", [b"1.5", b"1000001", b"9223372036854775808", b'"7"'])
async def test_fields_refuse_bad_weights(mproxy, tmp_path, weight):
    """TestPatchAuthFileFields_RejectsInvalidWeights: a fraction, a number above 1000000, one
    past int64 and a string are 400s.
    CPA: TestManagerRegisterAndUpdateRejectInvalidExplicitWeights (the update half: the file
    and the live credential keep their weight)."""
    path = put(tmp_path, "auth.json", codex_file())
    before = path.read_bytes()
    proxy = await mproxy(HEAD)
    body = b'{"name":"auth.json","weight":' + weight + b"}"
    status, _ = await mcall(
        proxy, "PATCH", "/auth-files/fields", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400 and path.read_bytes() == before
    assert proxy.service.pool.get("auth.json").weight == 1


async def test_fields_request_retry_round_trip(mproxy, tmp_path):
    """TestPatchAuthFileFields_RequestRetryRoundTrip: the legacy ``request-retry`` spelling is
    stored as ``request_retry``; 0 is a value, -1 and null clear it; with both spellings the
    canonical one wins; a string, a fraction or a nested path is a 400 that keeps the value."""
    path = put(tmp_path, "request-retry.json", codex_file())
    proxy = await mproxy(HEAD)

    async def patch(body: bytes) -> int:
        status, _ = await mcall(
            proxy,
            "PATCH",
            "/auth-files/fields",
            data=b'{"name":"request-retry.json",' + body + b"}",
            headers={"Content-Type": "application/json"},
        )
        return status

    async def retry() -> object:
        return (await listed(proxy))[0].get("request_retry")

    assert await patch(b'"request-retry":2') == 200
    data = stored(path)
    assert data["request_retry"] == 2 and "request-retry" not in data
    assert proxy.service.pool.get("request-retry.json").request_retry == 2 and await retry() == 2
    assert await patch(b'"request_retry":0') == 200 and await retry() == 0
    assert await patch(b'"request-retry":-1') == 200 and await retry() is None
    assert await patch(b'"request-retry":2,"request_retry":3') == 200 and await retry() == 3
    assert await patch(b'"request_retry":2') == 200
    for bad in (
        b'"request-retry":"2"',
        b'"request-retry":1.5',
        b'"request_retry.child":2',
        b'"request_retry .child":2',
        b'"request-retry .child":2',
    ):
        assert await patch(bad) == 400, bad
        assert await retry() == 2
    assert await patch(b'"request_retry":null') == 200 and await retry() is None


async def test_fields_canonicalise_legacy_roots(mproxy, tmp_path):
    """TestNormalizeAuthFilePatchFieldsCanonicalizesLegacyRoots: ``" disable-cooling "`` and
    ``fingerprint-profile.value`` land under their underscore names, a key that is not a
    known legacy root keeps its dash, and two spellings of one nested path are a 400."""
    path = put(tmp_path, "legacy.json", claude_file())
    proxy = await mproxy(HEAD)
    patch = {
        "name": "legacy.json",
        " disable-cooling ": True,
        "fingerprint-profile.value": "x",
        "provider-specific": "preserved",
    }
    assert (await mcall(proxy, "PATCH", "/auth-files/fields", patch))[0] == 200
    data = stored(path)
    assert data["disable_cooling"] is True and data["fingerprint_profile"] == {"value": "x"}
    assert data["provider-specific"] == "preserved"
    assert "disable-cooling" not in data and "fingerprint-profile" not in data
    dup = {"name": "legacy.json", "disable_cooling.value": True, "disable_cooling . value": False}
    assert (await mcall(proxy, "PATCH", "/auth-files/fields", dup))[0] == 400


async def test_disabling_a_file_normalises_its_legacy_keys(mproxy, tmp_path):
    """TestSetSourceAuthFileDisabledNormalizesLegacyMetadata: writing ``disabled`` also
    rewrites ``request-retry`` and ``disable-cooling`` under their underscore names."""
    path = put(tmp_path, "legacy.json", claude_file(**{"request-retry": 2, "disable-cooling": True}))
    proxy = await mproxy(HEAD)
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {"name": "legacy.json", "disabled": True})
    assert status == 200
    data = stored(path)
    assert data["disabled"] is True and data["request_retry"] == 2 and data["disable_cooling"] is True
    assert "request-retry" not in data and "disable-cooling" not in data
