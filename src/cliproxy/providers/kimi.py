"""Kimi Code (Moonshot) with device-flow OAuth accounts.

Claude-format clients are served by Kimi's Anthropic-compatible endpoint, every other
client by its Chat Completions endpoint (the base is the endpoint table's ``kimi`` ``api``
URL, ``CLIPROXY_OAUTH_KIMI_API``, unless the file sets ``base_url``)::

    Claude clients:  POST https://api.kimi.com/coding/v1/messages   (count: /v1/messages/count_tokens)
    others:          POST https://api.kimi.com/coding/v1/chat/completions
    Authorization: Bearer <access_token>

Model ids lose CPA's ``kimi-`` prefix and Claude Code's ``[1m]`` suffix upstream.

The Messages path is the Claude provider's, as in CPA (whose Kimi executor hands Claude
requests to its Claude executor): Claude Code detection, the cloak settings and
``fingerprint-profile`` of the Kimi file (``cloak_mode``...; auto cloaks only a file that
sets them), cache breakpoints, the caller's Claude headers; every credential goes as a
bearer token and the URL carries ``?beta=true``. Claude Code's billing/attribution system
block (``x-anthropic-billing-header: ...``) is dropped from those bodies unless the file
takes the ``claude-code-cli`` profile, as CPA does (Kimi would read it as prompt text).
Claude clients also get CPA's thinking replay (``translate.kimi_replay``); a replay Kimi
refuses (400/422, or an ``error`` event in the stream) leaves the cache.

A Chat Completions body has its tool links and assistant reasoning repaired before it
goes (``providers.kimi_chat``): Kimi with thinking on refuses what Chat clients send in
tool loops.
"""

from __future__ import annotations

import contextvars
import platform
import socket
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy import __version__
from cliproxy.credentials.oauth_tokens import go_arch
from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.openai_chat import ask_usage
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.identity import strip_claude_attribution
from cliproxy.providers.kimi_chat import normalize_tool_links
from cliproxy.translate import kimi_replay
from cliproxy.translate.kimi_replay import KimiReplayCache, Scope

__all__ = ["KimiProvider", "upstream_model"]

# the replay scope of this task's last Kimi request: ``build`` sets it, ``classify`` of
# the answer reads it (the pipeline calls both in one attempt's task, one after the other)
_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("kimi_replay_scope", default=None)

_CODING_ALIASES = {
    "kimi-k2.7-code": "kimi-for-coding",
    "k2.7-code": "kimi-for-coding",
    "for-coding": "kimi-for-coding",
    "kimi-for-coding": "kimi-for-coding",
    "kimi-k2.7-code-highspeed": "kimi-for-coding-highspeed",
    "k2.7-code-highspeed": "kimi-for-coding-highspeed",
    "for-coding-highspeed": "kimi-for-coding-highspeed",
    "kimi-for-coding-highspeed": "kimi-for-coding-highspeed",
}


def upstream_model(model: str) -> str:
    """Kimi's id for ``model``: aliases mapped, ``kimi-`` and ``[1m]`` removed, suffix kept."""
    model = model.strip()
    suffix = ""
    if model.endswith(")") and (cut := model.rfind("(")) > 0:
        model, suffix = model[:cut], model[cut:]
    base = model.strip().lower().removesuffix("[1m]")
    if base in _CODING_ALIASES:
        return _CODING_ALIASES[base] + suffix
    return (base[5:] if base.startswith("kimi-") else base) + suffix


class _KimiMessages(ClaudeProvider):
    """Kimi's Anthropic-compatible endpoint, built as the Claude provider builds requests."""

    key = "kimi"
    endpoints_key = "kimi"
    api_key_header = False

    def subscription(self, cred: Credential) -> bool:
        """A Kimi token is no Claude subscription (CPA: only an ``sk-ant-oat`` key is)."""
        return "sk-ant-oat" in (cred.access_token or cred.api_key)

    def finish(self, body: dict[str, Any], *, cli: bool) -> None:
        if not cli:  # Kimi would read Claude Code's billing block as prompt text (CPA)
            strip_claude_attribution(body)


class KimiProvider(Provider):
    key = "kimi"
    format_dependent = True
    format = Format.OPENAI
    endpoints_key = "kimi"  # https://api.kimi.com/coding

    def __init__(self) -> None:
        super().__init__()
        self.messages = _KimiMessages()
        self.replay = KimiReplayCache()  # signed thinking a Claude client left out (CPA)

    def configure(self, config: Any) -> None:
        """The Messages path reads the Claude settings (``claude-header-defaults``,
        ``disable-claude-cloak-mode``)."""
        self.messages.configure(config)

    def upstream_format(self, client: Format) -> Format:
        return Format.CLAUDE if client is Format.CLAUDE else Format.OPENAI

    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
        fmt: Format | None = None,
    ) -> UpstreamRequest:
        """``fmt`` is the upstream format of ``body``; when not given, a client that sent
        ``anthropic-version`` (every Anthropic SDK and Claude Code does) is a Claude client."""
        if fmt is None:
            fmt = Format.CLAUDE if client_headers.get("anthropic-version") else Format.OPENAI
        if fmt is Format.CLAUDE:
            requested = body.get("model")  # the client's own name, suffix and all
            scope = self._replay_scope(body, model, client_headers, action)
            _SCOPE.set(scope)
            sent = upstream_model(model)
            req = self.messages.build(
                cred, body, model=sent, stream=stream, client_headers=client_headers, action=action
            )
            if scope is not None:
                kimi_replay.record(req, scope)
            if action == "generate" and type(requested) is str and requested and requested != sent:
                _answer_as(req, requested)
            return req
        _SCOPE.set(None)
        body["model"] = upstream_model(model)
        messages = normalize_tool_links(body.get("messages"))
        if messages is not None:  # the body is the attempt's own; its list may be the client's
            body["messages"] = messages
        token = cred.access_token or cred.api_key
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        headers.update(_device_headers(cred))
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        if stream:
            body["stream"] = True
            ask_usage(body)  # accounted even when the client asks no usage chunk (as CPA)
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(
            self.base_url(cred) + "/v1/chat/completions", headers, orjson.dumps(body), stream
        )

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """A refusal of a request that carried restored thinking drops it from the cache
        (CPA): otherwise every retry would carry it again until its TTL ran out."""
        scope = _SCOPE.get()
        if scope is not None and kimi_replay.refused(status):
            scope.forget()
        return super().classify(status, headers, body, credential_id)

    def _replay_scope(
        self, body: dict[str, Any], model: str, headers: Mapping[str, str], action: str
    ) -> Scope | None:
        """CPA's Kimi thinking replay: the cached content restored into ``body`` (its
        ``messages`` list replaced, never edited); the scope to record into."""
        if action != "generate":
            return None
        session = kimi_replay.session_key(headers, body)
        if not session:
            return None
        scope = Scope(self.replay, kimi_replay.model_family(upstream_model(model)), session)
        scope.apply(body)
        return scope


_MESSAGE_START = b'"message_start"'


def _answer_as(req: UpstreamRequest, model: str) -> None:
    """The answer names the model the client asked for, not Kimi's id for it (CPA's
    ``restoreResponseModel``): ``model`` of a whole answer, ``message.model`` of a
    stream's ``message_start``."""
    chunk_hook, body_hook = req.rewrite_chunk, req.rewrite_body

    def on_chunk(data: bytes) -> bytes:
        data = chunk_hook(data) if chunk_hook is not None else data
        if data.find(_MESSAGE_START) < 0:
            return data
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(b"data:") and line.find(_MESSAGE_START) >= 0:
                event = _loads(line[5:])
                message = event.get("message") if event is not None else None
                if isinstance(message, dict) and "model" in message:
                    message["model"] = model
                    lines[i] = b"data: " + orjson.dumps(event)
        return b"\n".join(lines)

    def on_body(data: bytes) -> bytes:
        data = body_hook(data) if body_hook is not None else data
        answer = _loads(data)
        if answer is None or "model" not in answer:
            return data
        answer["model"] = model
        return orjson.dumps(answer)

    req.rewrite_chunk, req.rewrite_body = on_chunk, on_body


def _loads(data: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _device_headers(cred: Credential) -> dict[str, str]:
    device = cred.metadata.get("device_id")
    return {
        "User-Agent": f"cliproxy/{__version__}",
        "X-Msh-Platform": "CLIProxyAPI",
        "X-Msh-Version": __version__,
        "X-Msh-Device-Name": _HOSTNAME,
        # CPA's executor: Go's GOOS and GOARCH ("linux amd64"; its sign-in says "Linux amd64")
        "X-Msh-Device-Model": f"{platform.system().lower()} {go_arch()}",
        "X-Msh-Device-Id": device.strip()
        if isinstance(device, str) and device.strip()
        else "cli-proxy-api-device",
    }


_HOSTNAME = socket.gethostname() or "unknown"
