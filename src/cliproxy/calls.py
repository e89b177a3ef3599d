"""What the layers hand each other for one request: the client's ``Call``, one credential
``Attempt`` at it, and the ``Reply`` / ``StreamReply`` that come back.

A leaf: the server builds a ``Call``, the pipeline runs it, plugins and the usage
recorder read it, and none of them needs the module that orchestrates the others.

``Call`` is frozen: what changes per credential attempt (headers an after-auth
interceptor rewrote, the upstream body, the upstream model's IR) lives in the
``Attempt`` the pipeline makes for that attempt, so a failover starts from the client's
request again, never from what the previous attempt made of it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from cliproxy.errors import CliproxyError
from cliproxy.formats import Format
from cliproxy.translate.ir import Error as IrError
from cliproxy.translate.ir import Request as IrRequest
from cliproxy.translate.ir import Usage as IrUsage

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.providers.base import Provider
    from cliproxy.translate.registry import Registry

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_GEMINI = Format.GEMINI

__all__ = [
    "SSE_HEADERS",
    "Attempt",
    "Call",
    "LazyStream",
    "Reply",
    "RequestTerminated",
    "StreamReply",
    "new_call",
    "then",
]

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive"}
_JSON = {"Content-Type": "application/json"}
_NEW_DICT: Any = object()  # Call's query when none is given: a new dict, as a default_factory


@dataclass(frozen=True, slots=True, init=False)
class Call:
    """One client request, as the server hands it to the pipeline. Never changed: a
    plugin that rewrites the request makes a new ``Call`` (``dataclasses.replace``).

    Built by ``__new__`` (one per request: see there), a frozen dataclass otherwise."""

    format: Format
    body: dict[str, Any]
    model: str
    stream: bool
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    # or "count", "compact" (/responses/compact), "images.generations", "images.edits"
    action: str = "generate"
    alt: str | None = None  # Gemini ?alt=
    skip: str | None = None  # a plugin calling back into the host: skipped for routers/interceptors
    request_id: str = ""
    scope: Any = None  # plugins' host-callback context for this request
    trace: Any = None  # cliproxy.usage.RequestTrace when request logs / usage records are on
    # a credential id tried first when it is available (the Responses WebSocket's kept
    # upstream socket); ``pinned``: the request to send on that credential instead (an
    # incremental follow-up), this ``Call`` being the self-contained one for any other
    pin: str = ""
    pinned: Call | None = field(default=None, repr=False, compare=False)
    _ir: IrRequest | None = field(default=None, repr=False, compare=False)

    def __new__(
        cls,
        format: Format,
        body: dict[str, Any],
        model: str,
        stream: bool,
        headers: Mapping[str, str],
        query: Mapping[str, str] = _NEW_DICT,
        action: str = "generate",
        alt: str | None = None,
        skip: str | None = None,
        request_id: str = "",
        scope: Any = None,
        trace: Any = None,
        pin: str = "",
        pinned: Call | None = None,
        _ir: IrRequest | None = None,
    ) -> Call:
        # A frozen dataclass's __init__ sets each field through object.__setattr__ (1.9 us
        # for these 15); a _Draft, of the same slots, takes plain stores, then becomes the Call.
        call: Any = _Draft()
        call.format = format
        call.body = body
        call.model = model
        call.stream = stream
        call.headers = headers
        call.query = {} if query is _NEW_DICT else query
        call.action = action
        call.alt = alt
        call.skip = skip
        call.request_id = request_id
        call.scope = scope
        call.trace = trace
        call.pin = pin
        call.pinned = pinned
        call._ir = _ir
        call.__class__ = cls
        return call

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle: through __new__, as built
        return type(self), tuple([getattr(self, name) for name in _CALL_FIELDS])

    def client_ir(self, registry: Registry) -> IrRequest:
        """The client request as IR, parsed once however many attempts need it. Read
        only: an attempt that needs another model name takes ``Attempt.for_model``."""
        if self._ir is None:
            req = self._parse_ir(registry)
            object.__setattr__(self, "_ir", req)  # a memo of a derived value, not a change
            return req
        return self._ir

    def ir_under(self, registry: Registry, model: str) -> IrRequest:
        """The client request as IR under the upstream model name ``model``: the memo of
        :meth:`client_ir` when it has that name, else a shallow copy of it renamed
        (``Attempt.for_model``). Before any memo (a request's first attempt, nearly every
        request) the IR is parsed for this attempt and renamed in place, not copied: it is
        then the attempt's alone and is not memoised, so a later reader of ``client_ir``
        (a failover, a plugin executor) parses the client's own again."""
        req = self._ir
        if req is None:
            req = self._parse_ir(registry)
            if req.model == model:
                object.__setattr__(self, "_ir", req)  # (as client_ir memoises it)
            else:
                req.model = model
            return req
        return Attempt.for_model(req, model)

    def _parse_ir(self, registry: Registry) -> IrRequest:
        req = registry.adapter(self.format).parse_request(self.body)
        req.model = req.model or self.model
        req.stream = self.stream
        if self.format is _GEMINI:
            req.extras["_alt"] = self.alt
            if self.alt is None:
                req.extras["_stream_framing"] = "array"
        return req


_CALL_FIELDS = Call.__slots__
# ``Call(...)`` reaches ``__new__`` through ``type.__call__`` (the arguments packed into a
# tuple and a dict, then ``object.__init__``); the server's hot routes call it straight: 0.2 us less
new_call = partial(Call.__new__, Call)


class _Draft:
    """A ``Call`` while ``Call.__new__`` fills it in (the same slots, no frozen guard)."""

    __slots__ = _CALL_FIELDS


@dataclass(slots=True)
class Attempt:
    """One credential's try at a ``Call``: everything that attempt may rewrite.

    ``headers`` are the client headers as the after-auth interceptors left them for this
    attempt; ``body`` is the upstream body (the attempt's own: shaping writes into it);
    ``ir`` is the client IR renamed to the upstream ``model`` (``None`` on pass-through, and
    for a ``plain`` body until something needs it).
    ``settle``: for a stream, what to await once it ended after the client got its first
    bytes: with the error the upstream's events ended it in (the pipeline cools the
    credential), or with ``None`` when it ended whole (the credential's success)."""

    cred: Credential
    provider: Provider
    model: str
    fmt: Format
    headers: Mapping[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    ir: IrRequest | None = None
    replay: Any = None  # translate.replay.ReplayScope: reasoning restored into / recorded from it
    # translate.kimi_replay.Scope: a Claude client's own signed thinking on an is-compat
    # Claude key, put back when the client left it out (CPA), recorded from the answer
    kept: Any = None
    settle: Callable[[IrError | None], Awaitable[None]] | None = None
    # a pass-through Claude body whose messages lost another backend's thinking
    # (``translate.signature_bodies.sanitize_claude_body``), or a translated one whose tool
    # loop does not start with thinking (``unled_loop``): the thinking step settles its tool loop
    cut: bool = False
    # a pass-through Claude body whose tool loop the client sent unled (``unled_turn``): the
    # thinking step settles it whatever else the sanitizer dropped from the history
    unled: bool = False
    # a translated body written straight from the client's (``translate.plain_requests``):
    # ``ir`` is made when something first needs it (:meth:`request`), as the hub makes it
    plain: bool = False

    @property
    def untouched(self) -> bool:
        """A pass-through body: the client's own top-level fields."""
        return self.ir is None and not self.plain

    def request(self, registry: Registry, call: Call) -> IrRequest:
        """The IR the answer is translated against: the attempt's (for a plain body, made
        now under the upstream name, as ``start_attempt`` makes it), else the client's."""
        req = self.ir
        if req is None:
            if not self.plain:
                return call.client_ir(registry)
            req = self.ir = call.ir_under(registry, self.model)
        return req

    @staticmethod
    def for_model(req: IrRequest, model: str) -> IrRequest:
        """``req`` under the upstream model name (a shallow copy: the client's IR stays)."""
        return req if req.model == model else req.renamed(model)


@dataclass(slots=True)
class Reply:
    """A whole answer. ``usage``: when the pipeline built the body from an object it held
    (a translated answer, no plugin after it), the usage the upstream's answer gave (the
    translation read it; the client's format may carry less of it), else what the body's
    usage member says; ``None``: read it from ``body`` (a pass-through answer is never
    parsed)."""

    status: int
    body: bytes
    headers: dict[str, str]
    credential: Credential | None = None
    usage: IrUsage | None = None


@dataclass(slots=True)
class StreamReply:
    """An open stream whose first bytes are known; iterate for the rest.

    ``rest`` may also push (see ``cliproxy.replies``): ``rest.relay(emit, drain)`` returns
    the coroutine that hands each chunk to ``emit`` as the upstream's reads come, or
    ``None`` when its source cannot push; a wrapper of ``rest`` that has per-chunk work or
    an end of its own offers ``relay`` too, else the stream is pulled.

    ``read_usage``: the stream's usage once it has ended, as the upstream's events gave it
    (a translated stream: its client's bytes may carry none, e.g. a Chat Completions client
    that did not ask ``stream_options.include_usage``); ``None``: read it off the client's
    bytes. A wrapper that changes neither the chunks' usage nor the stream's end passes it on."""

    headers: dict[str, str]
    first: bytes
    rest: AsyncIterator[bytes]
    credential: Credential | None = None
    read_usage: Callable[[], IrUsage | None] | None = None


class LazyStream:
    """A stream rest (``StreamReply.rest``) whose async generator (``_pull``) is made
    when it is first iterated, so that a reader that pushes instead (``relay``) never
    makes one. ``__anext__`` hands out that generator's own awaitable, for readers that
    step it by hand (the keep-alive writer)."""

    __slots__ = ("_gen",)

    def __init__(self) -> None:
        self._gen: AsyncGenerator[bytes, None] | None = None

    def _pull(self) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        gen = self._gen
        if gen is None:
            gen = self._gen = self._pull()
        return gen

    def __anext__(self) -> Awaitable[bytes]:
        return self.__aiter__().__anext__()

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()


async def then(pushed: Awaitable[None], end: Callable[[], Awaitable[None]]) -> None:
    """A pushed stream (``StreamReply.rest.relay``), then ``end()`` however it ended: what
    a wrapper of the rest runs at the end of a pulled stream (give back a slot, settle)."""
    try:
        await pushed
    finally:
        await end()


class RequestTerminated(CliproxyError):
    """A request interceptor answered the client itself; ``reply`` is that answer."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str] | None, plugin: str) -> None:
        super().__init__(f"request terminated by plugin {plugin}", status=status)
        self.plugin = plugin
        self.reply = Reply(status, body, dict(headers) if headers else dict(_JSON))
