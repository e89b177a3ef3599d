"""CPA's measured Claude Code Haiku helper profile, ported from
``internal/runtime/executor/helps/claude_client_detection_test.go`` (the helper tests:
TestDetectClaudeCodeRequestRecognizesMeasuredHaikuHelpers, ...RejectsMalformedStructuredHaikuHelpers,
...RejectsNearMissHaikuHelpers, ...AcceptsHelperSubagentParentSessionID,
...RejectsHelperIdentityWithUnknownKeys, ...AcceptsHelperFromNonBaselinePlatform,
...RejectsHelperWithoutPlatformHeaders, ...RejectsHelperWithForeignSoftwareTuple,
TestMeasuredHelperProfileIgnoresConfiguredStainlessTimeout) onto ``claude_helper.detect``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.providers import claude_helper as helper
from cliproxy.providers import claude_identity as ident

SESSION = "11111111-2222-4333-8444-555555555555"
USER_ID = orjson.dumps(
    {"device_id": "0" * 64, "account_uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "session_id": SESSION}
).decode()
PROFILE = ident.DeviceProfile()
STRUCTURED_BETA = "structured-outputs-2025-12-15"


def helper_headers(betas: str, structured: bool = False) -> dict[str, str]:
    """The measured helper transport envelope (lower-cased, as the server hands it)."""
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate, br, zstd" if structured else "gzip",
        "content-type": "application/json",
        "user-agent": PROFILE.user_agent,
        "x-app": "cli",
        "anthropic-beta": betas,
        "anthropic-version": "2023-06-01",
        "anthropic-dangerous-direct-browser-access": "true",
        "x-claude-code-session-id": SESSION,
        "x-client-request-id": "66666666-7777-4888-8999-aaaaaaaaaaaa",
        "x-stainless-lang": "js",
        "x-stainless-runtime": "node",
        "x-stainless-package-version": PROFILE.package_version,
        "x-stainless-runtime-version": PROFILE.runtime_version,
        "x-stainless-os": PROFILE.os,
        "x-stainless-arch": PROFILE.arch,
        "x-stainless-retry-count": "0",
        "x-stainless-timeout": "600",
    }
    if structured:
        headers["x-stainless-async"] = "async"
    return headers


def minimal_raw(user_id: str = USER_ID) -> str:
    uid = orjson.dumps(user_id).decode()
    return (
        '{"model":"claude-haiku-4-5-20251001","max_tokens":1,"messages":[{"role":"user","content":"helper probe"}],'
        f'"metadata":{{"user_id":{uid}}}}}'
    )


def structured_raw() -> str:
    uid = orjson.dumps(USER_ID).decode()
    return (
        '{"model":"claude-haiku-4-5-20251001","messages":[{"role":"user","content":[{"type":"text","text":"helper probe"}]}],'
        '"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.220; cc_entrypoint=cli; cch=00000;"},'
        '{"type":"text","text":"You are Claude Code, Anthropic\'s official CLI for Claude."},'
        '{"type":"text","text":"Return a short title."}],"tools":[],'
        f'"metadata":{{"user_id":{uid}}},"max_tokens":32000,"thinking":{{"type":"disabled"}},"temperature":1,'
        '"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"title":{"type":"string"}},'
        '"required":["title"],"additionalProperties":false}}},"stream":true}'
    )


def detect(
    headers: dict[str, str], raw: str, *, count: bool = False, profile: ident.DeviceProfile = PROFILE
) -> ident.Detection:
    body: dict[str, Any] = orjson.loads(raw)
    return helper.detect(headers, body, count=count, profile=profile)


@pytest.mark.parametrize(
    ("betas", "structured", "raw"),
    [
        (helper.beta_profile(True), False, minimal_raw()),
        (helper.beta_profile(False), False, minimal_raw()),
        (
            helper.beta_profile(
                True, "advisor-tool-2026-03-01", STRUCTURED_BETA, "cache-diagnosis-2026-04-07"
            ),
            True,
            structured_raw(),
        ),
        (helper.beta_profile(True, STRUCTURED_BETA, "fallback-credit-2026-06-01"), True, structured_raw()),
        (
            helper.beta_profile(True, STRUCTURED_BETA),
            True,
            structured_raw().replace("cch=00000", "cch=7ee87"),
        ),
        (helper.beta_profile(False, STRUCTURED_BETA), True, structured_raw()),
    ],
    ids=[
        "minimal with redact thinking",
        "minimal without redact thinking",
        "structured with advisor",
        "structured with fallback credit",
        "structured with lowercase hex cch",
        "structured without redact thinking",
    ],
)
def test_measured_helpers_are_confirmed(betas: str, structured: bool, raw: str) -> None:
    """CPA: TestDetectClaudeCodeRequestRecognizesMeasuredHaikuHelpers."""
    found = detect(helper_headers(betas, structured), raw)
    assert found.confirmed and found.strong and found.native and found.helper
    # the standard four-signal path does not fire: no claude-code-20250219
    assert not ident.detect(
        helper_headers(betas, structured), orjson.loads(raw), count=False, profile=PROFILE
    ).strong


@pytest.mark.parametrize(
    "raw",
    [
        structured_raw().replace("cch=00000", "cch=ghijk"),
        structured_raw().replace("cch=00000", "cch=7EE87"),
        structured_raw().replace('"max_tokens":32000', '"max_tokens":32001'),
        structured_raw().replace('"additionalProperties":false', '"additionalProperties":true'),
    ],
    ids=["non-hex cch", "uppercase cch", "wrong token cap", "open schema"],
)
def test_malformed_structured_helpers_are_rejected(raw: str) -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsMalformedStructuredHaikuHelpers."""
    found = detect(helper_headers(helper.beta_profile(True, STRUCTURED_BETA), True), raw)
    assert not found.confirmed and not found.helper


NEAR_MISSES: list[tuple[str, dict[str, str | None], str, bool]] = [
    (
        "unexpected beta profile",
        {"anthropic-beta": helper.beta_profile(True) + ",unknown-beta"},
        minimal_raw(),
        False,
    ),
    ("missing stainless package", {"x-stainless-package-version": None}, minimal_raw(), False),
    ("wrong compression profile", {"accept-encoding": "gzip, deflate, br, zstd"}, minimal_raw(), False),
    (
        "mismatched session header",
        {"x-claude-code-session-id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
        minimal_raw(),
        False,
    ),
    ("invalid request id", {"x-client-request-id": "not-a-uuid"}, minimal_raw(), False),
    ("unexpected async mode", {"x-stainless-async": "async"}, minimal_raw(), False),
    ("wrong helper model", {}, minimal_raw().replace(helper.HELPER_MODEL, "claude-sonnet-4-6"), False),
    ("wrong helper token cap", {}, minimal_raw().replace('"max_tokens":1', '"max_tokens":2'), False),
    ("extra root key", {}, minimal_raw()[:-1] + ',"tools":[]}', False),
    (
        "cache marker content shape",
        {},
        minimal_raw().replace(
            '"content":"helper probe"',
            '"content":[{"type":"text","text":"helper probe","cache_control":{"type":"ephemeral","ttl":"1h"}}]',
        ),
        False,
    ),
    ("count tokens endpoint", {}, minimal_raw(), True),
]


@pytest.mark.parametrize(("name", "change", "raw", "count"), NEAR_MISSES, ids=[n[0] for n in NEAR_MISSES])
def test_near_misses_are_rejected(name: str, change: dict[str, str | None], raw: str, count: bool) -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsNearMissHaikuHelpers."""
    headers = helper_headers(helper.beta_profile(True))
    for key, value in change.items():
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    found = detect(headers, raw, count=count)
    assert not found.confirmed and not found.helper


def test_a_subagent_parent_session_is_accepted() -> None:
    """CPA: TestDetectClaudeCodeRequestAcceptsHelperSubagentParentSessionID."""
    uid = USER_ID[:-1] + ',"parent_session_id":"99999999-8888-4777-8666-555555555555"}'
    found = detect(helper_headers(helper.beta_profile(True)), minimal_raw(uid))
    assert found.confirmed and found.helper


def test_an_unknown_identity_key_is_rejected() -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsHelperIdentityWithUnknownKeys."""
    uid = USER_ID[:-1] + ',"spoofed":"x"}'
    assert not detect(helper_headers(helper.beta_profile(True)), minimal_raw(uid)).helper


@pytest.mark.parametrize(("os", "arch"), [("Windows", "x64"), ("Linux", "x64"), ("MacOS", "x64")])
def test_a_helper_from_another_platform_is_accepted(os: str, arch: str) -> None:
    """CPA: TestDetectClaudeCodeRequestAcceptsHelperFromNonBaselinePlatform."""
    headers = helper_headers(helper.beta_profile(True)) | {"x-stainless-os": os, "x-stainless-arch": arch}
    found = detect(headers, minimal_raw())
    assert found.confirmed and found.helper


@pytest.mark.parametrize(
    "name",
    ["x-stainless-os", "x-stainless-arch", "x-stainless-package-version", "x-stainless-runtime-version"],
)
def test_a_helper_without_platform_headers_is_rejected(name: str) -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsHelperWithoutPlatformHeaders."""
    headers = helper_headers(helper.beta_profile(True))
    del headers[name]
    assert not detect(headers, minimal_raw()).helper


@pytest.mark.parametrize(
    ("name", "value"), [("x-stainless-package-version", "0.0.1"), ("x-stainless-runtime-version", "v0.0.1")]
)
def test_a_foreign_software_tuple_is_rejected(name: str, value: str) -> None:
    """CPA: TestDetectClaudeCodeRequestRejectsHelperWithForeignSoftwareTuple."""
    headers = helper_headers(helper.beta_profile(True)) | {name: value}
    assert not detect(headers, minimal_raw()).helper


@pytest.mark.parametrize("timeout", ["", "600", "300", "900"])
def test_the_configured_stainless_timeout_does_not_matter(timeout: str) -> None:
    """CPA: TestMeasuredHelperProfileIgnoresConfiguredStainlessTimeout."""
    profile = ident.DeviceProfile(timeout=timeout) if timeout else PROFILE
    found = detect(helper_headers(helper.beta_profile(True)), minimal_raw(), profile=profile)
    assert found.confirmed and found.helper


def test_only_the_measured_timeout_is_accepted() -> None:
    headers = helper_headers(helper.beta_profile(True)) | {"x-stainless-timeout": "900"}
    assert not detect(headers, minimal_raw(), profile=ident.DeviceProfile(timeout="900")).helper


def test_a_non_native_entrypoint_is_never_a_helper() -> None:
    """Not a CPA case by name: the profile requires the ``cli`` entrypoint."""
    headers = helper_headers(helper.beta_profile(True)) | {
        "user-agent": "claude-cli/2.1.220 (external, sdk-ts)"
    }
    assert not detect(headers, minimal_raw()).helper
