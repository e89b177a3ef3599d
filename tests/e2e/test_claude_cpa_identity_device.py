"""CPA's claude_device_profile_test.go legacy cases (``stabilize-device-profile`` off):
the software a Claude request names upstream, through the proxy into the fake Anthropic
upstream. The pinned (stabilized) cases are in tests/providers/test_claude_identity_device.py
and tests/e2e/test_claude_cloak_device.py."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import orjson
import pytest

from cliproxy.providers import claude_device
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import CAPTURE_BODY, CAPTURE_DEFAULTS, CAPTURE_HEADERS


def config(base_url: str) -> str:
    """A subscription token (it always wears Claude Code's fingerprint), pins off."""
    return f"""
api-keys: ["{KEY}"]
{CAPTURE_DEFAULTS.rstrip()}
  stabilize-device-profile: false
claude-api-key:
  - api-key: "sk-ant-oat01-device"
    base-url: "{base_url}"
    models:
      - name: "claude-opus-5-5"
        thinking: {{levels: [low, medium, high, max]}}  # its own: a model the catalog lacks thinks
"""


@pytest.fixture(autouse=True)
def _fresh_pins() -> Iterator[None]:
    claude_device.reset()
    yield
    claude_device.reset()


async def software(proxy, fake, ua: str, package: str, runtime: str) -> tuple[str, str, str]:
    """(User-Agent, package version, runtime version) the upstream got for a Claude Code
    request naming this software."""
    headers = {
        **CAPTURE_HEADERS,
        "user-agent": ua,
        "x-stainless-package-version": package,
        "x-stainless-runtime-version": runtime,
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages?beta=true", data=orjson.dumps(CAPTURE_BODY), headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
    got = fake.requests[-1].headers
    return got["User-Agent"], got["X-Stainless-Package-Version"], got["X-Stainless-Runtime-Version"]


async def test_unmeasured_software_is_replaced_by_the_baseline(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeLegacyDeviceHeadersReplacesInvalidNativeSoftwareSignals."""
    proxy = await start_proxy(config(fake_claude.base_url))
    got = await software(proxy, fake_claude, "claude-cli/999.0.0 (external, cli)", "999.0.0", "v999.0.0")
    assert got == ("claude-cli/2.1.330 (external, sdk-cli)", "0.128.0", "v26.12.1")  # the configured baseline


async def test_the_configured_measured_baseline_is_kept(start_proxy, fake_claude) -> None:
    """CPA: TestApplyClaudeLegacyDeviceHeadersAcceptsConfiguredMeasuredBaseline (a client at
    the version ``claude-header-defaults`` names, not the built-in one)."""
    proxy = await start_proxy(config(fake_claude.base_url))
    ua = "claude-cli/2.1.330 (external, cli)"
    assert await software(proxy, fake_claude, ua, "0.128.0", "v26.12.1") == (ua, "0.128.0", "v26.12.1")
