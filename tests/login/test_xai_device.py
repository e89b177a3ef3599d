"""xAI sign-in: OIDC discovery with its endpoint checks, then a device code, end to end
against the fake authorization server (cases ported from CPA's xai_auth_test.go)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.device import run_device_login
from cliproxy.credentials.login.xai import XAIDeviceFlow, validate_endpoint, xai_credential, xai_file_name
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from tests.fakes.oauth_device import XAI_CLIENT, XAI_SCOPE
from tests.login.conftest_device import *  # noqa: F403

NOW = 1_800_000_000.0


async def login(http, fake_time, auth_dir, **kw):
    flow = XAIDeviceFlow(http, polling=fake_time.polling(**kw))
    return await run_device_login(flow, auth_dir, on_prompt=lambda _line: None)


def test_validate_endpoint_rejects_non_xai_origins() -> None:
    """CPA: TestValidateOAuthEndpointRejectsNonXAIOrigin."""
    assert (
        validate_endpoint("https://auth.x.ai/oauth2/token", "token_endpoint")
        == "https://auth.x.ai/oauth2/token"
    )
    assert validate_endpoint(" https://x.ai/t ", "token_endpoint") == "https://x.ai/t"
    for bad in (
        "http://auth.x.ai/oauth2/token",
        "https://evil.example/oauth/token",
        "https://x.ai.evil.example/t",
        "",
    ):
        with pytest.raises(LoginError) as info:
            validate_endpoint(bad, "token_endpoint")
        assert info.value.reason == "bad_response" and "token_endpoint" in info.value.message
    trusted = "http://127.0.0.1:9000"
    assert validate_endpoint("http://127.0.0.1:9000/oauth2/token", "t", trusted_origin=trusted)
    with pytest.raises(LoginError):
        validate_endpoint("http://127.0.0.1:9001/oauth2/token", "t", trusted_origin=trusted)


def test_file_name_is_email_then_subject_then_time() -> None:
    assert xai_file_name("user@x.ai", "sub-1", NOW) == "xai-user@x.ai.json"
    assert xai_file_name(" a b/c@x.ai ", "", NOW) == "xai-a-b-c@x.ai.json"
    assert xai_file_name("", "sub|1", NOW) == "xai-sub-1.json"
    assert xai_file_name("", "", NOW) == f"xai-{int(NOW * 1000)}.json"
    assert xai_file_name("../../etc", "", NOW) == "xai-..-..-etc.json"  # no path separators survive


def test_expiry_is_left_empty_without_expires_in() -> None:
    """CPA: TestBuildTokenDataOmitsExpireWhenExpiresInZero."""
    _, record = xai_credential({"access_token": "a", "refresh_token": "r", "expires_in": 0}, "https://t", NOW)
    assert record["expired"] == "" and record["expires_in"] == 0
    _, record = xai_credential(
        {"access_token": "a", "refresh_token": "r", "expires_in": 60}, "https://t", NOW
    )
    assert record["expired"] == "2027-01-15T08:01:00Z"


async def test_pending_then_approved_writes_cpas_file(device_fake, http, fake_time, auth_dir) -> None:
    """CPA: TestRequestDeviceCodePostsClientIDAndScope, TestPollForTokenExchangesDeviceCode."""
    device_fake.email = "user@x.ai"
    device_fake.answers = ["pending", "pending"]
    saved = await login(http, fake_time, auth_dir)
    assert saved.path.name == "xai-user@x.ai.json" and saved.account == "user@x.ai"
    assert fake_time.sleeps == [5.0, 5.0]  # xAI polls at once, then every interval
    device = device_fake.of("xai", "device")[0]
    assert device.fields == {"client_id": XAI_CLIENT, "scope": XAI_SCOPE}
    poll = device_fake.polls("xai")[0]
    assert poll.fields == {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": "xai-dc-1",
        "client_id": XAI_CLIENT,
    }
    data = orjson.loads(saved.path.read_bytes())
    assert set(data) == {
        "type",
        "access_token",
        "refresh_token",
        "id_token",
        "token_type",
        "expires_in",
        "expired",
        "last_refresh",
        "base_url",
        "token_endpoint",
        "auth_kind",
        "email",
        "sub",
        "disabled",
    }
    assert (data["type"], data["auth_kind"], data["base_url"]) == ("xai", "oauth", "https://api.x.ai/v1")
    assert (data["access_token"], data["refresh_token"], data["expires_in"]) == ("xai-at-1", "xai-rt-1", 3600)
    assert (data["email"], data["sub"]) == ("user@x.ai", "sub-1")
    assert data["token_endpoint"] == device_fake.base_url + "/oauth2/token"
    assert data["expired"].endswith("Z") and data["last_refresh"].endswith("Z")


async def test_start_uses_the_complete_verification_uri(device_fake, http, fake_time) -> None:
    started = await XAIDeviceFlow(http, polling=fake_time.polling()).start()
    assert started.url == device_fake.base_url + "/device?user_code=ABCD-1234"
    assert started.user_code == "ABCD-1234" and started.interval == 5
    assert started.secrets["token_endpoint"] == device_fake.base_url + "/oauth2/token"
    assert device_fake.of("xai", "discovery")[0].headers["Accept"] == "application/json"


async def test_slow_down_keeps_polling_more_slowly(device_fake, http, fake_time, auth_dir) -> None:
    """CPA: TestPollForTokenSlowDownContinuesPolling."""
    device_fake.answers = ["slow_down", "pending"]
    saved = await login(http, fake_time, auth_dir)
    assert orjson.loads(saved.path.read_bytes())["access_token"] == "xai-at-1"
    assert fake_time.sleeps == [10.0, 10.0] and len(device_fake.polls("xai")) == 3


async def test_access_denied(device_fake, http, fake_time, auth_dir) -> None:
    """CPA: TestPollForTokenAccessDenied."""
    device_fake.answers = ["denied"]
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == "denied" and "denied" in info.value.message
    assert list(auth_dir.iterdir()) == []


async def test_expired_code(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending", "expired"]
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir)
    assert info.value.reason == "expired"


async def test_overall_timeout(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending"] * 20
    with pytest.raises(LoginError) as info:
        await login(http, fake_time, auth_dir, max_wait=20.0)
    assert info.value.reason == "timeout"


@pytest.mark.parametrize(
    "doc",
    [
        {
            "device_authorization_endpoint": "https://evil.example/device",
            "token_endpoint": "https://auth.x.ai/t",
        },
        {"device_authorization_endpoint": "DEVICE", "token_endpoint": "http://127.0.0.1:1/oauth2/token"},
        {"device_authorization_endpoint": "DEVICE"},
    ],
    ids=["device-off-xai", "token-on-another-origin", "token-missing"],
)
async def test_discovery_that_points_elsewhere_is_refused(device_fake, http, fake_time, doc) -> None:
    device = device_fake.base_url + "/oauth2/device/code"
    device_fake.discovery = {k: (device if v == "DEVICE" else v) for k, v in doc.items()}
    with pytest.raises(LoginError) as info:
        await XAIDeviceFlow(http, polling=fake_time.polling()).start()
    assert info.value.reason == "bad_response" and "xai discovery" in info.value.message
    assert device_fake.of("xai", "device") == []  # nothing was sent to the suspicious endpoint


async def test_second_sign_in_replaces_the_file_and_keeps_user_keys(
    device_fake, http, fake_time, auth_dir
) -> None:
    first = await login(http, fake_time, auth_dir)
    data = orjson.loads(first.path.read_bytes())
    first.path.write_bytes(orjson.dumps({**data, "prefix": "team", "proxy_url": "direct"}))
    second = await login(http, fake_time, auth_dir)
    assert second.path == first.path and [p.name for p in auth_dir.iterdir()] == [first.path.name]
    again = orjson.loads(second.path.read_bytes())
    assert again["access_token"] == "xai-at-2" and again["refresh_token"] == "xai-rt-2"
    assert (again["prefix"], again["proxy_url"]) == ("team", "direct")


async def test_the_written_file_refreshes_at_its_token_endpoint(
    device_fake, http, fake_time, auth_dir
) -> None:
    saved = await login(http, fake_time, auth_dir)
    cred = load_auth_file(saved.path, auth_dir)
    assert cred is not None and cred.provider == "xai" and cred.email == "user@example.com"
    pool = Pool()
    pool.replace([cred])
    updated = await Refresher(pool, http).refresh_now(cred)  # no URL given: the file's token_endpoint
    refresh = device_fake.of("xai", "refresh")[-1]
    assert refresh.fields == {
        "client_id": XAI_CLIENT,
        "grant_type": "refresh_token",
        "refresh_token": "xai-rt-1",
    }
    assert (updated.access_token, updated.refresh_token) == ("xai-at-2", "xai-rt-2")
    on_disk = orjson.loads(saved.path.read_bytes())
    assert (on_disk["access_token"], on_disk["refresh_token"]) == ("xai-at-2", "xai-rt-2")
    assert on_disk["token_endpoint"] == device_fake.base_url + "/oauth2/token"


def test_a_file_as_cpa_writes_it_loads(tmp_path) -> None:
    cpa = {
        "access_token": "at",
        "auth_kind": "oauth",
        "base_url": "https://api.x.ai/v1",
        "disabled": False,
        "email": "user@x.ai",
        "expired": "2099-01-01T00:00:00Z",
        "expires_in": 3600,
        "id_token": "",
        "last_refresh": "2026-01-01T00:00:00Z",
        "refresh_token": "rt",
        "sub": "sub-1",
        "token_endpoint": "https://auth.x.ai/oauth2/token",
        "token_type": "Bearer",
        "type": "xai",
    }
    path = tmp_path / "xai-user@x.ai.json"
    path.write_bytes(orjson.dumps(cpa, option=orjson.OPT_INDENT_2))
    cred = load_auth_file(path, tmp_path)
    assert cred is not None and cred.provider == "xai" and cred.email == "user@x.ai"
    assert (cred.access_token, cred.refresh_token, cred.base_url) == ("at", "rt", "https://api.x.ai/v1")
    assert cred.expires_at() == datetime(2099, 1, 1, tzinfo=UTC)
