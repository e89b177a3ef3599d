"""Kimi sign-in by device code, end to end against the fake authorization server."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import orjson
import pytest

from cliproxy import __version__
from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.device import run_device_login
from cliproxy.credentials.login.kimi import KimiDeviceFlow
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from tests.fakes.proxies import http_proxy  # noqa: F401
from tests.login.conftest_device import *  # noqa: F403

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def login(http, fake_time, auth_dir, **kw):
    flow = KimiDeviceFlow(http, polling=fake_time.polling(**kw))
    return await run_device_login(flow, auth_dir, on_prompt=lambda _line: None)


async def test_pending_twice_then_approved_writes_cpas_file(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending", "pending"]
    before = int(datetime.now(UTC).timestamp() * 1000)
    saved = await login(http, fake_time, auth_dir)
    assert len(device_fake.polls("kimi")) == 3
    assert re.fullmatch(r"kimi-\d{13}\.json", saved.path.name)
    assert int(saved.path.name[5:-5]) >= before
    data = orjson.loads(saved.path.read_bytes())
    assert set(data) == {
        "access_token",
        "refresh_token",
        "token_type",
        "scope",
        "device_id",
        "expired",
        "type",
        "timestamp",
        "disabled",
    }
    assert data["type"] == "kimi" and data["disabled"] is False
    assert (data["access_token"], data["refresh_token"]) == ("kimi-at-1", "kimi-rt-1")
    assert (data["token_type"], data["scope"]) == ("Bearer", "kimi-code")
    assert data["expired"].endswith("Z")  # Kimi stores UTC
    expired = datetime.fromisoformat(data["expired"].replace("Z", "+00:00")).timestamp()
    assert abs(expired - (data["timestamp"] / 1000 + 3600)) < 5
    assert UUID.match(data["device_id"])


async def test_every_call_sends_kimis_client_headers_with_one_device_id(
    device_fake, http, fake_time, auth_dir
) -> None:
    device_fake.answers = ["pending"]
    saved = await login(http, fake_time, auth_dir)
    device_id = orjson.loads(saved.path.read_bytes())["device_id"]
    calls = device_fake.of("kimi", "device") + device_fake.polls("kimi")
    assert len(calls) == 3
    for call in calls:
        assert call.headers["X-Msh-Platform"] == "CLIProxyAPI"
        assert call.headers["X-Msh-Version"] == __version__
        assert call.headers["X-Msh-Device-Id"] == device_id
        assert call.headers["X-Msh-Device-Name"] == socket.gethostname()
        assert re.fullmatch(r"(Linux|macOS|Windows|\w+) \w+", call.headers["X-Msh-Device-Model"])
        assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert calls[0].fields == {"client_id": "17e5f671-d194-4dfb-9706-5516cb48c098"}
    assert calls[1].fields == {
        "client_id": "17e5f671-d194-4dfb-9706-5516cb48c098",
        "device_code": "kimi-dc-1",
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    }


async def test_start_shows_the_prefilled_page_and_code(device_fake, http, fake_time) -> None:
    started = await KimiDeviceFlow(http, polling=fake_time.polling()).start()
    assert started.flow == "device" and started.provider == "kimi"
    assert started.url == device_fake.base_url + "/device?user_code=KIMI-1234"
    assert (started.user_code, started.expires_in, started.interval) == ("KIMI-1234", 600, 5)
    assert started.secrets["device_code"] == "kimi-dc-1" and started.state
    assert "kimi-dc-1" not in repr(started)  # secrets stay out of logs


async def test_slow_down_increases_the_interval(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending", "slow_down", "pending"]
    await login(http, fake_time, auth_dir)
    assert fake_time.sleeps == [5.0, 5.0, 10.0, 10.0]


@pytest.mark.parametrize(("answer", "reason"), [("expired", "expired"), ("denied", "denied")])
async def test_terminal_answers(device_fake, http, fake_time, auth_dir, answer, reason) -> None:
    device_fake.answers = ["pending", answer]
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == reason and info.value.provider == "kimi"
    assert list(auth_dir.iterdir()) == []


async def test_the_code_lifetime_runs_out(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.code_expires_in = 12
    device_fake.answers = ["pending"] * 10
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == "expired" and len(device_fake.polls("kimi")) == 2


async def test_overall_timeout(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending"] * 10
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir, max_wait=30.0)
    assert info.value.reason == "timeout"
    assert "kimi-dc" not in info.value.message


async def test_unreachable_server_is_a_clear_error(http, fake_time, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CLIPROXY_OAUTH_KIMI_BASE", f"http://127.0.0.1:{port}")
    with pytest.raises(LoginError) as info:
        await KimiDeviceFlow(http, polling=fake_time.polling()).start()
    assert info.value.reason == "unreachable"


async def test_each_sign_in_writes_its_own_file(device_fake, http, fake_time, auth_dir) -> None:
    """Kimi names no account, so CPA writes kimi-<ms>.json per sign-in."""
    first = await login(http, fake_time, auth_dir)
    second = await login(http, fake_time, auth_dir)
    assert first.path != second.path and len(list(auth_dir.iterdir())) == 2


async def test_the_written_file_refreshes_with_rotation(device_fake, http, fake_time, auth_dir) -> None:
    saved = await login(http, fake_time, auth_dir)
    cred = load_auth_file(saved.path, auth_dir)
    assert cred is not None and cred.provider == "kimi" and cred.access_token == "kimi-at-1"
    pool = Pool()
    pool.replace([cred])
    refresher = Refresher(pool, http)
    updated = await refresher.refresh_now(cred)
    refresh = device_fake.of("kimi", "refresh")[-1]
    assert refresh.fields["refresh_token"] == "kimi-rt-1"
    assert refresh.headers["X-Msh-Device-Id"] == cred.metadata["device_id"]
    assert updated.access_token == "kimi-at-2" and updated.refresh_token == "kimi-rt-2"
    on_disk = orjson.loads(saved.path.read_bytes())
    assert (on_disk["access_token"], on_disk["refresh_token"]) == ("kimi-at-2", "kimi-rt-2")
    assert on_disk["device_id"] == cred.metadata["device_id"]
    assert "kimi-rt-1" not in device_fake.live_refresh  # the old one is spent


def test_a_file_as_cpa_writes_it_loads(tmp_path) -> None:
    """CPA's Kimi file: KimiTokenStorage merged with the login metadata, Go's sorted keys."""
    cpa = (
        b'{"access_token":"at","device_id":"0b8e5c3e-7a0c-4c3e-9d7e-1f2a3b4c5d6e","disabled":false,'
        b'"expired":"2099-01-01T00:00:00Z","refresh_token":"rt","scope":"kimi-code",'
        b'"timestamp":1767225600000,"token_type":"Bearer","type":"kimi"}\n'
    )
    path = tmp_path / "kimi-1767225600000.json"
    path.write_bytes(cpa)
    cred = load_auth_file(path, tmp_path)
    assert cred is not None and cred.provider == "kimi" and not cred.disabled
    assert (cred.access_token, cred.refresh_token) == ("at", "rt")
    assert cred.expires_at() == datetime(2099, 1, 1, tzinfo=UTC)


async def test_sign_in_goes_through_the_configured_proxy(
    device_fake,
    http,
    fake_time,
    auth_dir,
    http_proxy,  # noqa: F811
) -> None:
    flow = KimiDeviceFlow(http, proxy=http_proxy.url, polling=fake_time.polling())
    await run_device_login(flow, auth_dir, on_prompt=lambda _line: None)
    assert http_proxy.connections >= 2
    assert all(f"127.0.0.1:{device_fake.port}" in target for target in http_proxy.targets)
    relayed = http_proxy.connections
    direct = KimiDeviceFlow(http, proxy="direct", polling=fake_time.polling())
    await run_device_login(direct, auth_dir, on_prompt=lambda _line: None)
    assert http_proxy.connections == relayed  # "direct" bypasses it, as in CPA
