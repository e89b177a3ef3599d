"""The pinned device profile of ``stabilize-device-profile`` (CPA's claude_device_profile
cases: baseline for unmeasured software, per-entrypoint pins, the pin reused, renormalized)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cliproxy.providers import claude_device
from cliproxy.providers.claude_identity import DeviceProfile

BASE = DeviceProfile()  # claude-cli/2.1.220, 0.94.0, v26.3.0, MacOS, arm64


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    claude_device.reset()
    yield
    claude_device.reset()


def headers(ua: str, package: str = "0.94.0", runtime: str = "v26.3.0") -> dict[str, str]:
    return {
        "user-agent": ua,
        "x-stainless-package-version": package,
        "x-stainless-runtime-version": runtime,
        "x-stainless-os": "Windows",
        "x-stainless-arch": "x64",
    }


def test_unmeasured_software_gets_the_baseline() -> None:
    """CPA: TestApplyClaudeHeaders_RejectsUnmeasuredClaudeCLIFingerprints,
    TestApplyClaudeHeaders_DoesNotDowngradeConfiguredBaselineOnFirstClaudeClient,
    TestApplyClaudeHeaders_LearnsOfficialFingerprintAfterCustomBaselineFallback.
    CPA: TestResolveClaudeDeviceProfileLocalUsesBaselineForInvalidSignals.
    """
    got = claude_device.resolve(
        "a1", headers("claude-cli/999.0.0 (external, cli)", "999.0.0", "v999.0.0"), BASE, confirmed=True
    )
    assert (got.user_agent, got.package_version, got.runtime_version) == (
        BASE.user_agent,
        BASE.package_version,
        BASE.runtime_version,
    )


def test_a_client_at_the_baseline_keeps_its_software_but_not_its_platform() -> None:
    """CPA: TestApplyClaudeHeaders_ThirdPartyBaselineThenOfficialUpgradeKeepsPinnedPlatform.
    CPA: TestResolveClaudeDeviceProfilePreservesConfirmedClientAtBaselineVersion."""
    got = claude_device.resolve("a1", headers("claude-cli/2.1.220 (external, cli)"), BASE, confirmed=True)
    assert got == claude_device.Software(
        "claude-cli/2.1.220 (external, cli)", "0.94.0", "v26.3.0", "MacOS", "arm64"
    )


def test_an_unconfirmed_client_gets_the_baseline_and_pins_nothing() -> None:
    ua = "claude-cli/2.1.220 (external, sdk-cli)"
    assert claude_device.resolve("a1", headers(ua), BASE, confirmed=False).user_agent == BASE.user_agent
    assert claude_device.resolve("a1", headers(ua), BASE, confirmed=True).user_agent == ua


def test_vscode_is_pinned_apart_from_the_cli() -> None:
    """CPA: TestResolveClaudeDeviceProfileSeparatesVSCodeAgentSDKFromCLI."""
    cli = "claude-cli/2.1.220 (external, cli)"
    vscode = "claude-cli/2.1.220 (external, claude-vscode, agent-sdk/0.3.220)"
    assert claude_device.resolve("a1", headers(cli), BASE, confirmed=True).user_agent == cli
    assert claude_device.resolve("a1", headers(vscode), BASE, confirmed=True).user_agent == vscode
    assert claude_device.resolve("a1", headers(cli), BASE, confirmed=True).user_agent == cli
    # another credential pins its own
    other = "claude-cli/2.1.220 (external, cli, agent-sdk/0.2.0)"
    assert claude_device.resolve("a2", headers(other), BASE, confirmed=True).user_agent == other
    assert claude_device.resolve("a1", headers(other), BASE, confirmed=True).user_agent == cli


def test_a_request_without_an_acceptable_profile_reuses_the_pin() -> None:
    """CPA: TestResolveClaudeDeviceProfileRequiredNonHomeKeepsLocalCache (the pin is
    local: no shared store)."""
    first = claude_device.resolve(
        "a1", headers("claude-cli/2.1.220 (external, cli, agent-sdk/0.2.0)"), BASE, confirmed=True
    )
    again = claude_device.resolve(
        "a1", headers("claude-cli/2.1.220 (external, cli)", package="0.93.0"), BASE, confirmed=True
    )
    assert again == first


def test_a_pin_from_an_older_baseline_is_renormalized() -> None:
    """CPA: TestApplyClaudeHeaders_UpgradesCachedSoftwareFingerprintWhenBaselineAdvances."""
    claude_device.resolve("a1", headers("claude-cli/2.1.220 (external, cli)"), BASE, confirmed=True)
    newer = DeviceProfile(
        user_agent="claude-cli/2.1.300 (external, cli)", package_version="0.99.0", os="Linux"
    )
    got = claude_device.resolve("a1", {}, newer, confirmed=True)
    assert got == claude_device.Software(
        "claude-cli/2.1.300 (external, cli)", "0.99.0", "v26.3.0", "Linux", "arm64"
    )
