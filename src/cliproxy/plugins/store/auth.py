"""``plugins.store-auth``: credentials for private registries, release metadata and artifacts.

A rule is ``{match, apply-to, type, token-env | username-env + password-env | header-name +
header-value-env, allow-insecure}``; the secret itself is read from the named environment
variable at request time, so it is never in the config, a log line or an error message
(CPA: ``internal/pluginstore/auth.go``). ``match`` is a URL prefix on a path-segment
boundary; ``apply-to`` limits a rule to ``registry``, ``metadata`` or ``artifact`` requests.
The first matching rule wins. A plain ``http`` URL is only fetched under a matching rule
with ``allow-insecure: true``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cliproxy.plugins.store.registry import (
    DIRECT,
    GITHUB_RELEASE,
    Plugin,
    Source,
    StoreError,
    github_repository_parts,
    has_sensitive_query,
)

__all__ = [
    "ARTIFACT",
    "METADATA",
    "REGISTRY",
    "AuthRule",
    "apply_auth",
    "auth_configured",
    "check_request_url",
    "github_api_base",
    "matching_rule",
    "parse_rules",
    "plugin_auth_configured",
]

REGISTRY, METADATA, ARTIFACT = "registry", "metadata", "artifact"


def github_api_base() -> str:
    """GitHub's API root (``CLIPROXY_GITHUB_API`` overrides it, for tests and mirrors)."""
    return (os.environ.get("CLIPROXY_GITHUB_API", "").strip() or "https://api.github.com").rstrip("/")


@dataclass(frozen=True, slots=True)
class AuthRule:
    match: str
    apply_to: tuple[str, ...] = ()
    type: str = "none"
    token_env: str = ""
    username_env: str = ""
    password_env: str = ""
    header_name: str = ""
    header_value_env: str = ""
    allow_insecure: bool = False

    def applies_to(self, kind: str) -> bool:
        return not self.apply_to or kind in self.apply_to


def parse_rules(items: Iterable[Mapping[str, Any]]) -> list[AuthRule]:
    """The config's rules, trimmed; rules without ``match`` are dropped (as CPA does)."""
    out = []
    for item in items:

        def text(key: str, item: Mapping[str, Any] = item) -> str:
            value = item.get(key, item.get(key.replace("-", "_")))
            return str(value).strip() if value is not None else ""

        match = text("match")
        if not match:
            continue
        raw = item.get("apply-to", item.get("apply_to")) or []
        apply_to: list[str] = []
        for value in raw if isinstance(raw, list) else [raw]:
            kind = str(value).strip().lower()
            if kind and kind not in apply_to:
                apply_to.append(kind)
        out.append(
            AuthRule(
                match=match,
                apply_to=tuple(apply_to),
                type=text("type").lower() or "none",
                token_env=text("token-env"),
                username_env=text("username-env"),
                password_env=text("password-env"),
                header_name=text("header-name"),
                header_value_env=text("header-value-env"),
                allow_insecure=item.get("allow-insecure", item.get("allow_insecure")) is True,
            )
        )
    return out


def _path_matches(request_path: str, rule_path: str) -> bool:
    if rule_path in ("", "/"):
        return True
    request_path = request_path or "/"
    if request_path == rule_path:
        return True
    if rule_path.endswith("/"):
        return request_path.startswith(rule_path)
    return request_path.startswith(rule_path + "/")


def url_matches(url: str, match: str) -> bool:
    try:
        req, rule = urlsplit(url.strip()), urlsplit(match.strip())
    except ValueError:
        return False
    if not req.scheme or not req.netloc or not rule.scheme or not rule.netloc:
        return False
    if req.scheme.lower() != rule.scheme.lower() or req.netloc.lower() != rule.netloc.lower():
        return False
    return _path_matches(req.path, rule.path)


def matching_rule(rules: list[AuthRule], url: str, kind: str) -> AuthRule | None:
    return next((r for r in rules if url_matches(url, r.match) and r.applies_to(kind)), None)


def _env(name: str) -> str:
    return os.environ.get(name, "").strip() if name else ""


def auth_configured(rules: list[AuthRule], url: str, kind: str) -> bool:
    """Whether a matching rule has its secret in the environment."""
    rule = matching_rule(rules, url, kind)
    if rule is None:
        return False
    if rule.type in ("bearer", "github-token"):
        return bool(_env(rule.token_env))
    if rule.type == "basic":
        return bool(_env(rule.username_env)) and bool(_env(rule.password_env))
    if rule.type == "header":
        return bool(rule.header_name) and bool(_env(rule.header_value_env))
    return False


def plugin_auth_configured(source: Source, plugin: Plugin, rules: list[AuthRule]) -> bool:
    """Whether any request installing ``plugin`` from ``source`` would carry a credential."""
    if auth_configured(rules, source.url, REGISTRY):
        return True
    if plugin.install_type == DIRECT:
        return any(auth_configured(rules, a.url, ARTIFACT) for a in plugin.artifacts())
    if plugin.install_type == GITHUB_RELEASE:
        try:
            owner, repo = github_repository_parts(plugin.repository)
        except StoreError:
            return False
        base = f"{github_api_base()}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}/releases/"
        return auth_configured(rules, base + "latest", METADATA) or auth_configured(
            rules, base + "tags/", METADATA
        )
    return False


def _required(name: str, field: str) -> str:
    if not name:
        raise StoreError(f"plugin store auth missing {field}")
    value = _env(name)
    if not value:
        raise StoreError(f"plugin store auth env {name} is empty")
    return value


def apply_auth(headers: dict[str, str], rules: list[AuthRule], url: str, kind: str) -> bool:
    """Add the matching rule's credential to ``headers``; whether one was added."""
    rule = matching_rule(rules, url, kind)
    if rule is None or rule.type in ("", "none"):
        return False
    if rule.type in ("bearer", "github-token"):
        headers["Authorization"] = "Bearer " + _required(rule.token_env, "token-env")
    elif rule.type == "basic":
        user = _required(rule.username_env, "username-env")
        password = _required(rule.password_env, "password-env")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    elif rule.type == "header":
        if not rule.header_name:
            raise StoreError("plugin store auth missing header-name")
        headers[rule.header_name] = _required(rule.header_value_env, "header-value-env")
    else:
        raise StoreError(f"unsupported plugin store auth type {rule.type!r}")
    return True


def check_request_url(rules: list[AuthRule], url: str, kind: str) -> None:
    """Refuse a URL with credentials or a secret-looking query, and plain http unless allowed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise StoreError("invalid plugin store url") from None
    if not parts.scheme or not parts.netloc:
        raise StoreError("invalid plugin store url")
    if parts.username is not None or parts.password is not None:
        raise StoreError("plugin store url must not contain credentials")
    if has_sensitive_query(url):
        raise StoreError("plugin store url contains sensitive query parameter")
    if parts.scheme.lower() == "http":
        rule = matching_rule(rules, url, kind)
        if rule is None or not rule.allow_insecure:
            raise StoreError("insecure plugin store url requires matching allow-insecure auth rule")


def safe_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for error messages."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "plugin store url"
    if not parts.scheme or not parts.hostname:
        return "plugin store url"
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path}"
