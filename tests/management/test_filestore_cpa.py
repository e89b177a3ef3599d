"""CPA's file token store save rules (sdk/auth/filestore_test.go) as the management upload
shows them."""

from __future__ import annotations

import orjson
import pytest

from tests.management.conftest import mcall
from tests.management.test_auth_files_api import HEAD, claude_file


@pytest.mark.parametrize("weight", [1.5, "heavy", 1_000_001])
async def test_an_upload_with_an_invalid_weight_is_refused(mproxy, tmp_path, weight):
    """CPA: TestFileTokenStoreSaveRejectsInvalidWeight: a credential file whose weight is not
    an integer (or is over the maximum) is refused and not written. Before, the upload
    answered 200 and stored a file the loader then skipped, so no credential appeared.
    CPA: TestManagerRegisterAndUpdateRejectInvalidExplicitWeights (the register half)."""
    proxy = await mproxy(HEAD)
    data = orjson.dumps(claude_file(weight=weight))
    status, body = await mcall(proxy, "POST", "/auth-files?name=w.json", data=data)
    assert status == 400 and body["error"].startswith("invalid auth file: weight must")
    assert not (tmp_path / "auths" / "w.json").exists()
    status, _ = await mcall(
        proxy, "POST", "/auth-files?name=w.json", data=orjson.dumps(claude_file(weight=3))
    )
    assert status == 200 and proxy.service.pool.get("w.json").weight == 3
