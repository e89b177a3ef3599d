"""Odd file names and numbers on management routes: a clear 400 (or CPA's reading),
never a 500 from the file system or an integer overflow."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.management.conftest import MHEADERS, mcall, mproxy
from tests.management.test_auth_files_api import PEM
from tests.management.test_auth_files_api import form as upload

__all__ = ["mproxy"]

LONG = "x" * 300 + ".json"
AUTH = orjson.dumps({"type": "claude", "access_token": "at"})


async def call(proxy: Any, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    headers = {**MHEADERS, **kw.pop("headers", {})}
    async with aiohttp.ClientSession() as s, s.request(method, proxy.url + path, headers=headers, **kw) as r:
        return r.status, await r.json(content_type=None)


def form(filename: str) -> tuple[bytes, dict[str, str]]:
    """A multipart upload of one auth file, written by hand (aiohttp refuses odd names)."""
    head = f'--B\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'
    body = head.encode("utf-8", "surrogateescape") + AUTH + b"\r\n--B--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=B"}


@pytest.mark.parametrize("name", [LONG, "a\x00.json", "a\r\nb.json", "é" * 130 + ".json"])
async def test_auth_file_names_the_file_system_cannot_take_are_400(mproxy, tmp_path, name):
    """A name with a NUL or a line break, or longer than a file name may be, answers 400
    "invalid name" on download, upload (by query and by multipart file name) and delete.
    Before, the file system's error came back as a 500 (or the upload wrote a file whose
    name would break the download's Content-Disposition header)."""
    proxy = await mproxy()
    path = "/v0/management/auth-files"
    for method, route, kw in [
        ("GET", path + "/download", {}),
        ("POST", path, {"data": AUTH}),
        ("DELETE", path, {}),
    ]:
        answer = await call(proxy, method, route, params={"name": name}, **kw)
        assert answer == (400, {"error": "invalid name"}), method
    body, headers = form(name)
    status, answer = await call(proxy, "POST", path, data=body, headers=headers)
    assert status == 400, answer  # "invalid name" (a line break ends the part's header first)
    assert list((tmp_path / "auths").iterdir()) == []


@pytest.mark.parametrize("name", ["error-a%00.log", "error-" + "x" * 300 + ".log", "error-%0d%0a.log"])
async def test_error_log_names_the_file_system_cannot_take_are_400(mproxy, name):
    """TestDownloadRequestErrorLog's name check widened: a NUL, a line break or an over-long
    name answers 400 "invalid log file name", where a NUL or a long name was a 500."""
    proxy = await mproxy()
    status, answer = await call(proxy, "GET", "/v0/management/request-error-logs/" + name)
    assert (status, answer) == (400, {"error": "invalid log file name"})


async def test_log_numbers_beyond_64_bits_read_as_cpa_parses_them(mproxy):
    """CPA parses ``after`` and ``limit`` of GET /logs as 64-bit integers (parseCutoff,
    parseLimit): an ``after`` that does not fit is ignored, a ``limit`` that does not fit is
    400 "must be a positive integer". Before, both were a 500 (integer overflow)."""
    proxy = await mproxy("logging-to-file: true\n")
    huge = str(1 << 64)
    status, answer = await call(proxy, "GET", "/v0/management/logs", params={"after": huge})
    assert status == 200 and answer["lines"], answer
    status, answer = await call(proxy, "GET", "/v0/management/logs", params={"limit": huge})
    assert (status, answer) == (400, {"error": "invalid limit: must be a positive integer"})


@pytest.mark.parametrize("project", ["a\x00b", "a\r\nb", "p" * 300])
async def test_vertex_import_with_a_project_id_no_file_can_be_named_after(mproxy, tmp_path, project):
    """The Vertex import names its file after the service account's project_id: one with a
    NUL, a line break or too long for a file name is 400 "invalid service account" and
    nothing is written. Before, a NUL or a long one was a 500 and a line break was stored."""
    proxy = await mproxy()
    account = {
        "type": "service_account",
        "project_id": project,
        "client_email": "sa@p.iam.gserviceaccount.com",
        "private_key": PEM.read_text(),
    }
    status, answer = await mcall(
        proxy, "POST", "/vertex/import", data=upload(("file", "sa.json", orjson.dumps(account)))
    )
    assert (status, answer["error"]) == (400, "invalid service account"), answer
    assert list((tmp_path / "auths").iterdir()) == []
