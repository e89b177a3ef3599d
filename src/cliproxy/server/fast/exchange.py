"""One request and its answer, whichever server engine carries it.

The generation handlers (``cliproxy.server.handlers``) read the request and write the
answer through :class:`Exchange` only, so aiohttp (:class:`AiohttpExchange`, below) and
the protocol-level server (``cliproxy.server.fast.request.FastExchange``) run the same
code. Errors raised by a handler (``CliproxyError``) are rendered by the engine: the
middleware for aiohttp, ``cliproxy.server.fast.protocol`` for the fast server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from cliproxy.server.context import CORS_KEY, PRINCIPAL_KEY, SERVICE, client_format

if TYPE_CHECKING:
    from cliproxy.access import Principal
    from cliproxy.formats import Format
    from cliproxy.service import Service

__all__ = ["AiohttpExchange", "Exchange", "Sink"]

_NO_CORS: dict[str, str] = {}
# a streamed answer's writer without a coroutine per part: (emit, drain), see Exchange.sink
Sink = tuple[Callable[[bytes], bool], Callable[[], Awaitable[None]]]


class Exchange(Protocol):
    """A request (head, body) and the writer of its answer: whole (``reply``, ``answer``)
    or streamed (``start``, ``write``..., ``end``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def query(self) -> Mapping[str, str]: ...
    @property
    def remote(self) -> str: ...
    @property
    def route(self) -> str:
        """The route pattern that matched (``/v1beta/models/{name}``)."""

    @property
    def service(self) -> Service: ...
    @property
    def principal(self) -> Principal | None: ...
    @property
    def cors(self) -> dict[str, str]:
        """The CORS headers every answer carries (empty: none)."""

    @property
    def format(self) -> Format:
        """The client's wire format."""

    def param(self, name: str) -> str:
        """A path parameter of the route (``name``)."""

    async def read(self) -> bytes:
        """The whole request body."""

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Answer with a whole body (the CORS headers added)."""

    def answer(self, resp: web.Response) -> None:
        """Answer with a built response (an error from ``cliproxy.server.errors``)."""

    async def start(self, status: int, headers: Mapping[str, str], first: bytes = b"") -> None:
        """Send the head of a streamed answer (the CORS headers added), then ``first``
        (the first bytes of the body, when known: one send with the head)."""

    async def write(self, chunk: bytes) -> None:
        """Send part of a streamed answer; raises ``ConnectionResetError`` once the client is gone."""

    def sink(self) -> Sink | None:
        """For a streamed answer, after :meth:`start`: ``(emit, drain)`` when parts can be
        sent without a coroutine each (``emit(chunk)`` sends at once and answers whether
        the client's buffer is full, then ``drain()`` waits until it is not; both raise
        ``ConnectionResetError`` once the client is gone), else ``None`` (:meth:`write`)."""

    async def end(self) -> None:
        """Finish a streamed answer."""


class AiohttpExchange:
    """An :class:`Exchange` over an aiohttp request; ``response`` is what the aiohttp
    handler returns."""

    __slots__ = ("_response", "request")

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self._response: web.StreamResponse | None = None

    @property
    def response(self) -> web.StreamResponse:
        resp = self._response
        if resp is None:  # a handler that answered nothing: our bug
            raise RuntimeError(f"no answer was written for {self.request.method} {self.request.path}")
        return resp

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def query_string(self) -> str:
        return self.request.query_string

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def remote(self) -> str:
        return self.request.remote or ""

    @property
    def route(self) -> str:
        resource = self.request.match_info.route.resource
        return resource.canonical if resource is not None else self.request.path

    @property
    def service(self) -> Service:
        return self.request.app[SERVICE]

    @property
    def principal(self) -> Principal | None:
        return self.request.get(PRINCIPAL_KEY)

    @property
    def cors(self) -> dict[str, str]:
        return self.request.get(CORS_KEY) or _NO_CORS

    @property
    def format(self) -> Format:
        return client_format(self.request)

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    async def read(self) -> bytes:
        return await self.request.read()

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        # the middleware adds the CORS headers to an answer not yet sent
        self._response = web.Response(status=status, body=body, headers=headers)

    def answer(self, resp: web.Response) -> None:
        self._response = resp

    async def start(self, status: int, headers: Mapping[str, str], first: bytes = b"") -> None:
        resp = web.StreamResponse(status=status, headers=headers)
        cors = self.request.get(CORS_KEY)
        if cors:
            resp.headers.update(cors)
        self._response = resp
        await resp.prepare(self.request)
        if first:
            await resp.write(first)

    async def write(self, chunk: bytes) -> None:
        await self.response.write(chunk)

    def sink(self) -> Sink | None:
        return None  # aiohttp's writer is a coroutine

    async def end(self) -> None:
        await self.response.write_eof()
