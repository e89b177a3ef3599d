"""Codex: the ChatGPT backend (OAuth) and Codex API keys. Responses dialect, always streamed.

Every request carries the official Codex identity (``User-Agent``, ``Originator``) unless
``codex.disable-codex-cloaking``; see :class:`cliproxy.providers.identity.CodexIdentity`.
Claude and Chat clients get their encrypted reasoning back on the next turn
(``providers.codex_replay``).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import orjson
from multidict import CIMultiDict

from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.openai_responses import model_at_capacity
from cliproxy.providers import codex_cache, codex_replay, codex_search
from cliproxy.providers import codex_multi_agent as multi_agent
from cliproxy.providers.base import Carry, PayloadStep, Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.codex_image_usage import ImageToolUsage
from cliproxy.providers.codex_images import apply_image_tool, is_lite
from cliproxy.providers.codex_input_ids import sanitize_input_ids
from cliproxy.providers.codex_stream import CompletedOutput, is_grok_build, keepalive_comments
from cliproxy.providers.codex_ws import CONTINUES_HEADER, SESSION_HEADER, websocket_request
from cliproxy.providers.http import HttpClient
from cliproxy.providers.identity import CodexIdentity
from cliproxy.providers.retry import codex_reset, retry_after_header
from cliproxy.translate import token_segments, tokens
from cliproxy.translate.codex_replay import CodexReplayCache

__all__ = ["CodexProvider"]

_STRIPS = ("all", "chat")  # disable-image-generation modes that take the tool out
_DETAIL_STATUSES = frozenset((400, 409, 413, 422))  # always a request fault (credentials.cooldown)

# the reasoning replay scope of this task's last Codex request: ``build`` sets it,
# ``classify`` of the same attempt reads it (an error that refuses the reasoning)
_SCOPE: contextvars.ContextVar[codex_replay.Scope | None] = contextvars.ContextVar(
    "codex_replay_scope", default=None
)


class CodexProvider(Provider):
    key = "codex"
    format = Format.CODEX
    endpoints_key = "codex"  # https://chatgpt.com/backend-api/codex
    always_stream = True
    counts_upstream = False  # no count endpoint: CPA counts Codex requests locally
    compacts = True  # POST {base}/responses/compact, JSON in and out
    serves_images = True  # POST {base}/images/generations and /images/edits (CPA's direct path)
    streams_responses = True  # a Responses client gets the stream as it comes (CPA)
    # the payload rules run in ``build``: after disable-image-generation's strip, so a rule
    # may put the tool back, and before the tool's injection (CPA's order)
    payload_in_build: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.identity = CodexIdentity()
        self.beta_features = ""  # codex-header-defaults.beta-features (WebSocket turns only)
        self.image_mode = "off"  # disable-image-generation (cliproxy.providers.codex_images)
        self.multi_agent_v2 = False  # codex.optimize-multi-agent-v2 (providers.codex_multi_agent)
        self.socket_turns = multi_agent.SocketTurns()  # which upstream sockets carry it
        # the spawn_agent model list (markdown), set by the service: the Codex client catalog
        self.agent_models: Callable[[], str] = str
        # a model's forced upstream headers (the catalog's ``upstream_headers``), set by the service
        self.model_headers: Callable[[str], Mapping[str, str]] = _no_headers
        # encrypted reasoning a Claude or Chat client cannot carry (providers.codex_replay);
        # with the Redis state backend the service gives it a mirror (translate.replay_shared)
        self.replay = CodexReplayCache()

    def configure(self, config: Any) -> None:
        self.identity = CodexIdentity(config)
        # CPA: unbuffered, response.created goes out at once and a later in-band error
        # (server_is_overloaded in a 200) reaches the client; buffered, it fails over
        self.commits_at_first_event = not config.codex.stream_bootstrap_buffering
        self.image_mode = config.image_generation_mode
        self.multi_agent_v2 = bool(config.codex.optimize_multi_agent_v2)
        defaults = getattr(config, "codex_header_defaults", None)
        self.beta_features = str(getattr(defaults, "beta_features", "") or "").strip()

    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
        payload: PayloadStep | None = None,
    ) -> UpstreamRequest:
        stripped = False
        if payload is not None:  # a generation's payload rules (see ``payload_in_build``)
            if self.image_mode in _STRIPS:
                apply_image_tool(body, self.image_mode, model=model, cred=cred, headers=client_headers)
                stripped = True
            payload(body)
        if action == codex_search.ACTION:  # the search body as it came (providers.codex_search)
            return codex_search.build(
                cred, body, model=model, base_url=self.base_url(cred), client_headers=client_headers
            )
        body["model"] = model
        compact = action == "compact"
        images = action.startswith("images.")
        whole = compact or images  # JSON in (no socket, no replay; a compaction gets a cache key)
        # an Images API request with ``stream: true``: the backend's own image event stream,
        # relayed as it comes (CPA ``executeDirectOpenAIImageStream``)
        image_stream = images and body.get("stream") is True
        if compact:  # CPA's executeCompact: no stream flag, instructions always a string
            body.pop("stream", None)
            if not isinstance(body.get("instructions"), str):
                body["instructions"] = ""
            _parallel_tool_calls(body, client_headers)
        elif images:
            if not image_stream:
                body.pop("stream", None)
            # the client's User-Agent is not sent on (CPA ``applyCodexDirectImageHeaders``:
            # fewer Cloudflare 1010 refusals)
            client_headers = _without_agent(client_headers)
        else:
            body["stream"] = True
            if body.get("instructions") is None:  # missing or null: "" (CPA normalizeCodexInstructions)
                body["instructions"] = ""
            if not stripped:
                apply_image_tool(body, self.image_mode, model=model, cred=cred, headers=client_headers)
            _parallel_tool_calls(body, client_headers)
        if not images:  # ids another backend made, as Codex takes them (CPA)
            sanitize_input_ids(body)
        scope = None
        if not whole and codex_replay.CARRIED in body:  # reasoning a client left out, back (CPA)
            scope = codex_replay.restore(self.replay, body, model)
        _SCOPE.set(scope)
        optimized = conflict = False
        if self.multi_agent_v2 and multi_agent.is_codex_client(client_headers):
            conflict = multi_agent.has_conflict(body)
            optimized = multi_agent.optimize(body, self.agent_models)
        identity = self.identity
        accept = "application/json" if whole and not image_stream else "text/event-stream"
        headers = {"Content-Type": "application/json", "Accept": accept}
        if token := cred.access_token or cred.api_key:  # an entry without a key sends none (CPA)
            headers["Authorization"] = f"Bearer {token}"
        headers.update(identity.headers(cred, client_headers))
        headers.update(copy_client_headers(cred, client_headers))
        identity.finish(headers)
        expose = identity.confuse_request(cred, body, headers)
        if images:  # images.generations -> /images/generations
            url = self.base_url(cred) + "/" + action.replace(".", "/")
        else:
            url = self.base_url(cred) + ("/responses/compact" if compact else "/responses")
        if not whole:  # a client on the Responses WebSocket: the upstream's, when allowed
            url = websocket_request(cred, url, headers, client_headers, self.beta_features)
            socket = url.startswith(("wss://", "ws://"))
            if socket:  # the socket keeps the conversation (CPA)
                previous = (client_headers.get(CONTINUES_HEADER) or "").strip()
                if previous:
                    body["previous_response_id"] = previous
                headers[CONTINUES_HEADER] = previous or "-"
                if self.multi_agent_v2:  # a follow-up continues an optimized conversation (CPA)
                    session = client_headers.get(SESSION_HEADER) or ""
                    optimized = self.socket_turns.restores(session, optimized, conflict)
            # a prompt-cache key for clients that send none, after identity-confuse (CPA)
            codex_cache.apply(body, headers, websocket=socket)
        elif compact:  # CPA's compaction runs the same cacheHelper; its body is the client's own
            body[codex_cache.CARRIED] = codex_cache.derive(Format.RESPONSES, body, client_headers, model)
            codex_cache.apply(body, headers)
        if optimized:  # the answer names the client's collaboration namespace again
            expose = multi_agent.Restore(expose)
        if not images:
            _model_headers(headers, self.model_headers(model))
        rewrite_chunk = expose
        tool_usage = None
        if not whole:  # a response.completed with its output left out, made whole (CPA)
            # (and with a replay scope, kept for the next turn); on the upstream socket the
            # client's session mends it instead, as CPA's handler does (providers.codex_stream)
            tool_usage = ImageToolUsage(body.get("tools"))  # the image tool's own tokens (CPA)
            completed = CompletedOutput(scope, mend=not socket, tool=tool_usage)
            rewrite_chunk = completed if expose is None else _chained(expose, completed)
            if is_grok_build(client_headers):  # Grok Build reads Codex's keepalives as comments (CPA)
                rewrite_chunk = _chained(rewrite_chunk, keepalive_comments)
        return UpstreamRequest(
            url,
            headers,
            orjson.dumps(body),
            not whole or image_stream,
            rewrite_body=expose,
            rewrite_chunk=rewrite_chunk,
            tool_usage=tool_usage,
        )

    def carrier(self, cred: Credential) -> Carry:
        return _carry_codex

    def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Awaitable[Mapping[str, str]] | None:
        """With several workers on Redis: a replay session another worker recorded is
        fetched before ``build`` looks it up (nothing to await otherwise)."""
        if body is None or self.replay.mirror is None:
            return None
        return self.replay.fetch_elsewhere(body.get("model"), body.get(codex_replay.CARRIED))

    def count_locally(
        self, body: dict[str, Any], model: str, cred: Credential | None = None
    ) -> tuple[str, list[str]]:
        return tokens.codex_encoding(model), token_segments.codex_segments(body)

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = codex_reset(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """Codex's "Selected model is at capacity" (a 400) and a usage limit under any
        status are 429s: another account may serve now, and this one waits for its reset
        (CPA ``newCodexStatusErr``), never a client error that stops the failover."""
        scope = _SCOPE.get()
        if scope is not None:  # Codex refused the reasoning: the session's goes (CPA)
            scope.refused(body)
        if status != 429 and (body.find(b"at capacity") >= 0 or body.find(b"usage_limit_reached") >= 0):
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if model_at_capacity(parsed) or _usage_limit(parsed):
                status = 429
        return super().classify(status, headers, _detail_as_error(status, body), credential_id)


def _carry_codex(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    passthrough: bool,
) -> None:
    """A translated body lost what ``build`` reads (the prompt-cache key's and the
    reasoning replay's session: ``codex_cache.carry``); the client's own body has it."""
    if not passthrough:
        codex_cache.carry(body, fmt, client_body, client_headers, model)


def _detail_as_error(status: int, body: bytes) -> bytes:
    """The backend refuses a bad request with FastAPI's ``{"detail": "..."}``, a shape no
    client SDK reads (the openai SDK showed only "Error code: 400"): as an OpenAI error
    object it reaches each client in its own shape with that sentence. Only for the
    statuses that are the request's fault whatever the body says, so the cooldown
    decision stays the same; CPA relays the body as it is."""
    if status not in _DETAIL_STATUSES or not body.lstrip().startswith(b"{") or body.find(b'"detail"') < 0:
        return body
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    detail = parsed.get("detail") if isinstance(parsed, dict) and len(parsed) == 1 else None
    if not isinstance(detail, str) or not detail:
        return body
    return orjson.dumps({"error": {"message": detail, "type": "invalid_request_error", "code": None}})


def _usage_limit(parsed: Any) -> bool:
    """CPA ``isCodexUsageLimitError``: ``usage_limit_reached`` as the error's type or the
    body's own (a transient ``rate_limit_error`` is not a plan limit)."""
    if not isinstance(parsed, dict):
        return False
    err = parsed.get("error")
    kinds = (err.get("type") if isinstance(err, dict) else None, parsed.get("type"))
    return any(isinstance(k, str) and k.strip().lower() == "usage_limit_reached" for k in kinds)


def _no_headers(model: str) -> Mapping[str, str]:
    return {}


def _without_agent(headers: Mapping[str, str]) -> Mapping[str, str]:
    """The client's headers less its ``User-Agent`` (looked up without regard to case, as
    the client's own are)."""
    if headers.get("user-agent") is None:
        return headers
    kept = CIMultiDict(headers)
    kept.popall("user-agent", None)
    return kept


_SESSION_NAMES = frozenset(("session_id", "session-id"))


def _model_headers(headers: dict[str, str], forced: Mapping[str, str]) -> None:
    """A model's forced headers over whatever was set, whatever its case (CPA
    ``applyModelHeaderOverrides``: gpt-5.6-luna is served to Codex's own terminal client
    only); a Mac OS client identity then gets a session id when the request has none."""
    if not forced:
        return
    for name, value in forced.items():
        low = name.lower()
        for key in [k for k in headers if k.lower() == low]:
            del headers[key]
        headers[_canonical(name)] = value
    agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), "")
    if "Mac OS" in agent and not any(k.lower() in _SESSION_NAMES for k in headers):
        headers["Session_id"] = str(uuid.uuid4())


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _parallel_tool_calls(body: dict[str, Any], headers: Mapping[str, str]) -> None:
    """CPA ``normalizeCodexParallelToolCalls``: a Codex Desktop "responses lite" request
    never runs calls in parallel; a request with no tools carries no such flag."""
    if is_lite(body, headers):
        body["parallel_tool_calls"] = False
    elif "parallel_tool_calls" in body:
        tools = body.get("tools")
        if not (isinstance(tools, list) and tools):
            del body["parallel_tool_calls"]


def _chained(first: Callable[[bytes], bytes], then: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    return lambda chunk: then(first(chunk))
