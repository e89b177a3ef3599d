"""Who a Claude request says it comes from: Claude Code detection, the CLI headers and
``metadata.user_id``, as CPA builds them (Claude Code 2.1.220 wire facts).

- :func:`detect` decides from headers and body whether the caller is a real Claude Code:
  ``User-Agent: claude-cli/<baseline version> (external, <entrypoint>)``, ``X-App: cli``,
  the ``claude-code-20250219`` beta and a valid JSON ``metadata.user_id`` (not needed on
  count_tokens); only the ``cli``, ``sdk-cli`` and ``claude-vscode`` entrypoints pass.
- :class:`DeviceProfile` is the software baseline (``claude-header-defaults``).
- :func:`cli_identity` is a credential's stable ``device_id`` / ``account_uuid``, computed
  once per credential id; :func:`session_uuid` the conversation's session id;
  :func:`user_id` the JSON string Claude Code sends as ``metadata.user_id``.
- :func:`cli_betas` / :func:`count_betas` assemble ``anthropic-beta`` in Claude Code's order.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.credentials.session import extract_session_key, normalize_session_id
from cliproxy.ids import oid_uuid
from cliproxy.providers.decoding import decodes
from cliproxy.providers.identity import CASE_FREE, header, one_line  # (read as ident.CASE_FREE ...)

__all__ = [
    "CASE_FREE",
    "CODE_BETA",
    "OAUTH_BETA",
    "Detection",
    "DeviceProfile",
    "adopt_key_ids",
    "can_decode_br_zstd",
    "cli_betas",
    "cli_identity",
    "count_betas",
    "derived_account",
    "derived_device",
    "detect",
    "entrypoint",
    "fake_user_id",
    "fast_speed",
    "header",
    "is_oauth",
    "is_valid_user_id",
    "key_ids",
    "key_session",
    "one_line",
    "session_uuid",
    "user_id",
    "valid_device_id",
    "with_oauth_betas",
]

ANTHROPIC_VERSION = "2023-06-01"
CODE_BETA = "claude-code-20250219"
OAUTH_BETA = "oauth-2025-04-20"
CONTEXT_1M_BETA = "context-1m-2025-08-07"
REDACT_THINKING_BETA = "redact-thinking-2026-02-12"
MID_SYSTEM_BETA = "mid-conversation-system-2026-04-07"
TOOL_USE_BETA = "advanced-tool-use-2025-11-20"
EFFORT_BETA = "effort-2025-11-24"
FALLBACK_CREDIT_BETA = "fallback-credit-2026-06-01"
FAST_MODE_BETA = "fast-mode-2026-02-01"
EXTENDED_TTL_BETA = "extended-cache-ttl-2025-04-11"
CACHE_DIAGNOSIS_BETA = "cache-diagnosis-2026-04-07"
_CONSTANT_BETAS = (
    "interleaved-thinking-2025-05-14",
    REDACT_THINKING_BETA,
    "thinking-token-count-2026-05-13",
    "context-management-2025-06-27",
    "prompt-caching-scope-2026-01-05",
)
_TRAILING_BETAS = ("server-side-fallback-2026-06-01", FALLBACK_CREDIT_BETA, "structured-outputs-2025-12-15")
_COUNT_BETAS = (
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "token-counting-2024-11-01",
)

# models that refuse a mid-conversation role=system turn: caller system text goes into a
# <system-reminder> in the first user message instead
LEGACY_REMINDER_MODELS = frozenset(
    {
        "claude-3-5-haiku-20241022",
        "claude-3-5-haiku-latest",
        "claude-3-7-sonnet-20250219",
        "claude-3-7-sonnet-latest",
        "claude-haiku-4-5",
        "claude-haiku-4-5-20251001",
        "claude-opus-4",
        "claude-opus-4-20250514",
        "claude-opus-4-1",
        "claude-opus-4-1-20250805",
        "claude-opus-4-5",
        "claude-opus-4-5-20251101",
        "claude-opus-4-6",
        "claude-opus-4-7",
        "claude-sonnet-4",
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-6",
    }
)

_NATIVE_ENTRYPOINTS = frozenset({"cli", "sdk-cli", "claude-vscode"})
_UA_DETAILS = re.compile(r"(?i)^claude-cli/\S+\s+\(external,\s*([^,)]+)(?:,\s*agent-sdk/([^,)]+))?")
_UA_NATIVE = re.compile(
    r"(?i)^claude-cli/[0-9]+\.[0-9]+\.[0-9]+\s+\(external,\s*[^,)]+(?:,\s*agent-sdk/[0-9]+\.[0-9]+\.[0-9]+)?\)$"
)
_UA_VERSION = re.compile(r"^claude-cli/(\d+)\.(\d+)\.(\d+)")
_DEVICE_ID = re.compile(r"^[a-f0-9]{64}$")
_SESSION_NS = "cli-proxy-api\x00claude\x00agent-conversation\x00"


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """The Claude Code software a cloaked request claims (``claude-header-defaults``)."""

    user_agent: str = "claude-cli/2.1.220 (external, cli)"
    package_version: str = "0.94.0"
    runtime_version: str = "v26.3.0"
    os: str = "MacOS"
    arch: str = "arm64"
    timeout: str = "600"
    timezone: str = ""

    @classmethod
    def from_config(cls, defaults: Any) -> DeviceProfile:
        """From a ``ClaudeHeaderDefaults`` section; empty values keep the built-in baseline."""
        base = cls()
        if defaults is None:
            return base
        return cls(
            **{
                name: (getattr(defaults, name, "") or "").strip() or getattr(base, name)
                for name in (
                    "user_agent",
                    "package_version",
                    "runtime_version",
                    "os",
                    "arch",
                    "timeout",
                    "timezone",
                )
            }
        )

    @property
    def version(self) -> str:
        """``2.1.220`` from the User-Agent (the billing block's ``cc_version``)."""
        found = _VERSIONS.get(self.user_agent)
        if found is None:
            matched = _UA_VERSION.match(self.user_agent)
            found = _VERSIONS[self.user_agent] = ".".join(matched.groups()) if matched else "2.1.220"
        return found


_VERSIONS: dict[str, str] = {}  # a baseline User-Agent -> its version (configured: a few)


@dataclass(frozen=True, slots=True)
class Detection:
    confirmed: bool
    strong: bool
    native: bool
    entrypoint: str
    helper: bool = False  # CPA's measured native Haiku helper profile (:mod:`claude_helper`)


def can_decode_br_zstd() -> bool:
    """Whether the shared upstream client (aiohttp's or ours, :mod:`.decoding`) can decode
    brotli and zstd answers (zstd always can; br with ``brotli`` installed)."""
    return decodes("br") and decodes("zstd")


def _betas(value: str) -> list[str]:
    return [b.strip() for b in value.split(",") if b.strip()]


# answers worth keeping between requests (a client sends the same values again and again),
# each table emptied when it grows past _MEMO; a key longer than _MEMO_KEY (a client's value
# of any size) is worked out each time, so the tables never hold 4,096 long values
_MEMO = 4096
_MEMO_KEY = 1024
_PLAUSIBLE: dict[tuple[str, str], bool] = {}
_VALID_UIDS: dict[str, bool] = {}
_UUIDS: dict[str, str] = {}
_CC_SESSIONS: dict[str, str] = {}  # a Claude Code's session header -> its UUID, or ""
_DERIVED_SESSIONS: dict[str, str] = {}  # a session key -> the UUID derived from it


def _remember(table: dict[Any, Any], key: Any, value: Any) -> None:
    if len(key if type(key) is str else key[0]) > _MEMO_KEY:  # (_PLAUSIBLE: the client's UA first)
        return
    if len(table) >= _MEMO:
        table.clear()
    table[key] = value


def plausible_user_agent(ua: str, profile: DeviceProfile) -> bool:
    """A native Claude Code User-Agent at exactly the baseline version (CPA)."""
    key = (ua, profile.user_agent)
    found = _PLAUSIBLE.get(key)
    if found is None:
        _remember(_PLAUSIBLE, key, found := _plausible(ua, profile.user_agent))
    return found


def _plausible(ua: str, baseline: str) -> bool:
    ua = ua.strip()
    if not _UA_NATIVE.match(ua):
        return False
    found, base = _UA_VERSION.match(ua), _UA_VERSION.match(baseline)
    return bool(found and base and tuple(map(int, found.groups())) == tuple(map(int, base.groups())))


def entrypoint(headers: Mapping[str, str]) -> str:
    """The Claude Code entrypoint the User-Agent names (``cli``, ``sdk-cli``...), else ""
    (as :func:`detect` reads it)."""
    details = _UA_DETAILS.match(header(headers, "user-agent").strip())
    return details.group(1).strip().lower() if details else ""


def detect(
    headers: Mapping[str, str], body: Mapping[str, Any], *, count: bool, profile: DeviceProfile
) -> Detection:
    """Whether the caller is a real Claude Code (CPA's four strong signals)."""
    ua = header(headers, "user-agent")
    details = _UA_DETAILS.match(ua.strip())
    entrypoint = details.group(1).strip().lower() if details else ""
    metadata = body.get("metadata")
    uid = metadata.get("user_id") if type(metadata) is dict or isinstance(metadata, Mapping) else None
    strong = (
        header(headers, "x-app") == "cli"
        and plausible_user_agent(ua, profile)
        and CODE_BETA in _betas(header(headers, "anthropic-beta"))
        and (count or (isinstance(uid, str) and is_valid_user_id(uid)))
    )
    native = entrypoint in _NATIVE_ENTRYPOINTS
    return Detection(confirmed=strong and native, strong=strong, native=native, entrypoint=entrypoint)


def _uuid(value: Any) -> str:
    """``value`` as a canonical UUID string, else ""."""
    if type(value) is not str:
        return _parse_uuid(str(value))
    found = _UUIDS.get(value)
    if found is None:
        _remember(_UUIDS, value, found := _parse_uuid(value))
    return found


def _parse_uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


def is_valid_user_id(raw: str) -> bool:
    """The Claude Code 2.1.220 ``metadata.user_id`` shape: JSON with a 64-hex
    ``device_id``, a UUID ``session_id`` and an empty or UUID ``account_uuid``."""
    found = _VALID_UIDS.get(raw)
    if found is None:
        _remember(_VALID_UIDS, raw, found := _valid_user_id(raw))
    return found


def _valid_user_id(raw: str) -> bool:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(data, dict):
        return False
    device, account = data.get("device_id"), data.get("account_uuid", "")
    if not isinstance(device, str) or not _DEVICE_ID.match(device) or not _uuid(data.get("session_id")):
        return False
    return account == "" or (isinstance(account, str) and bool(_uuid(account)))


def user_id(device_id: str, account_uuid: str, session_id: str) -> str:
    """``metadata.user_id`` as Claude Code writes it (key order matters for the hash)."""
    return orjson.dumps(
        {"device_id": device_id, "account_uuid": account_uuid, "session_id": session_id}
    ).decode()


def is_oauth(cred: Credential) -> bool:
    """A real Claude subscription token (CPA: an ``sk-ant-oat`` key counts too)."""
    return bool(cred.access_token) or "sk-ant-oat" in cred.api_key


# ------------------------------------------------------------------ per-credential identity

_IDENTITIES: dict[tuple[str, str, str], tuple[str, str]] = {}


def valid_device_id(value: str) -> bool:
    """A Claude Code device id: 64 lower-case hex digits."""
    return _DEVICE_ID.match(value) is not None


def _seed(cred: Credential) -> str:
    return cred.api_key if cred.api_key and not cred.access_token else "auth-id|" + cred.id


def derived_device(cred: Credential) -> str:
    """The stable device id of a credential that names none (a hash of its seed)."""
    return hashlib.sha256(("cpa-claude-code-cli-device|" + _seed(cred)).encode()).hexdigest()


def derived_account(cred: Credential) -> str:
    """The stable ``account_uuid`` of a credential whose real one is not known (CPA's
    ``StableClaudeCLIAccountUUID`` over the credential's seed)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, "cpa-claude-code-cli-account|" + _seed(cred)))


def cli_identity(cred: Credential) -> tuple[str, str]:
    """``(device_id, account_uuid)`` of a credential, computed once per credential.

    An OAuth file's own ``claude_device_ids`` / ``account_uuid`` win; what is missing is
    derived from a seed (the API key, or the credential id for a file), as CPA
    synthesizes an API key's identity: same credential, same identity, across restarts."""
    seed = _seed(cred)
    meta = cred.metadata or {}
    key = (
        seed,
        repr(meta.get("claude_device_ids")),
        repr(meta.get("account_uuid") or meta.get("accountUuid")),
    )
    found = _IDENTITIES.get(key)
    if found is not None:
        return found
    device = ""
    pool = meta.get("claude_device_ids")
    if isinstance(pool, list):
        device = next(
            (d.strip().lower() for d in pool if isinstance(d, str) and _DEVICE_ID.match(d.strip().lower())),
            "",
        )
    if not device:
        device = derived_device(cred)
    account = ""
    for name in ("account_uuid", "accountUuid"):
        value = meta.get(name)
        if isinstance(value, str) and value.strip():
            account = value.strip()
            break
    if not account:
        account = derived_account(cred)
    if len(_IDENTITIES) > 4096:
        _IDENTITIES.clear()
    _IDENTITIES[key] = found = (device, account)
    return found


def session_uuid(headers: Mapping[str, str], body: Mapping[str, Any], *, confirmed: bool) -> str:
    """The conversation's session UUID: a confirmed Claude Code keeps its own; others
    get a stable UUID from their session signals (or their first messages), never from
    a copied ``X-Claude-Code-Session-Id`` / ``metadata.user_id``."""
    if confirmed and type(headers) in CASE_FREE:  # its own header comes first: read only that
        sent = headers.getall("x-claude-code-session-id", None)  # type: ignore[attr-defined]
        if sent:  # the last one, as extract_session_key's lowered dict keeps
            parsed = _CC_SESSIONS.get(sent[-1])
            if parsed is None:
                sid = normalize_session_id(sent[-1])
                _remember(_CC_SESSIONS, sent[-1], parsed := _uuid(sid) if sid else "")
            if parsed:
                return parsed
    if not confirmed:
        headers = {k: v for k, v in headers.items() if k.lower() != "x-claude-code-session-id"}
        metadata = body.get("metadata")
        if (type(metadata) is dict or isinstance(metadata, Mapping)) and "user_id" in metadata:
            body = {**body, "metadata": {k: v for k, v in metadata.items() if k != "user_id"}}
    identity = extract_session_key(headers, body)
    if not identity:
        return str(uuid.uuid4())
    if identity.startswith("claude:") and (parsed := _uuid(identity[7:])):
        return parsed
    if parsed := _uuid(identity):
        return parsed
    derived = _DERIVED_SESSIONS.get(identity)
    if derived is None:  # (a session's requests share their key: a SHA-1 each, once)
        _remember(
            _DERIVED_SESSIONS,
            identity,
            derived := oid_uuid(_SESSION_NS + identity),
        )
    return derived


# a cloaked API key without the CLI profile: a fake user id, per request or cached per key
_USER_TTL = 3600.0
_FAKE: dict[str, tuple[str, float]] = {}
_SESSIONS: dict[str, tuple[str, float]] = {}


def _cached(table: dict[str, tuple[str, float]], key: str, make: Any) -> str:
    now = time.monotonic()
    found = table.get(key)
    if found is not None and found[1] > now:
        value = found[0]
    else:
        if len(table) > 4096:
            for k in [k for k, (_, exp) in table.items() if exp <= now]:
                del table[k]
        value = make()
    table[key] = (value, now + _USER_TTL)
    return value


def key_session(api_key: str) -> str:
    """A session UUID per API key, kept for an hour (CPA's cached session id)."""
    return _cached(_SESSIONS, hashlib.sha256(api_key.encode()).hexdigest(), lambda: str(uuid.uuid4()))


def fake_user_id(api_key: str, *, cache: bool) -> str:
    """CPA's fake ``metadata.user_id``: a random device, the key's session (an hour);
    with ``cache-user-id`` the whole id is kept per key for an hour."""
    key = hashlib.sha256(api_key.encode()).hexdigest()

    def make() -> str:
        session = key_session(api_key) if api_key else str(uuid.uuid4())
        return user_id(secrets.token_hex(32), "", session)

    return _cached(_FAKE, key, make) if cache and api_key else make()


def key_ids(api_key: str, *, user: bool) -> tuple[str, str]:
    """The key's session UUID and (``user``) its cached fake user id, as this process has
    them (made here first when it has none)."""
    return key_session(api_key), fake_user_id(api_key, cache=True) if user else ""


def adopt_key_ids(api_key: str, session: str, user: str) -> None:
    """The ids the workers sharing a state backend agreed on for ``api_key``
    (:mod:`claude_shared`): this process's from now on, for the hour; a value of the wrong
    shape is left out."""
    key = hashlib.sha256(api_key.encode()).hexdigest()
    expires = time.monotonic() + _USER_TTL
    if _uuid(session):
        _SESSIONS[key] = (session, expires)
    if user and is_valid_user_id(user):
        _FAKE[key] = (user, expires)


# ------------------------------------------------------------------ anthropic-beta


def requested_betas(incoming: str, extra: list[str]) -> set[str]:
    return {*_betas(incoming), *(b.strip() for b in extra if b.strip())}


def uses_legacy_reminder(model: Any) -> bool:
    name = str(model or "").strip().lower()
    return name.rsplit("/", 1)[-1] in LEGACY_REMINDER_MODELS


def mid_system_turn(body: Mapping[str, Any]) -> int:
    """The index of the first ``role: system`` message (any case, spaces trimmed), else -1."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, msg in enumerate(messages):
            role = msg.get("role") if type(msg) is dict or isinstance(msg, Mapping) else None
            if role == "user" or role == "assistant":  # (nearly every turn: no calls)
                continue
            if isinstance(role, str) and role.strip().lower() == "system":
                return i
    return -1


def legacy_mid_system_error(body: Mapping[str, Any]) -> tuple[str, int] | None:
    """CPA's 400 for a legacy model (:data:`LEGACY_REMINDER_MODELS`) given a mid-conversation
    system turn, which api.anthropic.com always refuses: ``(message, index)`` or None."""
    if not uses_legacy_reminder(body.get("model")):
        return None
    index = mid_system_turn(body)
    if index < 0:
        return None
    model = str(body.get("model") or "") or "unknown"
    return (
        f"role 'system' is not supported on this model. Model {model!r} predates mid-conversation "
        "system turns, so system instructions must stay in the top-level system field for it.",
        index,
    )


def fast_speed(body: Mapping[str, Any]) -> bool:
    """The body asks for the fast service tier (``"speed": "fast"``), which Anthropic
    refuses unless the request also declares :data:`FAST_MODE_BETA`."""
    speed = body.get("speed")
    return isinstance(speed, str) and speed.strip().lower() == "fast"


def cli_betas(body: Mapping[str, Any], requested: set[str], oauth: bool) -> str:
    """Claude Code 2.1.220's per-request ``anthropic-beta`` list, in its wire order."""
    out = [CODE_BETA]
    if oauth:
        out.append(OAUTH_BETA)
    if CONTEXT_1M_BETA in requested:
        out.append(CONTEXT_1M_BETA)
    thinking = body.get("thinking")
    display = thinking.get("display") if type(thinking) is dict or isinstance(thinking, Mapping) else None
    redact = not (isinstance(display, str) and display.strip())
    out.extend(b for b in _CONSTANT_BETAS if b != REDACT_THINKING_BETA or redact)
    if not uses_legacy_reminder(body.get("model")):
        out.append(MID_SYSTEM_BETA)
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out.append(TOOL_USE_BETA)
    out.append(EFFORT_BETA)
    if oauth and FALLBACK_CREDIT_BETA not in requested:
        out.append(FALLBACK_CREDIT_BETA)
    out.extend(b for b in _TRAILING_BETAS if b in requested)
    if FAST_MODE_BETA in requested or fast_speed(body):
        out.append(FAST_MODE_BETA)
    if oauth:
        out.append(EXTENDED_TTL_BETA)
    if "diagnostics" in body and isinstance(body["diagnostics"], Mapping):
        out.append(CACHE_DIAGNOSIS_BETA)
    return ",".join(out)


def count_betas(oauth: bool) -> str:
    """The fixed list Claude Code sends to ``count_tokens``."""
    return ",".join((CODE_BETA, OAUTH_BETA, *_COUNT_BETAS) if oauth else (CODE_BETA, *_COUNT_BETAS))


def with_oauth_betas(value: str, *, count: bool) -> str:
    """A confirmed Claude Code's own list with the OAuth credential's betas added
    (``oauth-2025-04-20`` after ``claude-code-20250219``; extended TTL at the end)."""
    parts = list(dict.fromkeys(_betas(value)))
    if OAUTH_BETA not in parts:
        parts.insert(1 if parts and parts[0] == CODE_BETA else 0, OAUTH_BETA)
    if not count and EXTENDED_TTL_BETA not in parts:
        parts.append(EXTENDED_TTL_BETA)
    return ",".join(parts)
