"""ChatGPT / Codex sign-in by device code: user code, polling (403 while pending), the code
exchange with the device redirect URI, and CPA's file, against the fake server."""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.codex_device import CodexDeviceFlow, codex_credential, codex_file_name
from cliproxy.credentials.login.device import run_device_login
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher, RefreshError
from tests.fakes.oauth_device import CODEX_CLIENT, fake_id_token
from tests.login.conftest_device import *  # noqa: F403

HASH = hashlib.sha256(b"acct-1").hexdigest()[:8]


async def login(http, fake_time, auth_dir, **kw):
    flow = CodexDeviceFlow(http, polling=fake_time.polling(**kw))
    return await run_device_login(flow, auth_dir, on_prompt=lambda _line: None)


@pytest.mark.parametrize(
    ("email", "plan", "account_hash", "want"),
    [
        ("user@example.com", "team", "abc12345", "codex-abc12345-user@example.com-team.json"),
        ("user@example.com", "k12", "def67890", "codex-def67890-user@example.com-k12.json"),
        ("user@example.com", "k12", "", "codex-user@example.com-k12.json"),
        (" user@example.com ", "Plus", " abc12345 ", "codex-abc12345-user@example.com-plus.json"),
        ("user@example.com", "plus", "", "codex-user@example.com-plus.json"),
        ("user@example.com", " Team Plan ", "abc12345", "codex-abc12345-user@example.com-team-plan.json"),
        ("user@example.com", "", "abc12345", "codex-abc12345-user@example.com.json"),
        ("user@example.com", "", "", "codex-user@example.com.json"),
    ],
)
def test_file_name_as_cpa(email: str, plan: str, account_hash: str, want: str) -> None:
    assert codex_file_name(email, plan, account_hash) == want


def test_an_id_token_without_email_is_refused() -> None:
    with pytest.raises(LoginError) as info:
        codex_credential({"access_token": "a", "id_token": fake_id_token({"sub": "x"})}, 0.0)
    assert info.value.reason == "bad_response"


async def test_pending_twice_then_approved_writes_cpas_file(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending", "pending"]
    saved = await login(http, fake_time, auth_dir)
    assert saved.path.name == f"codex-{HASH}-user@example.com-plus.json"
    assert saved.account == "user@example.com" and saved.provider == "codex"
    assert device_fake.of("codex", "device")[0].fields == {"client_id": CODEX_CLIENT}
    polls = device_fake.polls("codex")
    assert len(polls) == 3 and fake_time.sleeps == [5.0, 5.0]
    assert polls[0].fields == {"device_auth_id": "deviceauth-1", "user_code": "CODX-5678"}
    assert polls[0].headers["Content-Type"] == "application/json"
    exchange = device_fake.of("codex", "exchange")[0]
    assert exchange.fields["grant_type"] == "authorization_code"
    assert exchange.fields["redirect_uri"] == device_fake.base_url + "/deviceauth/callback"
    assert exchange.fields["client_id"] == CODEX_CLIENT
    data = orjson.loads(saved.path.read_bytes())
    assert set(data) == {
        "id_token",
        "access_token",
        "refresh_token",
        "account_id",
        "last_refresh",
        "email",
        "type",
        "expired",
        "disabled",
    }
    assert (data["type"], data["email"], data["account_id"]) == ("codex", "user@example.com", "acct-1")
    assert (data["access_token"], data["refresh_token"]) == ("codex-at-1", "codex-rt-1")
    expired = datetime.fromisoformat(data["expired"]).timestamp()
    refreshed = datetime.fromisoformat(data["last_refresh"]).timestamp()
    assert abs(expired - refreshed - 3600) < 5


async def test_start_shows_the_device_page(device_fake, http, fake_time) -> None:
    started = await CodexDeviceFlow(http, polling=fake_time.polling()).start()
    assert started.url == device_fake.base_url + "/codex/device"
    assert (started.user_code, started.interval, started.flow) == ("CODX-5678", 5.0, "device")


async def test_the_interval_comes_as_a_string(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.interval = 7
    device_fake.answers = ["pending"]
    await login(http, fake_time, auth_dir)
    assert fake_time.sleeps == [7.0]


@pytest.mark.parametrize(("answer", "reason"), [("expired", "expired"), ("denied", "denied")])
async def test_terminal_answers(device_fake, http, fake_time, auth_dir, answer, reason) -> None:
    device_fake.answers = ["pending", answer]
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == reason
    assert device_fake.of("codex", "exchange") == [] and list(auth_dir.iterdir()) == []


async def test_slow_down_increases_the_interval(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["slow_down", "pending"]
    await login(http, fake_time, auth_dir)
    assert fake_time.sleeps == [10.0, 10.0]


async def test_overall_timeout_is_fifteen_minutes(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending"] * 200
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == "timeout"
    assert sum(fake_time.sleeps) == pytest.approx(900.0)


async def test_a_refused_exchange_is_exchange_failed(
    device_fake, http, fake_time, auth_dir, monkeypatch
) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_DEVICE_REDIRECT", "https://elsewhere.example/cb")
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == "exchange_failed" and "redirect_uri mismatch" in info.value.message
    assert list(auth_dir.iterdir()) == []


async def test_second_sign_in_replaces_the_file(device_fake, http, fake_time, auth_dir) -> None:
    first = await login(http, fake_time, auth_dir)
    data = orjson.loads(first.path.read_bytes())
    first.path.write_bytes(orjson.dumps({**data, "disabled": True, "note": "mine"}))
    second = await login(http, fake_time, auth_dir)
    assert [p.name for p in auth_dir.iterdir()] == [first.path.name]
    again = orjson.loads(second.path.read_bytes())
    assert again["access_token"] == "codex-at-2" and again["note"] == "mine"
    assert again["disabled"] is False  # a new sign-in enables the account, as CPA's store does


async def test_the_written_file_refreshes_with_rotation(device_fake, http, fake_time, auth_dir) -> None:
    saved = await login(http, fake_time, auth_dir)
    cred = load_auth_file(saved.path, auth_dir)
    assert cred is not None and cred.provider == "codex" and cred.email == "user@example.com"
    pool = Pool()
    pool.replace([cred])
    updated = await Refresher(pool, http).refresh_now(cred)
    refresh = device_fake.of("codex", "refresh")[-1]
    assert refresh.fields["refresh_token"] == "codex-rt-1" and refresh.fields["client_id"] == CODEX_CLIENT
    assert (updated.access_token, updated.refresh_token) == ("codex-at-2", "codex-rt-2")
    on_disk = orjson.loads(saved.path.read_bytes())
    assert (on_disk["refresh_token"], on_disk["account_id"]) == ("codex-rt-2", "acct-1")
    with pytest.raises(RefreshError) as info:  # the spent token is refused by the server
        await Refresher(Pool(), http).refresh_now(cred)
    assert info.value.revoked


def test_a_file_as_cpa_writes_it_loads(tmp_path) -> None:
    claims = {"email": "user@example.com", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-1"}}
    cpa = (
        b'{"access_token":"at","account_id":"acct-1","disabled":false,"email":"user@example.com",'
        b'"expired":"2099-01-01T08:00:00+08:00","id_token":"' + fake_id_token(claims).encode() + b'",'
        b'"last_refresh":"2026-01-01T08:00:00+08:00","refresh_token":"rt","type":"codex"}\n'
    )
    path = tmp_path / f"codex-{HASH}-user@example.com-plus.json"
    path.write_bytes(cpa)
    cred = load_auth_file(path, tmp_path)
    assert cred is not None and cred.provider == "codex" and cred.email == "user@example.com"
    assert (cred.access_token, cred.refresh_token) == ("at", "rt")
    assert cred.expires_at() is not None and cred.expires_at().isoformat() == "2099-01-01T08:00:00+08:00"


async def test_the_usercode_spelling(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.usercode_key = "usercode"
    saved = await login(http, fake_time, auth_dir)
    assert device_fake.polls("codex")[0].fields["user_code"] == "CODX-5678"
    assert saved.path.exists()
