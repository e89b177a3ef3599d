"""Vertex service-account import from the command line (CPA's -vertex-import and
-vertex-import-prefix), and its agreement with POST /v0/management/vertex/import."""

from __future__ import annotations

import stat
from pathlib import Path

import aiohttp
import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.vertex import VertexImportError, import_vertex_file, vertex_record
from tests.management.conftest import mcall, mproxy  # noqa: F401

PEM = Path(__file__).parents[1] / "providers" / "data" / "sa_key.pem"
ACCOUNT = {
    "type": "service_account",
    "project_id": "my proj",
    "private_key_id": "k1",
    "client_email": "sa@p.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def key_file(tmp_path: Path, data: object, name: str = "sa.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return path


def account(**changes: object) -> dict:
    return {**ACCOUNT, "private_key": PEM.read_text(), **changes}


def test_a_valid_key_file_becomes_a_vertex_credential(tmp_path) -> None:
    auth_dir = tmp_path / "auths"
    saved = import_vertex_file(key_file(tmp_path, account()), auth_dir)
    assert saved.path == auth_dir / "vertex-my-proj.json" and saved.provider == "vertex"
    assert saved.account == "my proj (sa@p.iam.gserviceaccount.com)"
    data = orjson.loads(saved.path.read_bytes())
    assert data == {
        "service_account": account(),
        "project_id": "my proj",
        "email": "sa@p.iam.gserviceaccount.com",
        "location": "us-central1",
        "type": "vertex",
        "prefix": "",
        "label": "my proj (sa@p.iam.gserviceaccount.com)",
    }
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    cred = load_auth_file(saved.path, auth_dir)
    assert cred is not None and cred.provider == "vertex" and cred.prefix == ""


def test_prefix_goes_into_the_file_and_its_name(tmp_path) -> None:
    auth_dir = tmp_path / "auths"
    plain = import_vertex_file(key_file(tmp_path, account()), auth_dir)
    team = import_vertex_file(key_file(tmp_path, account()), auth_dir, prefix=" /team-a/ ")
    assert team.path.name == "vertex-team-a-my-proj.json" and plain.path != team.path
    data = orjson.loads(team.path.read_bytes())
    assert data["prefix"] == "team-a"
    cred = load_auth_file(team.path, auth_dir)
    assert cred is not None and cred.prefix == "team-a"
    assert sorted(p.name for p in auth_dir.iterdir()) == ["vertex-my-proj.json", "vertex-team-a-my-proj.json"]


def test_a_prefix_of_two_segments_is_refused(tmp_path) -> None:
    with pytest.raises(VertexImportError) as info:
        import_vertex_file(key_file(tmp_path, account()), tmp_path / "auths", prefix="a/b")
    assert info.value.status == 400 and "single segment" in str(info.value)
    assert not (tmp_path / "auths").exists()


@pytest.mark.parametrize(
    ("content", "error", "detail"),
    [
        (b"{not json", "invalid json", "unexpected"),
        (b"[1, 2]", "invalid json", "not a JSON object"),
        ({k: v for k, v in ACCOUNT.items()}, "invalid service account", "missing private_key"),
        ("nope", "invalid service account", "not a PEM private key"),
        ("no-project", "project_id missing", ""),
    ],
    ids=["invalid-json", "not-an-object", "missing-private-key", "bad-private-key", "missing-project"],
)
def test_bad_files_are_refused_with_cpas_errors(tmp_path, content, error, detail) -> None:
    if content == "nope":
        content = account(private_key="nope")
    elif content == "no-project":
        content = {k: v for k, v in account().items() if k != "project_id"}
    with pytest.raises(VertexImportError) as info:
        import_vertex_file(key_file(tmp_path, content), tmp_path / "auths")
    assert info.value.message == error
    assert detail.lower() in info.value.detail.lower()
    assert "BEGIN" not in str(info.value)  # the key is never echoed
    assert not (tmp_path / "auths").exists()


def test_a_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(VertexImportError) as info:
        import_vertex_file(tmp_path / "nowhere.json", tmp_path / "auths")
    assert info.value.message == "read failed" and "nowhere.json" in info.value.detail


async def test_same_result_as_the_management_upload(mproxy, tmp_path) -> None:  # noqa: F811
    proxy = await mproxy('api-keys: ["k"]\n')
    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("file", orjson.dumps(account()), filename="sa.json", content_type="application/json")
    status, body = await mcall(proxy, "POST", "/vertex/import", data=form)
    assert status == 200, body
    uploaded = orjson.loads(Path(body["auth-file"]).read_bytes())

    cli = import_vertex_file(key_file(tmp_path, account()), tmp_path / "cli-auths")
    written = orjson.loads(cli.path.read_bytes())
    assert cli.path.name == Path(body["auth-file"]).name
    assert {
        k: v for k, v in written.items() if k != "prefix"
    } == uploaded  # only -vertex-import writes prefix
    assert vertex_record(account(), "")[1] == uploaded


async def test_management_answers_stay_cpas(mproxy, tmp_path) -> None:  # noqa: F811
    proxy = await mproxy('api-keys: ["k"]\n')

    async def upload(data: bytes) -> tuple[int, object]:
        form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
        form.add_field("file", data, filename="sa.json", content_type="application/json")
        return await mcall(proxy, "POST", "/vertex/import", data=form)

    status, body = await upload(b"{x")
    assert status == 400 and body["error"] == "invalid json" and body["message"]
    no_project = {k: v for k, v in account().items() if k != "project_id"}
    assert await upload(orjson.dumps(no_project)) == (400, {"error": "project_id missing"})
    status, body = await upload(orjson.dumps(ACCOUNT))
    assert (status, body) == (
        400,
        {"error": "invalid service account", "message": "service account missing private_key"},
    )
