"""Client identity for the Codex, Antigravity and xAI upstreams, as CPA gives it.

Each provider reads its settings once per config snapshot (``Provider.configure``), so a
request only looks values up:

- :class:`CodexIdentity`: the official Codex ``User-Agent`` / ``Originator`` unless
  ``codex.disable-codex-cloaking``; ``codex-header-defaults.user-agent`` for OAuth
  accounts; ``codex.identity-confuse`` (per-credential UUIDs in place of the caller's
  prompt-cache, installation, window and turn ids, in body and headers; the answer gets
  the caller's prompt-cache and turn ids back).
- :func:`sensitive_words` / :func:`obfuscate_system_instruction`: ``antigravity.sensitive-words``
  obfuscated with a zero-width space after the first character, in the system instruction only.
- :func:`inject_x_search`: ``xai.inject-x-search``.
- :func:`strip_claude_attribution`: Claude Code's billing block kept away from Kimi.
- :func:`forwardable_response_headers`: the ``passthrough-headers`` filter over an
  upstream answer's headers (hop-by-hop, cookies, CORS and AI-gateway headers never pass).

Bodies handed to providers are the attempt's own down to (not into) arrays: every array
changed here is replaced by a new list, never written in place.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.credentials.record import KIND_APIKEY, Credential
from cliproxy.errors import UpstreamError
from cliproxy.ids import oid_uuid

__all__ = [
    "CASE_FREE",
    "CODEX_ORIGINATOR",
    "CODEX_USER_AGENT",
    "ZERO_WIDTH_SPACE",
    "CodexIdentity",
    "codex_uses_api_key",
    "confuse_uuid",
    "forwardable_response_headers",
    "header",
    "inject_x_search",
    "obfuscate",
    "obfuscate_system_instruction",
    "one_line",
    "sensitive_words",
    "strip_claude_attribution",
]

# header mappings whose lookups ignore case already (the servers' request headers)
CASE_FREE: tuple[type, ...] = (CIMultiDictProxy, CIMultiDict)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header value by lower-case name (any case in a plain dict); "" when absent."""
    value = headers.get(name)
    if value is None and headers and type(headers) not in CASE_FREE:
        for key, val in headers.items():
            if key.lower() == name:
                return val
    return value or ""


def one_line(headers: Mapping[str, str], name: str, lines: list[str]) -> Mapping[str, str]:
    """``headers`` with the ``lines`` of list header ``name`` as one comma-joined line, in
    their order (RFC 9110: the same list), blank members dropped."""
    joined = CIMultiDict(headers)
    joined.popall(name)
    joined[name] = ",".join(m for m in (v.strip() for line in lines for v in line.split(",")) if m)
    return CIMultiDictProxy(joined)


CODEX_USER_AGENT = "codex-tui/0.146.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10 (codex-tui; 0.146.0)"
CODEX_ORIGINATOR = "codex-tui"
ZERO_WIDTH_SPACE = "\u200b"

# client headers a Codex request carries on to the upstream when the client sent them
_CODEX_CLIENT_HEADERS = (
    ("x-codex-beta-features", "X-Codex-Beta-Features"),
    ("version", "Version"),
    ("x-codex-turn-metadata", "X-Codex-Turn-Metadata"),
    ("x-client-request-id", "X-Client-Request-Id"),
    ("x-codex-window-id", "X-Codex-Window-Id"),
    ("thread-id", "Thread-Id"),
    ("session-id", "Session-Id"),
    ("session_id", "session_id"),  # older Codex CLIs spell it this way
    ("conversation_id", "Conversation_id"),
    ("x-openai-internal-codex-responses-lite", "X-Openai-Internal-Codex-Responses-Lite"),
)


def codex_uses_api_key(cred: Credential) -> bool:
    """A ``codex-api-key`` entry (or a file holding an API key) rather than a ChatGPT sign-in."""
    return cred.kind == KIND_APIKEY or bool(cred.api_key)


def confuse_uuid(cred_id: str, kind: str, value: str) -> str:
    """The stand-in for ``value`` under credential ``cred_id``: stable, and different
    per credential (a name-based UUID, SHA-1 in the OID namespace, as CPA makes it)."""
    # the memo keeps its keys: a client's long value (a prompt_cache_key of megabytes) is
    # hashed each time instead of held, 8,192 of them at a time
    if len(value) > 1024:
        return _confuse.__wrapped__(cred_id, kind, value)
    return _confuse(cred_id, kind, value)


@functools.lru_cache(maxsize=8192)
def _confuse(cred_id: str, kind: str, value: str) -> str:
    name = ":".join(("cli-proxy-api", "codex", "identity-confuse", kind, cred_id.strip(), value.strip()))
    return oid_uuid(name)


class CodexIdentity:
    """The Codex identity settings of one config snapshot."""

    __slots__ = ("cloak", "confuse", "default_user_agent")

    def __init__(self, config: Any = None) -> None:
        codex = getattr(config, "codex", None)
        self.cloak = not bool(getattr(codex, "disable_codex_cloaking", False))
        defaults = getattr(config, "codex_header_defaults", None)
        self.default_user_agent = str(getattr(defaults, "user_agent", "") or "").strip()
        routing = getattr(config, "routing", None)
        sticky = bool(getattr(routing, "session_affinity", False)) or (
            getattr(routing, "strategy", "") == "fill-first"
        )
        # CPA confuses only where one caller keeps landing on one account
        self.confuse = bool(getattr(codex, "identity_confuse", False)) and sticky

    def headers(self, cred: Credential, client_headers: Mapping[str, str]) -> dict[str, str]:
        """The identity headers of a Codex request (auth and content headers excluded)."""
        out: dict[str, str] = {}
        for lower, name in _CODEX_CLIENT_HEADERS:
            value = client_headers.get(lower)
            if value and value.strip():
                out[name] = value.strip()
        api_key = codex_uses_api_key(cred)
        client_ua = (client_headers.get("user-agent") or "").strip()
        default_ua = "" if api_key else self.default_user_agent
        out["User-Agent"] = default_ua or client_ua or CODEX_USER_AGENT
        originator = (client_headers.get("originator") or "").strip()
        if originator:
            out["Originator"] = originator
        elif not api_key:
            out["Originator"] = CODEX_ORIGINATOR
        if not api_key:
            account = cred.metadata.get("account_id")
            if isinstance(account, str) and account.strip():
                out["Chatgpt-Account-Id"] = account.strip()
        return out

    def finish(self, headers: dict[str, str]) -> None:
        """The last word on the headers, after the credential's own ``headers:`` (CPA)."""
        if self.cloak:
            headers["User-Agent"] = CODEX_USER_AGENT
            headers["Originator"] = CODEX_ORIGINATOR

    def confuse_request(
        self, cred: Credential, body: dict[str, Any], headers: dict[str, str]
    ) -> Callable[[bytes], bytes] | None:
        """``codex.identity-confuse``: the caller's ids replaced by per-credential ones.
        Returns the rewrite that puts the caller's ids back into the answer (``None``
        when nothing was replaced)."""
        if not self.confuse or not cred.id.strip():
            return None
        confusion = _Confusion(cred.id)
        confusion.apply(body, headers)
        pairs = [(new.encode(), old.encode()) for old, new in confusion.replaced() if old != new]
        return _Expose(pairs) if pairs else None


class _Confusion:
    """One request's replacements (CPA's order: cache key, installation, turn, window)."""

    __slots__ = ("cache_key", "cred_id", "original_key", "turns")

    def __init__(self, cred_id: str) -> None:
        self.cred_id = cred_id
        self.original_key = ""
        self.cache_key = ""
        self.turns: dict[str, str] = {}

    def apply(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        key = body.get("prompt_cache_key")
        if isinstance(key, str) and key.strip():
            self.original_key = key.strip()
            self.cache_key = confuse_uuid(self.cred_id, "prompt-cache", self.original_key)
            body["prompt_cache_key"] = self.cache_key
        meta = body.get("client_metadata")
        if isinstance(meta, dict):
            meta = body["client_metadata"] = dict(meta)
            installation = meta.get("x-codex-installation-id")
            if isinstance(installation, str) and installation.strip():
                meta["x-codex-installation-id"] = confuse_uuid(self.cred_id, "installation", installation)
            turn = meta.get("x-codex-turn-metadata")
            if isinstance(turn, str) and turn.strip():
                meta["x-codex-turn-metadata"] = self.turn_metadata(turn.strip())
            window = meta.get("x-codex-window-id")
            if self.cache_key and isinstance(window, str) and window.strip():
                meta["x-codex-window-id"] = self.cache_key + ":0"
        turn_header = headers.get("X-Codex-Turn-Metadata")
        if turn_header:
            headers["X-Codex-Turn-Metadata"] = self.turn_metadata(turn_header)
        if not self.cache_key:
            return
        session = "session_id" if "session_id" in headers else "Session-Id"
        headers.pop("Session-Id" if session == "session_id" else "session_id", None)
        headers[session] = self.cache_key
        if "Conversation_id" in headers:
            headers["Conversation_id"] = self.cache_key
        headers["X-Client-Request-Id"] = self.cache_key
        headers["Thread-Id"] = self.cache_key
        headers["X-Codex-Window-Id"] = self.cache_key + ":0"

    def turn_metadata(self, raw: str) -> str:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            if self.cache_key and self.original_key:
                return raw.replace(self.original_key, self.cache_key)
            return raw
        out = dict(parsed)
        if self.cache_key and "prompt_cache_key" in out:
            out["prompt_cache_key"] = self.cache_key
        elif self.cache_key and self.original_key:
            out = _replace_strings(out, self.original_key, self.cache_key)
        turn = parsed.get("turn_id")
        if isinstance(turn, str) and turn.strip():
            out["turn_id"] = self.turn_id(turn.strip())
        if self.cache_key and "window_id" in parsed:
            out["window_id"] = self.cache_key + ":0"
        return orjson.dumps(out).decode()

    def turn_id(self, turn: str) -> str:
        if turn not in self.turns:
            self.turns[turn] = confuse_uuid(self.cred_id, "turn", turn)
        return self.turns[turn]

    def replaced(self) -> list[tuple[str, str]]:
        """(caller's id, stand-in) for the prompt-cache key and every turn id (as CPA
        restores them in answers; installation ids are never echoed back)."""
        pairs = [(self.original_key, self.cache_key)] if self.cache_key else []
        return pairs + list(self.turns.items())


class _Expose:
    """An answer (whole body or a run of SSE lines) with the stand-ins swapped back."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[bytes, bytes]]) -> None:
        self.pairs = pairs

    def __call__(self, data: bytes) -> bytes:
        for confused, original in self.pairs:
            if data.find(confused) >= 0:
                data = data.replace(confused, original)
        return data


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    return value


# ---------------------------------------------------------------- sensitive words


def sensitive_words(words: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for ``words`` (longest first), compiled once per config;
    words shorter than two characters, or already holding a zero-width space, are skipped."""
    valid = [w.strip() for w in words if len(w.strip()) >= 2 and ZERO_WIDTH_SPACE not in w]
    if not valid:
        return None
    valid.sort(key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in valid), re.IGNORECASE)


def obfuscate(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` with a zero-width space after the first character of every match."""
    return pattern.sub(lambda m: m.group(0)[0] + ZERO_WIDTH_SPACE + m.group(0)[1:], text)


def obfuscate_system_instruction(body: dict[str, Any], pattern: re.Pattern[str] | None) -> None:
    """The words in a Gemini request's system instruction obfuscated; contents untouched."""
    if pattern is None:
        return
    for key in ("systemInstruction", "system_instruction"):
        instruction = body.get(key)
        if isinstance(instruction, str):
            body[key] = obfuscate(instruction, pattern)
            continue
        if not isinstance(instruction, dict) or not isinstance(instruction.get("parts"), list):
            continue
        parts = []
        for part in instruction["parts"]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                text = obfuscate(part["text"], pattern)
                if text != part["text"]:
                    part = {**part, "text": text}
            parts.append(part)
        body[key] = {**instruction, "parts": parts}


# ---------------------------------------------------------------- Kimi: Claude Code attribution

_ATTRIBUTION_PREFIX = "x-anthropic-billing-header:"


def strip_claude_attribution(body: dict[str, Any]) -> None:
    """Drop Claude Code's billing/attribution system block (``x-anthropic-billing-header: ...``)
    from a Messages body: Kimi reads it as prompt text. Other system content stays."""
    system = body.get("system")
    if isinstance(system, str):
        if system.lstrip().startswith(_ATTRIBUTION_PREFIX):
            del body["system"]
        return
    if not isinstance(system, list):
        return
    kept = [
        block
        for block in system
        if not (
            isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
            and block["text"].lstrip().startswith(_ATTRIBUTION_PREFIX)
        )
    ]
    if len(kept) == len(system):
        return
    if kept:
        body["system"] = kept
    else:
        del body["system"]


# ---------------------------------------------------------------- xAI x_search

_X_SEARCH = "x_search"


def inject_x_search(body: dict[str, Any]) -> None:
    """Add the native ``x_search`` tool when the request does not declare it, and list it
    in ``tool_choice`` when that restricts the model to ``allowed_tools``."""
    if not _has_x_search(body):
        tools = body.get("tools")
        body["tools"] = [*tools, {"type": _X_SEARCH}] if isinstance(tools, list) else [{"type": _X_SEARCH}]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "allowed_tools":
        return
    allowed = choice.get("tools")
    if not isinstance(allowed, list):
        body["tool_choice"] = {**choice, "tools": [{"type": _X_SEARCH}]}
    elif not any(isinstance(t, dict) and str(t.get("type", "")).strip() == _X_SEARCH for t in allowed):
        body["tool_choice"] = {**choice, "tools": [*allowed, {"type": _X_SEARCH}]}


def _has_x_search(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and t.get("type") == _X_SEARCH for t in tools):
        return True
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            nested = item.get("tools")
            if isinstance(nested, list) and any(
                isinstance(t, dict) and t.get("type") == _X_SEARCH for t in nested
            ):
                return True
    return False


# ---------------------------------------------------------------- passthrough-headers

_NEVER_FORWARDED = frozenset(
    {
        # hop-by-hop (RFC 9110 7.6.1) and what the proxy sets itself
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        # security-sensitive, and headers the proxy manages
        "set-cookie",
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-max-age",
        "x-cpa-trace-id",
    }
)
# AI gateways' own headers: Claude Code reports a gateway it sees in them
_GATEWAY_PREFIXES = ("x-litellm-", "helicone-", "x-portkey-", "cf-aig-", "x-kong-", "x-bt-")


def forwardable_response_headers(upstream: Mapping[str, str], present: Mapping[str, str]) -> dict[str, str]:
    """The upstream answer's headers a client may see (``passthrough-headers: true``):
    none named in ``present`` (the proxy's own win), no hop-by-hop or connection-scoped
    header, no cookie, CORS or AI-gateway header."""
    getall = getattr(upstream, "getall", None)  # a multidict may hold several Connection lines
    lines = getall("Connection", []) if getall is not None else [upstream.get("Connection") or ""]
    scoped = {t.strip().lower() for line in lines for t in line.split(",") if t.strip()}
    mine = {k.lower() for k in present}
    out: dict[str, str] = {}
    for name, value in upstream.items():
        lower = name.lower()
        if (
            lower in _NEVER_FORWARDED
            or lower in scoped
            or lower in mine
            or lower.startswith(_GATEWAY_PREFIXES)
        ):
            continue
        out[name] = value
    return out


# set on every error answer by the proxy (cliproxy.server.errors), never the upstream's
_ERROR_OWN_HEADERS = {"Content-Type": "", "Retry-After": ""}


def forward_error_headers(err: UpstreamError) -> None:
    """``passthrough-headers: true``: the failed upstream answer's headers a client may see
    go on the error answer too (CPA's error ``Addon`` headers), below the proxy's own."""
    if err.headers:
        own = err.response_headers or {}
        passed = forwardable_response_headers(err.headers, _ERROR_OWN_HEADERS)
        err.response_headers = {**passed, **own}
