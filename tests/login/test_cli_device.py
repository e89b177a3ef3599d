"""Device-code sign-ins from the command line (``-codex-device-login``, ``-kimi-login``,
``-xai-login``), run as real processes against the fake device authorization server.
The fake answers "pending" (or "slow_down") a few polls, then approves; the test sets
``CLIPROXY_LOGIN_POLL_INTERVAL`` so the command does not wait the real 5 s intervals."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import orjson
import pytest

from tests.fakes.oauth_device import DeviceAuthFake
from tests.login.test_cli import cli_env, clis, fake_browser, write_config  # noqa: F401

EMAIL = "user@example.com"
# flag -> (provider in the file, the code the user types, file name pattern, a model it brings)
DEVICE_LOGINS = {
    "codex-device": (
        "codex",
        "CODX-5678",
        re.escape(f"codex-{hashlib.sha256(b'acct-1').hexdigest()[:8]}-{EMAIL}-plus.json"),
        "gpt-5.4",
    ),
    "kimi": ("kimi", "KIMI-1234", r"kimi-\d{13}\.json", "kimi-k2"),
    "xai": ("xai", "ABCD-1234", re.escape(f"xai-{EMAIL}.json"), "grok-4.6"),
}


@pytest.fixture
async def device() -> AsyncIterator[DeviceAuthFake]:
    async with DeviceAuthFake(interval=1) as fake:
        yield fake


def device_env(fake: DeviceAuthFake) -> dict[str, str]:
    return cli_env(
        CLIPROXY_LOGIN_POLL_INTERVAL="0.02",
        **{f"CLIPROXY_OAUTH_{p}_BASE": fake.base_url for p in ("CODEX", "KIMI", "XAI")},
    )


async def device_login(clis, device, tmp_path, login: str):  # noqa: F811
    cli = await clis(
        f"-{login}-login", "-config", str(write_config(tmp_path)), cwd=tmp_path, env=device_env(device)
    )
    page = (await cli.wait_for(re.compile(r"open: (http\S+)"))).group(1)
    code, out, err = await cli.finish()
    return code, out, err, page


@pytest.mark.parametrize("login", list(DEVICE_LOGINS))
async def test_device_login_shows_page_and_code_then_writes_the_file(
    login,
    clis,  # noqa: F811
    device,
    tmp_path,
) -> None:
    provider, user_code, name, model = DEVICE_LOGINS[login]
    device.answers = ["pending", "slow_down", "pending"]
    code, out, err, page = await device_login(clis, device, tmp_path, login)
    assert code == 0, err
    assert page.startswith(device.base_url)
    assert f"enter the code: {user_code}" in out
    assert len(device.polls(provider)) == 4  # three "not yet", then approved
    [path] = (tmp_path / "auths").iterdir()
    assert re.fullmatch(name, path.name)
    data = orjson.loads(path.read_bytes())
    assert data["type"] == provider and data["access_token"].startswith(f"{provider}-at-")
    assert f"Saved {path}" in out
    account = EMAIL if provider != "kimi" else path.stem  # Kimi names no account: the file does
    assert f"as {account}" in out
    models = next(line for line in out.splitlines() if line.startswith("Models: "))
    assert model in models
    assert f"{provider}-at-" not in out + err and f"{provider}-rt-" not in out + err


@pytest.mark.parametrize(("answer", "reason"), [("denied", "denied"), ("expired", "expired")])
async def test_device_login_refused_exits_1_with_one_line(
    answer,
    reason,
    clis,  # noqa: F811
    device,
    tmp_path,
) -> None:
    device.answers = ["pending", answer]
    code, _out, err, _page = await device_login(clis, device, tmp_path, "kimi")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("cliproxy: Kimi sign-in failed:") and reason in line
    assert not (tmp_path / "auths").exists() or not list((tmp_path / "auths").iterdir())


async def test_a_second_xai_login_replaces_the_file(clis, device, tmp_path) -> None:  # noqa: F811
    for _ in range(2):
        code, _out, err, _page = await device_login(clis, device, tmp_path, "xai")
        assert code == 0, err
    [path] = (tmp_path / "auths").iterdir()
    assert orjson.loads(path.read_bytes())["access_token"] == "xai-at-2"


async def test_a_device_login_opens_the_page_in_the_browser(clis, device, tmp_path) -> None:  # noqa: F811
    display, opened = fake_browser(tmp_path)
    cli = await clis(
        "-xai-login",
        "-config",
        str(write_config(tmp_path)),
        cwd=tmp_path,
        env={**device_env(device), **display},
    )
    page = (await cli.wait_for(re.compile(r"open: (http\S+)"))).group(1)
    code, _out, err = await cli.finish()
    assert code == 0, err
    assert opened.read_text().split() == [page]
