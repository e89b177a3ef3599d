"""Antigravity (Google's Cloud Code backend) with Google OAuth accounts.

Requests are Gemini requests wrapped in an envelope::

    POST {base}/v1internal:generateContent | :streamGenerateContent?alt=sse | :countTokens
    Authorization: Bearer <access_token>
    {"project": "<project_id>", "model": "<model>", "request": {<gemini request>},
     "userAgent": "antigravity", "requestType": "agent", "requestId": "agent-<uuid>"}

``{base}`` is the daily Cloud Code host, then production when daily is busy
(:mod:`cliproxy.providers.antigravity_hosts`), or the credential's own ``base_url``. A Claude
client's web search becomes Cloud Code's own search request
(:mod:`cliproxy.providers.antigravity_search`).

Answers wrap the Gemini response the same way: ``{"response": {...}}`` for the whole
body and for every SSE ``data:`` payload. The pipeline unwraps them with
:func:`unwrap_body` and :func:`unwrap_chunk` before translating (count-tokens answers
are not wrapped; both helpers leave unwrapped data as it is).

``antigravity.sensitive-words`` are obfuscated with a zero-width space in the system
instruction of generation and count requests (never in the contents), as CPA does. A
count is taken on the history its generation would send (:func:`shape_history` and the
reasoning replay), without the generation's envelope. A Gemini-family model's history whose
calls and responses do not pair once the replay is done is refused (400) before it is sent
(:func:`cliproxy.providers.antigravity_replay.check_pairing`), a count's too.

A credential without ``project_id`` gets its Cloud Code project on first use
(:mod:`cliproxy.providers.antigravity_project`); a credits attempt
(``quota-exceeded.antigravity-credits``, :mod:`cliproxy.providers.antigravity_credits`)
carries ``enabledCreditTypes``, and an account's credits are looked up beside its
requests (:mod:`cliproxy.providers.antigravity_balance`). Each account's requests, and
its project and credits lookups and list of models, go through connections of its own
(:mod:`cliproxy.providers.account_pools`).
The client version an account without a ``user_agent`` of its own reports is kept current
from the Antigravity Hub's update manifest in the background, from CPA's fallback 2.9.1
(Cloud Code refuses newer models below 2.9.0; :mod:`cliproxy.providers.antigravity_version`).
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from cliproxy.credentials.derived_session import antigravity_session_id, session_identity
from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.providers import account_pools
from cliproxy.providers import antigravity_credits as credits
from cliproxy.providers import antigravity_replay as replay
from cliproxy.providers import antigravity_search as web_search
from cliproxy.providers.antigravity_balance import BalanceCheck, short_user_agent
from cliproxy.providers.antigravity_names import rename_tools
from cliproxy.providers.antigravity_project import ProjectLookup
from cliproxy.providers.antigravity_schemas import clean_request_schemas
from cliproxy.providers.antigravity_turns import applies_to, camel_parts, normalize_response_turns
from cliproxy.providers.antigravity_version import FALLBACK_VERSION, HubVersion
from cliproxy.providers.base import Carry, UpstreamRequest, copy_client_headers
from cliproxy.providers.gemini import GeminiProvider, backfill_response_names, lead_with_user
from cliproxy.providers.http import HttpClient
from cliproxy.providers.identity import header, obfuscate_system_instruction, sensitive_words
from cliproxy.providers.transport import UpstreamClient
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache
from cliproxy.translate.replay_keys import caller_key

__all__ = [
    "SESSION_CARRIED",
    "AntigravityProvider",
    "conversation_id",
    "envelope",
    "nest_response_media",
    "shape_history",
    "unwrap_body",
    "unwrap_chunk",
]

DEFAULT_VERSION = FALLBACK_VERSION  # before (or without) a fetched one
# private: the conversation's derived identity on its way from start_attempt to build
SESSION_CARRIED = "_cliproxy_derived_session"
DEFAULT_USER_AGENT = f"antigravity/hub/{DEFAULT_VERSION} darwin/arm64"

# the reasoning replay scope of this task's last Antigravity request: ``build`` sets it,
# ``classify`` of the same attempt reads it (an error that refuses a signature)
_SCOPE: contextvars.ContextVar[replay.Scope | None] = contextvars.ContextVar(
    "antigravity_replay_scope", default=None
)


class AntigravityProvider(GeminiProvider):
    """Gemini (and Claude) models through Antigravity; Google RPC errors as Gemini."""

    key = "antigravity"
    endpoints_key = "antigravity"  # https://cloudcode-pa.googleapis.com
    wraps_payloads = True
    # ``antigravity.sensitive-words``, compiled once per config snapshot
    sensitive: re.Pattern[str] | None = None
    # each account's own connections (providers.account_pools; antigravity_hosts.install)
    pools: account_pools.AccountPools | None = None

    def __init__(self) -> None:
        super().__init__()
        # generation and count go to the daily host first (providers.antigravity_hosts); the
        # production one alone when the environment moved it alone (a private gateway)
        daily = endpoints.url("antigravity", "api-daily")
        moved = self.default_base_url != endpoints.URLS["antigravity"]["api"]
        if moved and daily == endpoints.URLS["antigravity"]["api-daily"]:
            daily = self.default_base_url
        self.generation_base_url = daily.rstrip("/")
        # the client version reported, refreshed in the background while the service runs
        self.version = HubVersion()
        # first-use project lookups (providers.antigravity_project)
        self.projects = ProjectLookup(version=self.version, onboard_url=self.generation_base_url)
        self.searches = web_search.SearchModels()  # which models run web searches, per credential
        # a model's output limit from the catalog (0: unknown); the service sets it
        self.output_limit: Callable[[str], int] | None = None
        # Gemini thought signatures a client cannot carry, per session (providers.antigravity_replay)
        self.replay = AntigravityReplayCache()
        # what is known of each account's Google One AI credits, and its background lookups
        # (quota-exceeded.antigravity-credits; providers.antigravity_balance)
        self.credit_hints = credits.Hints()
        self.balance = BalanceCheck(self.credit_hints)

    def carrier(self, cred: Credential) -> Carry:
        return _carry_antigravity

    def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Awaitable[Mapping[str, str]] | None:
        """A credential the sign-in left without ``project_id`` gets one first (CPA's
        ``PrepareRequestAuth``); a web search (:mod:`~cliproxy.providers.antigravity_search`)
        waits for the list of models that run one when it is due. Else nothing to await."""
        project = not _project(cred)
        search = body is not None and web_search.CARRIED in body and self.searches.due(cred)
        fetch = self._replay_elsewhere(body)
        balance = self.balance.due(cred)
        if not project and not search and fetch is None and not balance:
            return None
        client: UpstreamClient = http if self.pools is None else self.pools.bound(cred)
        if balance:  # its credits, looked up beside the request (providers.antigravity_balance)
            base, agent = self.base_url(cred), _user_agent(cred, self.version)
            self.balance.start(cred, client, base_url=base, user_agent=agent, proxy=proxy or "")
            if not project and not search and fetch is None:
                return None
        return self._prepare(cred, client, proxy or "", project, search, fetch)

    def _replay_elsewhere(self, body: Mapping[str, Any] | None) -> tuple[str, str] | None:
        """With several workers on Redis: the ``(model, session)`` of a replay session
        this process does not hold, for ``prepare`` to fetch (None: nothing to fetch)."""
        if self.replay.mirror is None or body is None or replay.CARRIED not in body:
            return None
        carried = body[replay.CARRIED]
        if type(carried) is not list or len(carried) != 2 or self.replay.get(carried[1], carried[0]):
            return None
        return carried[1], carried[0]

    async def _prepare(
        self,
        cred: Credential,
        http: UpstreamClient,
        proxy: str,
        project: bool,
        search: bool,
        fetch: tuple[str, str] | None = None,
    ) -> Mapping[str, str]:
        base, agent = self.base_url(cred), _user_agent(cred, self.version)
        if project:
            await self.projects.ensure(cred, http, base_url=base, user_agent=agent, proxy=proxy)
        if search:
            first = cred.base_url.rstrip("/") if cred.base_url else self.generation_base_url  # (CPA: daily)
            await self.searches.ensure(
                cred, http, base_url=first, user_agent=agent, proxy=proxy, fallback_url=base
            )
        if fetch is not None and self.replay.mirror is not None:
            await self.replay.mirror.fetch(*fetch)
        return {}

    def configure(self, config: Any) -> None:
        words = getattr(getattr(config, "antigravity", None), "sensitive_words", None) or ()
        self.sensitive = sensitive_words(words)
        quota = getattr(config, "quota_exceeded", None)
        self.balance.enabled = bool(getattr(quota, "antigravity_credits", False))

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
        body.pop("model", None)
        body.pop("safetySettings", None)
        ask = body.pop(web_search.CARRIED, None)
        carried = body.pop(replay.CARRIED, None)
        names = rename_tools(body)  # Gemini-valid, distinct function names (antigravity_names)
        base = cred.base_url.rstrip("/") if cred.base_url else self.generation_base_url
        # CPA's three, and no Accept, on a stream too: the account's pool writes them in Go's
        # order and adds Go's Accept-Encoding: gzip (providers.gowire)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {cred.access_token}",
            "User-Agent": _user_agent(cred, self.version),
        }
        scope = None
        if action == "count":
            payload = self._count(body, model, carried, client_headers)
            url, stream = base + "/v1internal:countTokens", False
        else:
            if ask is not None and self.searches.searches(cred, model):  # Claude Code's web search
                payload = web_search.search_payload(ask, model=model, project=_project(cred))
            else:
                payload = self._generation(body, cred, model, client_headers)
                session = carried[0] if type(carried) is list and carried else ""
                scope = replay.restore(
                    self.replay, payload["request"], model=model, session=session, headers=client_headers
                )
                replay.check_pairing(payload["request"], model)
            url = base + (
                "/v1internal:streamGenerateContent?alt=sse" if stream else "/v1internal:generateContent"
            )
        headers.update(copy_client_headers(cred, client_headers))
        _SCOPE.set(scope)
        account_pools.use(account_pools.scope_of(cred))  # (read by the transport, never sent)
        req = UpstreamRequest(url, headers, orjson.dumps(payload), stream)
        if names is not None and action != "count":  # the answer calls them by the client's names
            req.rewrite_body, req.rewrite_chunk = names.restore_body, names.restore_lines
        if scope is not None:  # the answer's signatures kept for the next turn (as sent: before names)
            req.rewrite_body = _then(scope.whole, req.rewrite_body)
            # alone, it only reads: the payloads reach it and the reader still wrapped
            req.chunk_reads_wrapped = req.rewrite_chunk is None
            req.rewrite_chunk = _then(scope.lines, req.rewrite_chunk)
        return req

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """Base rules; a refused signature also forgets the session's replay chain (CPA)."""
        scope = _SCOPE.get()
        if scope is not None:
            scope.refused(status, body)
        return super().classify(status, headers, body, credential_id)

    def _count(
        self, body: dict[str, Any], model: str, carried: Any, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """The request counted as its generation would be sent (CPA's CountTokens counts
        the body it would send): the same history (:func:`shape_history`), tool schemas
        and obfuscated system instruction, and the same replay session's signatures and
        left-out calls put back (a compacted history is counted whole). The envelope and
        the output limit stay the generation's; nothing of a count is recorded for the
        replay, and its refusal forgets no session (CPA). Deliberate difference: CPA counts
        the tool schemas before its cleaning; here they are counted as sent, which the
        replay's fingerprints of a history (tools included) need to match."""
        derived = body.pop(SESSION_CARRIED, "")
        shape_history(body, model)
        clean_request_schemas(body)  # (the replay's fingerprints read the tools as sent)
        obfuscate_system_instruction(body, self.sensitive)
        session = carried[0] if type(carried) is list and carried else ""
        fallback = ""
        if not session and applies_to(model) and not body.get("sessionId"):
            # the session id the generation's envelope would carry (never sent with a count)
            fallback = conversation_id(body, session=_session_hint(client_headers), derived=derived)
        replay.restore(
            self.replay, body, model=model, session=session, headers=client_headers, session_id=fallback
        )
        replay.check_pairing(body, model)
        return {"request": body}

    def _generation(
        self, body: dict[str, Any], cred: Credential, model: str, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        shape_history(body, model)
        if "claude" not in model.lower():
            _drop_max_output_tokens(body)
        elif self.output_limit is not None:
            _cap_max_output_tokens(body, self.output_limit(model))
        clean_request_schemas(body)  # tool and structured-output schemas (antigravity_schemas)
        obfuscate_system_instruction(body, self.sensitive)
        payload = envelope(
            body,
            model=model,
            project=_project(cred),
            session=_session_hint(client_headers),
            derived=body.pop(SESSION_CARRIED, ""),
        )
        if credits.requested():  # quota-exceeded.antigravity-credits, last resort
            credits.inject(payload)
        return payload

    def unwrap_body(self, body: Any) -> Any:
        """See :func:`unwrap_body`."""
        return unwrap_body(body)

    def unwrap_chunk(self, data: bytes) -> bytes:
        """See :func:`unwrap_chunk`."""
        return unwrap_chunk(data)


def _carry_antigravity(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    passthrough: bool,
) -> None:
    """What ``build`` reads of the client's request: Claude Code's web search (a
    translated Claude body), and for a client that names no session the identity of its
    conversation (``sessionId``, CPA's derived session) and its reasoning replay session
    (``providers.antigravity_replay``)."""
    if not passthrough and fmt is Format.CLAUDE:
        web_search.carry(body, client_body)
    if derived := session_identity(fmt, client_body, client_headers, caller_key(client_headers)):
        body[SESSION_CARRIED] = derived
    replay.carry(body, fmt, client_body, client_headers, model=model, derived=derived)


def _then(first: Callable[[bytes], bytes], then: Callable[[bytes], bytes] | None) -> Callable[[bytes], bytes]:
    return first if then is None else (lambda data: then(first(data)))


def shape_history(body: dict[str, Any], model: str) -> None:
    """The contents as Antigravity reads them, for a generation and its count alike (CPA's
    translator): parts in camelCase, tool responses named after their calls, images beside
    a response moved into it, responses in their calls' turns (Gemini-family models), a
    user turn first (Antigravity's Claude takes a model turn first), a model turn's parts
    in order."""
    camel_parts(body)  # (a REST client's snake_case parts, read alike from here on)
    backfill_response_names(body)
    nest_response_media(body)  # (on user turns: before responses become model turns)
    if applies_to(model):
        normalize_response_turns(body)
    if "claude" not in model.lower():
        lead_with_user(body)
    order_model_parts(body)


def _drop_max_output_tokens(body: dict[str, Any]) -> None:
    """Antigravity's Gemini models get no ``maxOutputTokens``: they answer up to their own
    limit, thinking included (CPA's buildRequest drops it for every non-Claude model; a
    client's budget, Claude Code's 32,000 say, is not spent on thinking first). The config
    is replaced, never edited."""
    config = body.get("generationConfig")
    if isinstance(config, dict) and "maxOutputTokens" in config:
        body["generationConfig"] = {k: v for k, v in config.items() if k != "maxOutputTokens"}


def _cap_max_output_tokens(body: dict[str, Any], limit: int) -> None:
    """A Claude model's ``maxOutputTokens`` at most its catalog limit (CPA caps it from its
    registry: Cloud Code refuses more). The config is replaced, never edited."""
    config = body.get("generationConfig")
    if limit <= 0 or not isinstance(config, dict):
        return
    asked = config.get("maxOutputTokens")
    if type(asked) is int and asked > limit:
        body["generationConfig"] = {**config, "maxOutputTokens": limit}


def envelope(
    request: dict[str, Any], *, model: str, project: str, session: str = "", derived: str = ""
) -> dict[str, Any]:
    """The Antigravity envelope around a Gemini request (CPA's field order).

    ``sessionId``, when the request has none: from the conversation id the client sent in
    its headers (``session``), else from the identity derived from the conversation's root
    (``derived``, CPA), else a hash of the first user text. The first two take CPA's
    ``DerivedAntigravitySessionID`` form. Deliberate difference: CPA derives nothing for a
    client that names its session and falls back to the first-text hash, so two Claude
    Code sessions that open alike share one id there; here each keeps its own."""
    image = "image" in model
    out: dict[str, Any] = {
        "model": model,
        "userAgent": "antigravity",
        "requestType": "image_gen" if image else "agent",
    }
    if project:
        out["project"] = project
    if image:
        out["requestId"] = f"image_gen/{int(time.time() * 1000)}/{uuid.uuid4()}/12"
    else:
        out["requestId"] = f"agent-{uuid.uuid4()}"
        if not request.get("sessionId"):
            request["sessionId"] = conversation_id(request, session=session, derived=derived)
    out["request"] = request
    return out


def conversation_id(request: Mapping[str, Any], *, session: str = "", derived: str = "") -> str:
    """The ``sessionId`` :func:`envelope` gives a request that names none."""
    conversation = session or derived
    return antigravity_session_id(conversation) if conversation else _session_id(request)


def nest_response_media(body: dict[str, Any]) -> None:
    """Images (inline media) beside a ``functionResponse`` in a user turn go inside the
    nearest response before them (the first one for images that lead the turn), as
    ``functionResponse.parts`` (CPA's Antigravity translator: the backend reads tool-result
    images there, and sibling parts would bloat the context). ``inline_data`` /
    ``mime_type`` are read too, and an image without a media type is ``image/png``: the
    backend ignores inline data without one (CPA). Changed contents are new objects: the
    client's own request is never altered."""
    contents = body.get("contents")
    if not isinstance(contents, list):
        return
    out: list[Any] | None = None
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or len(parts) < 2 or content.get("role") == "model":
            continue
        new_parts = _nested_media(parts)
        if new_parts is not None:
            if out is None:
                out = list(contents)
            out[i] = {**content, "parts": new_parts}
    if out is not None:
        body["contents"] = out


def _nested_media(parts: list[Any]) -> list[Any] | None:
    """``parts`` with their images inside the responses, or None when nothing moves."""
    if not any(isinstance(p, dict) and isinstance(p.get("functionResponse"), dict) for p in parts):
        return None
    new_parts: list[Any] = []
    owner: dict[str, Any] | None = None
    leading: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict):
            fr = dict(part["functionResponse"])
            if leading:
                fr["parts"] = [*(fr.get("parts") or ()), *leading]
                leading = []
            owner = {**part, "functionResponse": fr}
            new_parts.append(owner)
            continue
        image = _inline_image(part)
        if image is None:
            new_parts.append(part)
        elif owner is None:
            leading.append(image)
        else:
            fr = owner["functionResponse"]
            fr["parts"] = [*(fr.get("parts") or ()), image]
    return new_parts if len(new_parts) < len(parts) else None


def _inline_image(part: Any) -> dict[str, Any] | None:
    """A part that is only inline data, as ``{"inlineData": {"mimeType", "data"}}``."""
    if not isinstance(part, dict) or len(part) != 1:
        return None
    inline = part.get("inlineData", part.get("inline_data"))
    if not isinstance(inline, dict) or not isinstance(data := inline.get("data"), str) or not data:
        return None
    mime = inline.get("mimeType") or inline.get("mime_type")
    if isinstance(mime, str) and mime and "inlineData" in part and "mime_type" not in inline:
        return part  # already as the backend reads it
    return {"inlineData": {"mimeType": mime if isinstance(mime, str) and mime else "image/png", "data": data}}


def order_model_parts(body: dict[str, Any]) -> None:
    """A model turn's parts as Antigravity needs them: thoughts first, then text and other
    parts, then the function calls (with a signature-only part that follows a call), each
    kind in its order (CPA's Antigravity translator: the backend splits a turn at a
    functionCall, so text after a call became a turn of its own between the call and its
    result; CPA issue #989). Turns already in that order (nearly all) are left as they are;
    a reordered turn, and the list holding it, are new objects (the list may be the
    client's)."""
    contents = body.get("contents")
    if not isinstance(contents, list):
        return
    copied = False
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) and content.get("role") == "model" else None
        if not isinstance(parts, list) or len(parts) < 2:
            continue
        kinds: list[int] = []
        called = False
        for part in parts:
            if not isinstance(part, dict):
                kind = 1
            elif part.get("thought") is True:
                kind = 0
            elif "functionCall" in part:
                kind, called = 2, True
            elif called and not part.get("text") and part.get("thoughtSignature") and "text" in part:
                kind = 2  # a signature carrier after a call stays with the calls
            else:
                kind = 1
            kinds.append(kind)
        if any(a > b for a, b in itertools.pairwise(kinds)):
            ordered = [p for k in (0, 1, 2) for p, pk in zip(parts, kinds, strict=True) if pk == k]
            if not copied:
                contents = body["contents"] = list(contents)
                copied = True
            contents[i] = {**content, "parts": ordered}


def unwrap_body(body: Any) -> Any:
    """The Gemini response inside ``{"response": ...}``; anything else unchanged."""
    if isinstance(body, dict):
        inner = body.get("response")
        if isinstance(inner, dict):
            return inner
    return body


def unwrap_chunk(data: bytes) -> bytes:
    """One SSE ``data:`` payload (JSON bytes) with the envelope removed.

    Non-JSON payloads (``[DONE]``, keep-alives) and unwrapped objects come back as they are.
    """
    if data.find(b'"response"') < 0:
        return data
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    inner = unwrap_body(parsed)
    return data if inner is parsed else orjson.dumps(inner)


def _project(cred: Credential) -> str:
    value = cred.metadata.get("project_id")
    return value.strip() if isinstance(value, str) else ""


def _user_agent(cred: Credential, version: HubVersion) -> str:
    """The account's ``user_agent`` (attributes, then metadata) in its short form: an
    Antigravity one loses its `` google-api-nodejs-client/...`` suffix (CPA
    ``AntigravityRequestUserAgent``: generation, count and the account's lookups; only
    ``onboardUser`` sends the long form). Else the hub form of the current version."""
    for source in (cred.attributes, cred.metadata):
        value = source.get("user_agent")
        if isinstance(value, str) and value.strip():
            return short_user_agent(value.strip())
    return version.user_agent()


# the headers that name the client's conversation (Claude Code's, Codex's)
_SESSION_HEADERS = ("x-claude-code-session-id", "session_id", "session-id", "conversation_id")


def _session_hint(headers: Mapping[str, str]) -> str:
    """The conversation id a client sent in its headers, or ""."""
    for name in _SESSION_HEADERS:
        value = header(headers, name).strip()
        if value:
            return value
    return ""


def _session_id(request: Mapping[str, Any]) -> str:
    """Stable per conversation: a hash of the first user text, as the native client does."""
    contents = request.get("contents")
    for content in contents if isinstance(contents, list) else ():
        if not isinstance(content, dict) or content.get("role") != "user":
            continue
        parts = content.get("parts")
        text = (
            parts[0].get("text") if isinstance(parts, list) and parts and isinstance(parts[0], dict) else None
        )
        if isinstance(text, str) and text:
            value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & 0x7FFFFFFFFFFFFFFF
            return f"-{value}"
    return f"-{random.randrange(9_000_000_000_000_000_000)}"
