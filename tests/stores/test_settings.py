"""Which store CPA's environment variables select (cmd/server/main.go), and the object
store's endpoint rule (CPA's parsing of OBJECTSTORE_ENDPOINT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy.credentials.stores import StoreError, settings_from_env

CWD = Path("/srv/app")


def test_no_variables_means_the_plain_auth_dir():
    assert settings_from_env({}, CWD) is None
    assert settings_from_env({"PGSTORE_DSN": "   ", "GITSTORE_GIT_URL": ""}, CWD) is None  # blank = unset


def test_postgres_wins_over_object_storage_and_git():
    env = {"PGSTORE_DSN": "postgres://u:p@db/x", "OBJECTSTORE_ENDPOINT": "s3", "GITSTORE_GIT_URL": "g"}
    s = settings_from_env(env, CWD)
    assert s is not None and s.kind == "postgres"
    assert s.local_root == CWD / "pgstore"
    assert "p@db" not in repr(s)  # the DSN (with its password) never shows


def test_object_storage_wins_over_git():
    env = {"OBJECTSTORE_ENDPOINT": "minio:9000", "GITSTORE_GIT_URL": "g", "OBJECTSTORE_SECRET_KEY": "sk"}
    s = settings_from_env(env, CWD)
    assert s is not None and s.kind == "object" and s.local_root == CWD / "objectstore"
    assert "sk" not in repr(s).replace("'sk'", "")


def test_the_git_token_and_a_password_in_the_git_url_never_show():
    env = {"GITSTORE_GIT_URL": "https://bob:pw-in-url@git.example/x.git", "GITSTORE_GIT_TOKEN": "tok-1"}
    s = settings_from_env(env, CWD)
    assert s is not None and s.options["url"].startswith("https://bob:pw-in-url@")
    assert "pw-in-url" not in repr(s) and "tok-1" not in repr(s)
    assert "https://***@git.example/x.git" in repr(s)


def test_lower_case_names_local_paths_and_writable_path():
    s = settings_from_env({"gitstore_git_url": "https://git/x.git", "gitstore_git_branch": "ops"}, CWD)
    assert s is not None and s.kind == "git" and s.options["branch"] == "ops"
    s = settings_from_env({"PGSTORE_DSN": "d", "PGSTORE_LOCAL_PATH": "/data", "WRITABLE_PATH": "/w"}, CWD)
    assert s is not None and s.local_root == Path("/data/pgstore")
    s = settings_from_env({"PGSTORE_DSN": "d", "PGSTORE_SCHEMA": "cpa", "WRITABLE_PATH": "/w"}, CWD)
    assert s is not None and s.local_root == Path("/w/pgstore") and s.options["schema"] == "cpa"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("minio.local:9000", "https://minio.local:9000"),
        ("http://minio.local:9000/", "http://minio.local:9000"),
        ("HTTPS://s3.example.com/base/", "https://s3.example.com/base"),
    ],
)
def test_object_endpoint(given, url):
    pytest.importorskip("boto3")
    from cliproxy.credentials.stores.objects import endpoint_url

    assert endpoint_url(given) == url


@pytest.mark.parametrize(("given", "why"), [("ftp://x", "only http and https"), ("http://", "missing host")])
def test_object_endpoint_refused(given, why):
    pytest.importorskip("boto3")
    from cliproxy.credentials.stores.objects import endpoint_url

    with pytest.raises(StoreError, match=why):
        endpoint_url(given)


def test_object_store_needs_its_keys(tmp_path):
    pytest.importorskip("boto3")
    from cliproxy.credentials.stores.objects import ObjectStore

    with pytest.raises(StoreError, match="OBJECTSTORE_ACCESS_KEY is required"):
        ObjectStore(tmp_path, "http://127.0.0.1:1", "", "s", "b")
