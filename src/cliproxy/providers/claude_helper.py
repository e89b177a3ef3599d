"""Claude Code's native Haiku helper requests, recognized as CPA does.

Claude Code 2.1.x sends small helper requests (a one-token probe; a structured title
request) to ``claude-haiku-4-5-20251001`` without the ``claude-code-20250219`` beta, so
the four strong signals of :func:`claude_identity.detect` miss them. CPA recognizes them by
a measured profile instead (``helps/claude_client_detection.go``): one of six exact
``anthropic-beta`` sequences, the exact body shape that goes with it (keys in their wire
order), the SDK's transport headers and a session header equal to the
``metadata.user_id`` session. Such a request is a confirmed Claude Code: it passes through
with its own wire (its betas as sent, no ``stream`` added, no billing block where it has
no system), see :class:`claude.ClaudeProvider`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.providers import claude_identity as ident

__all__ = ["HELPER_MODEL", "MINIMAL", "STRUCTURED", "beta_profile", "detect", "helper_shape"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

HELPER_MODEL = "claude-haiku-4-5-20251001"
MINIMAL, STRUCTURED = 1, 2
_TIMEOUT = "600"  # measured on every helper; not claude-header-defaults.timeout (CPA)
_MINIMAL_KEYS = ["model", "max_tokens", "messages", "metadata"]
_STRUCTURED_KEYS = [
    "model",
    "messages",
    "system",
    "tools",
    "metadata",
    "max_tokens",
    "thinking",
    "temperature",
    "output_config",
    "stream",
]
_IDENTITY_KEYS = (
    ["device_id", "account_uuid", "session_id"],
    ["device_id", "account_uuid", "session_id", "parent_session_id"],
)
_FIXED_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "x-stainless-lang": "js",
    "x-stainless-runtime": "node",
    "x-stainless-retry-count": "0",
    "x-stainless-timeout": _TIMEOUT,
    "anthropic-version": ident.ANTHROPIC_VERSION,
    "anthropic-dangerous-direct-browser-access": "true",
}
_PRESENT_HEADERS = (
    "x-stainless-package-version",
    "x-stainless-runtime-version",
    "x-stainless-os",
    "x-stainless-arch",
)


def beta_profile(redact: bool, *trailing: str) -> str:
    """One measured helper ``anthropic-beta`` sequence."""
    betas = [ident.OAUTH_BETA, "interleaved-thinking-2025-05-14"]
    if redact:
        betas.append(ident.REDACT_THINKING_BETA)
    betas += [
        "thinking-token-count-2026-05-13",
        "context-management-2025-06-27",
        "prompt-caching-scope-2026-01-05",
    ]
    return ",".join([*betas, *trailing])


_STRUCTURED_BETA = "structured-outputs-2025-12-15"
_PROFILES = {
    beta_profile(True): MINIMAL,
    beta_profile(False): MINIMAL,
    beta_profile(True, "advisor-tool-2026-03-01", _STRUCTURED_BETA, ident.CACHE_DIAGNOSIS_BETA): STRUCTURED,
    beta_profile(True, _STRUCTURED_BETA, ident.FALLBACK_CREDIT_BETA): STRUCTURED,
    beta_profile(True, _STRUCTURED_BETA): STRUCTURED,
    beta_profile(False, _STRUCTURED_BETA): STRUCTURED,
}


def detect(
    headers: Mapping[str, str], body: Mapping[str, Any], *, count: bool, profile: ident.DeviceProfile
) -> ident.Detection:
    """CPA's ``DetectClaudeCodeRequest``: the four strong signals, or the helper profile
    (native entrypoints only); either makes a native client confirmed."""
    found = ident.detect(headers, body, count=count, profile=profile)
    if found.strong or not found.native or not _matches(headers, body, count, found.entrypoint, profile):
        return found
    return ident.Detection(confirmed=True, strong=True, native=True, entrypoint=found.entrypoint, helper=True)


def _matches(
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    count: bool,
    entrypoint: str,
    profile: ident.DeviceProfile,
) -> bool:
    h = ident.header
    uid = _user_id(body)
    if count or entrypoint != "cli" or uid is None or h(headers, "x-app") != "cli":
        return False
    if ident.CODE_BETA in _betas(h(headers, "anthropic-beta")):
        return False
    if not ident.plausible_user_agent(h(headers, "user-agent"), profile):
        return False
    shape = _PROFILES.get(",".join(_betas(h(headers, "anthropic-beta"))), 0)
    if not shape or helper_shape(body) != shape or not _headers_match(headers, profile, shape):
        return False
    identity = orjson.loads(uid)
    if not isinstance(identity, dict) or list(identity) not in _IDENTITY_KEYS:
        return False
    return h(headers, "x-claude-code-session-id") == identity.get("session_id")


def _betas(value: str) -> list[str]:
    return [b.strip() for b in value.split(",") if b.strip()]


def _user_id(body: Mapping[str, Any]) -> str | None:
    """``metadata.user_id`` when ``metadata`` holds exactly that one valid member."""
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or list(metadata) != ["user_id"]:
        return None
    uid = metadata["user_id"]
    return uid if isinstance(uid, str) and ident.is_valid_user_id(uid) else None


def _headers_match(headers: Mapping[str, str], profile: ident.DeviceProfile, shape: int) -> bool:
    """The SDK transport envelope; the platform may differ (the device profile pins it),
    the software versions must be the baseline's."""
    h = ident.header
    if any(h(headers, name) != want for name, want in _FIXED_HEADERS.items()):
        return False
    if not all(h(headers, name) for name in _PRESENT_HEADERS):
        return False
    if (
        h(headers, "x-stainless-package-version") != profile.package_version
        or h(headers, "x-stainless-runtime-version") != profile.runtime_version
    ):
        return False
    structured = shape == STRUCTURED
    if h(headers, "x-stainless-async") != ("async" if structured else ""):
        return False
    if h(headers, "accept-encoding") != ("gzip, deflate, br, zstd" if structured else "gzip"):
        return False
    try:
        uuid.UUID(h(headers, "x-client-request-id"))
    except ValueError:
        return False
    return True


def _keys(value: Any, want: list[str]) -> bool:
    return isinstance(value, dict) and list(value) == want


def _int(value: Any, want: int) -> bool:
    return type(value) is int and value == want


def helper_shape(body: Mapping[str, Any]) -> int:
    """``MINIMAL``, ``STRUCTURED`` or 0: the measured helper body shapes, keys in order."""
    if _keys(body, _MINIMAL_KEYS):
        shape = MINIMAL
    elif _keys(body, _STRUCTURED_KEYS):
        shape = STRUCTURED
    else:
        return 0
    max_tokens = body.get("max_tokens")
    if (
        body.get("model") != HELPER_MODEL
        or not isinstance(max_tokens, _NUMBERS)
        or isinstance(max_tokens, bool)
    ):
        return 0
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        return 0
    message = messages[0]
    if not _keys(message, ["role", "content"]) or message["role"] != "user":
        return 0
    if shape == MINIMAL:
        return shape if _int(max_tokens, 1) and isinstance(message["content"], str) else 0
    return shape if _structured(body, message["content"]) else 0


def _structured(body: Mapping[str, Any], content: Any) -> bool:
    if not isinstance(content, list) or len(content) != 1:
        return False
    if not _keys(content[0], ["type", "text"]) or content[0]["type"] != "text":
        return False
    if not _helper_system(body.get("system")) or body.get("tools") != []:
        return False
    if body.get("thinking") != {"type": "disabled"}:
        return False
    if not _title_schema(body.get("output_config")):
        return False
    return (
        _int(body.get("max_tokens"), 32000)
        and _int(body.get("temperature"), 1)
        and body.get("stream") is True
    )


def _title_schema(config: Any) -> bool:
    if not _keys(config, ["format"]):
        return False
    fmt = config["format"]
    if not _keys(fmt, ["type", "schema"]) or fmt["type"] != "json_schema":
        return False
    schema = fmt["schema"]
    if (
        not _keys(schema, ["type", "properties", "required", "additionalProperties"])
        or schema["type"] != "object"
    ):
        return False
    props = schema["properties"]
    if (
        not _keys(props, ["title"])
        or not _keys(props["title"], ["type"])
        or props["title"]["type"] != "string"
    ):
        return False
    return schema["required"] == ["title"] and schema["additionalProperties"] is False


def _helper_system(system: Any) -> bool:
    """Three text blocks: a billing line with a 5-lowercase-hex ``cch``, Claude Code's identity, one more."""
    if not isinstance(system, list) or len(system) != 3:
        return False
    if not all(_keys(b, ["type", "text"]) and b["type"] == "text" for b in system):
        return False
    billing, identity = system[0]["text"], system[1]["text"]
    if not isinstance(billing, str) or not isinstance(identity, str):
        return False
    return (
        billing.startswith("x-anthropic-billing-header:")
        and _cch(billing)
        and identity.startswith("You are Claude Code")
    )


def _cch(billing: str) -> bool:
    at = billing.find(" cch=")
    if at < 0:
        return False
    value = billing[at + 5 : at + 10]
    return (
        len(billing) > at + 10
        and billing[at + 10] == ";"
        and len(value) == 5
        and all(c in "0123456789abcdef" for c in value)
    )
