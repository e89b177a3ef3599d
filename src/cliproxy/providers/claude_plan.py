"""What :class:`claude.ClaudeProvider` reads of one credential, worked out once.

A request's URL, whether the credential is a subscription, its cloak settings and
decision, its auth header and its ``Host`` depend only on the credential's values (and
the provider's config), never on the request: a :class:`CredentialPlan` holds them, and
the provider keeps one per credential id. A plan stays in use while the credential still
holds the values it was made from (:meth:`CredentialPlan.fits`: a refreshed token, a
reloaded file or an edited attribute make a new one, even when the record was changed in
place); the provider drops them all when its config changes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers.identity import header

__all__ = ["CredentialPlan", "Custom", "anthropic_origin", "apply_custom", "caller_accept", "host_header"]

# a credential's ``headers:`` entry: (name, value or the client header a ``$NAME`` value
# copies, whether it copies, the names it replaces: see :func:`_custom`)
Custom = tuple[str, str, bool, tuple[str, ...]]

MESSAGES_PATH = "/v1/messages?beta=true"
COUNT_PATH = "/v1/messages/count_tokens?beta=true"


def anthropic_origin(url: str) -> bool:
    """The first-party host over https on the default port, with no user info (CPA signs
    only there); a port that is no number is not that origin."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or parts.hostname != "api.anthropic.com" or "@" in parts.netloc:
        return False
    try:
        return parts.port in (None, 443)
    except ValueError:
        return False


def host_header(url: str) -> str:
    """The ``Host`` value of ``url`` (the port only when it is not the scheme's default)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _custom(headers: dict[str, str], auth: str) -> tuple[Custom, ...]:
    """The credential's ``headers:`` as :data:`Custom` entries. Names compare
    case-insensitively, and the provider writes every header name in lower case but the
    auth header's (``auth``) and these entries' own: so an entry replaces its lower-case
    name and whichever of those spell the same name otherwise (worked out here, once)."""
    out: list[Custom] = []
    written = [auth]
    for name, value in headers.items():
        lower = name.lower()
        spellings = (lower, *dict.fromkeys(n for n in written if n != lower and n.lower() == lower))
        copied = value.startswith("$")
        out.append((name, value[1:] if copied else value, copied, spellings))
        written.append(name)
    return tuple(out)


class CredentialPlan:
    """One credential's request-independent facts (see the module docstring)."""

    __slots__ = (
        "anthropic",
        "api_key",
        "attributes",
        "auth",
        "base",
        "base_url",
        "cli",
        "cloaks",
        "count_url",
        "custom",
        "custom_encoding",
        "headers",
        "host",
        "metadata",
        "oauth",
        "rebuild",
        "settings",
        "signed",
        "url",
    )

    def __init__(
        self,
        cred: Credential,
        *,
        base: str,
        oauth: bool,
        api_key_header: bool,
        anthropic_host: str,
        cloak_disabled: bool,
    ) -> None:
        # what the plan was made from, compared on every use (copies: an edit in place shows)
        self.attributes = dict(cred.attributes)
        self.metadata: dict[str, Any] = copy.deepcopy(cred.metadata)
        self.api_key = cred.api_key
        self.base_url = cred.base_url
        self.headers = dict(cred.headers)
        self.base = base
        self.url = base + MESSAGES_PATH
        self.count_url = base + COUNT_PATH
        self.anthropic = anthropic_origin(self.url)
        self.host = host_header(base)
        self.oauth = oauth
        settings = self.settings = cloaking.settings(cred)
        self.cli = oauth or settings.profile_cli  # CPA: fingerprint-profile claude-code-cli
        # the decision for a caller that is not a confirmed Claude Code (one never is cloaked)
        self.cloaks = cloaking.should_cloak(
            settings, oauth=oauth, confirmed=False, disabled_globally=cloak_disabled
        )
        self.signed = oauth or (settings.profile_cli and self.anthropic)
        # claude-api-key[].rebuild-mid-system-message: role=system turns join the system
        self.rebuild = cred.attributes.get("rebuild_mid_system_message", "").strip().lower() == "true"
        token = cred.access_token or (cred.api_key if oauth else "")
        if token:  # OAuth subscription token (CPA: an sk-ant-oat key too)
            self.auth = ("Authorization", f"Bearer {token}")
        elif not cred.api_key:  # a gateway that takes a header of its own (CPA sends none)
            self.auth = ("", "")
        elif api_key_header and (not cred.base_url or base == anthropic_host):
            self.auth = ("x-api-key", cred.api_key)
        else:  # a custom base URL takes the key as a bearer token (CPA)
            self.auth = ("Authorization", f"Bearer {cred.api_key}")
        headers = cred.headers
        if self.anthropic and any(name.lower() == "anthropic-beta" for name in headers):
            # CPA: on api.anthropic.com a credential header may not rewrite the betas the
            # request needs (a list Anthropic refuses); a gateway's keep the last word
            headers = {name: value for name, value in headers.items() if name.lower() != "anthropic-beta"}
        self.custom = _custom(headers, self.auth[0])
        # whether an entry may write Accept-Encoding (the one way it gets into a
        # caller-owned request's headers: the client's own is never forwarded)
        self.custom_encoding = any(entry[0].lower() == "accept-encoding" for entry in self.custom)

    def fits(self, cred: Credential) -> bool:
        """Whether ``cred`` still holds the values this plan was made from."""
        return (
            self.api_key == cred.api_key
            and self.base_url == cred.base_url
            and self.headers == cred.headers
            and self.attributes == cred.attributes
            and self.metadata == cred.metadata
        )


def apply_custom(headers: dict[str, str], custom: tuple[Custom, ...], incoming: Mapping[str, str]) -> None:
    """The credential's own ``headers:`` win (names compared case-insensitively: each
    entry drops the names it replaces, worked out by the plan for headers that spell
    every name in lower case but the auth header's); a ``$NAME`` value copies the
    client's header NAME, left out when it sent none (:func:`copy_client_headers`, from
    the plan's :attr:`CredentialPlan.custom`)."""
    for name, value, copied, spellings in custom:
        if copied:
            sent = incoming.get(value)
            if not sent:
                continue
            value = sent
        for present in spellings:
            headers.pop(present, None)
        headers[name] = value


def caller_accept(
    headers: dict[str, str], anthropic: bool, incoming: Mapping[str, str], *, stream: bool
) -> None:
    """A caller-owned request's ``Accept`` (CPA): a gateway's stream asks for events; a
    gateway's whole answer keeps a credential's own ``Accept`` entry (already in
    ``headers``), else the caller's; api.anthropic.com takes the caller's, never a
    credential's. Without one, the format the proxy reads (events or JSON)."""
    if stream and not anthropic:
        value = ""
    elif not anthropic and any(name.lower() == "accept" for name in headers):
        return
    else:
        value = header(incoming, "accept").strip()
    for name in [n for n in headers if n.lower() == "accept"]:
        del headers[name]
    headers["accept"] = value or ("text/event-stream" if stream else "application/json")
