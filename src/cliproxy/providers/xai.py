"""xAI (Grok): API keys and OAuth (device-flow) accounts. Responses dialect, always streamed.

CPA translates xAI requests to its ``codex`` format (the Responses dialect without
``previous_response_id`` and friends) and always asks the upstream for a stream, even for
a non-streaming client, so this provider does the same.

- API keys, or OAuth files with ``using_api: true``: ``{base or https://api.x.ai/v1}/responses``.
- OAuth files otherwise: the Grok CLI chat proxy ``https://cli-chat-proxy.grok.com/v1/responses``
  with the Grok CLI identity headers (also when the file names the public API as its
  ``base_url``, as CPA's sign-in writes it).

Both defaults come from the endpoint table (``xai`` ``api`` and ``cli-chat``), so
``CLIPROXY_OAUTH_XAI_API``, ``CLIPROXY_OAUTH_XAI_CLI_CHAT`` and ``_BASE`` move them.

Token counting is local in CPA (o200k tokenizer), never an upstream call.

``xai.inject-x-search: true`` adds the native ``{"type": "x_search"}`` tool to requests
that do not declare it (and to ``tool_choice.tools`` of an ``allowed_tools`` choice).

Every request is shaped for what xAI's Responses API takes
(:mod:`cliproxy.providers.xai_request`) and its answer repaired to match
(:mod:`cliproxy.providers.xai_stream`), its ``response.completed`` made whole
(``codex_stream.CompletedOutput``). The last turn's Grok reasoning goes back into the
next request of a client that did not carry it (:mod:`cliproxy.providers.xai_replay`).
Errors as CPA reads them: a 403 saying the OAuth
token is bad is a 401 (the token is refreshed, the request retried), and a 429 for used-up
free usage waits out xAI's rolling 24-hour window.

``POST /v1/responses/compact`` goes to ``{base}/responses/compact`` on the public API (the
CLI chat proxy has no such endpoint: its 404 would cool every account), with the standard
API headers, a JSON answer, and a body shaped as for chat but without ``stream``, tools,
sampling limits or ``compaction_trigger`` items (CPA's ``executeCompact``). A streamed
request whose input carries Codex's ``compaction_trigger`` goes there too, its answer told
as a Responses stream (:mod:`cliproxy.providers.xai_compaction`), over HTTP also for a
client on the Responses WebSocket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import KIND_OAUTH, Credential, parse_bool
from cliproxy.errors import UnsupportedError, UpstreamError
from cliproxy.formats import Format
from cliproxy.providers import xai_compaction, xai_media, xai_replay, xai_request, xai_session
from cliproxy.providers.base import Carry, Provider, UpstreamRequest, copy_client_headers, error_message
from cliproxy.providers.codex_stream import CompletedOutput
from cliproxy.providers.codex_ws import SESSION_HEADER, websocket_request
from cliproxy.providers.http import HttpClient
from cliproxy.providers.retry import retry_after_header
from cliproxy.providers.xai_stream import XAIStream, summarized
from cliproxy.translate import token_segments, tokens
from cliproxy.translate.xai_replay import XAIReplayCache

__all__ = ["API_BASE_URL", "CLI_CHAT_PROXY_URL", "FREE_USAGE_WINDOW", "XAIProvider", "uses_api"]

# the public URLs, whatever the overrides (an OAuth file naming API_BASE_URL still chats
# through the CLI proxy)
API_BASE_URL = endpoints.URLS["xai"]["api"]
CLI_CHAT_PROXY_URL = endpoints.URLS["xai"]["cli-chat"]
CLI_VERSION = "0.2.120"
_CLI_HEADERS = {
    "X-XAI-Token-Auth": "xai-grok-cli",
    "x-grok-client-version": CLI_VERSION,
    "x-grok-client-identifier": "grok-shell",
    "x-authenticateresponse": "authenticate-response",
    "User-Agent": f"xai-grok-workspace/{CLI_VERSION}",
}
_DROPPED = ("previous_response_id", "prompt_cache_retention", "safety_identifier", "stream_options")
# what /responses/compact takes none of (CPA): the tool choice goes with the tools
_NOT_COMPACTED = (
    "stream",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
)
# what xAI's socket message carries none of (CPA ``buildXAIWebsocketRequestBody``); unlike
# CPA, ``store`` stays the client's: every turn resends the whole conversation, so nothing
# needs xAI to keep responses a Codex client asked it not to keep (``store: false``)
_NOT_ON_SOCKET = ("stream", "stream_options", "background")
# the Grok CLI chat proxy's free tier: "Usage resets over a rolling 24-hour window"
FREE_USAGE_WINDOW = 24 * 3600.0


def uses_api(cred: Credential) -> bool:
    """Whether chat goes to the public API (API keys; OAuth only with ``using_api``)."""
    explicit = parse_bool(cred.metadata.get("using_api", cred.attributes.get("using_api")))
    if explicit is not None:
        return explicit
    kind = cred.metadata.get("auth_kind") or cred.attributes.get("auth_kind") or ""
    if isinstance(kind, str) and kind.strip():
        return kind.strip().lower() != "oauth"
    return cred.kind != KIND_OAUTH or bool(cred.api_key)


class XAIProvider(Provider):
    key = "xai"
    format = Format.CODEX
    endpoints_key = "xai"
    always_stream = True
    counts_upstream = False  # CPA counts xAI requests locally with o200k
    serves_images = True  # grok-imagine-* on /images/* and /videos/* (providers.xai_media)
    inject_x_search = False  # ``xai.inject-x-search``
    compacts = True  # POST {public API}/responses/compact, JSON in and out

    def configure(self, config: Any) -> None:
        self.inject_x_search = bool(getattr(getattr(config, "xai", None), "inject_x_search", False))

    def __init__(self) -> None:
        super().__init__()
        # Grok reasoning a client did not carry (providers.xai_replay); with the Redis state
        # backend the service gives it a mirror (translate.replay_shared)
        self.replay = XAIReplayCache()
        self.default_base_url = self.default_base_url.rstrip("/")
        self.cli_chat_url = endpoints.url("xai", "cli-chat").rstrip("/")
        self._api_urls = (API_BASE_URL, self.default_base_url)
        self._cli_chat_urls = (CLI_CHAT_PROXY_URL, self.cli_chat_url)

    def chat_base_url(self, cred: Credential) -> str:
        base = (cred.base_url or "").rstrip("/")
        if uses_api(cred):
            return base or self.default_base_url
        return base if base and base not in self._api_urls else self.cli_chat_url

    def count_locally(
        self, body: dict[str, Any], model: str, cred: Credential | None = None
    ) -> tuple[str, list[str]]:
        return tokens.O200K, token_segments.xai_segments(body)

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
        if action == "count":
            raise UnsupportedError("xai token counting is local, not an upstream call")
        if action.startswith(("images.", "videos.")):  # the public API's media endpoints (CPA)
            return xai_media.media_request(cred, body, action, client_headers, self.base_url(cred))
        body["model"] = model
        body["stream"] = True
        for name in _DROPPED:
            body.pop(name, None)
        if action == "compact":  # the client's own body (pass-through): nothing carried
            xai_session.carry(body, body, client_headers, model, Format.RESPONSES)
        # Codex asks for a compaction in a streamed turn: xAI's compact endpoint answers it (CPA)
        trigger = action == "generate" and xai_compaction.has_trigger(body)
        # the last turn's reasoning the client left out, back (CPA: before the input is shaped)
        scope = xai_replay.restore(self.replay, body, model) if xai_replay.CARRIED in body else None
        plan = xai_request.shape(body, model, x_search=self.inject_x_search)
        if action == "compact" or trigger:
            return self._compact_request(cred, body, client_headers, scope, streamed=trigger)
        base = self.chat_base_url(cred)
        headers = self._headers(cred, client_headers, "text/event-stream")
        xai_session.apply(body, headers)
        if base in self._cli_chat_urls:
            headers.update(_CLI_HEADERS)
        headers.update(copy_client_headers(cred, client_headers))
        # a client on the Responses WebSocket: xAI's socket when allowed, always on the API
        # base (the CLI chat proxy speaks HTTP only; CPA)
        ws_base = self.default_base_url if base in self._cli_chat_urls else base
        before = set(headers)
        url = websocket_request(cred, ws_base + "/responses", headers, client_headers)
        if url.startswith("ws"):  # xAI's own headers only: none of the Codex socket's (CPA)
            for name in [*_CLI_HEADERS, *(k for k in headers if k not in before and k != SESSION_HEADER)]:
                headers.pop(name, None)
            for name in _NOT_ON_SOCKET:  # a socket message streams anyway (CPA leaves them out)
                body.pop(name, None)
        else:
            url = base + "/responses"
        # a response.completed with its output left out, made whole (CPA), its raw reasoning
        # text as summaries (CPA), and with a replay scope kept for the next turn; after the
        # names are restored and X Search's traces gone
        completed = CompletedOutput(scope, summaries=summarized)
        rewrite = completed if plan is None else _chained(XAIStream(plan), completed)
        return UpstreamRequest(url, headers, orjson.dumps(body), True, rewrite_chunk=rewrite)

    def compact_base_url(self, cred: Credential) -> str:
        """The credential's own base, unless it names the CLI chat proxy (or none): the
        public API, whatever the credential's kind."""
        base = (cred.base_url or "").rstrip("/")
        return base if base and base not in self._cli_chat_urls else self.default_base_url

    def _compact_request(
        self,
        cred: Credential,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
        scope: xai_replay.Scope | None,
        *,
        streamed: bool = False,
    ) -> UpstreamRequest:
        """``streamed``: a generation carrying ``compaction_trigger``, answered as a stream."""
        for name in _NOT_COMPACTED:
            body.pop(name, None)
        items = body.get("input")
        if isinstance(items, list):  # Codex's marker, no item xAI knows
            body["input"] = [
                i for i in items if type(i) is not dict or i.get("type") != xai_compaction.TRIGGER
            ]
        headers = self._headers(cred, client_headers, "application/json")
        xai_session.apply(body, headers)
        headers.update(copy_client_headers(cred, client_headers))
        url = self.compact_base_url(cred) + "/responses/compact"
        # a compaction that succeeds summarises the replayed turn: it never comes back (CPA)
        forget = scope.compacted if scope is not None else None
        if streamed:
            events = xai_compaction.CompactionStream(body, str(body.get("model") or ""), forget)
            return UpstreamRequest(url, headers, orjson.dumps(body), True, rewrite_chunk=events)
        return UpstreamRequest(url, headers, orjson.dumps(body), False, rewrite_body=forget)

    def carrier(self, cred: Credential) -> Carry:
        return _carry_xai

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
        return self.replay.fetch_elsewhere(body.get("model"), body.get(xai_replay.CARRIED))

    @staticmethod
    def _headers(cred: Credential, client_headers: Mapping[str, str], accept: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        token = cred.api_key or cred.access_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conv = client_headers.get("x-grok-conv-id")
        if conv:
            headers["x-grok-conv-id"] = conv
        return headers

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """CPA ``xaiStatusErr``: a 403 for a bad OAuth token is a 401; a 429 for used-up
        free usage waits 24 hours (another account serves meanwhile); other 429s keep the
        usual backoff."""
        retry_after = retry_after_header(headers)
        if status == 403 and bad_credentials(body):
            status, retry_after = 401, None
        elif status == 429 and retry_after is None and free_usage_exhausted(body):
            retry_after = FREE_USAGE_WINDOW
        return UpstreamError(
            error_message(body, status),
            status=status,
            body=body,
            retry_after=retry_after,
            headers=headers,
            credential_id=credential_id,
        )


def _chained(first: Callable[[bytes], bytes], then: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    return lambda chunk: then(first(chunk))


def bad_credentials(body: bytes) -> bool:
    """An xAI error body saying the access token is invalid (flat or nested, any shape)."""
    raw = body.lower()
    return raw.find(b"bad-credentials") >= 0 or raw.find(b"access token could not be validated") >= 0


def free_usage_exhausted(body: bytes) -> bool:
    """An xAI 429 body saying the free tier's usage is used up."""
    raw = body.lower()
    return raw.find(b"free-usage-exhausted") >= 0 or raw.find(b"included free usage") >= 0


def _carry_xai(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    passthrough: bool,
) -> None:
    """The session xAI gets (and the replay's), read from the client's request, which a
    translated body no longer shows (``xai_session.carry``), and the client's output
    controls, which the Codex translation left out (``xai_request.carry_output_controls``)."""
    if not passthrough:
        xai_session.carry(body, client_body, client_headers, model, fmt)
        xai_request.carry_output_controls(body, client_body, fmt)
