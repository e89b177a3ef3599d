"""Where an Antigravity account without ``project_id`` is looked up and onboarded on first
use: CPA's ``FetchAntigravityProjectID`` (``internal/auth/antigravity/auth.go``) asks
``loadCodeAssist`` on the production Cloud Code host and ``onboardUser`` on the daily one,
as the native client and the sign-in do. Two fake Cloud Code servers stand for the two
hosts (the endpoint table's ``api`` and ``api-daily``, moved by the environment)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from cliproxy.formats import Format
from tests.conftest import StartProxy
from tests.e2e.clients import KEY, ask
from tests.e2e.test_antigravity_credits import FAR, CloudCode


@pytest.fixture
async def hosts(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[CloudCode, CloudCode]]:
    prod, daily = await CloudCode().start(), await CloudCode().start()
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API", prod.url)
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API_DAILY", daily.url)
    yield prod, daily
    for server in (prod, daily):
        assert server.runner is not None
        await server.runner.cleanup()


def _auth(tmp_path: Path, base_url: str = "") -> Path:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "antigravity",
        "access_token": "tok-a",
        "refresh_token": "r-tok-a",
        "expired": FAR,
        "email": "a@example.com",
    }
    if base_url:
        data["base_url"] = base_url
    path = auth_dir / "antigravity-a.json"
    path.write_bytes(orjson.dumps(data))
    return path


async def test_first_use_onboards_on_the_daily_host(
    start_proxy: StartProxy, hosts: tuple[CloudCode, CloudCode], tmp_path: Path
) -> None:
    """loadCodeAssist on production, onboardUser on daily (before: both on production),
    then the request on daily carries the onboarded project."""
    prod, daily = hosts
    path = _auth(tmp_path)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-retry: 0\n')
    answer = await ask(Format.OPENAI, proxy.url, "gemini-3-flash", "hi", stream=False)
    assert answer.text == "paid by tok-a"
    assert [p for p, _ in prod.control] == ["/v1internal:loadCodeAssist"]
    assert [p for p, _ in daily.control] == ["/v1internal:onboardUser"]
    assert daily.control[0][1]["tier_id"] == "standard-tier"
    assert [env["project"] for _, env in daily.generate] == ["onboarded-standard-tier"]
    assert orjson.loads(path.read_bytes())["project_id"] == "onboarded-standard-tier"


async def test_a_credential_base_url_keeps_both_lookups(
    start_proxy: StartProxy, hosts: tuple[CloudCode, CloudCode], tmp_path: Path
) -> None:
    """Deliberate difference: a file's own ``base_url`` (a private gateway) gets both
    lookups; CPA would still send them to Google's hosts."""
    prod, daily = hosts
    own = await CloudCode().start()
    try:
        _auth(tmp_path, own.url)
        proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-retry: 0\n')
        answer = await ask(Format.OPENAI, proxy.url, "gemini-3-flash", "hi", stream=False)
        assert answer.text == "paid by tok-a"
        assert [p for p, _ in own.control] == ["/v1internal:loadCodeAssist", "/v1internal:onboardUser"]
        assert prod.control == [] and daily.control == []
    finally:
        assert own.runner is not None
        await own.runner.cleanup()
