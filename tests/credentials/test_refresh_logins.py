"""The files our sign-ins write refresh with their provider's rules: the token URL and
client id come from the one endpoint table (``CLIPROXY_OAUTH_<P>_BASE`` points them at a
fake, no refresh-only variable needed), a rotated refresh token is on disk and in the pool
before the next refresh uses it, Kimi's five client headers go along, and OpenAI's nested
``refresh_token_reused`` error means the grant is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login import endpoints
from cliproxy.credentials.login.antigravity import AntigravityLogin
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.codex import CodexLogin
from cliproxy.credentials.login.core import save
from cliproxy.credentials.login.device import run_device_login
from cliproxy.credentials.login.kimi import KimiDeviceFlow
from cliproxy.credentials.login.xai import XAIDeviceFlow
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import Refresher, RefreshError
from cliproxy.providers.http import HttpClient
from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401
from tests.fakes.oauth_device import DeviceAuthFake
from tests.login.conftest import authorize
from tests.login.conftest_device import FakeTime


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(connect_timeout=5, first_byte_timeout=10, idle_timeout=10)
    yield client
    await client.close()


@pytest.fixture
def table_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No refresh-only URL variable: the endpoint table alone says where refreshes go."""
    for provider in ("CLAUDE", "CODEX", "ANTIGRAVITY", "KIMI", "XAI"):
        monkeypatch.delenv(f"CLIPROXY_TOKEN_URL_{provider}", raising=False)


@pytest.fixture
def signin(auth_server: AuthServerFake, monkeypatch: pytest.MonkeyPatch, table_only: None) -> AuthServerFake:  # noqa: F811
    for provider in ("CLAUDE", "CODEX", "ANTIGRAVITY"):
        monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_BASE", auth_server.base)
    auth_server.project_ready = True
    return auth_server


@pytest.fixture
async def device(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DeviceAuthFake]:
    async with DeviceAuthFake() as fake:
        fake.point_env(monkeypatch)
        for provider in ("CODEX", "KIMI"):
            monkeypatch.delenv(f"CLIPROXY_TOKEN_URL_{provider}")
        yield fake


def load(path: Path) -> Credential:
    cred = load_auth_file(path, path.parent)
    assert cred is not None
    return cred


def refreshes(fake: AuthServerFake) -> list[dict[str, Any]]:
    return [r.fields for r in fake.requests if r.fields.get("grant_type") == "refresh_token"]


async def callback_sign_in(flow: Any, auth_dir: Path) -> Path:
    started, code, state = await authorize(flow)
    name, record = await flow.finish(started, code=code, state=state)
    return save(auth_dir, name, record).path


@pytest.mark.parametrize(
    ("flow_class", "table"),
    [(ClaudeLogin, "claude"), (CodexLogin, "codex"), (AntigravityLogin, "antigravity")],
)
async def test_a_signed_in_file_refreshes_and_rotates(signin, http, tmp_path, flow_class, table):
    path = await callback_sign_in(flow_class(http), tmp_path)
    cred = load(path)
    pool = Pool()
    pool.replace([cred])
    refresher = Refresher(pool, http)

    first = await refresher.refresh_now(cred)
    on_disk = orjson.loads(path.read_bytes())
    assert first.refresh_token != cred.refresh_token
    assert (on_disk["access_token"], on_disk["refresh_token"]) == (first.access_token, first.refresh_token)
    assert pool.get(cred.id).refresh_token == first.refresh_token  # type: ignore[union-attr]

    second = await refresher.refresh_now(first)  # the fake refuses a spent token: this must be the new one
    assert [f["refresh_token"] for f in refreshes(signin)] == [cred.refresh_token, first.refresh_token]
    assert second.refresh_token == orjson.loads(path.read_bytes())["refresh_token"]
    assert {f["client_id"] for f in refreshes(signin)} == {endpoints.CLIENTS[table]["client_id"]}


async def test_a_reused_openai_refresh_token_counts_as_revoked(signin, http, tmp_path):
    """OpenAI answers 400 ``{"error": {"code": "refresh_token_reused", ...}}``."""
    cred = load(await callback_sign_in(CodexLogin(http), tmp_path))
    pool = Pool()
    pool.replace([cred])
    await Refresher(pool, http).refresh_now(cred)  # spends cred's refresh token
    stale = Pool()
    stale.replace([cred])  # another copy still holding the spent one
    with pytest.raises(RefreshError) as caught:
        await Refresher(stale, http).refresh_now(cred)
    assert caught.value.revoked and caught.value.status == 401
    assert "already been used" in caught.value.message


async def test_kimi_refresh_sends_kimis_five_client_headers(device, http, tmp_path):
    flow = KimiDeviceFlow(http, polling=FakeTime().polling())
    saved = await run_device_login(flow, tmp_path, on_prompt=lambda _line: None)
    cred = load(saved.path)
    pool = Pool()
    pool.replace([cred])
    refresher = Refresher(pool, http)
    first = await refresher.refresh_now(cred)
    await refresher.refresh_now(first)

    sign_in = device.of("kimi", "poll")[-1].headers
    calls = device.of("kimi", "refresh")
    assert [c.fields["refresh_token"] for c in calls] == [cred.refresh_token, first.refresh_token]
    for call in calls:
        for name in ("X-Msh-Platform", "X-Msh-Version", "X-Msh-Device-Name", "X-Msh-Device-Model"):
            assert call.headers[name] == sign_in[name], name
        assert call.headers["X-Msh-Device-Id"] == cred.metadata["device_id"] == sign_in["X-Msh-Device-Id"]
        assert call.fields["client_id"] == endpoints.CLIENTS["kimi"]["client_id"]


async def test_xai_refresh_goes_where_the_sign_in_went_and_rotates(device, http, tmp_path):
    """CPA: TestRefreshTokensPostsClientIDAndRefreshToken."""
    flow = XAIDeviceFlow(http, polling=FakeTime().polling())
    saved = await run_device_login(flow, tmp_path, on_prompt=lambda _line: None)
    cred = load(saved.path)
    pool = Pool()
    pool.replace([cred])
    refresher = Refresher(pool, http)
    first = await refresher.refresh_now(cred)
    await refresher.refresh_now(first)
    calls = device.of("xai", "refresh")
    assert [c.fields["refresh_token"] for c in calls] == [cred.refresh_token, first.refresh_token]
    assert {(c.fields["grant_type"], c.fields["client_id"]) for c in calls} == {
        ("refresh_token", endpoints.CLIENTS["xai"]["client_id"])
    }
    assert orjson.loads(saved.path.read_bytes())["token_endpoint"] == device.base_url + "/oauth2/token"
