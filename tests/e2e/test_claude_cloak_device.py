"""``claude-header-defaults.stabilize-device-profile``: a real Claude Code's software
profile is pinned per credential (and per Claude Code entrypoint) and its platform is the
configured baseline's, as CPA does; through the proxy into the fake Anthropic upstream."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import orjson
import pytest

from cliproxy.providers import claude_device
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import CAPTURE_BODY, CAPTURE_DEFAULTS, CAPTURE_HEADERS

CLI_UA = "claude-cli/2.1.330 (external, sdk-cli)"
SDK_UA = "claude-cli/2.1.330 (external, sdk-cli, agent-sdk/0.2.1)"
VSCODE_UA = "claude-cli/2.1.330 (external, claude-vscode, agent-sdk/0.3.220)"


@pytest.fixture(autouse=True)
def _fresh_pins() -> Iterator[None]:
    claude_device.reset()  # pins live for the process; each test starts without any
    yield
    claude_device.reset()


def _config(fake_url: str, stabilize: str) -> str:
    return f"""
api-keys: ["{KEY}"]
{CAPTURE_DEFAULTS.rstrip()}
  stabilize-device-profile: {stabilize}
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_url}"
    models:
      - name: "claude-opus-5-5"
        thinking: {{levels: [low, medium, high, max]}}  # its own: a model the catalog lacks thinks
"""


async def _post(proxy, fake, user_agent: str = CLI_UA):
    headers = {**CAPTURE_HEADERS, "user-agent": user_agent}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/messages?beta=true", data=orjson.dumps(CAPTURE_BODY), headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
    return [r for r in fake.requests if r.path == "/v1/messages"][-1]


async def test_stabilized_profile_pins_the_platform_to_the_baseline(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeHeaders_ThirdPartyBaselineThenOfficialUpgradeKeepsPinnedPlatform."""
    proxy = await start_proxy(_config(fake_claude.base_url, "true"))
    rec = await _post(proxy, fake_claude)
    assert CAPTURE_HEADERS["x-stainless-os"] == "Linux"  # what the client sent
    assert rec.headers["X-Stainless-Os"] == "MacOS" and rec.headers["X-Stainless-Arch"] == "arm64"
    assert rec.headers["User-Agent"] == CLI_UA  # a measured client keeps its own User-Agent
    assert rec.headers["X-Stainless-Package-Version"] == "0.128.0"
    assert rec.headers["X-Stainless-Runtime-Version"] == "v26.12.1"
    assert rec.body == orjson.dumps(CAPTURE_BODY)  # the body is still the client's


async def test_without_stabilizing_the_client_keeps_its_platform(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeHeaders_DisableDeviceProfileStabilization."""
    proxy = await start_proxy(_config(fake_claude.base_url, "false"))
    rec = await _post(proxy, fake_claude, SDK_UA)
    assert rec.headers["X-Stainless-Os"] == "Linux" and rec.headers["X-Stainless-Arch"] == "x64"
    assert rec.headers["User-Agent"] == SDK_UA


async def test_the_first_profile_seen_is_kept_per_credential_and_entrypoint(start_proxy, fake_claude) -> None:
    # CPA TestResolveClaudeDeviceProfileSeparatesVSCodeAgentSDKFromCLI
    """CPA: TestClaudeExecutor_ConfirmedVSCodeAgentSDKRequestPreservesIdentity."""
    proxy = await start_proxy(_config(fake_claude.base_url, "true"))
    assert (await _post(proxy, fake_claude, CLI_UA)).headers["User-Agent"] == CLI_UA
    # same entrypoint, another User-Agent string: the pinned one is sent
    assert (await _post(proxy, fake_claude, SDK_UA)).headers["User-Agent"] == CLI_UA
    # another entrypoint (VS Code) has a profile of its own and does not replace the CLI's
    assert (await _post(proxy, fake_claude, VSCODE_UA)).headers["User-Agent"] == VSCODE_UA
    assert (await _post(proxy, fake_claude, SDK_UA)).headers["User-Agent"] == CLI_UA


async def test_a_credentials_headers_win_over_the_stabilized_baseline(start_proxy, fake_claude) -> None:
    """CPA TestApplyClaudeHeaders_UsesConfiguredBaselineFingerprint: a cloaked request from
    another client (curl) with stabilizing on gets the configured baseline, but the
    credential's own ``headers:`` (User-Agent, OS, arch, package version) have the last
    word; the runtime version and the timeout come from ``claude-header-defaults``."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-header-defaults:
  user-agent: "claude-cli/2.1.70 (external, cli)"
  package-version: "0.80.0"
  runtime-version: "v24.5.0"
  os: "MacOS"
  arch: "arm64"
  timeout: "900"
  stabilize-device-profile: true
claude-api-key:
  - api-key: "key-baseline"
    base-url: "{fake_claude.base_url}"
    cloak: {{mode: always}}
    headers:
      User-Agent: "evil-client/9.9"
      X-Stainless-Os: "Linux"
      X-Stainless-Arch: "x64"
      X-Stainless-Package-Version: "9.9.9"
    models:
      - name: "claude-opus-5-5"
        thinking: {{levels: [low, medium, high, max]}}  # its own: a model the catalog lacks thinks
"""
    proxy = await start_proxy(cfg)
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "user-agent": "curl/8.7.1"}
    body = {"model": "claude-opus-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
    rec = [r for r in fake_claude.requests if r.path == "/v1/messages"][-1]
    got = {name.lower(): value for name, value in rec.headers.items()}
    assert got["user-agent"] == "evil-client/9.9"
    assert got["x-stainless-package-version"] == "9.9.9"
    assert got["x-stainless-runtime-version"] == "v24.5.0"
    assert (got["x-stainless-os"], got["x-stainless-arch"]) == ("Linux", "x64")
    assert got["x-stainless-timeout"] == "900"
    assert len(rec.headers.getall("User-Agent")) == 1
