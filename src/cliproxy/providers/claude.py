"""Anthropic Messages: Claude API keys and Claude OAuth (subscription) credentials.

The default base is the endpoint table's ``claude`` ``api`` URL (``api.anthropic.com``, or
``CLIPROXY_OAUTH_CLAUDE_API`` / ``_BASE``). An API key goes as ``x-api-key`` to that base
(an override stands in for Anthropic's host) and to ``api.anthropic.com`` named in a file;
to any other ``base_url`` it goes as a bearer token (CPA). OAuth tokens are always bearer.

Identity (CPA's Claude Code emulation, :mod:`claude_identity` and :mod:`claude_cloak`):
a real Claude Code passes through with its own body; a subscription token, an API key
with ``fingerprint-profile: claude-code-cli`` and a credential with cloak settings take
Claude Code's headers and ``metadata.user_id``; a request from any other client to them is
cloaked (system layout, billing block, currentDate, sensitive words) and, for OAuth and
the CLI profile on Anthropic's host, signed (``cch``). A plain API key with no cloak
settings keeps the caller's own request shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from cliproxy import __version__
from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.providers import claude_cache, claude_device, claude_helper, claude_tools
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.retry import anthropic_unified_reset, retry_after_header

__all__ = ["ClaudeProvider"]

ANTHROPIC_HOST = endpoints.URLS["claude"]["api"]  # the public host, whatever the overrides
API_VERSION = ident.ANTHROPIC_VERSION
OAUTH_BETA = ident.OAUTH_BETA
# client headers a caller-owned request (plain API key, no cloak) forwards as they are
# (CPA's copyClaudeCallerFingerprintHeaders): these names and these families
_PASS = frozenset(
    {"user-agent", "x-app", "x-client-request-id", "x-client-app", "x-anthropic-additional-protection"}
)
_PASS_PREFIXES = ("anthropic-", "x-stainless-", "x-claude-code-", "x-claude-remote-")
# a Claude Code client's own headers that CPA carries on when it sent them
_CARRY = (
    "x-claude-code-agent-id",
    "x-claude-code-parent-agent-id",
    "x-claude-remote-container-id",
    "x-claude-remote-session-id",
    "x-client-app",
    "x-anthropic-additional-protection",
)
_OWN_AGENT = f"cliproxy/{__version__}"
# Claude Code's Accept-Encoding, when this process can decode all of it
_ACCEPT_ENCODING = "gzip, deflate, br, zstd" if ident.can_decode_br_zstd() else "gzip, deflate"


def _anthropic_origin(url: str) -> bool:
    """The first-party host over https on the default port (CPA signs only there)."""
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname == "api.anthropic.com" and parts.port in (None, 443)


class ClaudeProvider(Provider):
    key = "claude"
    format = Format.CLAUDE
    endpoints_key = "claude"
    # an API key goes as x-api-key to Anthropic's host (a delegate to another
    # Anthropic-compatible upstream, Kimi, sends every credential as a bearer token)
    api_key_header: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.profile = ident.DeviceProfile()
        self.cloak_disabled = False
        self.stabilize = False

    def configure(self, config: Any) -> None:
        """``claude-header-defaults`` and ``disable-claude-cloak-mode``."""
        defaults = getattr(config, "claude_header_defaults", None)
        self.profile = ident.DeviceProfile.from_config(defaults)
        self.stabilize = bool(getattr(defaults, "stabilize_device_profile", None))
        self.cloak_disabled = bool(getattr(config, "disable_claude_cloak_mode", False))

    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
    ) -> UpstreamRequest:
        count = action == "count"
        # on the body as the client shaped it (the helper profile reads its exact key order)
        found = claude_helper.detect(client_headers, body, count=count, profile=self.profile)
        body["model"] = model
        base = self.base_url(cred)
        url = base + ("/v1/messages/count_tokens?beta=true" if count else "/v1/messages?beta=true")
        if count:
            body.pop("stream", None)
        else:
            _no_thinking_when_forced(body)
            if stream or not found.helper or "stream" in body:  # a non-stream helper omits it (CPA)
                body["stream"] = stream
        extra = _pop_betas(body)
        oauth = self.subscription(cred)
        settings = cloaking.settings(cred)
        cli = oauth or settings.profile_cli  # CPA: fingerprint-profile claude-code-cli
        cloaked = cloaking.should_cloak(
            settings, oauth=oauth, confirmed=found.confirmed, disabled_globally=self.cloak_disabled
        )
        anthropic = _anthropic_origin(url)
        if anthropic and not found.confirmed:  # refused there for sure: the client's 400 (CPA)
            _check_mid_system(body)
        if not (cli or cloaked or found.confirmed):  # the caller's own request shape
            headers = self._caller_headers(cred, base, client_headers, extra, stream=stream and not count)
            place = not count and claude_cache.owns_placement(body, cloaked=False, confirmed=False)
            claude_cache.settle(body, place=place)
            self.finish(body, cli=False)
            return UpstreamRequest(url, headers, orjson.dumps(body), stream and not count)
        signed = oauth or (settings.profile_cli and anthropic)
        session = ident.session_uuid(client_headers, body, confirmed=found.confirmed) if cli else ""
        if cloaked and count:
            cloaking.relocate_for_count(body, settings)
        elif cloaked:
            now = cloaking.local_now(cred, self.profile.timezone)
            cloaking.cloak(body, settings, version=self.profile.version, signed=signed, now=now)
            if anthropic:  # only measured there (CPA); other gateways never see it
                cloaking.inject_context_management(body)
            if not cli:
                _ensure_fake_user_id(body, cred.api_key, settings.cache_user_id)
            if settings.words is not None:
                cloaking.obfuscate(body, settings.words)
        names = None
        if cloaked and cli:  # custom tools go as the caller's MCP aliases (before the CCH hash)
            names = claude_tools.alias_tools(body, seed=claude_tools.caller_seed(client_headers))
        if cli and not count:
            _set_cli_user_id(body, cred, session)
        # CPA's placement unless a real Claude Code placed its own; at most 4 breakpoints;
        # the 1h pool for a Claude Code credential whose placement the proxy owns
        place = not count and claude_cache.owns_placement(body, cloaked=cloaked, confirmed=found.confirmed)
        claude_cache.settle(body, place=place, one_hour=cli)
        self.finish(body, cli=cli)
        if signed and not count:
            fallback = ""  # a helper without a system prompt gets no billing block (CPA)
            if not found.helper or "system" in body:
                text = cloaking.user_text(body)
                fallback = cloaking.billing_text(
                    self.profile.version, text, signed=True, entrypoint=found.entrypoint or "cli"
                )
            raw = cloaking.sign(body, fallback)
        else:
            raw = orjson.dumps(body)
        headers = self._cli_headers(
            cred,
            base,
            client_headers,
            body,
            extra,
            oauth_betas=cli,
            confirmed=found.confirmed,
            helper=found.helper,
            count=count,
            stream=stream and not count,
            anthropic=anthropic,
            session=session,
        )
        req = UpstreamRequest(url, headers, raw, stream and not count)
        if names is not None and not count:  # the answer's tool calls under the client's names
            req.rewrite_body, req.rewrite_chunk = names.restore_body, names.restore_lines
        return req

    def subscription(self, cred: Credential) -> bool:
        """Whether ``cred`` is a Claude subscription token (the Claude Code identity, OAuth
        betas, signing); a delegate's own tokens are not."""
        return ident.is_oauth(cred)

    def finish(self, body: dict[str, Any], *, cli: bool) -> None:
        """A delegate's last change to the body before it is signed and sent (Kimi)."""
        return None

    # ------------------------------------------------------------------ headers

    def _auth(self, cred: Credential, base: str, headers: dict[str, str]) -> None:
        token = cred.access_token or (cred.api_key if self.subscription(cred) else "")
        if token:  # OAuth subscription token (CPA: an sk-ant-oat key too)
            headers["Authorization"] = f"Bearer {token}"
        elif self.api_key_header and (not cred.base_url or base == ANTHROPIC_HOST):
            headers["x-api-key"] = cred.api_key
        else:  # a custom base URL takes the key as a bearer token (CPA)
            headers["Authorization"] = f"Bearer {cred.api_key}"

    def _caller_headers(
        self,
        cred: Credential,
        base: str,
        client_headers: Mapping[str, str],
        extra: list[str],
        *,
        stream: bool,
    ) -> dict[str, str]:
        headers: dict[str, str] = {"content-type": "application/json"}
        for name, value in client_headers.items():
            lower = name.lower()
            if value and (lower in _PASS or lower.startswith(_PASS_PREFIXES)):
                headers[lower] = value
        headers.setdefault("anthropic-version", API_VERSION)
        headers.setdefault("user-agent", _OWN_AGENT)  # never a library default (CPA)
        self._auth(cred, base, headers)
        if extra:
            betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
            betas.extend(b for b in extra if b not in betas)
            headers["anthropic-beta"] = ",".join(betas)
        _apply_custom(headers, cred, client_headers)
        headers["accept"] = "text/event-stream" if stream else "application/json"
        return headers

    def _cli_headers(
        self,
        cred: Credential,
        base: str,
        incoming: Mapping[str, str],
        body: Mapping[str, Any],
        extra: list[str],
        *,
        oauth_betas: bool,
        confirmed: bool,
        helper: bool,
        count: bool,
        stream: bool,
        anthropic: bool,
        session: str,
    ) -> dict[str, str]:
        """Claude Code's headers (CPA's ``applyClaudeHeaders``): a confirmed Claude Code
        keeps the values it sent, anyone else gets the configured baseline; a native
        helper keeps its exact betas and transport headers. Names and order as Claude Code
        writes them (:func:`wire_order`)."""
        p = self.profile
        headers: dict[str, str] = {"content-type": "application/json"}
        self._auth(cred, base, headers)
        sent_betas = ident.header(incoming, "anthropic-beta").strip()
        if confirmed and sent_betas:  # a helper's list already is its credential's (CPA)
            oauth = oauth_betas and not helper
            betas = ident.with_oauth_betas(sent_betas, count=count) if oauth else sent_betas
        elif count:
            betas = ident.count_betas(oauth_betas)
        else:
            betas = ident.cli_betas(body, ident.requested_betas(sent_betas, extra), oauth_betas)
        listed = betas.split(",")
        if not anthropic:
            more = ([] if confirmed else sent_betas.split(",")) + extra
            listed.extend(b.strip() for b in more if b.strip() and b.strip() not in listed)
        headers["anthropic-beta"] = ",".join(dict.fromkeys(b for b in listed if b))

        def own(name: str, value: str) -> None:
            headers[name] = (ident.header(incoming, name) or value) if confirmed else value

        own("anthropic-version", API_VERSION)
        own("anthropic-dangerous-direct-browser-access", "true")
        own("x-app", "cli")
        own("x-stainless-retry-count", "0")
        own("x-stainless-runtime", "node")
        own("x-stainless-lang", "js")
        if confirmed and ident.header(incoming, "x-stainless-async") == "async":
            headers["x-stainless-async"] = "async"
        if not count:
            own("x-stainless-timeout", p.timeout)
        elif confirmed and (timeout := ident.header(incoming, "x-stainless-timeout")):
            headers["x-stainless-timeout"] = timeout
        if session:
            headers["x-claude-code-session-id"] = session
        else:
            own("x-claude-code-session-id", ident.key_session(cred.api_key or cred.id))
        for name in _CARRY:
            if value := ident.header(incoming, name):
                headers[name] = value
        if anthropic or helper:  # helpers send one on every base URL
            own("x-client-request-id", str(uuid.uuid4()))
        headers["connection"] = "keep-alive"
        headers["host"] = host_header(base)
        self._device_headers(headers, cred, incoming, confirmed)
        _apply_custom(headers, cred, incoming)
        if helper:  # the helper's own negotiation (a minimal one offers gzip only)
            own("accept", "application/json")
            sent = ident.header(incoming, "accept-encoding")
            headers["accept-encoding"] = sent if sent and _decodable(sent) else "gzip"
        elif stream and not anthropic:
            headers["accept"], headers["accept-encoding"] = "text/event-stream", "identity"
        else:
            headers["accept"], headers["accept-encoding"] = "application/json", _ACCEPT_ENCODING
        return wire_order(headers)

    def _device_headers(
        self, headers: dict[str, str], cred: Credential, incoming: Mapping[str, str], confirmed: bool
    ) -> None:
        p = self.profile
        if self.stabilize:  # claude-header-defaults.stabilize-device-profile
            soft = claude_device.resolve(cred.id, incoming, p, confirmed=confirmed)
            headers["x-stainless-runtime-version"] = soft.runtime_version
            headers["x-stainless-package-version"] = soft.package_version
            headers["x-stainless-os"], headers["x-stainless-arch"] = soft.os, soft.arch
            headers["user-agent"] = soft.user_agent
            return
        # the software versions are always the baseline's (CPA accepts a client's own only
        # when it equals the baseline); a confirmed client keeps its platform and User-Agent
        headers["x-stainless-runtime-version"] = p.runtime_version
        headers["x-stainless-package-version"] = p.package_version
        if confirmed:
            headers["x-stainless-os"] = ident.header(incoming, "x-stainless-os") or p.os
            headers["x-stainless-arch"] = ident.header(incoming, "x-stainless-arch") or p.arch
            ua = ident.header(incoming, "user-agent")
            headers["user-agent"] = ua if ident.plausible_user_agent(ua, p) else p.user_agent
            return
        headers["x-stainless-os"] = p.os
        headers["x-stainless-arch"] = p.arch
        headers["user-agent"] = p.user_agent

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        after = retry_after_header(headers)
        unified = anthropic_unified_reset(headers) if status == 429 else None
        if after is None:
            return unified
        return after if unified is None else max(after, unified)


# Claude Code 2.1.220's header names where they are not Title-Case (CPA's casing table)
_WIRE_NAMES = {
    "x-stainless-os": "X-Stainless-OS",
    "anthropic-beta": "anthropic-beta",
    "anthropic-version": "anthropic-version",
    "anthropic-dangerous-direct-browser-access": "anthropic-dangerous-direct-browser-access",
    "x-app": "x-app",
    "x-client-request-id": "x-client-request-id",
}
# written by Node's HTTP layer after the SDK's sorted block, in this order (Content-Length
# last: the transport's own)
_TRAILING = ("connection", "host", "accept-encoding")


def _wire_name(name: str) -> str:
    lower = name.lower()
    if lower in _WIRE_NAMES:
        return _WIRE_NAMES[lower]
    if name != lower:  # a credential's own header keeps its spelling
        return name
    return "-".join(part.capitalize() for part in lower.split("-"))


def host_header(url: str) -> str:
    """The ``Host`` value of ``url`` (the port only when it is not the scheme's default)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def wire_order(headers: Mapping[str, str]) -> dict[str, str]:
    """Claude Code's header names and order (captured 2.1.220 wire, CPA's
    ``claudeCodeMessagesHeaderOrder``): the SDK's headers sorted bytewise by their wire
    name, then ``Connection``, ``Host`` and ``Accept-Encoding``. (aiohttp still writes
    ``Host`` first; curl writes it where it is given.)"""
    block = sorted((_wire_name(k), v) for k, v in headers.items() if k.lower() not in _TRAILING)
    out = dict(block)
    for trailing in _TRAILING:
        for name, value in headers.items():
            if name.lower() == trailing:
                out[_wire_name(name)] = value
    return out


def _decodable(encoding: str) -> bool:
    """Whether the upstream client can decode every coding of an ``Accept-Encoding``."""
    codings = {c.split(";")[0].strip().lower() for c in encoding.split(",") if c.strip()}
    plain = {"gzip", "deflate", "identity"}
    return codings <= plain or (codings <= plain | {"br", "zstd"} and ident.can_decode_br_zstd())


def _apply_custom(headers: dict[str, str], cred: Credential, incoming: Mapping[str, str]) -> None:
    """The credential's own ``headers:`` win (names compared case-insensitively)."""
    for name, value in copy_client_headers(cred, incoming).items():
        lower = name.lower()
        for present in [k for k in headers if k.lower() == lower]:
            del headers[present]
        headers[name] = value


def _check_mid_system(body: Mapping[str, Any]) -> None:
    found = ident.legacy_mid_system_error(body)
    if found is not None:
        raise RequestError(found[0], param=f"messages.{found[1]}.role")


def _no_thinking_when_forced(body: dict[str, Any]) -> None:
    """The API refuses thinking with a forced tool (``tool_choice`` ``any`` or ``tool``):
    drop ``thinking`` and the adaptive ``output_config.effort`` (CPA,
    ``disableThinkingIfToolChoiceForced``). Runs after every other step that may have
    turned thinking on (a model suffix, ``reasoning_effort`` shaping, payload rules)."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") not in ("any", "tool"):
        return
    body.pop("thinking", None)
    config = body.get("output_config")
    if isinstance(config, dict) and "effort" in config:
        config = {k: v for k, v in config.items() if k != "effort"}
        if config:
            body["output_config"] = config
        else:
            del body["output_config"]


def _pop_betas(body: dict[str, Any]) -> list[str]:
    """A body ``betas`` field moves to the ``anthropic-beta`` header (CPA)."""
    raw = body.pop("betas", None)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [str(b).strip() for b in items if str(b).strip()]


def _ensure_fake_user_id(body: dict[str, Any], api_key: str, cache: bool) -> None:
    metadata = body.get("metadata")
    current = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(current, str) and ident.is_valid_user_id(current):
        return
    uid = ident.fake_user_id(api_key, cache=cache)
    body["metadata"] = {**metadata, "user_id": uid} if isinstance(metadata, dict) else {"user_id": uid}


def _set_cli_user_id(body: dict[str, Any], cred: Credential, session: str) -> None:
    """The credential's Claude Code identity in ``metadata.user_id``; other members of a
    JSON user id the caller sent (``parent_session_id``...) are kept after it."""
    device, account = ident.cli_identity(cred)
    metadata = body.get("metadata")
    current = metadata.get("user_id") if isinstance(metadata, dict) else None
    extras: dict[str, Any] = {}
    if isinstance(current, str) and current.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(current)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            extras = {k: v for k, v in parsed.items() if k not in ("device_id", "account_uuid", "session_id")}
    uid = ident.user_id(device, account, session)
    if extras:
        uid = uid[:-1] + "," + orjson.dumps(extras).decode()[1:]
    body["metadata"] = {**metadata, "user_id": uid} if isinstance(metadata, dict) else {"user_id": uid}
