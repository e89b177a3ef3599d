"""CPA sdk/cliproxy/auth/conductor_refresh.go (authAccessToken, authHasRefreshCredential) and
internal/runtime/executor/claude_executor_auth.go: an auth file whose tokens are spelled
``accessToken`` / ``refreshToken`` (camelCase, as some import tools write them) is read and
refreshed as one spelled ``access_token`` / ``refresh_token``; the snake_case spelling wins
when both are present."""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401


def _camel(data: dict) -> dict:
    data = dict(data)
    data["accessToken"] = data.pop("access_token")
    data["refreshToken"] = data.pop("refresh_token")
    return data


def test_camel_case_tokens_are_read(tmp_path, clock) -> None:
    cred = write(tmp_path, "claude.json", _camel(oauth("claude", clock, 3600)))
    assert (cred.access_token, cred.refresh_token) == ("old-at", "old-rt")


def test_camel_case_under_token_and_snake_case_first(tmp_path, clock) -> None:
    nested = write(
        tmp_path, "a.json", {"type": "claude", "token": {"accessToken": "n-at", "refreshToken": "n-rt"}}
    )
    assert (nested.access_token, nested.refresh_token) == ("n-at", "n-rt")
    both = write(
        tmp_path,
        "b.json",
        {"type": "claude", "access_token": "s-at", "accessToken": "c-at", "refreshToken": "c-rt"},
    )
    assert (both.access_token, both.refresh_token) == ("s-at", "c-rt")
    blank = write(tmp_path, "c.json", {"type": "claude", "access_token": "  ", "accessToken": "c-at"})
    assert blank.access_token == "c-at"


@pytest.mark.parametrize("provider", ["claude", "codex"])
async def test_a_camel_case_file_is_refreshed_with_its_refresh_token(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
    provider: str,
) -> None:
    """Before, a file with only ``refreshToken`` had no refresh token to us: it was never
    refreshed and its expired access token was sent until the account failed."""
    cred = write(tmp_path, f"{provider}.json", _camel(oauth(provider, clock, 60)))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    updated = await r.refresh_now(cred)
    assert len(oauth_fake.requests) == 1 and oauth_fake.requests[0].fields.get("refresh_token") == "old-rt"
    assert updated.access_token == "at-1"
