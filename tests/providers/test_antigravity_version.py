"""CPA internal/misc/antigravity_version_test.go: the client version and user agents an
Antigravity account reports.

Deliberate difference, for the whole file: CPA refreshes the version every six hours from
the Antigravity Hub's update manifest (TestFetchAntigravityLatestVersionUsesHubManifest,
TestFetchAntigravityLatestVersionReturnsHubManifestError); cliproxy reports CPA's fallback
version, always (no background call to Google's updater at start-up, and one version for
every worker process). Not applicable: TestAntigravityVersionFromUserAgentParsesHubFamily,
TestAntigravityVersionFromUserAgentParsesLegacyFamily: CPA parses only its own default user
agent that way (for the sign-in's onboardUser ``ide_version``), so the version reported is
the one above, as here.
"""

from __future__ import annotations

from cliproxy.credentials.login import antigravity as login
from cliproxy.providers import antigravity


def test_the_version_is_cpas_fallback_and_meets_the_backend_floor() -> None:
    """CPA: TestAntigravityLatestVersionUsesCurrentHubFallback,
    TestAntigravityFallbackVersionMeetsBackendFloor: Cloud Code resolves newer models only
    for clients reporting at least 2.9.0 (older ones get 404 Requested entity was not found)."""
    assert antigravity.DEFAULT_VERSION == login.VERSION == "2.9.1"
    major, minor, _patch = (int(n) for n in login.VERSION.split("."))
    assert (major, minor) >= (2, 9)


def test_user_agents_are_of_the_hub_family() -> None:
    """CPA: TestAntigravityUserAgentUsesHubFamily, TestAntigravityOnboardUserUserAgentUsesLongUA:
    requests and loadCodeAssist send the short hub form, onboardUser the long one. (An
    account's own user agent is in test_antigravity_user_agent.py; the default on a request
    through the proxy in tests/e2e/test_provider_identity.py.)"""
    short = "antigravity/hub/2.9.1 darwin/arm64"
    long = f"{short} google-api-nodejs-client/10.3.0"
    sent = (antigravity.DEFAULT_USER_AGENT, login.USER_AGENT, login.ONBOARD_USER_AGENT)
    assert sent == (short, short, long)
