"""A panel edit of an account (disable it, change its priority) made while that account's
token refresh is under way is kept: the refreshed tokens join the edited account, in the
pool as in its file, instead of the refresh putting back the account as it was before the
edit (an account disabled in the panel serving on, the panel listing it enabled)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from cliproxy.times import format_utc
from tests.e2e.test_oauth_files import write_auth
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.management.conftest import mcall

NAME = "codex-u@x.com.json"


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("path", "body", "field", "want"),
    [
        ("/auth-files/status", {"disabled": True}, "disabled", True),
        ("/auth-files/fields", {"priority": 7}, "priority", 7),
    ],
)
async def test_a_panel_edit_during_a_refresh_is_kept(
    mproxy,
    fakes,
    oauth_fake,  # noqa: F811
    tmp_path,
    monkeypatch,
    path,
    body,
    field,
    want,
) -> None:
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth_fake.url("/token"))
    # due for the loop (Codex: 5 days ahead) and still valid: the loop refreshes it at start
    expired = format_utc(time.time() + 86400, "seconds")
    record = {"type": "codex", "email": "u@x.com", "access_token": "old", "refresh_token": "rt-old",
              "account_id": "acct-1", "expired": expired}  # fmt: skip
    file = write_auth(tmp_path, NAME, record)
    oauth_fake.delay = 0.5
    proxy = await mproxy('api-keys: ["k"]\n')
    await _until(lambda: oauth_fake.active > 0, "the refresh did not start")

    status, answer = await mcall(proxy, "PATCH", path, {"name": NAME, **body})
    assert status == 200, answer
    [cred] = proxy.service.pool.credentials()
    assert getattr(cred, field) == want  # the edit is live
    await _until(lambda: orjson.loads(file.read_bytes())["access_token"] == "at-1", "no refresh saved")
    await asyncio.sleep(0.05)

    saved = orjson.loads(file.read_bytes())
    assert saved[field] == want
    [cred] = proxy.service.pool.credentials()
    assert cred.access_token == "at-1"
    assert getattr(cred, field) == want  # before: the refresh put the account back as it was
    status, listing = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    [entry] = listing["files"]
    assert entry[field] == want
