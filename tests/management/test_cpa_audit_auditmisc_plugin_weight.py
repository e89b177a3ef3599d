"""CPA TestFileTokenStoreListSkipsInvalidPluginSourceWeight (sdk/auth/filestore_test.go),
through a running proxy with a real in-process Python plugin whose ``auth.parse`` expands
auth files of its provider: a file whose ``weight`` is not a valid weight is skipped before
the plugin is asked about it, so neither the plugin nor the pool ever sees it, while a valid
file of the same provider beside it is parsed and served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.management.conftest import MANAGEMENT_KEY
from tests.management.test_auth_files_virtual_cpa import MULTI, expanded, listed
from tests.plugins.test_flow_python import _proxy

# MULTI, with every parse call written down (the file name) where the test can read it
RECORDING = MULTI.replace(
    "    async def parse(self, req):\n",
    "    async def parse(self, req):\n"
    "        with open(__import__('os').environ['AUDITMISC_PARSE_LOG'], 'a') as log:\n"
    "            log.write(req.file_name + '\\n')\n",
)


def write(tmp_path: Path, name: str, account: str, **extra: Any) -> None:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps({"type": "multi", "accounts": [{"id": account}], **extra}))


@pytest.mark.parametrize("weight", ['"invalid"', "1.5", "1000001"])
async def test_a_source_file_with_an_invalid_weight_is_not_parsed(start_proxy, tmp_path, monkeypatch, weight):
    assert RECORDING != MULTI
    log = tmp_path / "parse.log"
    monkeypatch.setenv("AUDITMISC_PARSE_LOG", str(log))
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    write(tmp_path, "good.json", "good-account", weight=3)
    write(tmp_path, "bad.json", "bad-account", weight=orjson.loads(weight))
    proxy = await _proxy(start_proxy, None, tmp_path, {"multi": RECORDING}, {"multi": {}}, base=False)
    await expanded(proxy, ["good-account"])
    assert "bad.json" not in log.read_text().split()
    assert "good.json" in log.read_text().split()
    assert "bad-account" not in {f["id"] for f in await listed(proxy)}
