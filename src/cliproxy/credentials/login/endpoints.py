"""Every URL and client constant a subscription provider is reached at, in one table: the
sign-in and token-refresh endpoints, and the upstream API the account's requests go to.

The values are the public ones CPA's tools use (``internal/auth/<provider>/`` and the
executors), so a file made by either tool refreshes in the other. Each URL can be
overridden from the environment, which is how tests and private deployments point a
provider at another server:

- ``CLIPROXY_OAUTH_<PROVIDER>_<NAME>`` replaces one URL, e.g.
  ``CLIPROXY_OAUTH_CLAUDE_TOKEN=http://127.0.0.1:9000/v1/oauth/token`` or
  ``CLIPROXY_OAUTH_CODEX_API=http://127.0.0.1:9000/backend-api/codex``;
- ``CLIPROXY_OAUTH_<PROVIDER>_BASE`` replaces the scheme and host (and port) of every URL of
  that provider at once (sign-in, refresh and API), keeping each path and query, e.g.
  ``CLIPROXY_OAUTH_CODEX_BASE=http://127.0.0.1:9000``.

A one-URL override wins over the base override. ``PROVIDER`` and ``NAME`` are the keys of
:data:`URLS` in upper case (``-`` becomes ``_``).

The ``api`` URLs (and xAI's ``cli-chat``, where its OAuth accounts chat) are the default
upstream bases of the providers in :mod:`cliproxy.providers`, used by every credential of
that provider without a ``base_url`` of its own; Antigravity's sign-in also finds and
onboards the account's project at ``api`` and ``api-daily``. A provider reads its URLs
once, when it is built (a proxy builds its providers when it starts), never per request:
change the environment, then restart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CLIENTS", "URLS", "url"]

URLS: Mapping[str, Mapping[str, str]] = {
    "claude": {
        "authorize": "https://claude.ai/oauth/authorize",
        "token": "https://platform.claude.com/v1/oauth/token",
        "profile": "https://api.anthropic.com/api/oauth/profile",
        "roles": "https://api.anthropic.com/api/oauth/claude_cli/roles",
        "api": "https://api.anthropic.com",
    },
    "codex": {
        "authorize": "https://auth.openai.com/oauth/authorize",
        "token": "https://auth.openai.com/oauth/token",
        "device-usercode": "https://auth.openai.com/api/accounts/deviceauth/usercode",
        "device-token": "https://auth.openai.com/api/accounts/deviceauth/token",
        "device-verify": "https://auth.openai.com/codex/device",
        "device-redirect": "https://auth.openai.com/deviceauth/callback",
        "api": "https://chatgpt.com/backend-api/codex",
        # the standard Realtime WebSocket its accounts are relayed to (providers.codex_realtime)
        "realtime": "wss://api.openai.com/v1",
    },
    "antigravity": {
        "authorize": "https://accounts.google.com/o/oauth2/v2/auth",
        "token": "https://oauth2.googleapis.com/token",
        "userinfo": "https://www.googleapis.com/oauth2/v2/userinfo?alt=json",
        "api": "https://cloudcode-pa.googleapis.com",
        "api-daily": "https://daily-cloudcode-pa.googleapis.com",
    },
    "kimi": {
        "device": "https://auth.kimi.com/api/oauth/device_authorization",
        "token": "https://auth.kimi.com/api/oauth/token",
        "api": "https://api.kimi.com/coding",
    },
    "xai": {
        "discovery": "https://auth.x.ai/.well-known/openid-configuration",
        "token": "https://auth.x.ai/oauth2/token",
        # API keys (and OAuth files with ``using_api``); other OAuth files chat through the
        # Grok CLI's proxy
        "api": "https://api.x.ai/v1",
        "cli-chat": "https://cli-chat-proxy.grok.com/v1",
    },
}

# Public client identities of the official CLIs (not secrets: they ship in every copy of
# those tools, and CPA's files name them).
CLIENTS: Mapping[str, Mapping[str, str]] = {
    "claude": {
        "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "redirect_uri": "http://localhost:54545/callback",
        "scope": "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
        "port": "54545",
    },
    "codex": {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid email profile offline_access",
        "port": "1455",
    },
    "antigravity": {
        "client_id": "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
        "client_secret": "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",
        "scope": " ".join(
            (
                "https://www.googleapis.com/auth/cloud-platform",
                "https://www.googleapis.com/auth/userinfo.email",
                "https://www.googleapis.com/auth/userinfo.profile",
                "https://www.googleapis.com/auth/cclog",
                "https://www.googleapis.com/auth/experimentsandconfigs",
            )
        ),
        "port": "51121",
    },
    "kimi": {"client_id": "17e5f671-d194-4dfb-9706-5516cb48c098"},
    "xai": {
        "client_id": "b1a00492-073a-47ea-816f-4c329264a828",
        "scope": "openid profile email offline_access grok-cli:access api:access",
    },
}


def _env_name(provider: str, name: str) -> str:
    return f"CLIPROXY_OAUTH_{provider}_{name}".upper().replace("-", "_")


def url(provider: str, name: str) -> str:
    """The URL ``name`` of ``provider``, after the environment overrides; ``KeyError`` for
    a name not in :data:`URLS` (a typo is a bug, not a silent default)."""
    default = URLS[provider][name]
    one = os.environ.get(_env_name(provider, name), "").strip()
    if one:
        return one
    base = os.environ.get(_env_name(provider, "base"), "").strip()
    if not base:
        return default
    over = urlsplit(base)
    parts = urlsplit(default)
    return urlunsplit((over.scheme, over.netloc, parts.path, parts.query, parts.fragment))
