"""CPA's stabilized device-profile sequences (claude_executor_test.go), with their own
inputs, on :func:`cliproxy.providers.claude_device.resolve`: the existing port
(test_claude_identity_device.py) folds them into one 999.0.0 case; these pin each
sequence CPA asserts, request by request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cliproxy.providers import claude_device
from cliproxy.providers.claude_device import Software
from cliproxy.providers.claude_identity import DeviceProfile

OLD = DeviceProfile(
    user_agent="claude-cli/2.1.70 (external, cli)", package_version="0.80.0", runtime_version="v24.5.0"
)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    claude_device.reset()
    yield
    claude_device.reset()


def sent(ua: str, package: str, runtime: str, os: str = "Linux", arch: str = "x64") -> dict[str, str]:
    return {
        "user-agent": ua,
        "x-stainless-package-version": package,
        "x-stainless-runtime-version": runtime,
        "x-stainless-os": os,
        "x-stainless-arch": arch,
    }


def of(p: DeviceProfile) -> Software:
    return Software(p.user_agent, p.package_version, p.runtime_version, p.os, p.arch)


CURL = sent("curl/8.7.1", "0.10.0", "v18.0.0")


def test_an_unmeasured_claude_client_never_moves_the_baseline() -> None:
    """CPA: TestApplyClaudeHeaders_RejectsUnmeasuredClaudeCLIFingerprints: older, newer,
    lower, and a third-party client in between all get the configured baseline."""
    p = DeviceProfile(
        user_agent="claude-cli/2.1.60 (external, cli)", package_version="0.70.0", runtime_version="v22.0.0"
    )
    steps = [
        (sent("claude-cli/2.1.62 (external, cli)", "0.74.0", "v24.3.0"), True),
        (sent("lobe-chat/1.0", "0.10.0", "v18.0.0", "Windows"), False),
        (sent("claude-cli/2.1.63 (external, cli)", "0.75.0", "v24.4.0", "MacOS", "arm64"), True),
        (sent("claude-cli/2.1.61 (external, cli)", "0.73.0", "v24.2.0", "Windows"), True),
    ]
    for headers, confirmed in steps:
        assert claude_device.resolve("auth-upgrade", headers, p, confirmed=confirmed) == of(p)


def test_the_first_claude_client_does_not_downgrade_the_baseline() -> None:
    """CPA: TestApplyClaudeHeaders_DoesNotDowngradeConfiguredBaselineOnFirstClaudeClient."""
    for headers in (
        sent("claude-cli/2.1.62 (external, cli)", "0.74.0", "v24.3.0"),
        sent("claude-cli/2.1.71 (external, cli)", "0.81.0", "v24.6.0"),
    ):
        assert claude_device.resolve("auth-baseline-floor", headers, OLD, confirmed=True) == of(OLD)


def test_a_custom_baseline_is_kept_after_an_official_client() -> None:
    """CPA: TestApplyClaudeHeaders_LearnsOfficialFingerprintAfterCustomBaselineFallback."""
    p = DeviceProfile(
        user_agent="my-gateway/1.0", package_version="custom-pkg", runtime_version="custom-runtime"
    )
    official = sent("claude-cli/2.1.77 (external, cli)", "0.87.0", "v24.8.0")
    for headers, confirmed in ((CURL, False), (official, True), (CURL, False)):
        assert claude_device.resolve("auth-custom", headers, p, confirmed=confirmed) == of(p)


def test_a_reloaded_newer_baseline_replaces_the_pinned_software() -> None:
    """CPA: TestApplyClaudeHeaders_UpgradesCachedSoftwareFingerprintWhenBaselineAdvances."""
    new = DeviceProfile(
        user_agent="claude-cli/2.1.77 (external, cli)", package_version="0.87.0", runtime_version="v24.8.0"
    )
    official = sent("claude-cli/2.1.71 (external, cli)", "0.81.0", "v24.6.0")
    assert claude_device.resolve("auth-reload", official, OLD, confirmed=True) == of(OLD)
    assert claude_device.resolve("auth-reload", CURL, new, confirmed=False) == of(new)
    # (and a Claude client of the credential after the reload: the pin renormalized)
    assert claude_device.resolve("auth-reload", official, new, confirmed=True) == of(new)
