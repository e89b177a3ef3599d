"""CPA TestFileTokenStoreNormalizesLegacyCredentialMetadata (sdk/auth/filestore_test.go),
the save half: a sign-in that replaces an auth file written by an older CPA (or by hand)
with legacy kebab-case settings keeps those settings under their snake_case names only, the
snake_case value winning where the file had both (``request-retry: 2`` beside
``request_retry: 0`` is saved as ``request_retry: 0``). End to end against the fake
authorization server, as tests/login/test_flows.py signs in; the saved file then loads with
the same settings."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.vertex import import_vertex_file
from tests.login.conftest import login_in_browser
from tests.login.test_flows import CASES, PROVIDERS, make_flow

LEGACY = {"request-retry": 2, "request_retry": 0, "disable-cooling": True, "excluded-models": ["m-1"]}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_second_sign_in_saves_legacy_settings_under_canonical_names(
    provider, http, providers_at, tmp_path
) -> None:
    first, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    data = orjson.loads(first.path.read_bytes())
    first.path.write_bytes(orjson.dumps({**data, **LEGACY}))

    second, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    assert second.path == first.path
    now = orjson.loads(second.path.read_bytes())
    assert not {"request-retry", "disable-cooling", "excluded-models"} & now.keys(), now
    assert (now["request_retry"], now["disable_cooling"], now["excluded_models"]) == (0, True, ["m-1"])
    cred = load_auth_file(second.path, tmp_path)
    assert (
        cred is not None and cred.metadata["request_retry"] == 0 and cred.metadata["disable_cooling"] is True
    )


def test_a_vertex_import_over_a_file_saves_legacy_settings_under_canonical_names(tmp_path) -> None:
    """The same for ``--vertex-import`` (and the panel's Vertex import, the same writer):
    importing the key again over the account's file written with legacy settings."""
    from tests.login.test_vertex_import import account, key_file

    auth_dir = tmp_path / "auths"
    first = import_vertex_file(key_file(tmp_path, account()), auth_dir)
    data = orjson.loads(first.path.read_bytes())
    first.path.write_bytes(orjson.dumps({**data, **LEGACY}))
    again = import_vertex_file(key_file(tmp_path, account()), auth_dir)
    now = orjson.loads(again.path.read_bytes())
    assert not {"request-retry", "disable-cooling", "excluded-models"} & now.keys(), now
    assert (now["request_retry"], now["disable_cooling"], now["excluded_models"]) == (0, True, ["m-1"])
