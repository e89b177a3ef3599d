"""Videos through xAI, as CPA's ``openai_videos_handlers.go`` serves them.

Two surfaces over the same upstream calls (``cliproxy.providers.xai_media`` builds them):

- ``/v1/videos`` (+ ``/generations``, ``/edits``, ``/extensions``) and ``GET
  /v1/videos/{request_id}``: xAI's own API, bodies and answers as they are (the model made
  canonical);
- ``/openai/v1/videos`` (create), ``GET /openai/v1/videos/{video_id}`` (poll) and
  ``.../content`` (the bytes): OpenAI's Videos API, translated to and from xAI.

A video is only known to the xAI account that made it, so each video id is bound to the
credential (and routing model) that created or last polled it, for
``video-result-auth-cache-ttl`` (CPA's default 3h); polls and downloads go to that
credential. An unknown id is tried on any xAI credential, as in CPA.

Each upstream call (a create, a poll, the poll before a download) is one usage record and
request-log entry of the model it is made for, failed or not, as CPA's xAI executor
publishes one per video call: the server hands the request's trace to the method.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from cliproxy.access import KEY_POLICY
from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.config import Config
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError, RequestError, UpstreamError
from cliproxy.formats import Format
from cliproxy.models.registry import ModelRegistry, ModelRoute, Supports
from cliproxy.pipeline import Pipeline
from cliproxy.providers import xai_media
from cliproxy.providers.http import HttpClient, proxy_key
from cliproxy.providers.transport import UpstreamResponse

if TYPE_CHECKING:
    from cliproxy.usage.trace import RequestTrace

__all__ = ["VideoBindings", "VideoFailed", "Videos"]

_CONTENT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "Cache-Control",
    "ETag",
    "Last-Modified",
)


class _Host(Protocol):
    config: Config
    pipeline: Pipeline
    models: ModelRegistry
    http: HttpClient


class VideoFailed(RequestError):
    """A client mistake on ``/openai/v1/videos``: answered, as CPA does, with a ``video``
    object whose status is ``failed`` (``body``), with HTTP 400."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body["error"]["message"]))
        self.body = body


@dataclass(frozen=True, slots=True)
class _Binding:
    credential_id: str
    model: str
    expires: float


class VideoBindings:
    """Video id -> the credential and routing model that know it, for a while."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._entries: dict[str, _Binding] = {}
        self._clock = clock

    def bind(self, video_id: str, credential_id: str, model: str, ttl: float) -> None:
        video_id, credential_id = video_id.strip(), credential_id.strip()
        if not video_id or not credential_id:
            return
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if v.expires > now}
        self._entries[video_id] = _Binding(credential_id, model.strip(), now + ttl)

    def get(self, video_id: str) -> _Binding | None:
        found = self._entries.get(video_id.strip())
        if found is None:
            return None
        if found.expires <= self._clock():
            self._entries.pop(video_id.strip(), None)
            return None
        return found


class _PinnedRoute:
    """A route that only the credential a video is bound to may serve."""

    requested: str
    model: str
    suffix: str | None
    providers: list[str]
    supports: Supports

    def __init__(self, base: ModelRoute, credential_id: str) -> None:
        self._base = base
        self.requested, self.model, self.suffix = base.requested, base.model, base.suffix
        self.providers = base.providers
        self._id = credential_id

        def supports(cred: Credential, model: str) -> bool:
            return cred.id == self._id and base.supports(cred, model)

        self.supports = supports

    def upstream_models(self, cred: Credential) -> list[str]:
        return self._base.upstream_models(cred)

    def force_mapping(self, cred: Credential) -> bool:
        return self._base.force_mapping(cred)

    def response_model(self, cred: Credential) -> str:
        return self._base.response_model(cred)

    def is_compat(self, cred: Credential) -> bool:
        return self._base.is_compat(cred)

    def unforced(self, cred: Credential) -> frozenset[str]:
        """The pooled names whose answers keep their own name (decided per attempt)."""
        unforced = getattr(self._base, "unforced", None)
        return unforced(cred) if unforced is not None else frozenset()


@dataclass(frozen=True, slots=True)
class VideoContent:
    """The finished video's bytes as they arrive from its URL."""

    status: int
    headers: dict[str, str]
    response: UpstreamResponse


class Videos:
    def __init__(self, host: _Host) -> None:
        self._host = host
        self.bindings = VideoBindings()

    @property
    def _ttl(self) -> float:
        return self._host.config.video_result_auth_cache_ttl_seconds

    # -- OpenAI's Videos API (/openai/v1/videos)

    async def create(
        self,
        body: dict[str, Any],
        headers: Mapping[str, str],
        query: Mapping[str, str],
        trace: RequestTrace | None = None,
    ) -> bytes:
        """``POST /openai/v1/videos``: the OpenAI ``video`` object of the new job."""
        model = body.get("model")
        model = model.strip() if isinstance(model, str) and model.strip() else xai_media.DEFAULT_VIDEO_MODEL
        if not (xai_media.is_video_model(model) or xai_media.is_sora_model(model)):
            message = f"Model {model} is not supported on /openai/v1/videos. Use sora-2."
            raise VideoFailed(xai_media.video_failed(model, message))
        try:
            upstream, meta = xai_media.video_create_body(body, model)
        except RequestError as exc:
            raise VideoFailed(xai_media.video_failed(xai_media.video_model(model), exc.message)) from exc
        call = Call(
            Format.OPENAI,
            upstream,
            meta.routing_model,
            False,
            headers,
            query,
            action="videos.generations",
            trace=_named(trace, model),
        )
        reply = await self._run(call, None)
        out = xai_media.video_create_answer(reply.body, meta)
        self._bind(out["id"], reply, meta.routing_model)
        return orjson.dumps(out)

    async def retrieve(
        self,
        video_id: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        trace: RequestTrace | None = None,
    ) -> bytes:
        """``GET /openai/v1/videos/{video_id}``: the xAI poll as an OpenAI ``video``."""
        reply, _ = await self._poll(video_id, headers, query, trace)
        return orjson.dumps(xai_media.video_retrieve_answer(video_id, reply.body, "sora-2"))

    async def content(
        self,
        video_id: str,
        variant: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        trace: RequestTrace | None = None,
    ) -> VideoContent:
        """``GET /openai/v1/videos/{video_id}/content``: the finished video, fetched from
        the URL xAI names (the caller streams ``response`` and releases it)."""
        if (variant or "video") != "video":
            raise RequestError(
                f"Invalid request: variant {variant!r} is not available for xAI video downloads",
                param="variant",
            )
        reply, _ = await self._poll(video_id, headers, query, trace)
        url = xai_media.video_content_url(reply.body)
        # through the proxy of the credential that made the video, else the global one (CPA)
        cred = reply.credential
        proxy = proxy_key(cred.proxy_url if cred is not None else "", self._host.config.proxy_url)
        resp = await self._host.http.request("GET", url, headers={"Accept": "*/*"}, body=None, proxy=proxy)
        if not 200 <= resp.status < 300:
            try:
                data = (await resp.read()).strip()
            finally:
                resp.release()
            detail = data.decode("utf-8", "replace")[:300] if data else f"status {resp.status}"
            raise UpstreamError(f"video content download failed: {detail}", status=resp.status)
        out = {name: resp.headers[name] for name in _CONTENT_HEADERS if resp.headers.get(name)}
        out.setdefault("Content-Type", "application/octet-stream")
        return VideoContent(resp.status, out, resp)

    # -- xAI's own video API (/v1/videos*)

    async def native(
        self,
        action: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        query: Mapping[str, str],
        trace: RequestTrace | None = None,
    ) -> bytes:
        """``POST /v1/videos[/generations|/edits|/extensions]``: xAI's answer as it is."""
        model = body.get("model")
        model = model.strip() if isinstance(model, str) and model.strip() else xai_media.DEFAULT_VIDEO_MODEL
        if not xai_media.is_video_model(model):
            raise RequestError(
                f"Model {model} is not supported on /v1/videos/generations, /v1/videos/edits, or "
                f"/v1/videos/extensions. Use {xai_media.DEFAULT_VIDEO_MODEL}.",
                param="model",
            )
        routing = xai_media.routing_video_model(model)
        upstream = {**body, "model": xai_media.video_model(model)}
        call = Call(
            Format.OPENAI, upstream, routing, False, headers, query, action=action, trace=_named(trace, model)
        )
        reply = await self._run(call, None)
        try:
            root = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            root = None
        if isinstance(root, dict):
            self._bind(xai_media.video_id_of(root), reply, routing)
        return reply.body

    async def native_retrieve(
        self,
        request_id: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        trace: RequestTrace | None = None,
    ) -> bytes:
        """``GET /v1/videos/{request_id}``: xAI's poll answer as it is."""
        reply, _ = await self._poll(request_id, headers, query, trace)
        return reply.body

    # -- shared

    async def _poll(
        self, video_id: str, headers: Mapping[str, str], query: Mapping[str, str], trace: RequestTrace | None
    ) -> tuple[Reply, str]:
        video_id = video_id.strip()
        if not video_id:
            raise RequestError("Invalid request: video_id is required")
        binding = self.bindings.get(video_id)
        model = binding.model if binding is not None and binding.model else xai_media.DEFAULT_VIDEO_MODEL
        call = Call(
            Format.OPENAI,
            {"request_id": video_id},
            model,
            False,
            headers,
            query,
            action="videos.retrieve",
            trace=_named(trace, model),
        )
        reply = await self._run(call, binding.credential_id if binding is not None else None)
        self._bind(video_id, reply, model)
        return reply, model

    async def _run(self, call: Call, credential_id: str | None) -> Reply:
        """The upstream call, recorded on the call's trace (its usage record and request
        log) when it has one, as a success or as the failure the caller answers."""
        pipeline = self._host.pipeline
        trace = call.trace
        try:
            if credential_id is None:
                result = await pipeline.run(call)
            else:
                route = _PinnedRoute(self._host.models.resolve(call.model), credential_id)
                result = await _admitted(pipeline, call, route)
            if isinstance(result, StreamReply):  # media answers are whole; a plugin may say otherwise
                raise UpstreamError("the upstream answered a video request with a stream", status=502)
        except CliproxyError as exc:
            if trace is not None:
                trace.failed(exc.status, exc.message, {}, b"")
            raise
        if trace is not None:
            trace.reply(result)
        return result

    def _bind(self, video_id: str, reply: Reply, model: str) -> None:
        if reply.credential is not None and video_id:
            self.bindings.bind(video_id, reply.credential.id, model, self._ttl)


async def _admitted(pipeline: Pipeline, call: Call, route: ModelRoute) -> Reply | StreamReply:
    """A call pinned to one credential, admitted by the client key's policy first as the
    pipeline admits every other call (a poll skips the pipeline's own stages)."""
    policy = KEY_POLICY.get()
    if policy is None:
        return await pipeline.execute(call, route)
    ticket = await pipeline.enforcer.admit(policy, call.format, call.model, call.action)
    if ticket is None:
        return await pipeline.execute(call, route)
    try:
        result = await pipeline.execute(call, route)
    except BaseException:
        await ticket.release()
        raise
    return await ticket.attach(call, result, None)


def _named(trace: RequestTrace | None, model: str) -> RequestTrace | None:
    """The request's trace (``None`` when nothing records) under the model the call is
    made for, which the server did not know when it opened it."""
    if trace is not None:
        trace.alias = model
    return trace
