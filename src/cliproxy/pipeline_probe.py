"""The request a half-open probe sends (``routing.probe``; the scheduling is
``cliproxy.credentials.probe``).

A probe is made the way a real attempt is: a tiny Chat Completions request goes through
:func:`cliproxy.pipeline_prepare.start_attempt` (translated to the provider's format) and
the provider's own ``prepare`` and ``build``, so the identity headers, cloaking, tokens and
proxy are those of real traffic, and it is sent on the provider's transport. It is not a
client request: no usage record, no request log, no cooldown bookkeeping beyond what the
prober decides. Three kinds, per provider (``routing.probe.kinds``):

- ``generate``: a one-token generation of the cooled model (the default: the only call
  that reflects a subscription's usage limit or an account's quota);
- ``count``: the provider's token-count endpoint (Claude, Gemini); a provider without one
  sends ``generate``;
- ``models``: a GET of the provider's model list (OpenAI-compatible, Claude, Gemini); the
  default for OpenAI-compatible upstreams, whose keys are pay-as-you-go. A provider without
  a model-list URL here sends ``generate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cliproxy.calls import Call
from cliproxy.credentials.probe import ProbeResult
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError, UpstreamError
from cliproxy.formats import Format
from cliproxy.models.registry import ModelRegistry
from cliproxy.pipeline_prepare import Preparing, start_attempt
from cliproxy.providers.base import Provider, UpstreamRequest
from cliproxy.providers.http import HttpClient, proxy_key
from cliproxy.providers.transport import read_body

__all__ = ["DEFAULT_KINDS", "KINDS", "ProbeSender", "probe_kind"]

KINDS = frozenset({"models", "count", "generate"})
# provider key -> kind; every provider not named sends ``generate`` (docs/routing.md says why)
DEFAULT_KINDS: Mapping[str, str] = {"openai-compatibility": "models"}
_PROMPT = "ping"
_IN_BAND_ERRORS = (b"event: error", b'"type":"response.failed"', b'"type": "response.failed"')


class _Pipe(Preparing, Protocol):
    """What a probe reads off the pipeline."""

    models: ModelRegistry
    providers: Any
    http: HttpClient


def probe_kind(kinds: Mapping[str, str], cred: Credential, provider: Provider) -> str:
    """The kind configured for ``cred`` (its provider key, its OpenAI-compatibility name,
    or its provider family, in that order), else the provider's default."""
    for name in (cred.provider, cred.compat_name, provider.key):
        kind = kinds.get(name.strip().lower()) if name else None
        if kind in KINDS:
            return kind
    return DEFAULT_KINDS.get(provider.key, "generate")


class ProbeSender:
    """Sends one probe for a credential on behalf of the prober."""

    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe

    async def __call__(self, cred: Credential, model: str) -> ProbeResult:
        pipe = self.pipe
        provider: Provider = pipe.providers.provider_for(cred)
        kinds = {
            k.strip().lower(): str(v).strip().lower() for k, v in pipe.config.routing.probe.kinds.items()
        }
        kind = probe_kind(kinds, cred, provider)
        if kind == "count" and not provider.counts_upstream:
            kind = "generate"
        if kind == "models" and _models_url(provider, cred) is None:
            kind = "generate"
        upstream, shared = self._upstream_model(cred, model)
        proxy = proxy_key(cred.proxy_url, pipe.config.proxy_url)
        pending = provider.prepare(cred, pipe.http, proxy=proxy)
        prepared = await pending if pending is not None else None
        upreq = self._build(cred, provider, upstream, "count" if kind == "count" else "generate")
        if prepared:
            upreq.headers.update(prepared)
        if kind == "models":
            upreq = _as_model_list(upreq, _models_url(provider, cred) or upreq.url)
        client = provider.transport or pipe.http
        try:
            resp = await client.request(
                upreq.method, upreq.url, headers=upreq.headers, body=upreq.body or None, proxy=proxy
            )
            data = await read_body(resp)
        except (UpstreamError, TimeoutError, ConnectionError):
            return ProbeResult(0, kind, upstream)
        if resp.status >= 400:
            if resp.status == 401:
                provider.forget(cred)  # a cached token the upstream no longer takes
            err = provider.classify(resp.status, resp.headers, data, cred.id)
            return ProbeResult(resp.status, kind, upstream, err.retry_after, data, shared)
        if upreq.stream and any(marker in data for marker in _IN_BAND_ERRORS):
            return ProbeResult(502, kind, upstream, None, data)  # a 200 whose stream failed
        return ProbeResult(resp.status, kind, upstream, shared=shared)

    def _upstream_model(self, cred: Credential, model: str) -> tuple[str, tuple[str, ...]]:
        """The upstream name of the cooled ``model`` for ``cred`` (a credential-wide record:
        the first model ``cred`` serves), and the names whose cooldown ``cred`` shares with
        ``model`` (``Route.state_names``; ``()`` when its record is its own)."""
        models = self.pipe.models
        shared = bool(model)
        if not model:  # the name a client asks by (an alias): sent as the upstream's own below
            served = models.models_for(cred)
            if not served:
                return "", ()
            model = served[0].id
        try:
            route = models.resolve(model)
        except CliproxyError:  # no longer routed: the record's own name
            return model, ()
        if not route.supports(cred, route.model):
            return model, ()
        names = route.upstream_models(cred)
        return (names[0] if names else model), route.state_names(cred) if shared else ()

    def _build(self, cred: Credential, provider: Provider, model: str, action: str) -> UpstreamRequest:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": _PROMPT}]}
        if action == "generate":
            body["max_tokens"] = 1
        call = Call(Format.OPENAI, body, model, False, {}, action=action)
        attempt = start_attempt(self.pipe, call, cred, provider, model)
        extra = {"fmt": attempt.fmt} if provider.format_dependent else {}
        return provider.build(
            cred,
            attempt.body,
            model=model,
            stream=provider.always_stream and action == "generate",
            client_headers={},
            action=action,
            **extra,
        )


def _models_url(provider: Provider, cred: Credential) -> str | None:
    """The provider's model-list URL for ``cred``, or None when not known here."""
    key = provider.key
    base = provider.base_url(cred)
    if key == "openai-compatibility":
        return base + "/models"
    if key == "claude":
        return base + "/v1/models"
    if key in ("gemini", "gemini-interactions"):
        return (base if base.endswith(("/v1beta", "/v1")) else base + "/v1beta") + "/models"
    return None


def _as_model_list(upreq: UpstreamRequest, url: str) -> UpstreamRequest:
    """The built request's identity and auth headers on a GET of the model list."""
    headers = {
        k: v
        for k, v in upreq.headers.items()
        if k.lower() not in ("content-type", "content-length", "accept")
    }
    headers["Accept"] = "application/json"
    return UpstreamRequest(url, headers, b"", False, method="GET")
